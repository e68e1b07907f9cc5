// Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection, not the
// message: a proxy must not forward them. Proxy-Authorization also never
// leaves the bottle, and Node frames the forwarded body itself, so
// Transfer-Encoding goes too.

const ALWAYS_HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Removes hop-by-hop headers, including any the Connection header names, from a raw header list. */
export function stripHopByHop(rawHeaders: readonly string[]): string[] {
  const drop = new Set(ALWAYS_HOP_BY_HOP);
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() !== "connection") continue;
    for (const token of (rawHeaders[i + 1] ?? "").split(",")) {
      const name = token.trim().toLowerCase();
      if (name) drop.add(name);
    }
  }
  const kept: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? "";
    if (!drop.has(name.toLowerCase())) kept.push(name, rawHeaders[i + 1] ?? "");
  }
  return kept;
}
