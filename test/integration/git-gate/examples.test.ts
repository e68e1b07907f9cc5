import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateDeployKey } from "../../../src/engine/deploy-keys.js";
import { BottlePlan } from "../../../src/engine/plan-schema.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { createTestInternet, type TestInternet } from "../../support/fake-model-container.js";
import { type StandInForge, startStandInForge } from "../../support/fake-forge.js";
import { type SshUpstream, startSshUpstream } from "../../support/ssh-upstream.js";

// The example home's git-gate bottles, as a user copies them, against the
// test upstreams: `reviewer` runs in claude-dev (which extends github: a
// static deploy key for git@github.com:acme/widgets.git) and forge (a Gitea
// deploy key made per bottle for ssh://git@git.example.com:2222/acme/widgets.git).
// Only what a user must replace anyway changes: the pinned host keys, the
// forge's API address (here a stand-in Gitea on loopback) and the key file.
// The sshd answering as github.com and git.example.com lives on a test
// network only the bundle joins.

const examples = path.join(repoRoot, "examples");

describeWithDocker("examples/home's git-gate bottles against the test upstreams (real bottle)", () => {
  const tag = `${process.pid}`;
  const root = mkdtempSync(path.join(os.tmpdir(), "bb-gate-examples-"));
  const home = path.join(root, "bot-bottle");
  const userHome = path.join(root, "user");
  const token = "gitea-token-for-the-stand-in";
  const staticKey = generateDeployKey("widgets deploy key");
  const env: Record<string, string> = {
    ...engineTestEnv(),
    BOT_BOTTLE_HOME: home,
    BOT_BOTTLE_LOG: "warn",
    HOME: userHome,
    CLAUDE_CONFIG_DIR: path.join(userHome, ".claude"),
    CLAUDE_CODE_OAUTH_TOKEN: "not-a-real-token",
    GITHUB_TOKEN: "not-a-real-github-token",
    NPM_TOKEN: "not-a-real-npm-token",
    GITEA_TOKEN: token,
  };
  let internet: TestInternet;
  let github: SshUpstream;
  let gitea: SshUpstream;
  let forge: StandInForge;
  let id = "";

  const inBottle = (script: string) => runCli(["exec", id, "--", "sh", "-c", `cd ~/workspace && { ${script}\n} 2>&1`], env);
  /** A bare repository at `dir` on the upstream, owned by its git user, with one commit on trunk. */
  const makeRepo = (upstream: SshUpstream, dir: string) =>
    execa("docker", [
      "exec",
      upstream.name,
      "sh",
      "-c",
      `set -eu; mkdir -p "$(dirname ${dir})"; chown git: "$(dirname ${dir})"; su -s /bin/sh git -c 'set -eu; git init -q --bare -b trunk ${dir}; w=$(mktemp -d); git -C $w init -q -b trunk; echo widgets > $w/README.md; git -C $w add README.md; git -C $w -c user.name=U -c user.email=u@example.test commit -q -m init; git -C $w push -q ${dir} trunk'`,
    ]);
  const trunkAt = async (upstream: SshUpstream, dir: string) =>
    (await execa("docker", ["exec", "--user", "git", upstream.name, "git", "--git-dir", dir, "rev-parse", "refs/heads/trunk"])).stdout.trim();
  const replaceLine = (file: string, pattern: RegExp, line: string) => {
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(pattern);
    writeFileSync(file, text.replace(pattern, line));
  };

  beforeAll(async () => {
    cpSync(path.join(examples, "home"), home, { recursive: true });
    mkdirSync(path.join(userHome, ".ssh"), { recursive: true });
    writeFileSync(path.join(userHome, ".ssh", "widgets-deploy-key"), staticKey.privateKey, { mode: 0o600 });
    cpSync(path.join(examples, "skills"), path.join(userHome, ".claude", "skills"), { recursive: true });
    internet = await createTestInternet(`bb-gate-ex-net-${tag}`);
    github = await startSshUpstream({ name: `bb-gate-ex-github-${tag}`, network: internet.name, alias: "github.com", repos: [] });
    gitea = await startSshUpstream({ name: `bb-gate-ex-gitea-${tag}`, network: internet.name, alias: "git.example.com", port: 2222, repos: [] });
    // git@github.com:acme/widgets.git is relative to the git user's home; ssh://...:2222/acme/widgets.git is absolute.
    await makeRepo(github, "/home/git/acme/widgets.git");
    await makeRepo(gitea, "/acme/widgets.git");
    await github.authorize(staticKey.publicKey);
    forge = await startStandInForge({ token, repos: ["acme/widgets"], afterCreate: (key) => gitea.authorize(key.key) });
    replaceLine(path.join(home, "bottles", "github.md"), /host_key: github\.com ssh-ed25519 \S+/, `host_key: ${github.hostKeyLine}`);
    replaceLine(path.join(home, "bottles", "forge.md"), /host_key: "\[git\.example\.com\]:2222 ssh-ed25519 \S+"/, `host_key: "${gitea.hostKeyLine}"`);
    replaceLine(path.join(home, "bottles", "forge.md"), /api_url: https:\/\/git\.example\.com\/api\/v1/, `api_url: ${forge.apiUrl}`);
    const started = await runCli(["start", "reviewer"], env);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim().split("\n").pop()!;
    const plan = BottlePlan.parse(JSON.parse(readFileSync(path.join(home, "state", id, "plan.json"), "utf8")));
    await internet.connect(plan.resources.bundle);
  });

  afterAll(async () => {
    if (id) await runCli(["stop", id], env);
    await runCli(["gc"], env);
    await forge?.close();
    await github?.stop();
    await gitea?.stop();
    await internet?.remove();
    rmSync(root, { recursive: true, force: true });
  });

  it("starts reviewer with both repositories behind the gate, one key made on the forge for this bottle", () => {
    expect(forge.keys("acme/widgets").map((k) => k.title)).toEqual([`bot-bottle ${id} widgets-mirror`]);
  });

  it("clones and pushes github's widgets with the static deploy key", async () => {
    const result = await inBottle(
      "git clone -q git@github.com:acme/widgets.git widgets && cd widgets && echo reviewed >> README.md && git commit -q -am 'Review notes' && git push -q origin trunk && git log -1 --format='%H %an <%ae>'",
    );
    expect(result.exitCode, result.stdout).toBe(0);
    const [head, ...author] = result.stdout.trim().split(" ");
    // The agent's identity: base's name, reviewer's email.
    expect(author.join(" ")).toBe("Bottled Agent <reviewer-bot@example.com>");
    expect(await trunkAt(github, "/home/git/acme/widgets.git")).toBe(head);
  });

  it("clones and pushes the forge's widgets-mirror with the deploy key made at start", async () => {
    const result = await inBottle(
      "git clone -q ssh://git@git.example.com:2222/acme/widgets.git mirror && cd mirror && echo mirrored >> README.md && git commit -q -am 'Mirror change' && git push -q origin trunk && git rev-parse HEAD",
    );
    expect(result.exitCode, result.stdout).toBe(0);
    expect(await trunkAt(gitea, "/acme/widgets.git")).toBe(result.stdout.trim());
  });

  it("deletes the forge's key when the bottle stops", async () => {
    const stopped = await runCli(["stop", id], env);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(forge.keys("acme/widgets")).toEqual([]);
  });
});
