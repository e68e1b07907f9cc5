import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

// Real git repositories for git-gate tests: a bare "gate" repository and a
// working clone that pushes into it. Git runs with no system or user config
// (HOME is the fixture's own folder) and a fixed identity.

export const NULL_ID = "0".repeat(40);

export class GitRepos {
  readonly gate: string;
  readonly work: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(parent: string) {
    const root = mkdtempSync(path.join(parent, "repos-"));
    this.gate = path.join(root, "gate.git");
    this.work = path.join(root, "work");
    this.env = {
      PATH: process.env.PATH,
      HOME: root,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_AUTHOR_NAME: "Agent",
      GIT_AUTHOR_EMAIL: "agent@bottle.invalid",
      GIT_COMMITTER_NAME: "Agent",
      GIT_COMMITTER_EMAIL: "agent@bottle.invalid",
    };
    this.git(root, "init", "--quiet", "--bare", "--initial-branch=main", this.gate);
    this.git(root, "clone", "--quiet", this.gate, this.work);
  }

  git(cwd: string, ...args: string[]): string {
    return this.gitWithInput(cwd, "", ...args);
  }

  gitWithInput(cwd: string, input: string, ...args: string[]): string {
    return execFileSync("git", args, { cwd, env: this.env, encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] }).trim();
  }

  /** Runs git in the working clone. */
  inWork(...args: string[]): string {
    return this.git(this.work, ...args);
  }

  /** Writes (or, for null, removes) files in the working clone and commits them all; returns the commit id. */
  commit(files: Record<string, string | Buffer | null>, message = "change"): string {
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(this.work, name);
      if (content === null) {
        rmSync(file);
        continue;
      }
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
    this.inWork("add", "--all");
    this.inWork("commit", "--quiet", "--allow-empty", "--message", message);
    return this.inWork("rev-parse", "HEAD");
  }

  /** The gate's value of a ref, or the null id when it has none. */
  gateRef(ref: string): string {
    const result = spawnSync("git", ["rev-parse", "--verify", "--quiet", ref], { cwd: this.gate, env: this.env, encoding: "utf8" });
    return result.status === 0 ? result.stdout.trim() : NULL_ID;
  }

  /** Copies the objects of a working clone ref into the gate without creating or moving any gate ref (a push's delta, as scanPush sees it). */
  deliver(ref: string): string {
    this.git(this.gate, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", this.work, ref);
    return this.inWork("rev-parse", ref);
  }
}
