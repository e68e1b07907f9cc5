import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CLIENT_CERT_CN, createTestPki, startUpstream, upstreamRequests, writeUpstreamFiles } from "../../../bench/egress-fixtures.js";
import { parseRoutesFile } from "../../../sidecars/egress/routes.js";
import { Answer, answerFile, answerOnce, Proposal } from "../../../sidecars/supervise/queue.js";
import { BottlePlan } from "../../../src/engine/plan-schema.js";
import { waitUntil } from "../../../src/wait-until.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { baseImage, describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { placeRawAnswer } from "../../support/raw-answer.js";

// Egress as the agent meets it, in a real bottle started by the built CLI:
// fake internet hosts run in a container on a network the test creates (and
// names in BOT_BOTTLE_EGRESS_ALLOW_NETWORKS, since Docker gives it a private
// subnet, which egress otherwise refuses), and egress trusts their CA through
// BOT_BOTTLE_EGRESS_EXTRA_CA. The route token and a DLP canary are random
// values set in the host environment only.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "egress");
const PUBLIC_NAMES = [
  "pass.upstream.test",
  "api.upstream.test",
  "redact.upstream.test",
  "hold.upstream.test",
  "late.upstream.test",
  "inspected.shared.upstream.test",
  "tenant.shared.upstream.test",
];
const HOLD_SECONDS = 8;
const CANARY_VAR = "EGRESS_SECRET_BB_EGRESS_TEST_CANARY";
const UNDICI = "/usr/local/lib/node_modules/npm/node_modules/undici";

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  tls: boolean;
  servername: string | null;
  alpnOffered: string[] | null;
  clientCert: string | null;
}

interface AgentRequest {
  id: string;
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Fetched {
  id: string;
  status: number;
  reason: string | null;
  body: string;
}

describeWithDocker("egress in a real bottle", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-egress-home-"));
  const files = mkdtempSync(path.join(os.tmpdir(), "bb-egress-upstream-"));
  const token = `bbtok-${randomBytes(24).toString("hex")}`;
  // "~~~" first: its base64 holds a "+", so base64 and base64url differ from the first character.
  const canary = `~~~cnry/${randomBytes(10).toString("hex")}+${randomBytes(10).toString("hex")}=`;
  const suffix = `${process.pid}-${randomBytes(3).toString("hex")}`;
  const fakeInternet = `bb-egress-internet-${suffix}`;
  const upstream = `bb-egress-upstream-${suffix}`;
  let upstreamIp = "";
  const env: Record<string, string> = {
    ...engineTestEnv(),
    BOT_BOTTLE_HOME: home,
    BOT_BOTTLE_LOG: "warn",
    BOT_BOTTLE_EGRESS_EXTRA_CA: path.join(files, "ca.pem"),
    BOT_BOTTLE_EGRESS_HOLD_SECONDS: String(HOLD_SECONDS),
    BB_EGRESS_TEST_TOKEN: token,
    BB_EGRESS_TEST_CANARY: canary,
  };
  let id = "";
  let plan: BottlePlan;

  const docker = (args: string[], options: { input?: string } = {}) => execa("docker", args, { reject: false, ...options });
  /** A Node script run as the agent user, fed on stdin so that nothing it holds shows in any argv. */
  const agentNode = async (script: string) => {
    const result = await docker(["exec", "-i", "-u", "node", "-w", "/home/node", plan.resources.agent, "node", "-"], { input: script });
    return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
  };
  const agentSh = async (command: string) => {
    const result = await runCli(["exec", id, "--", "sh", "-c", command], env);
    return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
  };
  /** Waits for a line that `docker logs` shows once the log driver has copied it. */
  const logged = <T>(what: string, probe: () => Promise<T | undefined>) => waitUntil(what, probe, { timeoutMs: 30_000 });
  const bundleLogs = async () => String((await execa("docker", ["logs", plan.resources.bundle], { all: true, reject: false })).all);
  const curlTls = "--cacert /tmp/up/ca.pem --cert /tmp/up/client.pem --key /tmp/up/client-key.pem";
  /** Requests made with Node's fetch through the proxy (undici's EnvHttpProxyAgent reads HTTPS_PROXY). */
  const fetchAll = async (requests: AgentRequest[]) => {
    const script = `
      const { EnvHttpProxyAgent, setGlobalDispatcher } = require(${JSON.stringify(UNDICI)});
      setGlobalDispatcher(new EnvHttpProxyAgent());
      (async () => {
        const out = [];
        for (const r of ${JSON.stringify(requests)}) {
          try {
            const res = await fetch(r.url, { method: r.method || (r.body ? "POST" : "GET"), headers: r.headers, body: r.body });
            out.push({ id: r.id, status: res.status, reason: res.headers.get("x-bot-bottle-reason"), body: await res.text() });
          } catch (e) {
            out.push({ id: r.id, status: -1, reason: String(e.cause || e), body: "" });
          }
        }
        console.log(JSON.stringify(out));
      })();`;
    const result = await agentNode(script);
    if (result.exitCode !== 0) throw new Error(`fetch script failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Fetched[];
  };
  const fetchOne = async (request: AgentRequest) => (await fetchAll([request]))[0]!;
  const proposals = () => readdirSync(plan.sidecars.queueDir).filter((f) => f.endsWith(".proposal.json"));
  /** The proposal file that appears beyond those already there (bounded wait). */
  const newProposal = async (known: string[]): Promise<Proposal> => {
    for (let i = 0; i < 300; i++) {
      const fresh = proposals().find((f) => !known.includes(f));
      if (fresh) return Proposal.parse(JSON.parse(readFileSync(path.join(plan.sidecars.queueDir, fresh), "utf8")));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("no proposal appeared in the queue");
  };

  beforeAll(async () => {
    cpSync(fixtureHome, home, { recursive: true });
    const pki = await createTestPki([...PUBLIC_NAMES, "private.upstream.test"]);
    writeUpstreamFiles(files, pki);
    writeFileSync(path.join(files, "client.pem"), pki.clientCertPem);
    writeFileSync(path.join(files, "client-key.pem"), pki.clientKeyPem);

    // The fake internet: one host answering to every public name, on a
    // network whose (Docker-chosen, private) subnet egress is told to allow.
    await execa("docker", ["network", "create", fakeInternet]);
    env.BOT_BOTTLE_EGRESS_ALLOW_NETWORKS = (await execa("docker", ["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", fakeInternet])).stdout.trim();
    await startUpstream({ name: upstream, network: fakeInternet, aliases: PUBLIC_NAMES, dir: files, image: baseImage() });
    upstreamIp = (await execa("docker", ["inspect", "--format", `{{(index .NetworkSettings.Networks "${fakeInternet}").IPAddress}}`, upstream])).stdout.trim();

    const started = await runCli(["start", "egress-probe", "--label", "egress-test"], env);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim().split("\n").pop()!;
    plan = BottlePlan.parse(JSON.parse(readFileSync(path.join(home, "state", id, "plan.json"), "utf8")));
    // The bundle reaches the fake internet; the same host also appears on
    // the bottle's own network (private, and not allowed) as private.upstream.test.
    await execa("docker", ["network", "connect", fakeInternet, plan.resources.bundle]);
    await execa("docker", ["network", "connect", "--alias", "private.upstream.test", plan.resources.network, upstream]);

    await execa("docker", ["exec", "-u", "root", plan.resources.agent, "mkdir", "-p", "/tmp/up"]);
    for (const file of ["ca.pem", "client.pem", "client-key.pem"]) {
      await execa("docker", ["cp", path.join(files, file), `${plan.resources.agent}:/tmp/up/${file}`]);
    }
    await execa("docker", ["exec", "-u", "root", plan.resources.agent, "chown", "-R", "node", "/tmp/up"]);
  });

  afterAll(async () => {
    if (id) await runCli(["stop", id], env);
    await docker(["rm", "-f", upstream]);
    await docker(["network", "rm", fakeInternet]);
    await runCli(["gc"], env);
    rmSync(home, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  it("tunnels a passthrough host untouched: curl's own TLS session reaches the upstream", async () => {
    const result = await agentSh(`curl -sS --max-time 20 ${curlTls} https://pass.upstream.test/echo`);
    expect(result.exitCode, result.stderr).toBe(0);
    const echo = JSON.parse(result.stdout) as Echo;
    // Only the agent holds this client certificate, and only the agent offers h2: nobody in between spoke TLS.
    expect(echo).toMatchObject({ tls: true, servername: "pass.upstream.test", clientCert: CLIENT_CERT_CN });
    expect(echo.alpnOffered).toContain("h2");
  });

  it("tunnels a passthrough host untouched for Node's fetch too", async () => {
    const script = `
      const fs = require("fs");
      const { EnvHttpProxyAgent, setGlobalDispatcher } = require(${JSON.stringify(UNDICI)});
      const tls = { ca: fs.readFileSync("/tmp/up/ca.pem"), cert: fs.readFileSync("/tmp/up/client.pem"), key: fs.readFileSync("/tmp/up/client-key.pem") };
      setGlobalDispatcher(new EnvHttpProxyAgent({ requestTls: tls }));
      fetch("https://pass.upstream.test/echo").then((r) => r.text()).then(console.log, (e) => { console.error(e.cause || e); process.exit(1); });`;
    const result = await agentNode(script);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ tls: true, servername: "pass.upstream.test", clientCert: CLIENT_CERT_CN });
  });

  it("refuses domain fronting through a passthrough route: a TLS hello naming another tenant of the address never reaches it", async () => {
    const marker = `/front-${randomBytes(6).toString("hex")}`;
    const script = `
      const http = require("http"), tls = require("tls"), fs = require("fs");
      const ca = fs.readFileSync("/tmp/up/ca.pem");
      const attempt = (connectTo, servername) => new Promise((resolve) => {
        const req = http.request({ host: "127.0.0.1", port: 9099, method: "CONNECT", path: connectTo + ":443", agent: false });
        req.on("connect", (res, socket) => {
          if (res.statusCode !== 200) return resolve("CONNECT " + res.statusCode);
          const s = tls.connect({ socket, servername, ca }, () => {
            s.end("GET ${marker} HTTP/1.1\\r\\nHost: " + servername + "\\r\\nConnection: close\\r\\n\\r\\n");
            let body = ""; s.on("data", (c) => (body += c)); s.on("end", () => resolve("answered " + body.split("\\r\\n")[0]));
          });
          s.on("error", (e) => resolve("tls " + (e.code || e.message)));
        });
        req.on("error", (e) => resolve("proxy " + e.message));
        req.end();
      });
      (async () => console.log(JSON.stringify([
        await attempt("pass.upstream.test", "tenant.shared.upstream.test"),
        await attempt("pass.upstream.test", "pass.upstream.test"),
      ])))();`;
    const result = await agentNode(script);
    expect(result.exitCode, result.stderr).toBe(0);
    const [fronted, honest] = JSON.parse(result.stdout) as string[];
    expect(fronted).toMatch(/^tls /);
    expect(honest).toBe("answered HTTP/1.1 200 OK");
    // Both logs reach `docker logs` on paths of their own, after the answers the agent got.
    const seen = await logged("the upstream to log the honest request", async () => {
      const requests = (await upstreamRequests(upstream)).filter((r) => r.url === marker);
      return requests.length > 0 ? requests : undefined;
    });
    expect(seen.map((r) => r.host)).toEqual(["pass.upstream.test"]);
    const refusal = /TLS server name tenant\.shared\.upstream\.test does not match CONNECT target pass\.upstream\.test/;
    await logged("egress to log the fronting refusal", async () => (refusal.test(await bundleLogs()) ? true : undefined));
  });

  it("lets the most specific route win: a host under a wildcard passthrough that a route of its own inspects is intercepted", async () => {
    const inspected = await agentSh("curl -sS --max-time 20 https://inspected.shared.upstream.test/v1/echo");
    expect(inspected.exitCode, inspected.stderr).toBe(0);
    const echo = JSON.parse(inspected.stdout) as Echo;
    expect(echo.headers.authorization).toBe(`Bearer ${token}`);
    expect(echo).toMatchObject({ servername: "inspected.shared.upstream.test", clientCert: null });
    const outside = await agentSh("curl -sS --max-time 20 -o /dev/null -D - https://inspected.shared.upstream.test/admin");
    expect(outside.stdout).toMatch(/x-bot-bottle-reason: no route for inspected\.shared\.upstream\.test admits GET \/admin/i);
    const tenant = await agentSh(`curl -sS --max-time 20 ${curlTls} https://tenant.shared.upstream.test/echo`);
    expect(JSON.parse(tenant.stdout)).toMatchObject({ servername: "tenant.shared.upstream.test", clientCert: CLIENT_CERT_CN });
  });

  it("delivers the host-side token to a routed host, replacing the Authorization and x-api-key the agent set", async () => {
    const curl = await agentSh(`curl -sS --max-time 20 -H 'Authorization: Bearer agent-placeholder' -H 'x-api-key: sk-agent' https://api.upstream.test/v1/echo`);
    expect(curl.exitCode, curl.stderr).toBe(0);
    const seen = JSON.parse(curl.stdout) as Echo;
    expect(seen.headers.authorization).toBe(`Bearer ${token}`);
    expect(seen.headers["x-api-key"]).toBeUndefined();
    // egress's own TLS client: no client certificate, HTTP/1.1 only.
    expect(seen).toMatchObject({ tls: true, servername: "api.upstream.test", clientCert: null, alpnOffered: ["http/1.1"] });

    const fetched = await fetchOne({ id: "fetch", url: "https://api.upstream.test/v1/echo", headers: { Authorization: "Bearer other" } });
    expect(fetched.status).toBe(200);
    expect((JSON.parse(fetched.body) as Echo).headers.authorization).toBe(`Bearer ${token}`);
  });

  it("refuses an undeclared host and an IP literal at CONNECT, with 403 and a reason", async () => {
    const undeclared = await agentSh("curl -sS -v --max-time 20 https://undeclared.upstream.test/ 2>&1");
    expect(undeclared.stdout).toMatch(/< HTTP\/1\.1 403 Forbidden/);
    expect(undeclared.stdout).toMatch(/< X-Bot-Bottle-Reason: host undeclared\.upstream\.test is not declared/i);
    const literal = await agentSh(`curl -sS -v --max-time 20 https://${upstreamIp}/ 2>&1`);
    expect(literal.stdout).toMatch(/< HTTP\/1\.1 403 Forbidden/);
    expect(literal.stdout).toContain(`< X-Bot-Bottle-Reason: IP literal ${upstreamIp} is not declared`);
  });

  it("refuses a spoofed Host header and a path outside matches inside the tunnel; the upstream never sees them", async () => {
    const spoof = await agentSh("curl -sS --max-time 20 -o /dev/null -D - -H 'Host: evil.upstream.test' https://api.upstream.test/v1/echo");
    // curl prints the proxy's "200 Connection Established" first, then the answer from inside the tunnel.
    expect(spoof.stdout).toMatch(/^HTTP\/1\.1 403/m);
    expect(spoof.stdout).toMatch(/x-bot-bottle-reason: Host header evil\.upstream\.test:443 does not match target api\.upstream\.test:443/i);
    const outside = await agentSh("curl -sS --max-time 20 -o /dev/null -D - https://api.upstream.test/admin/users");
    expect(outside.stdout).toMatch(/^HTTP\/1\.1 403/m);
    expect(outside.stdout).toMatch(/x-bot-bottle-reason: no route for api\.upstream\.test admits GET \/admin\/users/i);
    const seen = await upstreamRequests(upstream);
    expect(seen.filter((r) => r.url.startsWith("/admin") || r.host.startsWith("evil"))).toEqual([]);
  });

  it("refuses DNS-over-HTTPS: undeclared resolvers at CONNECT, and DoH requests to a declared host", async () => {
    for (const resolver of ["https://cloudflare-dns.com/dns-query", "https://dns.google/dns-query?dns=AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE"]) {
      const result = await agentSh(`curl -sS -v --max-time 20 -H 'accept: application/dns-message' '${resolver}' 2>&1`);
      expect(result.stdout).toMatch(/< HTTP\/1\.1 403 Forbidden/);
      expect(result.stdout).toMatch(/< X-Bot-Bottle-Reason: host (cloudflare-dns\.com|dns\.google) is not declared/i);
    }
    const declared = await agentSh("curl -sS --max-time 20 -o /dev/null -D - -H 'content-type: application/dns-message' --data-binary x https://api.upstream.test/v1/dns-query");
    expect(declared.stdout).toMatch(/^HTTP\/1\.1 403/m);
    expect(declared.stdout).toMatch(/x-bot-bottle-reason: DNS-over-HTTPS requests are not proxied/i);
  });

  it("cannot look up an outside name: plain DNS is no way out", async () => {
    const result = await agentSh(
      "getent hosts example.com; echo getent=$?; node -e \"new (require('dns').Resolver)({timeout:2000,tries:1}).resolve4('example.com',(e,a)=>console.log(e?'resolve failed '+e.code:'resolved '+a))\"",
    );
    expect(result.stdout).toMatch(/getent=2/);
    expect(result.stdout).toMatch(/resolve failed/);
  });

  it("refuses a declared name that resolves to a private address (the bottle's own bridge network)", async () => {
    const result = await agentSh(`curl -sS -v --max-time 20 ${curlTls} https://private.upstream.test/echo 2>&1`);
    expect(result.stdout).toMatch(/< HTTP\/1\.1 403 Forbidden/);
    const address = (await execa("docker", ["inspect", "--format", `{{(index .NetworkSettings.Networks "${plan.resources.network}").IPAddress}}`, upstream])).stdout.trim();
    expect(result.stdout).toContain(
      `< X-Bot-Bottle-Reason: refused to connect: private.upstream.test resolves to ${address}, a loopback, private, link-local or reserved address`,
    );
  });

  it("blocks the canary in the path, the query, a header and the body, in every encoding, before the upstream sees it", async () => {
    const bytes = Buffer.from(canary);
    const encodings = {
      raw: canary,
      base64: bytes.toString("base64"),
      base64url: bytes.toString("base64url"),
      hex: bytes.toString("hex"),
      url: encodeURIComponent(canary),
    };
    const requests = Object.entries(encodings).flatMap(([form, value]): AgentRequest[] => [
      { id: `${form}|path`, url: `https://api.upstream.test/v1/x/${value}`, headers: { "x-marker": `block-${form}-path` } },
      { id: `${form}|query`, url: `https://api.upstream.test/v1/x?q=${value}`, headers: { "x-marker": `block-${form}-query` } },
      { id: `${form}|header x-leak`, url: "https://api.upstream.test/v1/x", headers: { "x-marker": `block-${form}-header`, "x-leak": value } },
      { id: `${form}|body`, url: "https://api.upstream.test/v1/x", headers: { "x-marker": `block-${form}-body` }, body: `data=${value}` },
    ]);
    const results = await fetchAll([...requests, { id: "sentinel", url: "https://api.upstream.test/v1/sentinel", headers: { "x-marker": "block-sentinel" } }]);
    for (const result of results.slice(0, -1)) {
      const [form, location] = result.id.split("|");
      // URL-encoded, the canary's "/" is a %2F, which a route with path matches refuses before DLP looks.
      const reason =
        result.id === "url|path"
          ? `path /v1/x/[REDACTED:${CANARY_VAR}] holds an escaped / \\ or NUL, which routes with path matches refuse`
          : `DLP: known secret ${CANARY_VAR} (${form}) in ${location}`;
      expect({ id: result.id, status: result.status, reason: result.reason }).toEqual({ id: result.id, status: 403, reason });
    }
    expect(results.at(-1)!.status).toBe(200);
    // The sentinel went through the same route after them: none of them got there.
    const markers = await logged("the upstream to log the sentinel", async () => {
      const found = (await upstreamRequests(upstream)).map((r) => r.marker ?? "").filter((m) => m.startsWith("block-"));
      return found.includes("block-sentinel") ? found : undefined;
    });
    expect(markers).toEqual(["block-sentinel"]);
  });

  it("redacts the canary wherever it is, and forwards the rest of the request", async () => {
    const bytes = Buffer.from(canary);
    const [result] = await fetchAll([
      {
        id: "redact",
        url: `https://redact.upstream.test/upload?key=${encodeURIComponent(canary)}&keep=1`,
        headers: { "x-leak": bytes.toString("hex"), "x-keep": "yes" },
        body: JSON.stringify({ keep: "me", leak: bytes.toString("base64") }),
      },
    ]);
    expect(result!.status).toBe(200);
    const seen = JSON.parse(result!.body) as Echo;
    const marker = `[REDACTED:${CANARY_VAR}]`;
    expect(seen.url).toBe(`/upload?key=${marker}&keep=1`);
    expect(seen.headers["x-leak"]).toBe(marker);
    expect(seen.headers["x-keep"]).toBe("yes");
    expect(JSON.parse(seen.body)).toMatchObject({ keep: "me", leak: expect.stringContaining(marker) });
    for (const form of [canary, encodeURIComponent(canary), bytes.toString("hex"), bytes.toString("base64").slice(0, 20)]) {
      expect(JSON.stringify(seen)).not.toContain(form);
    }
  });

  it("holds a request as a proposal in the queue, releases it when an answer approves it, and remembers the value", async () => {
    const before = proposals();
    const pending = fetchOne({ id: "held", url: "https://hold.upstream.test/v1/report", body: `note=${canary}` });
    const proposal = await newProposal(before);
    expect(proposal).toMatchObject({ bottle: id, kind: "egress-dlp", payload: { host: "hold.upstream.test", method: "POST", path: "/v1/report" } });
    expect(proposal.summary).toContain(`known secret ${CANARY_VAR} (raw) in body`);
    const file = path.join(plan.sidecars.queueDir, `${proposal.id}.proposal.json`);
    expect(readFileSync(file, "utf8")).not.toContain(canary);
    expect((await upstreamRequests(upstream)).filter((r) => r.url === "/v1/report")).toEqual([]);

    answerOnce(plan.sidecars.queueDir, { id: proposal.id, decision: "approve", decided_by: "integration test", decided_at: new Date().toISOString() });
    const released = await pending;
    expect(released.status).toBe(200);
    expect((JSON.parse(released.body) as Echo).body).toBe(`note=${canary}`);

    const again = await fetchOne({ id: "again", url: "https://hold.upstream.test/v1/report", body: `again=${canary}` });
    expect(again.status).toBe(200);
    expect(proposals().length).toBe(before.length + 1);
  });

  it("refuses a held request when nobody answers in time, and records the refusal as the answer", async () => {
    const before = proposals();
    const started = Date.now();
    const result = await fetchOne({ id: "unanswered", url: "https://hold.upstream.test/v1/report", headers: { "x-key": `ghp_${"Zx9".repeat(12)}` } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_SECONDS * 1000 - 500);
    expect(result.status).toBe(403);
    expect(result.reason).toMatch(new RegExp(`^DLP: GitHub token in header x-key; held for review and refused by egress \\(timeout\\): no answer within ${HOLD_SECONDS} s`));
    const proposal = await newProposal(before);
    const answer = Answer.parse(JSON.parse(readFileSync(answerFile(plan.sidecars.queueDir, proposal.id), "utf8")));
    expect(answer).toMatchObject({ decision: "reject", decided_by: "egress (timeout)" });
  });

  it("refuses a held request whose answer is malformed", async () => {
    const before = proposals();
    const pending = fetchOne({ id: "malformed", url: "https://hold.upstream.test/v1/report", body: `sk_live_${"Ab3".repeat(9)}` });
    const proposal = await newProposal(before);
    placeRawAnswer(plan.sidecars.queueDir, proposal.id, JSON.stringify({ id: proposal.id, decision: "yes please" }));
    const result = await pending;
    expect(result.status).toBe(403);
    expect(result.reason).toMatch(/held for review; the answer is unusable \(answer is invalid: decision/);
  });

  it("keeps the token out of the bottle: env, every process's environ and cmdline, files, docker inspect", async () => {
    const forms = [token, Buffer.from(token).toString("base64").slice(0, 40), Buffer.from(token).toString("hex")];
    const leaks = (text: string | Uint8Array) => forms.filter((form) => Buffer.from(text).includes(form));

    const agentEnv = await agentSh("env");
    expect(agentEnv.exitCode).toBe(0);
    expect(leaks(agentEnv.stdout)).toEqual([]);

    const procs = await execa("docker", ["exec", "-u", "root", plan.resources.agent, "sh", "-c", "for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat $f 2>/dev/null; echo; done"], {
      encoding: "buffer",
    });
    expect(procs.stdout.length).toBeGreaterThan(100);
    expect(leaks(procs.stdout)).toEqual([]);

    const tree = await execa("docker", ["exec", "-u", "root", plan.resources.agent, "tar", "-c", "-f", "-", "/home/node", "/etc", "/tmp"], {
      encoding: "buffer",
      reject: false,
      maxBuffer: 1 << 30,
    });
    expect(tree.stdout.length).toBeGreaterThan(100_000);
    expect(leaks(tree.stdout)).toEqual([]);

    const inspect = await execa("docker", ["inspect", plan.resources.agent]);
    expect(leaks(inspect.stdout)).toEqual([]);
  });

  it("keeps the token and the canary out of the decision log, which has no query strings", async () => {
    const logFile = path.join(plan.sidecars.logDir, "egress.jsonl");
    const log = readFileSync(logFile, "utf8") + (await bundleLogs());
    expect(log).toContain('"decision":"redact"');
    for (const form of [token, canary, encodeURIComponent(canary), Buffer.from(canary).toString("hex"), "keep=1"]) expect(log).not.toContain(form);
  });

  it("admits a route added on SIGHUP while a long download through an open tunnel keeps going", async () => {
    const download = docker(["exec", "-u", "node", plan.resources.agent, "curl", "-sS", "--max-time", "120", ...curlTls.split(" "), "-o", "/tmp/drip.out", "https://pass.upstream.test/drip"]);
    const size = async () => Number((await agentSh("stat -c %s /tmp/drip.out 2>/dev/null || echo 0")).stdout.trim());
    await waitUntil("the download to be 8 KiB in", async () => ((await size()) >= 8192 ? true : undefined), { timeoutMs: 30_000 });

    const late = `curl -sS --max-time 20 -o /dev/null -w '%{http_code} %{http_connect}' ${curlTls} https://late.upstream.test/echo`;
    expect((await agentSh(late)).stdout).toMatch(/^000 403/);
    const routes = parseRoutesFile(readFileSync(plan.sidecars.routesFile, "utf8"));
    routes.routes.push({ host: "late.upstream.test", port: null, tls_passthrough: false, matches: null, auth: null, dlp: null });
    writeFileSync(plan.sidecars.routesFile, JSON.stringify(routes, null, 2));
    await execa("docker", ["kill", "--signal", "HUP", plan.resources.bundle]);
    await logged("egress to reload its 8 routes", async () => (/routes reloaded .*: 8 route\(s\)/.test(await bundleLogs()) ? true : undefined));
    expect((await agentSh(late)).stdout).toBe("200 200");

    const grown = await size();
    for (let i = 0; i < 100 && (await size()) <= grown; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await size()).toBeGreaterThan(grown);
    expect((await agentSh(`curl -sS --max-time 20 ${curlTls} https://pass.upstream.test/release`)).stdout).toBe('{"released":1}');
    const finished = await download;
    expect(finished.exitCode, String(finished.stderr)).toBe(0);
    expect((await agentSh("tail -c 4 /tmp/drip.out | od -c | head -1")).stdout).toMatch(/E\s+N\s+D\s+\\n/);
  });
});
