import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { useTempDir } from "../../support/temp-dir.js";

// The stand-in smolvm (test/support/stand-in-smolvm.mjs) is what the
// smolmachines backend is tested against; these tests check only its grammar
// refusals and its call log, which need no Docker engine.

const standIn = fileURLToPath(new URL("../../support/stand-in-smolvm.mjs", import.meta.url));

interface Call {
  argv: string[];
  exit: number;
  violation?: string;
  error?: string;
}

describe("the stand-in smolvm's grammar", () => {
  const state = useTempDir("stand-in-smolvm-");

  const smolvm = (args: string[], input = "") =>
    execa(standIn, args, { reject: false, input, env: { STAND_IN_SMOLVM_STATE: state.path } });
  const calls = (): Call[] =>
    readFileSync(path.join(state.path, "calls.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Call);

  it("refuses -n (only --name is smolvm's)", async () => {
    const run = await smolvm(["machine", "exec", "-n", "m1", "--", "true"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/-n/);
  });

  it("refuses --user (smolvm has none: switch users with runuser)", async () => {
    const run = await smolvm(["machine", "exec", "--name", "m1", "--user", "node", "--", "id"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--user/);
  });

  it("refuses an exec command that does not follow --", async () => {
    const run = await smolvm(["machine", "exec", "--name", "m1", "id"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--/);
    expect((await smolvm(["machine", "exec", "--name", "m1", "--"])).exitCode).toBe(2);
  });

  it("refuses unknown flags with exit 2", async () => {
    const run = await smolvm(["machine", "create", "--name", "m1", "--image", "./img.tar", "--bogus"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/--bogus/);
    expect((await smolvm(["machine", "exec", "--name", "m1", "--timeout", "30", "--", "true"])).exitCode).toBe(2);
    expect((await smolvm(["machine", "start", "--name", "m1", "--name", "m2"])).exitCode).toBe(2);
  });

  it("takes --name=N like --name N (an unknown machine is a smolvm error, exit 1)", async () => {
    const run = await smolvm(["machine", "status", "--name=nowhere", "--json"]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/nowhere/);
  });

  it("deletes nothing without -f: the prompt meets end of input and exits 0", async () => {
    const machines = path.join(state.path, "machines.json");
    const machine = { name: "kept", container: "stand-in-smolvm-kept", image: "./img.tar", labels: {} };
    writeFileSync(machines, JSON.stringify({ machines: { kept: machine } }));
    const run = await smolvm(["machine", "delete", "--name", "kept"]);
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(machines, "utf8"))).toEqual({ machines: { kept: machine } });
  });

  it("records every call in calls.jsonl, grammar violations included", () => {
    const log = calls();
    expect(log.map((call) => call.argv)).toEqual([
      ["machine", "exec", "-n", "m1", "--", "true"],
      ["machine", "exec", "--name", "m1", "--user", "node", "--", "id"],
      ["machine", "exec", "--name", "m1", "id"],
      ["machine", "exec", "--name", "m1", "--"],
      ["machine", "create", "--name", "m1", "--image", "./img.tar", "--bogus"],
      ["machine", "exec", "--name", "m1", "--timeout", "30", "--", "true"],
      ["machine", "start", "--name", "m1", "--name", "m2"],
      ["machine", "status", "--name=nowhere", "--json"],
      ["machine", "delete", "--name", "kept"],
    ]);
    expect(log.map((call) => call.exit)).toEqual([2, 2, 2, 2, 2, 2, 2, 1, 0]);
    expect(log.slice(0, 7).every((call) => typeof call.violation === "string")).toBe(true);
    expect(log.slice(7).some((call) => "violation" in call)).toBe(false);
  });

  it("refuses to run without STAND_IN_SMOLVM_STATE", async () => {
    const run = await execa(standIn, ["machine", "ls", "--json"], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/STAND_IN_SMOLVM_STATE/);
  });
});
