import { chmodSync, closeSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, type Stats, writeSync } from "node:fs";
import path from "node:path";

// Files inside the bottle, for the engine's read_file / write_file /
// list_files: bind-mounted at /opt/bot-bottle/files.js and run through
// `exec` as the agent user (or whoever the caller names), so a file is read
// or written with exactly that user's rights. One JSON answer on stdout;
// a failure is exit 3 with {"error": "..."} (the engine turns it into a
// message that names the path).
//
//   files.js read PATH OFFSET MAX       a part of a file: UTF-8 text when it is text, base64 otherwise
//   files.js write PATH OFFSET|- MODE|-  bytes (base64 on stdin) at OFFSET, or the whole file (-); MODE octal or -
//   files.js list PATH MAX              a folder's entries

function answer(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function refuse(message: string): never {
  answer({ error: message });
  process.exit(3);
}

const EXPLAINED: Record<string, (file: string) => string> = {
  ENOENT: (file) => `no such file or folder: ${file}`,
  EACCES: (file) => `permission denied: ${file}`,
  EPERM: (file) => `permission denied: ${file}`,
  EISDIR: (file) => `${file} is a folder (list_files lists it)`,
  ENOTDIR: (file) => `a part of ${file} is not a folder`,
};

function explain(error: NodeJS.ErrnoException, file: string): never {
  refuse(EXPLAINED[error.code ?? ""]?.(file) ?? `${file}: ${error.message}`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The bytes as text when they are UTF-8 (a character cut at the end is left for the next part), else null. */
function asText(bytes: Buffer): { text: string; used: number } | null {
  for (let cut = 0; cut <= Math.min(3, bytes.length); cut++) {
    try {
      const used = bytes.length - cut;
      return { text: utf8.decode(bytes.subarray(0, used)), used };
    } catch {
      // try without the last bytes: they may start a character the next part completes
    }
  }
  return null;
}

function read(file: string, offset: number, max: number): void {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    explain(error as NodeJS.ErrnoException, file);
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) refuse(`${file} is a folder (list_files lists it)`);
    const from = Math.min(offset, stats.size);
    const buffer = Buffer.alloc(Math.min(max, stats.size - from));
    const got = readSync(fd, buffer, 0, buffer.length, from);
    const bytes = buffer.subarray(0, got);
    const text = asText(bytes);
    // Text, when the bytes are UTF-8 but for a character cut at the end of a part that more of the file completes.
    const isText = text !== null && (text.used === got || (text.used > 0 && from + got < stats.size));
    const used = isText ? text.used : got;
    answer({
      path: file,
      size: stats.size,
      offset: from,
      next_offset: from + used,
      eof: from + used >= stats.size,
      encoding: isText ? "utf8" : "base64",
      content: isText ? text.text : bytes.toString("base64"),
    });
  } finally {
    closeSync(fd);
  }
}

function write(file: string, offsetText: string, modeText: string): void {
  const bytes = Buffer.from(readFileSync(0, "utf8").trim(), "base64");
  const whole = offsetText === "-";
  const offset = whole ? 0 : count(offsetText, "offset");
  if (modeText !== "-" && !/^[0-7]{3,4}$/.test(modeText)) refuse(`mode ${modeText} is not an octal file mode`);
  let fd: number;
  try {
    fd = openSync(file, whole ? "w" : "r+");
  } catch (error) {
    if (!whole && (error as NodeJS.ErrnoException).code === "ENOENT" && offset === 0) fd = openSync(file, "w");
    else explain(error as NodeJS.ErrnoException, file);
  }
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
    if (modeText !== "-") chmodSync(file, parseInt(modeText, 8));
    answer({ path: file, size: fstatSync(fd).size, written: bytes.length });
  } catch (error) {
    explain(error as NodeJS.ErrnoException, file);
  } finally {
    closeSync(fd);
  }
}

function kind(stats: Stats): string {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "folder";
  if (stats.isSymbolicLink()) return "symlink";
  return "other";
}

function list(folder: string, max: number): void {
  let names: string[];
  try {
    names = readdirSync(folder).sort();
  } catch (error) {
    explain(error as NodeJS.ErrnoException, folder);
  }
  const entries = names.slice(0, max).flatMap((name) => {
    try {
      const stats = lstatSync(path.join(folder, name));
      return [{ name, type: kind(stats), size: stats.size, mode: (stats.mode & 0o7777).toString(8).padStart(4, "0"), modified: stats.mtime.toISOString() }];
    } catch {
      return []; // gone since readdir
    }
  });
  answer({ path: folder, entries, truncated: names.length > max });
}

const count = (text: string | undefined, what: string): number => {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) refuse(`${what} must be a whole number`);
  return value;
};

const [command, file, ...args] = process.argv.slice(2);
if (!file) refuse("a path is needed");
switch (command) {
  case "read":
    read(file, count(args[0], "offset"), count(args[1], "max bytes"));
    break;
  case "write":
    write(file, args[0] ?? "-", args[1] ?? "-");
    break;
  case "list":
    list(file, count(args[0], "max entries"));
    break;
  default:
    refuse(`unknown command ${JSON.stringify(command)} (read, write, list)`);
}
