import { randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, type Stats, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { homePaths } from "../home.js";
import { HostEnvName } from "../manifest/schema.js";
import { UserError } from "../user-error.js";

// The secret store: one file per secret in $BOT_BOTTLE_HOME/secrets/, for the
// tokens egress injects. It exists because MCP clients filter the environment
// of the servers they start, so a token exported in the user's shell may never
// reach the server. Only the current user may own or read any of it: a file or
// folder someone else could have planted, swapped or read is refused, never
// used, and the error names it.

/** A secret's name: the environment variable name it stands in for. */
const SecretName = HostEnvName;

/** Tokens are far shorter; the bound keeps a huge planted file from being read whole. */
export const MAX_SECRET_BYTES = 64 * 1024;

const USAGE = 2;

/** The error for a name that is not an environment variable name, naming it. */
export function checkSecretName(name: string): void {
  if (!SecretName.safeParse(name).success) {
    throw new UserError(`secret name "${name}": must be an environment variable name (letters, digits and _, not starting with a digit)`, USAGE);
  }
}

/** Why a value cannot be stored, or null. */
function valueProblem(value: string): string | null {
  if (value === "") return "the value is empty";
  if (value.includes("\0")) return "the value holds a NUL byte, which no environment variable can hold";
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) return `the value is longer than ${MAX_SECRET_BYTES} bytes`;
  return null;
}

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

export class SecretStore {
  readonly dir: string;

  constructor(home: string) {
    this.dir = homePaths(home).secrets;
  }

  fileOf(name: string): string {
    checkSecretName(name);
    return path.join(this.dir, name);
  }

  /** The stored value, or undefined when the store has none by that name. */
  get(name: string): string | undefined {
    const file = this.fileOf(name);
    if (!this.checkFolder()) return undefined;
    let fd: number;
    try {
      // O_NOFOLLOW: a symbolic link is refused, never followed; O_NONBLOCK: a planted FIFO cannot hang the open.
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return undefined;
      if (errorCode(err) === "ELOOP") throw refused(file, "is a symbolic link", "a secret must be a file of its own");
      throw err;
    }
    try {
      const stats = fstatSync(fd);
      if (!stats.isFile()) throw refused(file, "is not a regular file", "remove it");
      checkOwnerAndMode(file, stats, "600");
      const value = readBounded(fd, file);
      if (value === "") throw refused(file, "is empty", "remove it");
      return value;
    } finally {
      closeSync(fd);
    }
  }

  /** Stores (or replaces) a secret: written to a new file, flushed, then renamed over the old one. */
  set(name: string, value: string): void {
    const file = this.fileOf(name);
    const problem = valueProblem(value);
    if (problem) throw new UserError(`secret ${name}: ${problem}; nothing was stored`, USAGE);
    this.ensureFolder();
    const temp = path.join(this.dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
    // O_EXCL with O_NOFOLLOW: the temp file is a new file of ours, whatever was planted.
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeFileSync(fd, value);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(temp);
      throw err;
    }
    closeSync(fd);
    try {
      // rename replaces a link at `file` itself, never what it points to.
      renameSync(temp, file);
    } catch (err) {
      unlinkSync(temp);
      if (errorCode(err) === "EISDIR") throw refused(file, "is a folder", "remove it");
      throw err;
    }
    this.syncFolder();
  }

  /** Removes a secret; false when the store has none by that name. */
  remove(name: string): boolean {
    const file = this.fileOf(name);
    if (!this.checkFolder()) return false;
    try {
      // unlink removes a planted link itself, never its target.
      unlinkSync(file);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return false;
      if (errorCode(err) === "EISDIR" || errorCode(err) === "EPERM") throw refused(file, "is a folder", "remove it yourself");
      throw err;
    }
    this.syncFolder();
    return true;
  }

  /** The names the store holds, sorted (temp files and anything not named like a variable are left out). */
  names(): string[] {
    if (!this.checkFolder()) return [];
    return readdirSync(this.dir)
      .filter((entry) => SecretName.safeParse(entry).success)
      .sort();
  }

  /** Whether the folder exists; refuses it unless it is a real folder of the current user's, closed to everyone else. */
  private checkFolder(): boolean {
    let stats: Stats;
    try {
      stats = lstatSync(this.dir);
    } catch (err) {
      if (errorCode(err) === "ENOENT") return false;
      throw err;
    }
    if (stats.isSymbolicLink()) throw refused(this.dir, "is a symbolic link", "the secret store must be a folder of its own");
    if (!stats.isDirectory()) throw refused(this.dir, "is not a folder", "move it away");
    checkOwnerAndMode(this.dir, stats, "700");
    return true;
  }

  private ensureFolder(): void {
    mkdirSync(path.dirname(this.dir), { recursive: true });
    try {
      mkdirSync(this.dir, { mode: 0o700 });
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
    }
    // Also when it was just made: someone may have made it first.
    this.checkFolder();
  }

  /** Makes a rename or unlink durable: it lives in the folder's own entry list. */
  private syncFolder(): void {
    const fd = openSync(this.dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function refused(file: string, problem: string, fix: string): UserError {
  return new UserError(`${file} ${problem}: bot-bottle refuses to use it (${fix})`);
}

/** Refuses what another user owns, or what grants group or others any access. */
function checkOwnerAndMode(file: string, stats: Stats, wanted: "600" | "700"): void {
  const uid = process.getuid?.();
  if (stats.uid !== uid) {
    throw refused(file, `belongs to uid ${stats.uid}, not to you (uid ${uid ?? "unknown"})`, "remove it; only your own secrets are used");
  }
  const mode = stats.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw refused(file, `is open to other users (mode ${mode.toString(8).padStart(4, "0")})`, `\`chmod ${wanted} ${file}\` if nobody else could have read or changed it, else replace the secret`);
  }
}

function readBounded(fd: number, file: string): string {
  const buffer = Buffer.alloc(MAX_SECRET_BYTES + 1);
  let length = 0;
  for (;;) {
    const read = readSync(fd, buffer, length, buffer.length - length, null);
    if (read === 0) break;
    length += read;
    if (length > MAX_SECRET_BYTES) throw refused(file, `is larger than ${MAX_SECRET_BYTES} bytes`, "no token is that long");
  }
  return buffer.toString("utf8", 0, length);
}
