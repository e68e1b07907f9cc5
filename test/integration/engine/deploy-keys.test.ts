import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Backend } from "../../../backends/backend.js";
import { DockerBackend } from "../../../backends/docker/backend.js";
import { deleteGateKeys, deployKeyTitle, generateDeployKey, prepareGateKeys, type RecordedKey } from "../../../src/engine/deploy-keys.js";
import { Engine } from "../../../src/engine/engine.js";
import { homeLabel, newIdSuffix, prepare } from "../../../src/engine/prepare.js";
import { StateStore } from "../../../src/engine/state.js";
import { HostSecrets } from "../../../src/secrets/host-secrets.js";
import { SecretStore } from "../../../src/secrets/store.js";
import { waitUntil } from "../../../src/wait-until.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { crashCli, startCliInSession } from "../../support/reliability.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { createTestInternet } from "../../support/fake-model-container.js";
import { type StandInForge, type StandInDeployKey, startStandInForge } from "../../support/fake-forge.js";
import { sshUpstreamImage, startSshUpstream } from "../../support/ssh-upstream.js";

// The git gate's deploy keys on a forge: created at start through Gitea's API
// (a stand-in Gitea here: none can run on this machine), handed to the
// backend as GIT_GATE_KEY_<n>, recorded in the bottle's state, deleted at
// stop, and by gc after a start that died. The engine calls the forge from
// the host, so the stand-in listens on 127.0.0.1. The forge token stays on
// the host: in no container, argv or file.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "engine");
const claudeConfig = path.join(repoRoot, "test", "fixtures", "claude-config");
const UPSTREAM_HOST_KEY = "git.upstream.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleHostKeyForgeTestsNeverConnect000000";

/** A repository block of a bottle's git-gate.repos whose deploy key the stand-in forge makes. */
const giteaRepo = (name: string, apiUrl: string) =>
  [
    `    ${name}:`,
    `      url: ssh://git@git.upstream.test/acme/${name}.git`,
    `      host_key: "${UPSTREAM_HOST_KEY}"`,
    `      key: {provider: gitea, forge_token_env: GITEA_TOKEN, api_url: "${apiUrl}"}`,
  ].join("\n");

/** The engine fixture home plus a bottle `forge` (the probe bottle and a git gate whose repositories are on the forge). */
function forgeHome(prefix: string, apiUrl: string, repos: string[]): string {
  const home = mkdtempSync(path.join(os.tmpdir(), prefix));
  cpSync(fixtureHome, home, { recursive: true });
  writeFileSync(
    path.join(home, "bottles", "forge.md"),
    `---\nextends: probe\ngit-gate:\n  repos:\n${repos.map((name) => giteaRepo(name, apiUrl)).join("\n")}\n---\nThe probe bottle with a git gate whose repositories live on a stand-in Gitea forge.\n`,
  );
  return home;
}

/** Public key text without its comment, as ssh-keygen -y prints it. */
const keyOnly = (publicKey: string) => publicKey.trim().split(/\s+/).slice(0, 2).join(" ");

/** The public half of an OpenSSH private key, by the real ssh-keygen. */
function publicHalf(privateKey: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bb-key-"));
  try {
    const file = path.join(dir, "key");
    writeFileSync(file, privateKey, { mode: 0o600 });
    return keyOnly(execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every regular file under a folder. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((entry) => path.join(dir, entry))
    .filter((file) => statSync(file).isFile());
}

const newToken = () => `forge-token-${randomBytes(16).toString("hex")}`;

describe("deploy keys on a stand-in Gitea forge (engine module, no containers)", () => {
  const token = newToken();
  let forge: StandInForge;
  let home = "";
  const homes: string[] = [];
  const env = () => ({ GITEA_TOKEN: token, CLAUDE_CONFIG_DIR: claudeConfig, BOT_BOTTLE_BASE_IMAGE: "bot-bottle-test/no-such-base:1" });
  const secrets = (values: Record<string, string> = env()) => new HostSecrets(values, new SecretStore(home));
  const planIn = async (repos: string[], apiUrl = forge.apiUrl) => {
    home = forgeHome("bb-forge-unit-", apiUrl, repos);
    homes.push(home);
    return (await prepare({ agent: "probe", bottles: ["forge"] }, { home, cwd: home, env: env(), secrets: secrets(), defaultBackend: "docker", idSuffix: newIdSuffix() })).plan;
  };

  // A forge of its own for each test, so each sees only its own keys and calls.
  beforeEach(async () => {
    forge = await startStandInForge({ token, repos: ["acme/widgets", "acme/gadgets"] });
  });
  afterEach(async () => {
    await forge?.close();
    for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("creates one write-enabled ed25519 deploy key per repository, recorded before and after the forge answers, and deletes them", async () => {
    const plan = await planIn(["widgets", "gadgets"]);
    const records: RecordedKey[][] = [];
    const { keys, created } = await prepareGateKeys(plan, secrets(), { record: (r) => records.push(r) });

    for (const [name, ownerRepo] of [["gadgets", "acme/gadgets"], ["widgets", "acme/widgets"]] as const) {
      const onForge = forge.keys(ownerRepo);
      expect(onForge).toHaveLength(1);
      expect(onForge[0]).toMatchObject({ title: deployKeyTitle(plan.id, name), read_only: false });
      expect(publicHalf(keys[name]!)).toBe(keyOnly(onForge[0]!.key));
      expect(created.find((k) => k.repo === name)).toEqual({
        repo: name,
        provider: "gitea",
        apiUrl: forge.apiUrl,
        owner: "acme",
        forgeRepo: name,
        tokenSecret: "GITEA_TOKEN",
        title: deployKeyTitle(plan.id, name),
        fingerprint: onForge[0]!.fingerprint,
        id: onForge[0]!.id,
      });
    }
    // Each key is recorded without an id before it is asked for, and with its id once the forge answers (sorted: gadgets first).
    expect(records.map((r) => r.map((k) => [k.repo, k.id === null ? "asked" : "created"]))).toEqual([
      [["gadgets", "asked"]],
      [["gadgets", "created"]],
      [["gadgets", "created"], ["widgets", "asked"]],
      [["gadgets", "created"], ["widgets", "created"]],
    ]);
    const posts = forge.calls().filter((c) => c.method === "POST");
    expect(posts.map((c) => [c.path, c.authorization, c.status])).toEqual([
      ["/api/v1/repos/acme/gadgets/keys", `token ${token}`, 201],
      ["/api/v1/repos/acme/widgets/keys", `token ${token}`, 201],
    ]);

    const deleted = await deleteGateKeys(created, secrets());
    expect(deleted.failed).toEqual([]);
    expect(deleted.deleted).toEqual(created.map((k) => `deploy key ${k.id} of acme/${k.repo} at ${forge.apiUrl} (git-gate repository ${k.repo})`));
    expect(forge.keys("acme/widgets")).toEqual([]);
    expect(forge.keys("acme/gadgets")).toEqual([]);
    // Deleting again: the forge no longer has them (404), which counts as deleted.
    expect(await deleteGateKeys(created, secrets())).toEqual({ deleted: deleted.deleted, failed: [] });
    expect(forge.calls().filter((c) => c.method === "DELETE").map((c) => c.status)).toEqual([204, 204, 404, 404]);
  });

  it("finds a key recorded without an id (the start died before the answer) by its fingerprint, and deletes only that one", async () => {
    const plan = await planIn(["widgets"]);
    const { created } = await prepareGateKeys(plan, secrets(), { record: () => undefined });
    const someoneElses = forge.addKey("acme/widgets", { title: "a person's own key", key: generateDeployKey("theirs").publicKey, read_only: true });
    const deleted = await deleteGateKeys([{ ...created[0]!, id: null }], secrets());
    expect(deleted).toEqual({ deleted: [`deploy key "${created[0]!.title}" of acme/widgets at ${forge.apiUrl} (git-gate repository widgets)`], failed: [] });
    expect(forge.keys("acme/widgets")).toEqual([someoneElses]);
    expect(forge.calls().at(-2)).toMatchObject({ method: "GET", path: `/api/v1/repos/acme/widgets/keys?fingerprint=${encodeURIComponent(created[0]!.fingerprint)}`, status: 200 });
  });

  it("a title already on the forge (422) fails with the repository, the title and the forge's reason, and records nothing for it", async () => {
    const plan = await planIn(["widgets", "gadgets"]);
    const title = deployKeyTitle(plan.id, "widgets");
    const theirs = forge.addKey("acme/widgets", { title, key: generateDeployKey("theirs").publicKey, read_only: false });
    let recorded: RecordedKey[] = [];
    const attempt = prepareGateKeys(plan, secrets(), { record: (r) => (recorded = r) });
    await expect(attempt).rejects.toThrow(
      `git-gate repository widgets: the forge already has a deploy key titled "${title}" or with this public key on acme/widgets at ${forge.apiUrl} (HTTP 422: A key with the same name already exists); the bottle did not start`,
    );
    // gadgets (sorted first) was created and stays recorded for the caller to delete; widgets was refused, so it is not.
    expect(recorded.map((k) => [k.repo, typeof k.id])).toEqual([["gadgets", "number"]]);
    expect(forge.keys("acme/widgets")).toEqual([theirs]);
    await deleteGateKeys(recorded, secrets());
    expect(forge.keys("acme/gadgets")).toEqual([]);
  });

  it("a wrong token, an unknown repository and an unreachable forge are errors naming the repository, the forge and the secret, never the token", async () => {
    const plan = await planIn(["widgets"]);
    const wrong = prepareGateKeys(plan, secrets({ ...env(), GITEA_TOKEN: "not-the-token" }), { record: () => undefined });
    await expect(wrong).rejects.toThrow(
      `git-gate repository widgets: the forge refused to create deploy key "${deployKeyTitle(plan.id, "widgets")}" for acme/widgets at ${forge.apiUrl} (HTTP 401: user does not exist): check that the token in GITEA_TOKEN is valid and may manage the deploy keys of acme/widgets`,
    );
    await expect(wrong).rejects.not.toThrow(/not-the-token/);

    const unknown = await planIn(["nothing-here"]);
    await expect(prepareGateKeys(unknown, secrets(), { record: () => undefined })).rejects.toThrow(
      /git-gate repository nothing-here: the forge refused to create deploy key .* for acme\/nothing-here at .* \(HTTP 404: The target couldn't be found\.\): the repository does not exist there, or the token in GITEA_TOKEN cannot see it/,
    );

    // A port nothing listens on: the request may or may not have been made, so the key stays recorded (without an id) for deletion to look up.
    const closed = await startStandInForge({ token, repos: [] });
    await closed.close();
    const offline = await planIn(["widgets"], closed.apiUrl);
    let recorded: RecordedKey[] = [];
    await expect(prepareGateKeys(offline, secrets(), { record: (r) => (recorded = r) })).rejects.toThrow(
      new RegExp(`git-gate repository widgets: cannot reach the forge for acme/widgets at ${closed.apiUrl.replace(/\./g, "\\.")} \\(POST `),
    );
    expect(recorded.map((k) => k.id)).toEqual([null]);
    expect(forge.keys("acme/widgets")).toEqual([]);
  });

  it("reads a static key file at launch, beside a forge's key; a missing one fails naming the repository and the file", async () => {
    const plan = await planIn(["widgets"]);
    const keyFile = path.join(home, "bottles", "mirror-key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", keyFile]);
    const withStatic = {
      ...plan,
      gitGate: {
        ...plan.gitGate,
        repos: [{ name: "mirror", url: "git@github.com:acme/mirror.git", hostKey: "github.com ssh-ed25519 AAAA", key: { provider: "static" as const, path: keyFile } }, ...plan.gitGate.repos],
      },
    };
    const { keys, created } = await prepareGateKeys(withStatic, secrets(), { record: () => undefined });
    expect(Object.keys(keys).sort()).toEqual(["mirror", "widgets"]);
    expect(publicHalf(keys.mirror!)).toBe(keyOnly(readFileSync(`${keyFile}.pub`, "utf8")));
    expect(created.map((k) => k.repo)).toEqual(["widgets"]);
    rmSync(keyFile);
    await expect(prepareGateKeys(withStatic, secrets(), { record: () => undefined })).rejects.toThrow(`git-gate repository mirror: key file ${keyFile} does not exist`);
  });

  it("without the token, deletion keeps the key and says which secret it needs", async () => {
    const plan = await planIn(["widgets"]);
    const { created } = await prepareGateKeys(plan, secrets(), { record: () => undefined });
    const result = await deleteGateKeys(created, secrets({}));
    expect(result.deleted).toEqual([]);
    expect(result.failed.map((f) => f.error)).toEqual([expect.stringMatching(/^deleting deploy key \d+ of acme\/widgets .* needs the forge token from the secret GITEA_TOKEN, which is neither/)]);
    expect(forge.keys("acme/widgets")).toHaveLength(1);
    await deleteGateKeys(created, secrets());
    expect(forge.keys("acme/widgets")).toEqual([]);
  });
});

describeWithDocker("deploy keys of a real bottle (stand-in Gitea forge, docker backend)", () => {
  const token = newToken();
  let forge: StandInForge;
  let home = "";
  let dockerLog = "";
  let env: Record<string, string> = {};
  /** While set, the forge holds its answer to a key creation until this settles. */
  let holdCreates: Promise<void> | null = null;
  let created: ((key: StandInDeployKey) => void) | null = null;
  let id = "";

  const bottleContainers = async (bottleId: string) =>
    (await execa("docker", ["ps", "-a", "--format", "{{.Names}}", "--filter", `label=bot-bottle.id=${bottleId}`])).stdout.split("\n").filter(Boolean);
  const idFromTitle = (key: StandInDeployKey) => key.title.split(" ")[1]!;

  beforeAll(async () => {
    forge = await startStandInForge({
      token,
      repos: ["acme/widgets", "acme/gadgets"],
      afterCreate: async (key) => {
        created?.(key);
        if (holdCreates) await holdCreates;
      },
    });
    home = forgeHome("bb-forge-home-", forge.apiUrl, ["widgets"]);
    // Every docker command the engine runs goes through this wrapper, which keeps its argv.
    dockerLog = path.join(home, "docker-argv.log");
    const wrapper = path.join(home, "docker-argv");
    const realDocker = (await execa("sh", ["-c", "command -v docker"])).stdout.trim();
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${dockerLog}'\nexec '${realDocker}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    env = { ...engineTestEnv(), BOT_BOTTLE_HOME: home, CLAUDE_CONFIG_DIR: claudeConfig, BOT_BOTTLE_LOG: "warn", GITEA_TOKEN: token, BOT_BOTTLE_DOCKER: wrapper };
  });

  afterAll(async () => {
    if (id) await runCli(["stop", id], env);
    await runCli(["gc"], env);
    await forge?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("start creates exactly one deploy key, with write access, titled for the bottle, and records it", async () => {
    const started = await runCli(["start", "probe", "--bottle", "forge"], env);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim();
    expect(started.stderr).toContain(`[git-gate] creating deploy key "bot-bottle ${id} widgets" for acme/widgets at ${forge.apiUrl}`);
    const keys = forge.keys("acme/widgets");
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ title: `bot-bottle ${id} widgets`, read_only: false });
    expect(new StateStore(home).readDeployKeys(id)).toEqual([
      { repo: "widgets", provider: "gitea", apiUrl: forge.apiUrl, owner: "acme", forgeRepo: "widgets", tokenSecret: "GITEA_TOKEN", title: keys[0]!.title, fingerprint: keys[0]!.fingerprint, id: keys[0]!.id },
    ]);
    expect(forge.calls().map((c) => [c.method, c.path, c.authorization, c.status])).toEqual([["POST", "/api/v1/repos/acme/widgets/keys", `token ${token}`, 201]]);
  });

  it("keeps the forge token, and the private key, out of every container's docker inspect, every argv, the bottle's processes and files, and the state folder", async () => {
    const containers = await bottleContainers(id);
    expect(containers.sort()).toEqual([`bot-bottle-${id}-agent`, `bot-bottle-${id}-bundle`]);
    const inspect = (await execa("docker", ["inspect", ...containers])).stdout;
    expect(inspect).not.toContain(token);
    expect(inspect).not.toContain("OPENSSH PRIVATE KEY");

    // Every argv the engine gave docker: the log holds them (the secrets delivery among them), without the token or a key.
    const argv = readFileSync(dockerLog, "utf8");
    expect(argv).toContain("receive-secrets");
    expect(argv).not.toContain(token);
    expect(argv).not.toContain("OPENSSH PRIVATE KEY");

    /** Files in a container holding `value`, searched as root; the value goes in on stdin, so the search puts it in no argv. */
    const holding = async (container: string, places: string, value: string) => {
      const search = await execa("docker", ["exec", "-i", "-u", "root", container, "sh", "-c", `grep -rlsF -f /dev/stdin ${places}; echo searched`], { input: `${value}\n`, reject: false });
      expect(search.stdout.trim().split("\n").pop()).toBe("searched");
      return search.stdout.trim().split("\n").slice(0, -1);
    };
    const everywhere = "/home /etc /tmp /root /run /proc/[0-9]*/environ /proc/[0-9]*/cmdline";
    for (const container of containers) {
      // The search finds what is there (every container's environment names BOT_BOTTLE_ settings), and not the token.
      expect(await holding(container, everywhere, "BOT_BOTTLE_"), container).not.toEqual([]);
      expect(await holding(container, everywhere, token), container).toEqual([]);
    }
    expect(await holding(`bot-bottle-${id}-agent`, everywhere, "OPENSSH PRIVATE KEY")).toEqual([]);

    const stateFiles = filesUnder(path.join(home, "state", id));
    expect(stateFiles.map((f) => path.relative(path.join(home, "state", id), f))).toContain("deploy-keys.json");
    for (const file of stateFiles) {
      const text = readFileSync(file, "utf8");
      expect(text.includes(token), file).toBe(false);
      expect(text.includes("OPENSSH PRIVATE KEY"), file).toBe(false);
    }
  });

  it("stop deletes the key and its record", async () => {
    const keyId = forge.keys("acme/widgets")[0]!.id;
    const stopped = await runCli(["stop", id], env);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`removed deploy key ${keyId} of acme/widgets at ${forge.apiUrl} (git-gate repository widgets)`);
    expect(forge.keys("acme/widgets")).toEqual([]);
    expect(forge.calls().at(-1)).toMatchObject({ method: "DELETE", path: `/api/v1/repos/acme/widgets/keys/${keyId}`, authorization: `token ${token}`, status: 204 });
    expect(existsSync(path.join(home, "state", id, "deploy-keys.json"))).toBe(false);
    id = "";
  });

  it.each([
    { when: "while the forge is answering (no id recorded yet)", holding: true },
    { when: "once its bundle exists (the id recorded)", holding: false },
  ])("a start killed $when leaves a key that gc deletes", async ({ holding }) => {
    let release = () => {};
    holdCreates = holding ? new Promise<void>((resolve) => (release = resolve)) : null;
    const seen = new Promise<StandInDeployKey>((resolve) => (created = resolve));
    const child = startCliInSession(["start", "probe", "--bottle", "forge"], env);
    try {
      const key = await seen;
      const bottleId = idFromTitle(key);
      if (!holding) {
        await waitUntil("the bottle's bundle to exist", async () => ((await bottleContainers(bottleId)).some((c) => c.endsWith("-bundle")) ? true : undefined), { timeoutMs: 300_000 });
      }
      await crashCli(child);
      expect(new StateStore(home).readDeployKeys(bottleId).map((k) => k.id)).toEqual([holding ? null : key.id]);
      expect(forge.keys("acme/widgets")).toEqual([key]);
    } finally {
      release();
      holdCreates = null;
      created = null;
      child.kill("SIGKILL");
    }

    const gc = await runCli(["gc"], env);
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(gc.stdout).toMatch(/removed deploy key .* of acme\/widgets at /);
    expect(forge.keys("acme/widgets")).toEqual([]);
    expect((await runCli(["gc"], env)).stdout.trim()).toBe("nothing to remove");
  });
});

describeWithDocker("deploy keys through the engine in this process (stand-in Gitea forge, docker backend)", () => {
  const token = newToken();
  const tag = `${process.pid}`;
  let forge: StandInForge;
  let home = "";
  /** The secrets each launch handed the backend. */
  const handed: Record<string, string>[] = [];

  /** The real docker backend, seen through: what the engine hands it is kept. */
  function seenThrough(real: DockerBackend): Backend {
    return {
      name: real.name,
      isolation: real.isolation,
      available: () => real.available(),
      launch: (plan, secrets, hooks) => {
        handed.push({ ...secrets });
        return real.launch(plan, secrets, hooks);
      },
      attach: (plan) => real.attach(plan),
      discover: (label) => real.discover(label),
      remove: (bottleId, label) => real.remove(bottleId, label),
    };
  }
  const engine = () => new Engine({ home, cwd: home, env: { ...process.env, ...engineTestEnv(), CLAUDE_CONFIG_DIR: claudeConfig, GITEA_TOKEN: token }, backends: { docker: seenThrough(new DockerBackend()) } });
  const homeContainers = async () =>
    (await execa("docker", ["ps", "-a", "--format", "{{.Names}}", "--filter", `label=bot-bottle.home=${homeLabel(home)}`])).stdout.split("\n").filter(Boolean);

  beforeAll(async () => {
    forge = await startStandInForge({ token, repos: ["acme/widgets", "acme/gadgets"] });
    home = forgeHome("bb-forge-engine-", forge.apiUrl, ["widgets", "gadgets"]);
  });
  afterAll(async () => {
    await engine().gc().catch(() => undefined);
    await forge?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("a key collision (422) on the second repository fails the start, naming it and the title, and leaves no key, container or record behind", async () => {
    const prepared = await engine().plan({ agent: "probe", bottles: ["forge"] });
    const { plan } = prepared;
    const title = deployKeyTitle(plan.id, "widgets");
    const theirs = forge.addKey("acme/widgets", { title, key: generateDeployKey("theirs").publicKey, read_only: false });
    await expect(engine().launch(prepared)).rejects.toThrow(`git-gate repository widgets: the forge already has a deploy key titled "${title}"`);
    // gadgets' key (sorted first) was made, then deleted; the key that was there already is untouched.
    expect(forge.calls().map((c) => [c.method, c.path, c.status])).toEqual([
      ["POST", "/api/v1/repos/acme/gadgets/keys", 201],
      ["POST", "/api/v1/repos/acme/widgets/keys", 422],
      ["DELETE", expect.stringMatching(/^\/api\/v1\/repos\/acme\/gadgets\/keys\/\d+$/), 204],
    ]);
    expect(forge.keys("acme/gadgets")).toEqual([]);
    expect(forge.keys("acme/widgets")).toEqual([theirs]);
    expect(handed).toEqual([]);
    expect(await homeContainers()).toEqual([]);
    expect(new StateStore(home).readDeployKeys(plan.id)).toEqual([]);
    expect(new StateStore(home).readMetadata(plan.id)?.status).toBe("failed");
    // Its owner removes the colliding key, through the API like anyone.
    const removed = await fetch(`${forge.apiUrl}/repos/acme/widgets/keys/${theirs.id}`, { method: "DELETE", headers: { Authorization: `token ${token}` } });
    expect(removed.status).toBe(204);
  });

  it("stop and gc that cannot delete a key (no token) say so and keep its record; gc deletes it once the token is back", async () => {
    const withToken = engine();
    const { plan } = await withToken.plan({ agent: "probe", bottles: ["forge"] });
    const store = new StateStore(home);
    store.writePlan(plan);
    // A bottle whose launch made its keys and then died: metadata, plan and the deploy key record are in its state.
    store.writeMetadata({
      id: plan.id, agent: "probe", bottles: plan.bottles, provider: "claude", backend: "docker", label: null, cwd: null, status: "failed",
      started_at: new Date().toISOString(), stopped_at: null, resources: plan.resources, warnings: [], starter_pid: null,
    });
    await prepareGateKeys(plan, withToken.secrets, { record: (keys) => store.writeDeployKeys(plan.id, keys) });
    expect(store.readDeployKeys(plan.id)).toHaveLength(2);

    const noToken = new Engine({ home, cwd: home, env: { ...process.env, ...engineTestEnv(), CLAUDE_CONFIG_DIR: claudeConfig, GITEA_TOKEN: "" } });
    await expect(noToken.stop(plan.id)).rejects.toThrow(
      new RegExp(`^bottle ${plan.id} is stopped, but deploy key \\d+ of acme/gadgets .* could not be deleted: deleting .* needs the forge token from the secret GITEA_TOKEN, .*\`bot-bottle gc\` tries again\\.$`),
    );
    expect(store.readMetadata(plan.id)?.status).toBe("stopped");
    const kept = await noToken.gc();
    expect(kept.failures).toEqual([expect.stringMatching(new RegExp(`^bottle ${plan.id} keeps its state folder: deploy key \\d+ of acme/gadgets .*GITEA_TOKEN`)), expect.stringMatching(/acme\/widgets/)]);
    expect(kept.removed).not.toContain(`state ${plan.id}`);
    expect(store.readDeployKeys(plan.id)).toHaveLength(2);
    expect([...forge.keys("acme/gadgets"), ...forge.keys("acme/widgets")]).toHaveLength(2);

    const cleared = await withToken.gc();
    expect(cleared.failures).toEqual([]);
    expect(cleared.removed).toEqual([expect.stringMatching(/^deploy key \d+ of acme\/gadgets/), expect.stringMatching(/^deploy key \d+ of acme\/widgets/), `state ${plan.id}`]);
    expect([...forge.keys("acme/gadgets"), ...forge.keys("acme/widgets")]).toEqual([]);
  });

  it("hands the backend each repository's private key as GIT_GATE_KEY_<n>: the private half of its deploy key, which an upstream that authorizes the deploy key lets push", async () => {
    const record = await engine().start({ agent: "probe", bottles: ["forge"] });
    const secrets = handed.at(-1)!;
    const gateKeys = Object.keys(secrets).filter((name) => name.startsWith("GIT_GATE_KEY_")).sort();
    expect(gateKeys).toEqual(["GIT_GATE_KEY_0", "GIT_GATE_KEY_1"]);
    // Sorted by name: gadgets is 0, widgets is 1.
    const [gadgets, widgets] = [forge.keys("acme/gadgets"), forge.keys("acme/widgets")];
    expect(gadgets).toHaveLength(1);
    expect(widgets).toHaveLength(1);
    expect(publicHalf(secrets.GIT_GATE_KEY_0!)).toBe(keyOnly(gadgets[0]!.key));
    expect(publicHalf(secrets.GIT_GATE_KEY_1!)).toBe(keyOnly(widgets[0]!.key));

    // The forge would install the deploy key on its SSH side; the test upstream stands for that side: it authorizes the key, and git pushes with it.
    const internet = await createTestInternet(`bb-test-forge-net-${tag}`);
    const upstream = await startSshUpstream({ name: `bb-test-forge-upstream-${tag}`, network: internet.name, alias: "git.upstream.test", repos: ["widgets"] });
    const client = `bb-test-forge-client-${tag}`;
    try {
      await upstream.authorize(widgets[0]!.key);
      await execa("docker", ["run", "-d", "--name", client, "--network", internet.name, "--entrypoint", "sleep", await sshUpstreamImage(), "infinity"]);
      const inClient = (script: string, input?: string) => execa("docker", ["exec", "-i", client, "sh", "-c", script], { input: input ?? "", reject: false });
      await inClient("umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/id", secrets.GIT_GATE_KEY_1!);
      await inClient("cat > /root/.ssh/known_hosts", `${upstream.hostKeyLine}\n`);
      const ssh = "ssh -F /dev/null -i /root/.ssh/id -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/root/.ssh/known_hosts -o BatchMode=yes";
      const push = await inClient(
        [
          "set -e",
          `export GIT_SSH_COMMAND='${ssh}'`,
          `git clone -q ${upstream.url("widgets")} /work && cd /work`,
          "git -c user.name=Gate -c user.email=gate@example.test commit -q --allow-empty -m 'pushed with the deploy key'",
          "git push -q origin HEAD:refs/heads/from-the-bottle",
          "git rev-parse HEAD",
        ].join("\n"),
      );
      expect(push.exitCode, push.stderr).toBe(0);
      expect((await upstream.refs("widgets"))["refs/heads/from-the-bottle"]).toBe(push.stdout.trim());
    } finally {
      await execa("docker", ["rm", "-f", client], { reject: false });
      await upstream.stop();
      await internet.remove();
    }

    const stopped = await engine().stop(record.id);
    expect(stopped.removed.filter((r) => r.startsWith("deploy key"))).toHaveLength(2);
    expect(forge.keys("acme/gadgets")).toEqual([]);
    expect(forge.keys("acme/widgets")).toEqual([]);
  });
});
