import { z } from "zod";
import { formatRouteHost, parseRouteHost } from "./host.js";

// The egress config file: the engine writes it (JSON) from the effective
// bottle, the egress daemon reads it at start and on SIGHUP. Every field is
// present (null where a route does not use a feature) so that the file states
// the whole policy, and every object is strict so that a misspelt key fails
// the load instead of silently loosening the policy. Token values never appear
// here: `auth.token_env` names a variable of the egress process environment.

const EnvVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name (letters, digits, _)");

const RouteHostText = z.string().refine((text) => {
  const parsed = parseRouteHost(text);
  return parsed !== null && formatRouteHost(parsed) === text;
}, "must be a lowercase host name, *.suffix, dotted-quad IPv4 or compressed IPv6 without brackets");

const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name");

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

export const PathMatch = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("prefix"), value: z.string().startsWith("/", "a path prefix must start with /") }),
  z.strictObject({ type: z.literal("exact"), value: z.string().startsWith("/", "an exact path must start with /") }),
  z.strictObject({ type: z.literal("regex"), value: z.string().min(1).refine(compiles, "must be a valid regular expression") }),
]);

/** One Gateway-API style match: every field given must hold. */
export const RouteMatch = z.strictObject({
  paths: z.array(PathMatch).min(1).optional(),
  methods: z.array(z.string().regex(/^[A-Z]+$/, "must be an upper-case HTTP method")).min(1).optional(),
  headers: z.record(HeaderName, z.string()).optional(),
});

export const RouteAuth = z.strictObject({
  /** Bearer and token go in `Authorization: <scheme> <token>`; x-api-key is the header of that name (Anthropic API keys). */
  scheme: z.enum(["Bearer", "token", "x-api-key"]),
  /** Name of the variable, in the egress process environment, that holds the token. */
  token_env: EnvVarName,
});

const DlpDetector = z.enum(["token_patterns", "known_secrets", "entropy"]);

export const RouteDlp = z.strictObject({
  outbound_detectors: z.array(DlpDetector),
  inbound_detectors: z.array(DlpDetector),
  outbound_on_match: z.enum(["supervise", "redact", "block"]),
  /** Variables of the egress process environment whose values are known secrets. */
  known_secret_env: z.array(EnvVarName),
});

export const Route = z
  .strictObject({
    host: RouteHostText,
    /** null: 443 (https) only; any other port, 80 for plain http included, is named. */
    port: z.number().int().min(1).max(65535).nullable(),
    tls_passthrough: z.boolean(),
    /** null: every request to the host; otherwise a request must satisfy at least one entry. */
    matches: z.array(RouteMatch).min(1).nullable(),
    auth: RouteAuth.nullable(),
    dlp: RouteDlp.nullable(),
  })
  .refine((route) => !route.tls_passthrough || (route.matches === null && route.auth === null && route.dlp === null), {
    message: "a tls_passthrough route cannot declare matches, auth or dlp: the egress never sees inside its TLS",
    path: ["tls_passthrough"],
  });

/** The header of egress's health answer that names the sha256 of the routes file it serves (so a writer can tell its change is live). */
export const ROUTES_DIGEST_HEADER = "X-Bot-Bottle-Routes-Sha256";

export const LogLevel = z.union([z.literal(0), z.literal(1), z.literal(2)]);

export const RoutesFile = z.strictObject({
  version: z.literal(1),
  /** 0: no decision log; 1: refusals only; 2: every decision. */
  log: LogLevel,
  routes: z.array(Route),
});

export type PathMatch = z.infer<typeof PathMatch>;
export type RouteMatch = z.infer<typeof RouteMatch>;
export type RouteAuth = z.infer<typeof RouteAuth>;
export type RouteDlp = z.infer<typeof RouteDlp>;
export type Route = z.infer<typeof Route>;
export type LogLevel = z.infer<typeof LogLevel>;
export type RoutesFile = z.infer<typeof RoutesFile>;

/** Parses the text of a routes file; throws an Error whose message names every problem. */
export function parseRoutesFile(text: string): RoutesFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`routes file is not JSON: ${(error as Error).message}`);
  }
  const result = RoutesFile.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
    throw new Error(`routes file is invalid: ${problems.join("; ")}`);
  }
  return result.data;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path.map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`)).join("");
}
