import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type { Readable } from "node:stream";

// Running git for the push scanner: plumbing commands whose output is read as
// it arrives (a push can be large), and one long-lived `git cat-file --batch`
// for object contents. Every child gets the caller's environment unchanged:
// in a pre-receive hook that environment is what lets git see the pushed
// objects, still in quarantine.

export interface GitContext {
  /** The repository (for a bare repository, its folder). */
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Something that counts bytes and throws once they exceed what it allows. */
export interface ByteMeter {
  spend(bytes: number): void;
}

/** The all-zero id a ref update has on the side where the ref does not exist. */
export const isNullId = (oid: string) => /^0+$/.test(oid);

/** Only the end of git's stderr is kept: enough for its error message. */
const STDERR_TAIL = 4096;

function startGit(git: GitContext, args: string[]): { child: ChildProcessWithoutNullStreams; stderr: () => string } {
  const child = spawn("git", args, { cwd: git.cwd, env: git.env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
  });
  // A child that exits before reading all its input must not crash us with EPIPE.
  child.stdin.on("error", () => {});
  return { child, stderr: () => stderr.trim() };
}

/** Names the subcommand (past any leading `-c name=value`). */
const failure = (args: string[], code: number | null, stderr: string) =>
  new Error(`git ${args[args[0] === "-c" ? 2 : 0] ?? ""} failed (${code === null ? "killed" : `exit ${code}`})${stderr ? `: ${stderr}` : ""}`);

/**
 * Runs git and hands each line of its stdout (without the newline, as bytes:
 * file content can be any bytes) to `onLine`. Output beyond what `meter`
 * allows stops git and rejects with the meter's error.
 */
export function gitLines(
  git: GitContext,
  args: string[],
  options: { input?: string; meter?: ByteMeter; onLine: (line: Buffer) => void },
): Promise<void> {
  const { child, stderr } = startGit(git, args);
  return new Promise((resolve, reject) => {
    let pending: Buffer[] = [];
    let stopped: unknown = null;
    const stop = (error: unknown) => {
      if (stopped) return;
      stopped = error;
      child.kill("SIGKILL");
    };
    child.stdout.on("data", (chunk: Buffer) => {
      if (stopped) return;
      try {
        options.meter?.spend(chunk.length);
        let start = 0;
        for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, start)) {
          const piece = chunk.subarray(start, end);
          options.onLine(pending.length ? Buffer.concat([...pending, piece]) : piece);
          pending = [];
          start = end + 1;
        }
        if (start < chunk.length) pending.push(chunk.subarray(start));
      } catch (error) {
        stop(error);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (stopped) return reject(stopped);
      if (code !== 0) return reject(failure(args, code, stderr()));
      try {
        if (pending.length) options.onLine(Buffer.concat(pending));
        resolve();
      } catch (error) {
        reject(error);
      }
    });
    child.stdin.end(options.input ?? "");
  });
}

/** All of a (small) command's stdout, as text. */
export async function gitText(git: GitContext, args: string[], input?: string): Promise<string> {
  const lines: string[] = [];
  await gitLines(git, args, { input, onLine: (line) => lines.push(line.toString("utf8")) });
  return lines.join("\n");
}

/** Buffers a stream and hands out whole lines and exact byte counts, in order. */
class StreamReader {
  #chunks: Buffer[] = [];
  #length = 0;
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(stream: Readable) {
    stream.on("data", (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#notify();
    });
    stream.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #more(what: string): Promise<void> {
    if (this.#ended) throw new Error(`git cat-file ended before sending ${what}`);
    await new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** Everything buffered, as one buffer (joined once, when asked for, not per chunk). */
  #merged(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  #take(n: number): Buffer {
    const all = this.#merged();
    const rest = all.subarray(n);
    this.#chunks = rest.length ? [rest] : [];
    this.#length = rest.length;
    return all.subarray(0, n);
  }

  async line(): Promise<string> {
    for (let searched = 0; ; ) {
      const all = this.#merged();
      const at = all.indexOf(10, searched);
      if (at >= 0) return this.#take(at + 1).toString("utf8", 0, at);
      searched = all.length;
      await this.#more("a header");
    }
  }

  async bytes(n: number): Promise<Buffer> {
    while (this.#length < n) await this.#more(`${n} bytes`);
    return this.#take(n);
  }
}

export interface GitObject {
  type: "blob" | "tree" | "commit" | "tag";
  content: Buffer;
}

/**
 * One `git cat-file --batch` for the whole scan: objects are read one at a
 * time, and an object's size is checked against the meter before its content
 * is read, so a huge blob is refused without being held in memory.
 */
export class CatFile {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #reader: StreamReader;
  readonly #stderr: () => string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(git: GitContext) {
    const started = startGit(git, ["cat-file", "--batch"]);
    this.#child = started.child;
    this.#stderr = started.stderr;
    this.#reader = new StreamReader(this.#child.stdout);
    // Failures show up as a read that cannot complete; this only keeps a spawn error from being thrown unhandled.
    this.#child.on("error", () => {});
  }

  /** One read at a time, in call order; after a failed read (an object too large, git gone) every read fails. */
  read(oid: string, meter: ByteMeter): Promise<GitObject> {
    const next = this.#queue.then(() => this.#read(oid, meter));
    this.#queue = next;
    return next;
  }

  async #read(oid: string, meter: ByteMeter): Promise<GitObject> {
    this.#child.stdin.write(`${oid}\n`);
    let header: string;
    try {
      header = await this.#reader.line();
    } catch (error) {
      throw new Error(`${(error as Error).message}${this.#stderr() ? `: ${this.#stderr()}` : ""}`);
    }
    const match = /^[0-9a-f]+ (blob|tree|commit|tag) (\d+)$/.exec(header);
    if (!match) throw new Error(`git cat-file cannot read ${oid}: ${header}`);
    const size = Number(match[2]);
    meter.spend(size);
    const content = await this.#reader.bytes(size + 1);
    return { type: match[1] as GitObject["type"], content: content.subarray(0, size) };
  }

  close(): void {
    this.#child.stdin.end();
    this.#child.kill("SIGKILL");
  }
}
