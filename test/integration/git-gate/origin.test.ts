import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BottleChanges } from "../../../src/engine/git-gate/changes.js";
import { BottlePlan } from "../../../src/engine/plan-schema.js";
import { repoRoot, runCli } from "../../support/cli.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { connectStdio } from "../../support/mcp-server.js";

// A real bottle started in a git repository: the gate serves that repository
// as the bottle's origin, the agent's real git pushes there through the
// gate's scan, and get_changes brings the pushed branches into the host
// repository as bottle/<id>/<branch> without touching anything else in it.

const fixtureHome = path.join(repoRoot, "test", "fixtures", "homes", "git-gate");

/** Everything in the host repository get_changes must leave alone: other refs, HEAD, index, config, working tree. */
function snapshot(repo: string, id: string): Record<string, string> {
  const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" });
  const files: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (file === path.join(repo, ".git")) continue;
      if (statSync(file).isDirectory()) walk(file);
      else files[path.relative(repo, file)] = createHash("sha256").update(readFileSync(file)).digest("hex");
    }
  };
  walk(repo);
  const sha = (file: string) => createHash("sha256").update(readFileSync(path.join(repo, ".git", file))).digest("hex");
  return {
    refs: git("for-each-ref", "--format=%(objectname) %(refname)")
      .split("\n")
      .filter((line) => !line.includes(` refs/heads/bottle/${id}/`))
      .join("\n"),
    head: readFileSync(path.join(repo, ".git", "HEAD"), "utf8"),
    index: sha("index"),
    config: sha("config"),
    worktree: JSON.stringify(files),
    status: git("status", "--porcelain=v2", "--branch"),
  };
}

describeWithDocker("the bottle's origin through the git gate (real bottle)", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-gate-home-"));
  const repo = mkdtempSync(path.join(os.tmpdir(), "bb-gate-repo-"));
  const env: Record<string, string> = { ...engineTestEnv(), BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" };
  let id = "";
  let base = "";
  let mcp: Client | undefined;
  const hostGit = (...args: string[]) => execFileSync("git", ["-C", repo, "-c", "user.name=Host", "-c", "user.email=host@example.test", ...args], { encoding: "utf8" }).trim();
  const inBottle = (script: string) => runCli(["exec", id, "--", "sh", "-c", `cd ~/workspace && ${script}`], env);
  const bottleRefs = () => hostGit("for-each-ref", "--format=%(refname)", `refs/heads/bottle/${id}/`).split("\n").filter(Boolean);

  beforeAll(async () => {
    cpSync(fixtureHome, home, { recursive: true });
    hostGit("init", "-q", "-b", "main");
    writeFileSync(path.join(repo, "README.md"), "one\n");
    hostGit("add", ".");
    hostGit("commit", "-q", "-m", "first");
    hostGit("branch", "topic");
    writeFileSync(path.join(repo, "README.md"), "two\n");
    hostGit("commit", "-q", "-am", "second");
    base = hostGit("rev-parse", "HEAD");
    const started = await runCli(["start", "coder", "--cwd", repo], env);
    expect(started.exitCode, started.stderr).toBe(0);
    id = started.stdout.trim().split("\n").pop()!;
    // Uncommitted host work that the import must not disturb: staged, unstaged, untracked.
    writeFileSync(path.join(repo, "staged.txt"), "staged\n");
    hostGit("add", "staged.txt");
    writeFileSync(path.join(repo, "README.md"), "host edit, unstaged\n");
    writeFileSync(path.join(repo, "untracked.txt"), "untracked\n");
  });

  afterAll(async () => {
    await mcp?.close();
    if (id) await runCli(["stop", id], env);
    await runCli(["gc"], env);
    rmSync(home, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  });

  it("gives the agent's workspace the gate as origin, with the host repository's branches", async () => {
    const result = await inBottle("git remote get-url origin && git ls-remote origin");
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("http://127.0.0.1:9418/origin.git");
    expect(result.stdout).toMatch(new RegExp(`^${base}\\s+refs/heads/main$`, "m"));
    expect(result.stdout).toMatch(/\srefs\/heads\/topic$/m);
  });

  it("brings a pushed branch home as bottle/<id>/<branch> (through the MCP tool), leaving every other ref, HEAD, the index and the working tree as they were", async () => {
    const pushed = await inBottle(
      "git switch -q -c feature && printf 'hello\\nworld\\n' > feature.txt && git add feature.txt && git commit -q -m 'Add the feature' && git push -q origin feature",
    );
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    const before = snapshot(repo, id);
    const connected = await connectStdio(env);
    mcp = connected.client;
    const result = await mcp.callTool({ name: "get_changes", arguments: { bottle_id: id } });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    const changes = BottleChanges.parse(result.structuredContent);
    expect(changes.base).toBe(base);
    expect(changes.branches.map((b) => b.ref)).toEqual([`refs/heads/bottle/${id}/feature`]);
    const [feature] = changes.branches;
    expect(feature!.commits.map((c) => [c.subject, c.author])).toEqual([["Add the feature", "Gated Agent <gated@example.test>"]]);
    expect(feature!.diffstat).toMatchObject({ files_changed: 1, insertions: 2, deletions: 0, files: [{ path: "feature.txt", insertions: 2, deletions: 0 }] });
    expect(hostGit("rev-parse", `bottle/${id}/feature`)).toBe(feature!.head);
    expect(hostGit("show", `bottle/${id}/feature:feature.txt`)).toBe("hello\nworld");
    expect(snapshot(repo, id)).toEqual(before);
  });

  it("commits the workspace's uncommitted state on a branch of its own, leaving the agent's branch, index and files as they were", async () => {
    const edited = await inBottle("echo 'not committed' >> README.md && echo draft > notes.txt && git status --porcelain && git rev-parse HEAD");
    expect(edited.exitCode, edited.stderr).toBe(0);
    const before = snapshot(repo, id);
    const result = await runCli(["changes", id, "--commit-workspace", "-m", "Work in progress", "--json"], env);
    expect(result.exitCode, result.stderr).toBe(0);
    const changes = BottleChanges.parse(JSON.parse(result.stdout));
    expect(changes.workspace_commit?.branch).toMatch(/^workspace\/\d{8}T\d{6}Z$/);
    const ref = `bottle/${id}/${changes.workspace_commit!.branch}`;
    expect(hostGit("rev-parse", ref)).toBe(changes.workspace_commit!.sha);
    expect(hostGit("log", "-1", "--format=%s", ref)).toBe("Work in progress");
    expect(hostGit("show", `${ref}:notes.txt`)).toBe("draft");
    expect(hostGit("show", `${ref}:README.md`)).toBe("two\nnot committed");
    expect(changes.branches.map((b) => b.ref).sort()).toEqual([`refs/heads/bottle/${id}/feature`, `refs/heads/${ref}`].sort());
    expect(snapshot(repo, id)).toEqual(before);
    // Inside, nothing moved: same branch and commit, the edits still uncommitted.
    const after = await inBottle("git status --porcelain && git rev-parse HEAD");
    expect(after.stdout).toBe(edited.stdout);
    expect((await inBottle("git branch --show-current")).stdout.trim()).toBe("feature");
  });

  it("refuses a secret in the workspace at the gate and imports nothing", async () => {
    const key = `AKIA${randomBytes(8).toString("hex").toUpperCase()}`;
    const planted = await inBottle(`printf 'AWS_ACCESS_KEY_ID=${key}\\n' > deploy.env`);
    expect(planted.exitCode, planted.stderr).toBe(0);
    const refsBefore = bottleRefs();
    const result = await runCli(["changes", id, "--commit-workspace"], env);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/deploy\.env:1/);
    expect(result.stderr).toMatch(/AWS/);
    expect(result.stderr).not.toContain(key);
    expect(bottleRefs()).toEqual(refsBefore);
    // The agent's own push of the same commit is refused the same way, and origin does not have it.
    const pushed = await inBottle("git add deploy.env && git commit -q -m 'add deploy env' && git push origin HEAD:leak 2>&1; echo exit=$?; git ls-remote origin");
    expect(pushed.stdout).toMatch(/exit=[1-9]/);
    expect(pushed.stdout).toMatch(/deploy\.env:1/);
    expect(pushed.stdout).not.toContain(key);
    expect(pushed.stdout).not.toMatch(/refs\/heads\/leak/);
  });

  it("lets no other daemon of the bundle write the gate's mirrors (a subverted supervise could otherwise plant a hook the gate runs, next to its keys)", async () => {
    const plan = BottlePlan.parse(JSON.parse(readFileSync(path.join(home, "state", id, "plan.json"), "utf8")));
    const mirror = "/var/lib/bot-bottle/git-mirrors/origin.git";
    for (const uid of ["64101", "64102"]) {
      for (const attack of [`echo '[core]\n\thooksPath = /tmp' >> ${mirror}/config`, `mkdir ${mirror}/hooks`, `echo 0 > ${mirror}/refs/heads/planted`]) {
        const result = await execa("docker", ["exec", "-u", uid, plan.resources.bundle, "sh", "-c", attack], { reject: false });
        expect(result.exitCode, `uid ${uid}: ${attack}`).not.toBe(0);
      }
    }
    const gate = await execa("docker", ["exec", "-u", "64103", plan.resources.bundle, "test", "-w", `${mirror}/config`], { reject: false });
    expect(gate.exitCode).toBe(0);
  });

  it("still brings the work home after the bottle stopped", async () => {
    const stopped = await runCli(["stop", id], env);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const result = await runCli(["changes", id], env);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`bottle/${id}/feature`);
    expect(result.stdout).toContain(`git merge bottle/${id}/`);
  });
});
