import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net, { type LookupFunction } from "node:net";
import tls from "node:tls";
import { forbiddenAddressReason, guardedLookup } from "./addresses.js";
import type { Authority } from "./target.js";

// Connections from egress to the internet: raw tunnels for CONNECT, and
// pooled keep-alive HTTP(S) for requests egress forwards itself. Every one
// goes to the target the policy judged (never a Host header), to no private
// address but the allowed networks (names through the guarded lookup; IP
// literals, which Node connects to without a lookup, checked by `refusal`
// first), and for TLS verifies the upstream against the trust store below
// with the target name as SNI. HTTP/1.1 only.

/** Where distributions keep the system store; Node itself only ships Mozilla's list. */
const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/** The CAs upstream servers are checked against: Node's roots, the system store if any, and an extra bundle. */
export function upstreamTrust(extraCaFile: string | undefined): string[] {
  const cas = [...tls.rootCertificates];
  const system = SYSTEM_BUNDLES.find((file) => existsSync(file));
  if (system) cas.push(readFileSync(system, "utf8"));
  if (extraCaFile) {
    const extra = readFileSync(extraCaFile, "utf8");
    if (!extra.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`${extraCaFile} holds no PEM certificate`);
    cas.push(extra);
  }
  return cas;
}

const KEEP_ALIVE = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 64 };

export class Upstreams {
  readonly #plain: http.Agent;
  readonly #secure: https.Agent;
  readonly #lookup: LookupFunction;
  readonly #allowed: net.BlockList;

  /** `allowed`: private networks declared names and literals may lead into (see addresses.ts). */
  constructor(trustedCas: string[], allowed: net.BlockList) {
    this.#allowed = allowed;
    this.#lookup = guardedLookup(allowed);
    this.#plain = new http.Agent(KEEP_ALIVE);
    // One context for every upstream TLS connection: building it from the
    // whole trust store per connection would cost more than the handshake.
    const secureContext = tls.createSecureContext({ ca: trustedCas, minVersion: "TLSv1.2" });
    this.#secure = new https.Agent({ ...KEEP_ALIVE, secureContext, ALPNProtocols: ["http/1.1"] });
  }

  /**
   * Why egress must not connect to `target` at all, or null: a declared IP
   * literal in a private range is refused like a name resolving there.
   * Callers ask before `request` and `tunnel`.
   */
  refusal(target: Authority): string | null {
    if (target.host.kind === "name") return null;
    const reason = forbiddenAddressReason(target.host.value, this.#allowed);
    return reason === null ? null : `${target.host.value} is ${reason}`;
  }

  /** A request to the judged target; the caller writes the body and handles the response. */
  request(target: Authority, tlsToUpstream: boolean, method: string, path: string, headers: string[]): http.ClientRequest {
    const common = {
      host: target.host.value,
      port: target.port,
      method,
      path,
      headers,
      setHost: false,
      lookup: this.#lookup,
    };
    if (!tlsToUpstream) return http.request({ ...common, agent: this.#plain });
    return https.request({
      ...common,
      agent: this.#secure,
      // SNI is a name: none for an IP literal.
      servername: target.host.kind === "name" ? target.host.value : "",
      rejectUnauthorized: true,
    });
  }

  /** A raw TCP connection for a tunnel, half-open capable, without Nagle's delay (the agent's own TLS decides when to send). */
  tunnel(target: Authority): net.Socket {
    return net.connect({ host: target.host.value, port: target.port, allowHalfOpen: true, noDelay: true, lookup: this.#lookup });
  }
}
