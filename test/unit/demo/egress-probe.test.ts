import { describe, expect, it } from "vitest";
import { readEgressOutcome } from "../../../src/demo/egress-probe.js";

// curl's verbose output through egress, as captured from curl 7.88 (Debian
// bookworm's) in a demo bottle, and the outcomes the demo reads from it.

const connectAnswer = (host: string, status: string, reason: string) =>
  [
    "* Uses proxy env variable https_proxy == 'http://127.0.0.1:9099'",
    "*   Trying 127.0.0.1:9099...",
    "* Connected to 127.0.0.1 (127.0.0.1) port 9099 (#0)",
    `* Establish HTTP proxy tunnel to ${host}:443`,
    `> CONNECT ${host}:443 HTTP/1.1`,
    `> Host: ${host}:443`,
    ">",
    `< HTTP/1.1 ${status}`,
    `< X-Bot-Bottle-Reason: ${reason}`,
    "< Content-Type: text/plain; charset=utf-8",
    "< Connection: close",
    "<",
    `* CONNECT tunnel failed, response ${status.split(" ")[0]}`,
    "* Closing connection 0",
    `curl: (56) CONNECT tunnel failed, response ${status.split(" ")[0]}`,
  ].join("\n");

describe("what an https request through egress came to, read from curl", () => {
  it("a refusal at CONNECT, with egress's reason", () => {
    const outcome = readEgressOutcome({ stdout: "403 000\n", stderr: connectAnswer("example.org", "403 Forbidden", "host example.org is not declared") });
    expect(outcome).toEqual({ kind: "refused", status: 403, reason: "host example.org is not declared" });
  });

  it("a declared host egress could not connect to (no internet): its 502 and the connect error", () => {
    const reason = "upstream connect to example.com:443 failed: ENOTFOUND";
    const outcome = readEgressOutcome({ stdout: "502 000\n", stderr: connectAnswer("example.com", "502 Bad Gateway", reason) });
    expect(outcome).toEqual({ kind: "unreachable", reason });
  });

  it("an open tunnel and the server's answer", () => {
    expect(readEgressOutcome({ stdout: "200 404\n", stderr: "< HTTP/1.1 200 Connection Established\n< HTTP/2 404\n" })).toEqual({ kind: "answered", httpStatus: 404 });
  });

  it("an open tunnel whose TLS failed", () => {
    const stderr = "< HTTP/1.1 200 Connection Established\ncurl: (60) SSL certificate problem: self-signed certificate in certificate chain\n";
    expect(readEgressOutcome({ stdout: "200 000\n", stderr })).toEqual({ kind: "tunnel-failed", error: "SSL certificate problem: self-signed certificate in certificate chain" });
  });

  it("no answer from egress at all", () => {
    const stderr = "*   Trying 127.0.0.1:9099...\ncurl: (7) Failed to connect to 127.0.0.1 port 9099 after 0 ms: Couldn't connect to server\n";
    expect(readEgressOutcome({ stdout: "000 000\n", stderr })).toEqual({ kind: "no-egress", error: "Failed to connect to 127.0.0.1 port 9099 after 0 ms: Couldn't connect to server" });
  });
});
