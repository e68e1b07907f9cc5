import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PushScan } from "../../../sidecars/git-gate/push-scan.js";
import { GitRepos } from "../../support/git-repos.js";
import { useTempDir } from "../../support/temp-dir.js";
import { bundledFile } from "./daemon-process.js";

// The bundled push scanner (dist/sidecars-bundle/git-gate-scan.js, built by
// `npm run build`) installed as a bare repository's pre-receive hook, with
// real `git push`es into it: git runs the hook with the pushed objects in
// quarantine, and the hook's exit code decides the push.

const NAME = "EGRESS_SECRET_DEPLOY_TOKEN";

describe("the push scanner as a pre-receive hook", () => {
  const tmp = useTempDir("scan-hook-");

  function gate() {
    const repos = new GitRepos(tmp.path);
    const value = `dpl-${randomBytes(12).toString("hex")}`;
    const secretsFile = path.join(repos.gate, "..", "secrets.json");
    const resultFile = path.join(repos.gate, "..", "scan.json");
    writeFileSync(secretsFile, JSON.stringify({ [NAME]: value }));
    writeFileSync(path.join(repos.gate, "hooks", "pre-receive"), `#!/bin/sh\nexec "${process.execPath}" "${bundledFile("git-gate-scan")}"\n`, { mode: 0o755 });
    const push = (...args: string[]) =>
      spawnSync("git", ["push", "origin", ...args], {
        cwd: repos.work,
        env: { ...repos.env, GIT_GATE_SECRETS_FILE: secretsFile, GIT_GATE_SCAN_RESULT: resultFile },
        encoding: "utf8",
      });
    const result = () => PushScan.parse(JSON.parse(readFileSync(resultFile, "utf8")));
    return { repos, value, push, result };
  }

  it("accepts a clean push: the ref moves", () => {
    const { repos, push, result } = gate();
    const commit = repos.commit({ "README.md": "# project\n" });
    const pushed = push("main");
    expect(pushed.status).toBe(0);
    expect(repos.gateRef("refs/heads/main")).toBe(commit);
    expect(result()).toEqual({ findings: [], suppressions: [] });
  });

  it("refuses a push that adds a declared secret: the ref stays, the pushed commit never leaves quarantine, the pusher is told where but not what", () => {
    const { repos, value, push, result } = gate();
    const base = repos.commit({ "README.md": "# project\n" });
    expect(push("main").status).toBe(0);
    const leaking = repos.commit({ "deploy.sh": `#!/bin/sh\ncurl -H "Authorization: Bearer ${value}" https://example.test\n` });

    const pushed = push("main");

    expect(pushed.status).not.toBe(0);
    expect(repos.gateRef("refs/heads/main")).toBe(base);
    expect(spawnSync("git", ["cat-file", "-e", leaking], { cwd: repos.gate, env: repos.env }).status).not.toBe(0);
    expect(pushed.stderr).toContain("remote: git-gate: push refused, nothing was sent upstream: 1 secret found in the pushed commits.");
    expect(pushed.stderr).toContain(`remote:   deploy.sh:2 in commit ${leaking.slice(0, 12)}: known-secret:${NAME}`);
    expect(pushed.stderr).toContain(`remote:       curl -H "Authorization: Bearer [REDACTED:${NAME}]" https://example.test`);
    expect(pushed.stderr).not.toContain(value);
    expect(result().findings.map((f) => [f.commit, f.path, f.line, f.rule])).toEqual([[leaking, "deploy.sh", 2, `known-secret:${NAME}`]]);
    expect(readFileSync(path.join(repos.gate, "..", "scan.json"), "utf8")).not.toContain(value);
  });
});
