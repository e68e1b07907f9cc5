import { chmodSync, rmSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveSecrets } from "../../../src/engine/secrets.js";
import { HostSecrets } from "../../../src/secrets/host-secrets.js";
import { SecretStore } from "../../../src/secrets/store.js";
import { useTempDir } from "../../support/temp-dir.js";

// Where a secret a bottle names comes from: the process environment first,
// then the store; and the error when it is in neither.

describe("host secrets: environment first, then the store", () => {
  const dir = useTempDir("bb-host-secrets-");
  let store: SecretStore;

  beforeEach(() => {
    store = new SecretStore(path.join(dir.path, "home"));
  });
  afterEach(() => rmSync(path.join(dir.path, "home"), { recursive: true, force: true }));

  it("takes the environment's value over the store's", () => {
    store.set("GITHUB_TOKEN", "from-store");
    expect(new HostSecrets({ GITHUB_TOKEN: "from-env" }, store).find("GITHUB_TOKEN")).toEqual({ value: "from-env", from: "environment" });
  });

  it("falls back to the store when the variable is unset or empty", () => {
    store.set("GITHUB_TOKEN", "from-store");
    expect(new HostSecrets({}, store).find("GITHUB_TOKEN")).toEqual({ value: "from-store", from: "store" });
    expect(new HostSecrets({ GITHUB_TOKEN: "" }, store).find("GITHUB_TOKEN")).toEqual({ value: "from-store", from: "store" });
  });

  it("finds nothing when neither has it", () => {
    expect(new HostSecrets({ OTHER: "x" }, store).find("GITHUB_TOKEN")).toBeUndefined();
  });

  it("does not read the store when the environment has the value (a refused store file does not matter then)", () => {
    store.set("GITHUB_TOKEN", "from-store");
    chmodSync(store.fileOf("GITHUB_TOKEN"), 0o644);
    expect(new HostSecrets({ GITHUB_TOKEN: "from-env" }, store).find("GITHUB_TOKEN")?.from).toBe("environment");
    expect(() => new HostSecrets({}, store).find("GITHUB_TOKEN")).toThrow(`${store.fileOf("GITHUB_TOKEN")} is open to other users`);
  });

  it("says, for a missing secret, both ways to provide it and that MCP clients filter the server's environment", () => {
    const error = new HostSecrets({}, store).missing("CLAUDE_CODE_OAUTH_TOKEN", "bottle claude injects a token for api.anthropic.com");
    expect(error.message).toContain(`bottle claude injects a token for api.anthropic.com from the secret CLAUDE_CODE_OAUTH_TOKEN, which is neither in bot-bottle's environment nor in its secret store (${store.dir})`);
    expect(error.message).toContain("`bot-bottle secret set CLAUDE_CODE_OAUTH_TOKEN`");
    expect(error.message).toContain("`export CLAUDE_CODE_OAUTH_TOKEN=...`");
    expect(error.message).toContain("MCP clients filter the environment of the servers they start");
  });

  it("gives egress each named secret's value from where it is found (resolveSecrets)", () => {
    store.set("STORED_TOKEN", "stored-value");
    store.set("BOTH_TOKEN", "stored-loses");
    const secrets = new HostSecrets({ ENV_TOKEN: "env-value", BOTH_TOKEN: "env-wins" }, store);
    const sources = {
      EGRESS_TOKEN_STORED_TOKEN: { kind: "env", name: "STORED_TOKEN" },
      EGRESS_TOKEN_ENV_TOKEN: { kind: "env", name: "ENV_TOKEN" },
      EGRESS_TOKEN_BOTH_TOKEN: { kind: "env", name: "BOTH_TOKEN" },
      EGRESS_SECRET_NOWHERE: { kind: "env", name: "NOWHERE" },
    } as const;
    expect(resolveSecrets(sources, secrets)).toEqual({
      EGRESS_TOKEN_STORED_TOKEN: "stored-value",
      EGRESS_TOKEN_ENV_TOKEN: "env-value",
      EGRESS_TOKEN_BOTH_TOKEN: "env-wins",
      // A known secret found nowhere has nothing for DLP to look for (a token found nowhere is refused before launch).
      EGRESS_SECRET_NOWHERE: "",
    });
  });
});
