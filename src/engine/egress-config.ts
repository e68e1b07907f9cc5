import { formatRouteHost, parseRouteHost } from "../../sidecars/egress/host.js";
import { type RoutesFile, RoutesFile as RoutesFileSchema } from "../../sidecars/egress/routes.js";
import type { EffectiveBottle, EgressRoute } from "../manifest/schema.js";
import type { SecretSource } from "../providers/provider.js";
import { UserError } from "../user-error.js";

// Turns the manifest's egress section into the file the egress sidecar reads.
// Secrets are referenced by the name of a variable in the bundle's
// environment; their values never enter the file.

/** The bundle variable that carries the value of the host secret named by `auth.token_ref`. */
export const bundleTokenVar = (hostVar: string) => `EGRESS_TOKEN_${hostVar}`;
/** The bundle variable for a host secret listed in `dlp.known_secret_env`. */
export const bundleSecretVar = (hostVar: string) => `EGRESS_SECRET_${hostVar}`;

export function splitHostPort(host: string): { host: string; port: number | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : null };
  const colon = host.lastIndexOf(":");
  if (colon > 0 && /^\d+$/.test(host.slice(colon + 1))) {
    return { host: host.slice(0, colon), port: Number(host.slice(colon + 1)) };
  }
  return { host, port: null };
}

function routeEntry(route: EgressRoute): RoutesFile["routes"][number] {
  const { host, port } = splitHostPort(route.host);
  const parsed = parseRouteHost(host);
  if (!parsed) throw new UserError(`egress route host "${route.host}" is not a host name, *.suffix or IP literal`);
  if (route.dlp?.inbound_detectors?.length) {
    // Said now rather than as a refusal of every request to the host at run time.
    throw new UserError(`egress route ${route.host} asks for dlp.inbound_detectors: scanning responses is not supported yet; remove the key`);
  }
  return {
    host: formatRouteHost(parsed),
    port,
    tls_passthrough: route.tls_passthrough ?? false,
    matches: route.matches ?? null,
    auth: route.auth ? { scheme: route.auth.scheme, token_env: bundleTokenVar(route.auth.token_ref) } : null,
    dlp: route.dlp
      ? {
          outbound_detectors: route.dlp.outbound_detectors ?? ["token_patterns", "known_secrets"],
          inbound_detectors: route.dlp.inbound_detectors ?? [],
          outbound_on_match: route.dlp.outbound_on_match ?? "block",
          known_secret_env: (route.dlp.known_secret_env ?? []).map(bundleSecretVar),
        }
      : null,
  };
}

/** The routes file for a bottle, checked against the sidecar's own schema. */
export function egressConfig(egress: EffectiveBottle["egress"]): RoutesFile {
  const result = RoutesFileSchema.safeParse({ version: 1, log: egress.log, routes: egress.routes.map(routeEntry) });
  if (!result.success) {
    const problems = result.error.issues.map((i) => `egress.routes${i.path.length ? "." + i.path.slice(1).join(".") : ""}: ${i.message}`);
    throw new UserError(`the bottle's egress routes cannot be used: ${problems.join("; ")}`);
  }
  return result.data;
}

/**
 * Bundle variable -> where its value comes from, for every secret the routes
 * reference (tokens and known secrets). A token name is looked up in the
 * provider's sources first, else it is a host secret (environment, then store).
 */
export function egressSecrets(egress: EffectiveBottle["egress"], providerSources: Record<string, SecretSource>): Record<string, SecretSource> {
  const secrets: Record<string, SecretSource> = {};
  for (const route of egress.routes) {
    if (route.auth) {
      const name = route.auth.token_ref;
      secrets[bundleTokenVar(name)] = providerSources[name] ?? { kind: "env", name };
    }
    for (const hostVar of route.dlp?.known_secret_env ?? []) secrets[bundleSecretVar(hostVar)] = { kind: "env", name: hostVar };
  }
  return secrets;
}
