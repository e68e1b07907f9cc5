import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { awaitSecrets, deliverSecrets } from "../../../sidecars/secrets-handoff.js";

// The secrets' way into the bundle: the engine's delivery is checked before
// anything is written, and init takes it whole and removes it.

describe("the secrets handoff", () => {
  const folders: string[] = [];
  const privateDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "bb-handoff-"));
    folders.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("delivers secrets as a 0600 file that init takes and removes", async () => {
    const dir = privateDir();
    const secrets = { EGRESS_TOKEN_0: "tok", EGRESS_SECRET_API: "s3cret", GIT_GATE_KEY_1: "-----BEGIN KEY-----\n" };
    expect(deliverSecrets(dir, JSON.stringify(secrets))).toBe(3);
    expect(statSync(path.join(dir, "secrets.json")).mode & 0o777).toBe(0o600);
    await expect(awaitSecrets(dir, 1_000)).resolves.toEqual(secrets);
    expect(existsSync(path.join(dir, "secrets.json"))).toBe(false);
  });

  it.each([
    ["text that is not JSON", "EGRESS_TOKEN_0=tok", /^the secrets on stdin is not JSON$/],
    ["an array", "[]", /is invalid: \(root\): must be an object of names to strings/],
    ["null", "null", /is invalid: \(root\): must be an object/],
    ["a name egress does not look up", JSON.stringify({ HOME: "/root" }), /is invalid: HOME: must be an EGRESS_TOKEN_, EGRESS_SECRET_ or GIT_GATE_KEY_<n> name/],
    ["a value that is not a string", JSON.stringify({ EGRESS_TOKEN_0: 7 }), /is invalid: EGRESS_TOKEN_0: must be a string/],
    ["a gate key with a name that is not a number", JSON.stringify({ GIT_GATE_KEY_x: "k" }), /GIT_GATE_KEY_x: must be an EGRESS_TOKEN_/],
  ])("refuses %s and writes nothing", (_what, text, error) => {
    const dir = privateDir();
    expect(() => deliverSecrets(dir, text)).toThrow(error);
    expect(existsSync(path.join(dir, "secrets.json"))).toBe(false);
  });

  it("says what it waited for when nothing is delivered", async () => {
    await expect(awaitSecrets(privateDir(), 100)).rejects.toThrow(/no secrets were delivered to .* within 0.1 s/);
  });
});
