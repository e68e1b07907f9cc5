import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  keepsGitConfigKey,
  parseGitConfigList,
  rewriteGitConfigsScript,
  scrubGitConfig,
} from "../../../src/engine/provision/workspace-git-config.js";

// What of the host repository's git config the bottle's copy keeps: only what
// a checkout needs, never a credential. The script is run here with the
// machine's own sh and git, as the bottle runs it.

const TOKEN = "ghp_hostTokenThatMustStayOnTheHost0123";

describe("keepsGitConfigKey", () => {
  it.each([
    "core.repositoryformatversion",
    "core.filemode",
    "core.bare",
    "core.logallrefupdates",
    "extensions.objectformat",
    "branch.main.remote",
    "branch.main.merge",
    "branch.feat/a.b.rebase",
  ])("keeps %s", (key) => expect(keepsGitConfigKey(key)).toBe(true));

  it.each([
    "remote.origin.url",
    "remote.origin.pushurl",
    "remote.origin.fetch",
    "http.extraheader",
    "http.https://github.com/.extraheader",
    "credential.helper",
    "credential.https://github.com.username",
    "url.https://x:token@github.com/.insteadof",
    "include.path",
    "includeif.gitdir:~/work/.path",
    "user.email",
    "submodule.lib.url",
    "core.sshcommand",
    "core.askpass",
    "core.hookspath",
    "core.worktree",
    "core.fsmonitor",
    "extensions.sub.key",
    "branch.main.pushremote",
    "branch.remote",
    "core",
    "core.",
    ".core",
  ])("drops %s", (key) => expect(keepsGitConfigKey(key)).toBe(false));
});

describe("parseGitConfigList", () => {
  it("splits entries at NUL and key from value at the first newline; a bare key has no value", () => {
    expect(parseGitConfigList("core.bare\nfalse\0core.flag\0branch.x.description\nline one\nline two\0")).toEqual([
      { key: "core.bare", value: "false" },
      { key: "core.flag", value: null },
      { key: "branch.x.description", value: "line one\nline two" },
    ]);
  });

  it("reads nothing from an empty listing", () => expect(parseGitConfigList("")).toEqual([]));
});

describe("the rewrite script, run by sh and git on a copied repository", () => {
  const folders: string[] = [];
  afterEach(() => {
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });

  function hostRepository(): string {
    const repo = mkdtempSync(path.join(os.tmpdir(), "bb-scrub-"));
    folders.push(repo);
    const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" });
    git("init", "-q", "-b", "main");
    writeFileSync(path.join(repo, "a.txt"), "a\n");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one");
    git("config", "remote.origin.url", `https://x-access-token:${TOKEN}@github.example/o/r`);
    git("config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*");
    git("config", "http.https://github.example/.extraheader", `AUTHORIZATION: basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}`);
    git("config", "credential.helper", `!f() { echo password=${TOKEN}; }; f`);
    git("config", `url.https://x:${TOKEN}@github.example/.insteadOf`, "https://github.example/");
    git("config", "include.path", "/home/someone/.gitconfig-secrets");
    git("config", "user.email", "someone@host.example");
    git("config", "branch.main.remote", "origin");
    git("config", "branch.main.merge", "refs/heads/main");
    git("config", 'branch.odd "name.description', 'a "quoted"\\ value\nover two lines');
    return repo;
  }

  function scrub(repo: string, file = ".git/config") {
    const listed = execFileSync("git", ["config", "--file", path.join(repo, file), "--list", "-z"], { encoding: "utf8" });
    const entries = scrubGitConfig(parseGitConfigList(listed));
    execFileSync("sh", ["-c", rewriteGitConfigsScript(repo, [{ file, entries }])]);
    return entries;
  }

  it("leaves no trace of the host's token, helper, header, rewrite, include or identity", () => {
    const repo = hostRepository();
    expect(readFileSync(path.join(repo, ".git", "config"), "utf8")).toContain(TOKEN);
    scrub(repo);
    const config = readFileSync(path.join(repo, ".git", "config"), "utf8");
    expect(config).not.toContain(TOKEN);
    expect(config).not.toContain(Buffer.from(`x:${TOKEN}`).toString("base64"));
    expect(config).not.toMatch(/credential|extraheader|insteadof|include|someone|remote "origin"/i);
    expect(execFileSync("ls", ["-a", path.join(repo, ".git")], { encoding: "utf8" })).not.toContain("bot-bottle-new");
  });

  it("keeps a working repository: status, log, the branch's tracking and an oddly named branch's description", () => {
    const repo = hostRepository();
    scrub(repo);
    const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" }).trim();
    expect(git("log", "--format=%s")).toBe("one");
    expect(git("status", "--porcelain")).toBe("");
    expect(git("config", "branch.main.merge")).toBe("refs/heads/main");
    expect(git("config", "branch.main.remote")).toBe("origin");
    expect(git("config", 'branch.odd "name.description')).toBe('a "quoted"\\ value\nover two lines');
    expect(git("config", "core.repositoryformatversion")).toBe("0");
  });

  it("writes a value-less key back as true", () => {
    const repo = hostRepository();
    writeFileSync(path.join(repo, ".git", "config"), "[core]\n\trepositoryformatversion = 0\n\tbare\n\tsshCommand = ssh -i /host/key\n");
    expect(scrub(repo)).toEqual([
      { key: "core.repositoryformatversion", value: "0" },
      { key: "core.bare", value: null },
    ]);
    expect(execFileSync("git", ["config", "--file", path.join(repo, ".git", "config"), "--list"], { encoding: "utf8" })).toBe(
      "core.repositoryformatversion=0\ncore.bare=true\n",
    );
  });

  it("fails, naming what is missing, where the image has no git", () => {
    const repo = hostRepository();
    const script = rewriteGitConfigsScript(repo, [{ file: ".git/config", entries: [] }]);
    expect(() => execFileSync("/bin/sh", ["-c", script], { env: { PATH: "/nonexistent" }, stdio: "pipe" })).toThrow(/the image has no git/);
    expect(readFileSync(path.join(repo, ".git", "config"), "utf8")).toContain(TOKEN);
  });
});
