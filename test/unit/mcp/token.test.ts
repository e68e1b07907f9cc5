import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bearerMatches, serverToken, tokenFile } from "../../../src/mcp/token.js";

describe("the HTTP transport's bearer token", () => {
  const homes: string[] = [];
  const newHome = () => {
    const home = path.join(mkdtempSync(path.join(os.tmpdir(), "bb-token-")), "home");
    homes.push(path.dirname(home));
    return home;
  };
  afterEach(() => homes.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("is created on first use in the home with mode 0600, then reused", () => {
    const home = newHome();
    const first = serverToken({ home, env: {} });
    expect(first.created).toBe(true);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(tokenFile(home)).mode & 0o777).toBe(0o600);
    expect(readFileSync(tokenFile(home), "utf8")).toBe(`${first.token}\n`);
    const second = serverToken({ home, env: {} });
    expect(second).toEqual({ token: first.token, source: tokenFile(home), created: false });
  });

  it("is refused when the file can be read by others, with the fix in the message", () => {
    const home = newHome();
    serverToken({ home, env: {} });
    chmodSync(tokenFile(home), 0o644);
    expect(() => serverToken({ home, env: {} })).toThrow(/can be read by other users \(mode 644\).*delete the file.*chmod 600/);
  });

  it("is refused when the file holds no usable token", () => {
    const home = newHome();
    serverToken({ home, env: {} });
    writeFileSync(tokenFile(home), "short\n", { mode: 0o600 });
    expect(() => serverToken({ home, env: {} })).toThrow(/holds no usable token: delete it/);
  });

  it("comes from --token-env when given, which must be set and long enough", () => {
    const home = newHome();
    expect(serverToken({ home, env: { T: "0123456789abcdef" }, tokenEnv: "T" })).toEqual({ token: "0123456789abcdef", source: "the T variable", created: false });
    expect(() => serverToken({ home, env: {}, tokenEnv: "T" })).toThrow(/--token-env T: the variable is not set or empty/);
    expect(() => serverToken({ home, env: { T: "short" }, tokenEnv: "T" })).toThrow(/at least 16 characters/);
  });

  it("matches only an exact Bearer header", () => {
    expect(bearerMatches("Bearer secret-token", "secret-token")).toBe(true);
    expect(bearerMatches("bearer  secret-token ", "secret-token")).toBe(true);
    expect(bearerMatches(undefined, "secret-token")).toBe(false);
    expect(bearerMatches("Bearer secret-tokenX", "secret-token")).toBe(false);
    expect(bearerMatches("Basic secret-token", "secret-token")).toBe(false);
    expect(bearerMatches("Bearer secret-token extra", "secret-token")).toBe(false);
  });
});
