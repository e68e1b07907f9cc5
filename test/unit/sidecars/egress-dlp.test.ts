import { describe, expect, it } from "vitest";
import { type Detector, fingerprintOf, jsonUnescaped, percentDecoded, redactRanges, Scanner, shannonEntropy } from "../../../sidecars/egress/dlp-detectors.js";
import { judgeDlp, knownSecrets, type OutboundRequest, redactRequest, scanRequest, scrub } from "../../../sidecars/egress/dlp.js";
import type { Route, RouteDlp } from "../../../sidecars/egress/routes.js";

// A secret with characters that every encoding treats differently.
const SECRET = "s3cr3t/Value+with=odd&chars~~~";
const scanner = new Scanner([{ name: "EGRESS_SECRET_X", value: SECRET }]);
const KNOWN: Detector[] = ["known_secrets"];
const bytes = Buffer.from(SECRET);

const forms = (label: string) => scanner.scan(label, KNOWN).map((f) => f.form);

describe("known secrets in every encoding", () => {
  it.each([
    ["raw", `prefix ${SECRET} suffix`],
    ["url", `q=${encodeURIComponent(SECRET)}&x=1`],
    ["url", `q=${encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`],
    ["base64", bytes.toString("base64")],
    ["base64url", bytes.toString("base64url")],
    ["hex", bytes.toString("hex")],
    ["hex", bytes.toString("hex").toUpperCase()],
  ])("finds the %s form", (form, text) => {
    expect(forms(text)).toContain(form);
  });

  it("finds a fully percent-escaped secret, where every byte is %XX", () => {
    const escaped = [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
    expect(forms(`a=${escaped}`)).toEqual(["url"]);
  });

  it("finds a double-encoded secret through repeated decoding, and cannot place it in the raw text", () => {
    const double = encodeURIComponent(encodeURIComponent(SECRET));
    const findings = scanner.scan(`a=${double}`, KNOWN);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.range === null)).toBe(true);
    expect(percentDecoded(double)).toBe(SECRET);
  });

  it.each([0, 1, 2])("finds base64 of the secret embedded after %i other bytes (e.g. Basic user:secret)", (shift) => {
    const blob = Buffer.concat([Buffer.from("user:".slice(0, shift + 2)), bytes, Buffer.from(" tail")]);
    expect(forms(blob.toString("base64"))).toContain("base64");
    expect(forms(blob.toString("base64url"))).toContain("base64url");
  });

  it("finds mixed-case hex", () => {
    const mixed = bytes.toString("hex").replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
    expect(forms(mixed)).toContain("hex");
  });

  it("finds a secret spelled with JSON escapes, and cannot place it in the raw text", () => {
    const escaped = [...SECRET].map((c, i) => (i % 2 ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)).join("").replace("/", "\\/");
    const findings = scanner.scan(`{"note":"${escaped}"}`, KNOWN);
    expect(findings.map((f) => [f.form, f.range])).toEqual([["json", null]]);
  });

  it("finds a token shape hidden in JSON escapes, and reads surrogate pairs as their UTF-8 bytes", () => {
    const token = `ghp_${"a1B2".repeat(9)}`;
    const hidden = `\\u0067\\u0068\\u0070${token.slice(3)}`;
    expect(scanner.scan(hidden, ["token_patterns"]).map((f) => f.label)).toEqual(["GitHub token"]);
    expect(jsonUnescaped("\\ud83d\\ude00 \\\\u0041")).toBe(`${Buffer.from("\u{1F600}").toString("latin1")} \\u0041`);
  });

  it("reads + as a space in form bodies and queries, for secrets that hold a space", () => {
    const spaced = new Scanner([{ name: "EGRESS_SECRET_PHRASE", value: "correct horse battery staple" }]);
    expect(spaced.scan("a=1&p=correct+horse+battery+staple", KNOWN).map((f) => [f.label, f.range])).toEqual([["EGRESS_SECRET_PHRASE", null]]);
    expect(spaced.scan("p=correct%20horse+battery%2Bstaple", KNOWN)).toEqual([]);
  });

  it("reports exact byte ranges, so redaction cuts exactly the secret", () => {
    const text = `a ${SECRET} b ${SECRET}`;
    const findings = scanner.scan(text, KNOWN);
    expect(findings.map((f) => f.range)).toEqual([
      [2, 2 + SECRET.length],
      [5 + SECRET.length, 5 + 2 * SECRET.length],
    ]);
    expect(redactRanges(text, findings)).toBe("a [REDACTED:EGRESS_SECRET_X] b [REDACTED:EGRESS_SECRET_X]");
  });

  it("fingerprints by the secret's value, whatever the form it was found in", () => {
    const raw = scanner.scan(SECRET, KNOWN)[0]!;
    const hex = scanner.scan(bytes.toString("hex"), KNOWN)[0]!;
    expect(raw.fingerprint).toBe(hex.fingerprint);
    expect(raw.fingerprint).toBe(fingerprintOf(SECRET));
  });

  it("finds nothing in text without the secret, nor does it look for values too short to scan", () => {
    expect(scanner.scan("s3cr3t/Value but not the rest", KNOWN)).toEqual([]);
    const short = new Scanner([{ name: "TINY", value: "abc" }]);
    expect(short.scan("abc abc abc", KNOWN)).toEqual([]);
  });

  it("handles non-ASCII secrets byte for byte", () => {
    const unicode = new Scanner([{ name: "U", value: "pässwörd-ünïcode" }]);
    const body = Buffer.from("x pässwörd-ünïcode y", "utf8").toString("latin1");
    expect(unicode.scan(body, KNOWN)).toHaveLength(1);
    expect(unicode.scan(Buffer.from("pässwörd-ünïcode").toString("base64"), KNOWN)[0]?.form).toBe("base64");
  });
});

describe("token patterns", () => {
  const TOKENS: [string, string][] = [
    ["Anthropic API key", `sk-ant-api03-${"A1b2_C3d4-".repeat(4)}`],
    ["OpenAI API key", `sk-proj-${"Ab1".repeat(10)}`],
    ["OpenAI API key", `sk-${"a".repeat(20)}T3BlbkFJ${"b".repeat(20)}`],
    ["GitHub token", `ghp_${"a1B2".repeat(9)}`],
    ["GitHub token", `github_pat_${"11AAAAAA_".repeat(4)}`],
    ["AWS access key id", "AKIAIOSFODNN7EXAMPLE"],
    ["Stripe key", `sk_live_${"4eC39HqLyjWDarjtT1zdp7dc".repeat(1)}`],
    ["JSON Web Token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"],
  ];

  it.each(TOKENS)("finds a %s", (label, token) => {
    const findings = scanner.scan(`Authorization: Bearer ${token}`, ["token_patterns"]);
    expect(findings.map((f) => f.label)).toContain(label);
    expect(findings.find((f) => f.label === label)?.fingerprint).toBe(fingerprintOf(token));
  });

  it.each(TOKENS)("finds a %s behind percent-encoding", (label, token) => {
    const escaped = [...Buffer.from(token)].map((b) => `%${b.toString(16)}`).join("");
    expect(scanner.scan(escaped, ["token_patterns"]).map((f) => f.label)).toContain(label);
  });

  it.each(["Z", "/", "+"])("finds an AWS secret access key ending in %s by the name it is assigned to, and marks the key alone", (last) => {
    const key = `wJalrXUtnFEMI/K7MDENG/bPxRfiCY0123456789${last}`.slice(-40);
    for (const text of [`aws_secret_access_key = "${key}";`, `AWS_SECRET_ACCESS_KEY=${key}\n`, `{"SecretAccessKey": "${key}"}`, `aws_secret_access_key: ${key}`]) {
      const findings = scanner.scan(text, ["token_patterns"]).filter((f) => f.label === "AWS secret access key");
      expect(findings.map((f) => [f.fingerprint, text.slice(...f.range!)]), text).toEqual([[fingerprintOf(key), key]]);
    }
  });

  it("does not take any 40 characters for an AWS secret key: not under another name, not a longer run", () => {
    const key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY0123456789";
    expect(scanner.scan(`session_token = "${key}"`, ["token_patterns"])).toEqual([]);
    expect(scanner.scan(`aws_secret_access_key = "${key}x"`, ["token_patterns"])).toEqual([]);
  });

  it("does not fire on look-alikes inside longer identifiers or on ordinary text", () => {
    expect(scanner.scan(`xAKIAIOSFODNN7EXAMPLE`, ["token_patterns"])).toEqual([]);
    expect(scanner.scan("the sk-ant prefix and ghp_short and eyJ.eyJ.x", ["token_patterns"])).toEqual([]);
  });
});

describe("entropy", () => {
  it("flags long random strings and not long ordinary ones", () => {
    const random = "q8Zr2Lx0Vb7Nk4Jm1Ws9Tp6Yh3Gd5Fc0Ae8Ru2Io";
    expect(shannonEntropy(random)).toBeGreaterThan(4.5);
    expect(scanner.scan(`key=${random}`, ["entropy"])).toHaveLength(1);
    expect(scanner.scan("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ["entropy"])).toEqual([]);
    expect(scanner.scan("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ["entropy"])).toEqual([]);
    expect(scanner.scan("the_quick_brown_fox_jumps_over_the_lazy_dog", ["entropy"])).toEqual([]);
  });

  it("runs only the detectors asked for", () => {
    const text = `${SECRET} ghp_${"a1B2".repeat(9)}`;
    expect(scanner.scan(text, []).length).toBe(0);
    expect(new Set(scanner.scan(text, ["known_secrets"]).map((f) => f.detector))).toEqual(new Set(["known_secrets"]));
  });
});

const DLP = (on: RouteDlp["outbound_on_match"], detectors: Detector[] = ["known_secrets", "token_patterns"]): RouteDlp => ({
  outbound_detectors: detectors,
  inbound_detectors: [],
  outbound_on_match: on,
  known_secret_env: ["EGRESS_SECRET_X"],
});

function request(parts: Partial<OutboundRequest>): OutboundRequest {
  return { pathAndQuery: "/v1/ok", headers: ["Host", "api.example.com", "Accept", "*/*"], body: null, ...parts };
}

describe("scanRequest", () => {
  it("names where each finding is: path, query, a header, a header name, the body", () => {
    const found = scanRequest(
      scanner,
      request({
        pathAndQuery: `/v1/${SECRET}?k=${encodeURIComponent(SECRET)}`,
        headers: ["Host", "api.example.com", "X-Leak", bytes.toString("base64"), `X-${bytes.toString("hex")}`, "1"],
        body: `{"a":"${bytes.toString("base64url")}"}`,
      }),
      ["known_secrets"],
      new Set(),
    );
    expect(found.map((f) => [f.location, f.form])).toEqual([
      ["path", "raw"],
      ["query", "url"],
      ["header x-leak", "base64"],
      ["header name", "hex"],
      ["body", "base64url"],
    ]);
    // A header name cannot be redacted.
    expect(found.find((f) => f.location === "header name")?.range).toBeNull();
  });

  it("skips values already approved", () => {
    expect(scanRequest(scanner, request({ body: SECRET }), ["known_secrets"], new Set([fingerprintOf(SECRET)]))).toEqual([]);
  });
});

describe("judgeDlp", () => {
  const leaking = request({ pathAndQuery: `/v1/x?token=${SECRET}`, body: `data ${bytes.toString("hex")} end` });

  it("passes a clean request", () => {
    expect(judgeDlp(scanner, request({ body: "hello" }), DLP("block"), new Set())).toEqual({ action: "pass" });
  });

  it("blocks with a reason that names the secret's variable, the form and the place, never the value", () => {
    const verdict = judgeDlp(scanner, leaking, DLP("block"), new Set());
    expect(verdict.action).toBe("block");
    if (verdict.action !== "block") return;
    expect(verdict.reason).toBe("DLP: known secret EGRESS_SECRET_X (raw) in query; known secret EGRESS_SECRET_X (hex) in body");
    expect(verdict.reason).not.toContain(SECRET);
  });

  it("redacts every place and leaves the rest of the request alone", () => {
    const verdict = judgeDlp(scanner, leaking, DLP("redact"), new Set());
    expect(verdict.action).toBe("redact");
    if (verdict.action !== "redact") return;
    expect(verdict.request.pathAndQuery).toBe("/v1/x?token=[REDACTED:EGRESS_SECRET_X]");
    expect(verdict.request.body).toBe("data [REDACTED:EGRESS_SECRET_X] end");
    expect(verdict.request.headers).toEqual(leaking.headers);
  });

  it("redacts a header value", () => {
    const verdict = judgeDlp(scanner, request({ headers: ["Host", "h", "X-Key", `k ${SECRET}`] }), DLP("redact"), new Set());
    expect(verdict.action === "redact" && verdict.request.headers).toEqual(["Host", "h", "X-Key", "k [REDACTED:EGRESS_SECRET_X]"]);
  });

  it("blocks instead of redacting when a match cannot be cut out (double-encoded, or in a header name)", () => {
    const double = judgeDlp(scanner, request({ body: encodeURIComponent(encodeURIComponent(SECRET)) }), DLP("redact"), new Set());
    expect(double.action).toBe("block");
    expect(double.action === "block" && double.reason).toMatch(/cannot be redacted$/);
    const inName = judgeDlp(scanner, request({ headers: ["Host", "h", `X-${bytes.toString("hex")}`, "1"] }), DLP("redact"), new Set());
    expect(inName.action).toBe("block");
  });

  it("redacts the raw sighting and blocks when the same value also hides in an encoded form", () => {
    const both = judgeDlp(scanner, request({ body: `${SECRET} and ${encodeURIComponent(encodeURIComponent(SECRET))}` }), DLP("redact"), new Set());
    expect(both.action).toBe("block");
  });

  it("holds for supervise, with the findings to put in the proposal", () => {
    const verdict = judgeDlp(scanner, leaking, DLP("supervise"), new Set());
    expect(verdict.action).toBe("hold");
    if (verdict.action !== "hold") return;
    expect(verdict.findings.map((f) => f.location)).toEqual(["query", "body"]);
    expect(new Set(verdict.findings.map((f) => f.fingerprint))).toEqual(new Set([fingerprintOf(SECRET)]));
  });

  it("lets an approved value through next time", () => {
    expect(judgeDlp(scanner, leaking, DLP("supervise"), new Set([fingerprintOf(SECRET)]))).toEqual({ action: "pass" });
  });

  it("redactRequest keeps a request without query or body as it was", () => {
    const plain = request({});
    expect(redactRequest(plain, [])).toEqual(plain);
  });
});

describe("scrub (for logs and proposals)", () => {
  it("cuts secrets and token shapes out, and withholds text that hides an encoded one", () => {
    expect(scrub(scanner, `/v1/${SECRET}/x`)).toBe("/v1/[REDACTED:EGRESS_SECRET_X]/x");
    expect(scrub(scanner, `/v1/ghp_${"a1B2".repeat(9)}`)).toBe("/v1/[REDACTED:GitHub-token]");
    expect(scrub(scanner, `/v1/${encodeURIComponent(encodeURIComponent(SECRET))}`)).not.toContain("s3cr3t");
    expect(scrub(scanner, "/v1/plain")).toBe("/v1/plain");
  });
});

describe("knownSecrets", () => {
  const route = (extra: Partial<Route>): Route => ({ host: "h.example", port: null, tls_passthrough: false, matches: null, auth: null, dlp: null, ...extra });

  it("collects every route's token and every listed secret variable, with values from the environment", () => {
    const routes = [
      route({ auth: { scheme: "Bearer", token_env: "EGRESS_TOKEN_A" } }),
      route({ dlp: { ...DLP("block"), known_secret_env: ["EGRESS_SECRET_B", "EGRESS_SECRET_UNSET"] } }),
      route({ auth: { scheme: "token", token_env: "EGRESS_TOKEN_A" } }),
    ];
    expect(knownSecrets(routes, { EGRESS_TOKEN_A: "token-a-value", EGRESS_SECRET_B: "secret-b-value" })).toEqual([
      { name: "EGRESS_TOKEN_A", value: "token-a-value" },
      { name: "EGRESS_SECRET_B", value: "secret-b-value" },
    ]);
  });
});
