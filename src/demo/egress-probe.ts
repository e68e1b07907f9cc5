import type { ExecResult } from "../engine/records.js";

// An https request from inside a bottle, made with curl as any agent would
// (it follows HTTPS_PROXY to egress), and what it came to. Egress says no at
// CONNECT with a status and an X-Bot-Bottle-Reason header, which curl -v
// prints; curl's -w reports the CONNECT status and the server's HTTP status.
// A declared host that cannot be reached (no internet) is egress's 502 with
// the connect error as its reason: a fact about the machine, not a refusal.

/** Longer than egress's own upstream connect timeout (30 s), so egress reports a dead upstream itself. */
const CURL_MAX_SECONDS = 45;

/** The command: verbose (egress's answer to CONNECT is on stderr), body discarded, both statuses on stdout. */
export const curlThroughEgress = (url: string): string[] => [
  "curl",
  "--silent",
  "--show-error",
  "--verbose",
  "--max-time",
  String(CURL_MAX_SECONDS),
  "--output",
  "/dev/null",
  "--write-out",
  "%{http_connect} %{http_code}\\n",
  url,
];

export type EgressOutcome =
  /** Egress refused the CONNECT (403, or another refusal). */
  | { kind: "refused"; status: number; reason: string }
  /** Egress allowed the host but could not connect to it (502): no route to the internet from here. */
  | { kind: "unreachable"; reason: string }
  /** Egress opened the tunnel and the server answered. */
  | { kind: "answered"; httpStatus: number }
  /** Egress opened the tunnel, but TLS or HTTP with the far end failed. */
  | { kind: "tunnel-failed"; error: string }
  /** curl never got an answer from egress at all. */
  | { kind: "no-egress"; error: string };

const REASON = /^< X-Bot-Bottle-Reason: (.*?)\r?$/im;
const CURL_ERROR = /^curl: \(\d+\) (.*)$/m;

export function readEgressOutcome(result: Pick<ExecResult, "stdout" | "stderr">): EgressOutcome {
  const [connect = 0, http = 0] = result.stdout.trim().split(/\s+/).map(Number);
  const reason = REASON.exec(result.stderr)?.[1]?.trim() ?? "";
  const error = CURL_ERROR.exec(result.stderr)?.[1]?.trim() ?? "curl reported nothing";
  if (connect === 200) return http > 0 ? { kind: "answered", httpStatus: http } : { kind: "tunnel-failed", error };
  if (connect === 502 && reason) return { kind: "unreachable", reason };
  if (connect > 0) return { kind: "refused", status: connect, reason: reason || "(no reason given)" };
  return { kind: "no-egress", error };
}
