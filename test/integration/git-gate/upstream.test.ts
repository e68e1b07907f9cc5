import { generateKeyPairSync, randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BottlePlan } from "../../../src/engine/plan-schema.js";
import { generateDeployKey } from "../../../src/engine/deploy-keys.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { createTestInternet, type TestInternet } from "../../support/fake-model-container.js";
import { type SshUpstream, startSshUpstream } from "../../support/ssh-upstream.js";
import { waitUntil } from "../../../src/wait-until.js";

// A real bottle whose agent works on repositories upstream of a real sshd
// (the stand-in forge's SSH side, on a test network only the bundle joins).
// The agent's real git uses the upstream URLs as declared; the gate holds the
// key, pins the host key, refreshes before a fetch and scans every push.
// Each refused push is checked against sshd's log: the gate never connected.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "git-gate");
const ALIAS = "git.upstream.test";

describeWithDocker("the git gate with a real ssh upstream (real bottle)", () => {
  const tag = `${process.pid}`;
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-gate-up-home-"));
  const declared = `declared-${randomBytes(12).toString("hex")}`;
  const env: Record<string, string> = { ...engineTestEnv(), BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn", BB_GATE_TEST_SECRET: declared };
  const deployKey = generateDeployKey("bot-bottle gate test");
  let internet: TestInternet;
  let upstream: SshUpstream;
  let id = "";
  let plan: BottlePlan;
  let gateAddress = "";

  /** Runs a script in the agent's workspace; git's messages (stderr) are in stdout, in order. */
  const inBottle = (script: string) => runCli(["exec", id, "--", "sh", "-c", `cd ~/workspace && { ${script}
} 2>&1`], env);
  const gateConnections = async () => (await upstream.connections()).filter((address) => address === gateAddress).length;
  /** A commit made upstream directly, as another developer would push it. */
  const upstreamCommit = async (repo: string, file: string, content: string) => {
    const script = [
      "set -eu",
      "work=$(mktemp -d)",
      'git clone -q "/srv/git/$1.git" "$work"',
      'printf "%s\\n" "$3" > "$work/$2"',
      'git -C "$work" add -A',
      'git -C "$work" -c user.name=Upstream -c user.email=upstream@example.test commit -q -m "upstream adds $2"',
      'git -C "$work" push -q origin trunk',
      'rm -rf "$work"',
    ].join("\n");
    await execa("docker", ["exec", "--user", "git", upstream.name, "sh", "-c", script, "sh", repo, file, content]);
    return (await upstream.refs(repo))["refs/heads/trunk"]!;
  };

  beforeAll(async () => {
    cpSync(fixtureHome, home, { recursive: true });
    internet = await createTestInternet(`bb-gate-net-${tag}`);
    upstream = await startSshUpstream({ name: `bb-gate-upstream-${tag}`, network: internet.name, alias: ALIAS, repos: ["project", "pinned"] });
    await upstream.authorize(deployKey.publicKey);
    const keyFile = path.join(home, "bottles", "deploy-key");
    writeFileSync(keyFile, deployKey.privateKey, { mode: 0o600 });
    // Another server's key, pinned for `pinned`: the real one must not be accepted.
    const otherKey = generateDeployKey("not the upstream").publicKey.split(" ").slice(0, 2).join(" ");
    writeFileSync(
      path.join(home, "bottles", "upstreams.md"),
      [
        "---",
        "agent_provider:",
        "  template: claude",
        "egress:",
        "  routes:",
        "    - host: api.gate.test",
        "      dlp:",
        "        known_secret_env: [BB_GATE_TEST_SECRET]",
        "git-gate:",
        "  user: {name: Gated Agent, email: gated@example.test}",
        "  repos:",
        `    project: {url: "${upstream.url("project")}", host_key: "${upstream.hostKeyLine}", key: {provider: static, path: deploy-key}}`,
        `    pinned: {url: "${upstream.url("pinned")}", host_key: "${ALIAS} ${otherKey}", key: {provider: static, path: deploy-key}}`,
        `    gone: {url: "ssh://git@nowhere.upstream.test/srv/git/gone.git", host_key: "nowhere.upstream.test ${otherKey}", key: {provider: static, path: deploy-key}}`,
        "---",
        "Repositories upstream of the test sshd.",
        "",
      ].join("\n"),
    );
    writeFileSync(path.join(home, "agents", "pusher.md"), "---\nbottle: upstreams\n---\nYou push to the upstream.\n");
    const started = await runCli(["start", "pusher"], env);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim().split("\n").pop()!;
    plan = BottlePlan.parse(JSON.parse(readFileSync(path.join(home, "state", id, "plan.json"), "utf8")));
    await internet.connect(plan.resources.bundle);
    gateAddress = (await execa("docker", ["inspect", "--format", `{{(index .NetworkSettings.Networks "${internet.name}").IPAddress}}`, plan.resources.bundle])).stdout.trim();
    const cloned = await inBottle(`git clone -q ${upstream.url("project")} project && git -C project config pull.rebase false`);
    expect(cloned.exitCode, cloned.stdout).toBe(0);
  });

  afterAll(async () => {
    if (id) await runCli(["stop", id], env);
    await runCli(["gc"], env);
    await upstream?.stop();
    await internet?.remove();
    rmSync(home, { recursive: true, force: true });
  });

  it("clones a declared repository by its upstream URL, in every spelling, with its default branch (trunk)", async () => {
    const result = await inBottle(
      `git -C project branch --show-current && git -C project log -1 --format=%s && git ls-remote git@${ALIAS}:/srv/git/project.git && git ls-remote ${upstream.url("project").replace(/\.git$/, "")}`,
    );
    expect(result.exitCode, result.stdout).toBe(0);
    const [branch, subject] = result.stdout.split("\n");
    expect(branch).toBe("trunk");
    expect(subject).toBe("initial commit");
    const trunk = (await upstream.refs("project"))["refs/heads/trunk"]!;
    expect(result.stdout.match(new RegExp(`^${trunk}\\s+refs/heads/trunk$`, "gm"))).toHaveLength(2);
  });

  it("fetches what the upstream has now", async () => {
    const sha = await upstreamCommit("project", "upstream.txt", "from upstream");
    const result = await inBottle("git -C project pull -q && git -C project rev-parse HEAD && cat project/upstream.txt");
    expect(result.exitCode, result.stdout).toBe(0);
    expect(result.stdout.trim()).toBe(`${sha}\nfrom upstream`);
  });

  it("forwards a clean push upstream with the deploy key, to trunk and to a new branch", async () => {
    const connections = await gateConnections();
    const result = await inBottle(
      "cd project && echo clean > clean.txt && git add clean.txt && git commit -q -m 'clean change' && git push -q origin trunk && git push -q origin HEAD:refs/heads/feature && git rev-parse HEAD",
    );
    expect(result.exitCode, result.stdout).toBe(0);
    const head = result.stdout.trim().split("\n").pop()!;
    expect(await upstream.refs("project")).toMatchObject({ "refs/heads/trunk": head, "refs/heads/feature": head });
    expect(await gateConnections()).toBeGreaterThan(connections);
  });

  it("fails the agent's push with the upstream's refusal when the upstream moved since its fetch, and keeps the gate's copy as the upstream has it", async () => {
    const seen = (await inBottle("cd project && git fetch -q && git checkout -q -B trunk origin/trunk && git rev-parse HEAD")).stdout.trim().split("\n").pop()!;
    const moved = await upstreamCommit("project", "race.txt", "someone else was first");
    const result = await inBottle("cd project && echo mine > mine.txt && git add mine.txt && git commit -q -m mine && git push origin trunk; echo exit=$?");
    expect(result.stdout).toMatch(/exit=[1-9]/);
    expect(result.stdout).toMatch(/git-gate: the upstream \(ssh:\/\/git@git\.upstream\.test\/srv\/git\/project\.git\) refused the push/);
    expect(result.stdout).toMatch(/stale info|rejected/);
    expect((await upstream.refs("project"))["refs/heads/trunk"]).toBe(moved);
    const mirror = await execa("docker", ["exec", plan.resources.bundle, "git", "--git-dir", "/var/lib/bot-bottle/git-mirrors/project.git", "rev-parse", "refs/heads/trunk"]);
    expect(mirror.stdout.trim()).toBe(seen);
    const again = await inBottle("cd project && git pull -q --no-rebase && git push -q origin trunk && git rev-parse HEAD");
    expect(again.exitCode, again.stdout).toBe(0);
    expect((await upstream.refs("project"))["refs/heads/trunk"]).toBe(again.stdout.trim().split("\n").pop());
  });

  const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const secrets: { name: string; file: string; content: string; shown: string; rule: RegExp }[] = [
    { name: "an AWS access key", file: "aws.env", content: `AWS_ACCESS_KEY_ID=AKIA${randomBytes(8).toString("hex").toUpperCase()}`, shown: "AKIA", rule: /AWS/i },
    { name: "a private key", file: "id_rsa", content: pem.trim(), shown: pem.split("\n")[1]!, rule: /private ?key/i },
    { name: "a GitHub token", file: "ci.yml", content: `token: ghp_${randomBytes(18).toString("hex")}`, shown: "ghp_", rule: /github/i },
    { name: "the bottle's declared secret", file: "notes.md", content: `password is ${declared}`, shown: declared, rule: /BB_GATE_TEST_SECRET/ },
  ];
  for (const secret of secrets) {
    it(`refuses a push adding ${secret.name}, saying where, before the upstream is contacted`, async () => {
      const before = await upstream.refs("project");
      const connections = await gateConnections();
      writeFileSync(path.join(home, "payload"), `${secret.content}\n`);
      await execa("docker", ["cp", path.join(home, "payload"), `${plan.resources.agent}:/tmp/payload`]);
      const result = await inBottle(
        `cd project && git checkout -q -B trunk origin/trunk && cp /tmp/payload ${secret.file} && git add ${secret.file} && git commit -q -m 'add ${secret.file}' && git push origin trunk; echo exit=$?; git rev-parse HEAD`,
      );
      expect(result.stdout).toMatch(/exit=[1-9]/);
      const commit = result.stdout.trim().split("\n").pop()!;
      expect(result.stdout).toContain(`${secret.file}:`);
      expect(result.stdout).toMatch(secret.rule);
      expect(result.stdout).toContain(commit.slice(0, 7));
      expect(result.stdout).not.toContain(secret.shown.length > 8 ? secret.shown : secret.content);
      expect(await upstream.refs("project")).toEqual(before);
      expect(await gateConnections()).toBe(connections);
    });
  }

  it("refuses a push whose secret is only in an older commit of the pushed range", async () => {
    const before = await upstream.refs("project");
    const connections = await gateConnections();
    const key = `AKIA${randomBytes(8).toString("hex").toUpperCase()}`;
    const result = await inBottle(
      `cd project && git checkout -q -B trunk origin/trunk && echo 'KEY=${key}' > old.env && git add old.env && git commit -q -m 'add key' && OLD=$(git rev-parse HEAD) && git rm -q old.env && git commit -q -m 'remove key' && git push origin trunk; echo exit=$?; echo old=$OLD`,
    );
    expect(result.stdout).toMatch(/exit=[1-9]/);
    const old = /old=([0-9a-f]+)/.exec(result.stdout)![1]!;
    expect(result.stdout).toContain("old.env:1");
    expect(result.stdout).toContain(old.slice(0, 7));
    expect(result.stdout).not.toContain(key);
    expect(await upstream.refs("project")).toEqual(before);
    expect(await gateConnections()).toBe(connections);
  });

  it("scans a new branch for exactly its new commits: what the upstream already has is not held against it", async () => {
    // A key-shaped string already upstream (someone else's history) must not block new work on top of it.
    await upstreamCommit("project", "legacy.env", `LEGACY=AKIA${randomBytes(8).toString("hex").toUpperCase()}`);
    const clean = await inBottle(
      "cd project && git checkout -q -B trunk origin/trunk && git pull -q && git switch -q -c topic && echo ok > topic.txt && git add topic.txt && git commit -q -m topic && git push -q origin topic && git rev-parse HEAD",
    );
    expect(clean.exitCode, clean.stdout).toBe(0);
    expect((await upstream.refs("project"))["refs/heads/topic"]).toBe(clean.stdout.trim().split("\n").pop());
    const connections = await gateConnections();
    const dirty = await inBottle(
      `cd project && git switch -q -c topic2 && echo 'ghp_${randomBytes(18).toString("hex")}' > t2.txt && git add t2.txt && git commit -q -m t2 && git push origin topic2; echo exit=$?`,
    );
    expect(dirty.stdout).toMatch(/exit=[1-9]/);
    expect(dirty.stdout).toContain("t2.txt:1");
    expect(await upstream.refs("project")).not.toHaveProperty("refs/heads/topic2");
    expect(await gateConnections()).toBe(connections);
  });

  it("refuses an upstream whose host key is not the pinned one", async () => {
    const logins = async () => (await upstream.log()).filter((line) => line.includes(`Accepted publickey for git from ${gateAddress} `)).length;
    const [connections, loggedIn] = [await gateConnections(), await logins()];
    const result = await inBottle(`git clone ${upstream.url("pinned")} pinned; echo exit=$?`);
    expect(result.stdout).toMatch(/exit=[1-9]/);
    expect(result.stdout).toMatch(/git-gate: cannot reach the upstream of pinned .*Host key verification failed/);
    // ssh got as far as the key exchange and no further: no login with the deploy key.
    expect(await gateConnections()).toBeGreaterThan(connections);
    expect(await logins()).toBe(loggedIn);
  });

  it("asks through supervise about a suppression comment: approved, the push goes upstream; rejected, it does not", async () => {
    const pending = async () => {
      const listed = await runCli(["supervise", "--once", "--json"], env);
      return (JSON.parse(listed.stdout) as { id: string; bottle: string; kind: string; summary: string }[]).find((p) => p.bottle === id && p.kind === "git-gate-suppression");
    };
    const attempt = async (decision: "approve" | "reject", file: string) => {
      writeFileSync(path.join(home, "payload"), `const fixture = "ghp_${randomBytes(18).toString("hex")}"; // secretlint-disable-line\n`);
      await execa("docker", ["cp", path.join(home, "payload"), `${plan.resources.agent}:/tmp/payload`]);
      const push = inBottle(
        `cd project && git checkout -q -B trunk origin/trunk && cp /tmp/payload ${file} && git add ${file} && git commit -q -m 'test fixture' && git push origin trunk; echo exit=$?; git rev-parse HEAD`,
      );
      // A push that ends before any proposal appears failed for another reason: say which.
      let ended: string | undefined;
      void push.then((r) => (ended = r.stdout));
      const proposal = await waitUntil(
        "the gate's proposal",
        async () => {
          if (ended !== undefined) throw new Error(`the push ended without a proposal:\n${ended}`);
          return pending();
        },
        { timeoutMs: 60_000 },
      );
      expect(proposal.summary).toContain(`${file}:1`);
      const answered = await runCli([decision, proposal.id, ...(decision === "reject" ? ["--notes", "not in a test fixture"] : [])], env);
      expect(answered.exitCode, answered.stderr).toBe(0);
      return push;
    };
    const approved = await attempt("approve", "fixture.js");
    expect(approved.stdout).toMatch(/approved by .* \(request/);
    expect(approved.stdout).toMatch(/exit=0/);
    expect((await upstream.refs("project"))["refs/heads/trunk"]).toBe(approved.stdout.trim().split("\n").pop());
    const before = await upstream.refs("project");
    const connections = await gateConnections();
    const rejected = await attempt("reject", "fixture2.js");
    expect(rejected.stdout).toMatch(/refused by /);
    expect(rejected.stdout).toMatch(/exit=[1-9]/);
    expect(await upstream.refs("project")).toEqual(before);
    expect(await gateConnections()).toBe(connections);
  });

  it("fails closed, with the reason in git's output, when the upstream cannot be reached", async () => {
    const result = await inBottle("git clone ssh://git@nowhere.upstream.test/srv/git/gone.git gone; echo exit=$?");
    expect(result.stdout).toMatch(/exit=[1-9]/);
    expect(result.stdout).toMatch(/git-gate: cannot reach the upstream of gone/);
  });

  it("does not reach a repository that is not declared, by any URL", async () => {
    const connections = await gateConnections();
    const viaSsh = await inBottle(`git ls-remote ssh://git@${ALIAS}/srv/git/undeclared.git; echo exit=$?`);
    expect(viaSsh.stdout).toMatch(/exit=[1-9]/);
    const viaGate = await inBottle("git ls-remote http://127.0.0.1:9418/undeclared.git; echo exit=$?");
    expect(viaGate.stdout).toMatch(/exit=[1-9]/);
    expect(viaGate.stdout).toMatch(/no repository undeclared/);
    expect(await gateConnections()).toBe(connections);
  });

  it("keeps the deploy key to the gate's uid: not egress, not supervise, not the agent", async () => {
    const keyPath = "/run/bot-bottle-private/git-gate/GIT_GATE_KEY_1";
    const asGate = await execa("docker", ["exec", "-u", "64103", plan.resources.bundle, "ssh-keygen", "-y", "-f", keyPath], { reject: false });
    expect(asGate.stdout.trim().split(" ").slice(0, 2)).toEqual(deployKey.publicKey.trim().split(" ").slice(0, 2));
    for (const uid of ["64101", "64102"]) {
      const other = await execa("docker", ["exec", "-u", uid, plan.resources.bundle, "cat", keyPath], { reject: false });
      expect(other.exitCode, `uid ${uid} read the key`).not.toBe(0);
    }
    const egressCopy = await execa("docker", ["exec", plan.resources.bundle, "cat", "/run/bot-bottle-private/egress/secrets.json"], { reject: false });
    expect(egressCopy.stdout).toContain("EGRESS_SECRET_BB_GATE_TEST_SECRET");
    expect(egressCopy.stdout).not.toContain("GIT_GATE_KEY");
    const marker = deployKey.privateKey.split("\n")[2]!;
    const inAgent = await execa("docker", ["exec", plan.resources.agent, "sh", "-c", `grep -rlF -D skip -- '${marker}' /home /root /tmp /etc /opt /var 2>/dev/null; cat /proc/[0-9]*/environ 2>/dev/null | grep -cF -- '${marker}'`], {
      reject: false,
    });
    expect(inAgent.stdout.trim()).toBe("0");
  });
});
