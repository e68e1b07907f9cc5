import type { PathMatch, RouteMatch } from "./routes.js";

// Evaluation of a route's `matches` (Gateway-API vocabulary): a request is
// admitted when at least one entry holds, and an entry holds when every field
// it gives holds. Paths are compared without their query string.

export interface MatchableRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Raw header list as Node gives it: name, value, name, value, ... */
  rawHeaders: readonly string[];
}

/** A prefix matches whole path elements: `/v1` admits `/v1` and `/v1/x`, never `/v10`. */
function matchesPrefix(prefix: string, path: string): boolean {
  const base = prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (base === "/") return true;
  return path === base || path.startsWith(`${base}/`);
}

function matchesPath(match: PathMatch, path: string): boolean {
  switch (match.type) {
    case "exact":
      return path === match.value;
    case "prefix":
      return matchesPrefix(match.value, path);
    case "regex":
      // Anchored on both ends: an unanchored pattern would admit any path that merely contains it.
      return new RegExp(`^(?:${match.value})$`).test(path);
  }
}

function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === wanted) values.push(rawHeaders[i + 1] ?? "");
  }
  return values;
}

function matchesEntry(entry: RouteMatch, request: MatchableRequest): boolean {
  if (entry.methods && !entry.methods.includes(request.method)) return false;
  if (entry.paths && !entry.paths.some((p) => matchesPath(p, request.path))) return false;
  if (entry.headers) {
    for (const [name, value] of Object.entries(entry.headers)) {
      if (!headerValues(request.rawHeaders, name).includes(value)) return false;
    }
  }
  return true;
}

/** Whether a route's `matches` admit the request (null admits everything). */
export function matchesRequest(matches: readonly RouteMatch[] | null, request: MatchableRequest): boolean {
  return matches === null || matches.some((entry) => matchesEntry(entry, request));
}
