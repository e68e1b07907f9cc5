import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_SECRET_BYTES, SecretStore } from "../../../src/secrets/store.js";
import { useTempDir } from "../../support/temp-dir.js";

// The secret store on disk, and what it refuses: anything another user could
// have planted, swapped or read (a file or folder open to others, owned by
// someone else, a symbolic link, a FIFO), bad names and empty values.

const isRoot = process.getuid?.() === 0;
const OTHER_UID = 54321;

describe("the secret store", () => {
  const dir = useTempDir("bb-secret-store-");
  let home = "";
  let store: SecretStore;
  const file = (name: string) => path.join(home, "secrets", name);
  const mode = (p: string) => (lstatSync(p).mode & 0o777).toString(8);

  beforeEach(() => {
    home = path.join(dir.path, "home");
    store = new SecretStore(home);
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it("is empty before anything is set, without creating its folder", () => {
    expect(store.get("GITHUB_TOKEN")).toBeUndefined();
    expect(store.names()).toEqual([]);
    expect(store.remove("GITHUB_TOKEN")).toBe(false);
    expect(existsSync(path.join(home, "secrets"))).toBe(false);
  });

  it("keeps each secret in a file of its own, mode 0600, in a folder of mode 0700, and reads it back as it was given", () => {
    store.set("GITHUB_TOKEN", "ghp_value with spaces\nand a second line");
    store.set("NPM_TOKEN", "npm-value");
    expect(mode(path.join(home, "secrets"))).toBe("700");
    expect(mode(file("GITHUB_TOKEN"))).toBe("600");
    expect(readFileSync(file("NPM_TOKEN"), "utf8")).toBe("npm-value");
    expect(store.get("GITHUB_TOKEN")).toBe("ghp_value with spaces\nand a second line");
    expect(store.names()).toEqual(["GITHUB_TOKEN", "NPM_TOKEN"]);
  });

  it("makes its folder 0700 even under a permissive umask", () => {
    const previous = process.umask(0);
    try {
      store.set("A_TOKEN", "value");
    } finally {
      process.umask(previous);
    }
    expect(mode(path.join(home, "secrets"))).toBe("700");
    expect(mode(file("A_TOKEN"))).toBe("600");
  });

  it("replaces a value by renaming a new file over the old one, leaving no temp file", () => {
    store.set("A_TOKEN", "first");
    const before = statSync(file("A_TOKEN")).ino;
    store.set("A_TOKEN", "second");
    expect(statSync(file("A_TOKEN")).ino).not.toBe(before);
    expect(store.get("A_TOKEN")).toBe("second");
    expect(readdirSync(path.join(home, "secrets"))).toEqual(["A_TOKEN"]);
  });

  it("lists only names: a temp file a crash left behind, or anything not named like a variable, is not a secret", () => {
    store.set("A_TOKEN", "value");
    writeFileSync(path.join(home, "secrets", ".A_TOKEN.0123456789ab.tmp"), "half", { mode: 0o600 });
    writeFileSync(path.join(home, "secrets", "not-a-name"), "x", { mode: 0o600 });
    expect(store.names()).toEqual(["A_TOKEN"]);
  });

  it("removes a secret, and says when there was none", () => {
    store.set("A_TOKEN", "value");
    expect(store.remove("A_TOKEN")).toBe(true);
    expect(store.get("A_TOKEN")).toBeUndefined();
    expect(store.remove("A_TOKEN")).toBe(false);
  });

  it.each(["", "1TOKEN", "MY-TOKEN", "../etc/passwd", "a/b", ".A_TOKEN", "A TOKEN"])("refuses the name %j, naming it, before touching any file", (name) => {
    for (const act of [() => store.set(name, "value"), () => store.get(name), () => store.remove(name)]) {
      expect(act).toThrow(`secret name ${JSON.stringify(name)}: must be an environment variable name`);
    }
    expect(existsSync(path.join(home, "secrets"))).toBe(false);
  });

  it("refuses an empty value, a NUL byte and an oversized value, storing nothing", () => {
    expect(() => store.set("A_TOKEN", "")).toThrow("secret A_TOKEN: the value is empty; nothing was stored");
    expect(() => store.set("A_TOKEN", "a\0b")).toThrow("secret A_TOKEN: the value holds a NUL byte");
    expect(() => store.set("A_TOKEN", "x".repeat(MAX_SECRET_BYTES + 1))).toThrow(`longer than ${MAX_SECRET_BYTES} bytes`);
    expect(store.names()).toEqual([]);
  });

  describe("refuses, naming the file, and never uses", () => {
    beforeEach(() => store.set("A_TOKEN", "the-real-value"));

    it.each([0o640, 0o604, 0o620, 0o601])("a secret file open to other users (mode %o)", (bits) => {
      chmodSync(file("A_TOKEN"), bits);
      expect(() => store.get("A_TOKEN")).toThrow(`${file("A_TOKEN")} is open to other users (mode 0${bits.toString(8)}): bot-bottle refuses to use it (\`chmod 600 ${file("A_TOKEN")}\``);
    });

    it.each([0o750, 0o705, 0o770])("a secrets folder open to other users (mode %o), for every operation", (bits) => {
      chmodSync(path.join(home, "secrets"), bits);
      const message = `${path.join(home, "secrets")} is open to other users (mode 0${bits.toString(8)}): bot-bottle refuses to use it (\`chmod 700`;
      expect(() => store.get("A_TOKEN")).toThrow(message);
      expect(() => store.set("B_TOKEN", "value")).toThrow(message);
      expect(() => store.names()).toThrow(message);
      expect(() => store.remove("A_TOKEN")).toThrow(message);
    });

    it("a symbolic link planted in place of a secret, without reading what it points to", () => {
      const target = path.join(dir.path, "attacker-controlled");
      writeFileSync(target, "the attacker's value", { mode: 0o600 });
      rmSync(file("A_TOKEN"));
      symlinkSync(target, file("A_TOKEN"));
      expect(() => store.get("A_TOKEN")).toThrow(`${file("A_TOKEN")} is a symbolic link: bot-bottle refuses to use it`);
    });

    it("a symbolic link in place of the secrets folder", () => {
      const elsewhere = path.join(dir.path, "elsewhere");
      mkdirSync(elsewhere, { mode: 0o700 });
      writeFileSync(path.join(elsewhere, "A_TOKEN"), "planted", { mode: 0o600 });
      rmSync(path.join(home, "secrets"), { recursive: true });
      symlinkSync(elsewhere, path.join(home, "secrets"));
      expect(() => store.get("A_TOKEN")).toThrow(`${path.join(home, "secrets")} is a symbolic link: bot-bottle refuses to use it`);
      expect(() => store.set("A_TOKEN", "value")).toThrow("is a symbolic link");
      expect(readFileSync(path.join(elsewhere, "A_TOKEN"), "utf8")).toBe("planted");
    });

    it("a FIFO in place of a secret (the read does not hang on it)", () => {
      rmSync(file("A_TOKEN"));
      execFileSync("mkfifo", ["-m", "600", file("A_TOKEN")]);
      expect(() => store.get("A_TOKEN")).toThrow(`${file("A_TOKEN")} is not a regular file`);
    });

    it("a folder in place of a secret, for a read and a write", () => {
      rmSync(file("A_TOKEN"));
      mkdirSync(file("A_TOKEN"), { mode: 0o700 });
      expect(() => store.get("A_TOKEN")).toThrow(`${file("A_TOKEN")} is not a regular file`);
      expect(() => store.set("A_TOKEN", "value")).toThrow(`${file("A_TOKEN")} is a folder`);
      expect(readdirSync(path.join(home, "secrets"))).toEqual(["A_TOKEN"]);
    });

    it("an empty or oversized secret file", () => {
      writeFileSync(file("A_TOKEN"), "");
      expect(() => store.get("A_TOKEN")).toThrow(`${file("A_TOKEN")} is empty`);
      writeFileSync(file("A_TOKEN"), "x".repeat(MAX_SECRET_BYTES + 1));
      expect(() => store.get("A_TOKEN")).toThrow(`${file("A_TOKEN")} is larger than ${MAX_SECRET_BYTES} bytes`);
    });

    it.runIf(isRoot)("a secret file owned by another user", () => {
      chownSync(file("A_TOKEN"), OTHER_UID, OTHER_UID);
      expect(() => store.get("A_TOKEN")).toThrow(`${file("A_TOKEN")} belongs to uid ${OTHER_UID}, not to you (uid 0): bot-bottle refuses to use it`);
    });

    it.runIf(isRoot)("a secrets folder owned by another user", () => {
      chownSync(path.join(home, "secrets"), OTHER_UID, OTHER_UID);
      expect(() => store.get("A_TOKEN")).toThrow(`${path.join(home, "secrets")} belongs to uid ${OTHER_UID}, not to you (uid 0)`);
      expect(() => store.set("A_TOKEN", "value")).toThrow(`belongs to uid ${OTHER_UID}`);
    });
  });

  it("replaces a symbolic link planted where it writes, never writing through it", () => {
    store.set("A_TOKEN", "old");
    const victim = path.join(dir.path, "victim");
    writeFileSync(victim, "untouched");
    rmSync(file("A_TOKEN"));
    symlinkSync(victim, file("A_TOKEN"));
    store.set("A_TOKEN", "new");
    expect(readFileSync(victim, "utf8")).toBe("untouched");
    expect(lstatSync(file("A_TOKEN")).isFile()).toBe(true);
    expect(store.get("A_TOKEN")).toBe("new");
  });

  it("removes a planted symbolic link itself, not what it points to", () => {
    store.set("A_TOKEN", "old");
    const victim = path.join(dir.path, "victim-of-rm");
    writeFileSync(victim, "untouched");
    rmSync(file("A_TOKEN"));
    symlinkSync(victim, file("A_TOKEN"));
    expect(store.remove("A_TOKEN")).toBe(true);
    expect(readFileSync(victim, "utf8")).toBe("untouched");
  });

  it("lives in $BOT_BOTTLE_HOME/secrets", () => {
    expect(new SecretStore(path.join(os.tmpdir(), "some-home")).dir).toBe(path.join(os.tmpdir(), "some-home", "secrets"));
  });
});
