import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

// Runs a bundled sidecar (dist/sidecars-bundle/<name>.js, built by
// `npm run build`) as a child process and lets tests wait on what it prints.

const BUNDLE_DIR = resolve("dist/sidecars-bundle");
const WAIT_MS = 15_000;

export function bundledFile(name: string): string {
  const file = join(BUNDLE_DIR, `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  return file;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Stream = "stdout" | "stderr";

export class DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: Record<Stream, string[]> = { stdout: [], stderr: [] };
  readonly exited: Promise<ExitStatus>;
  #listeners = new Set<() => void>();

  constructor(name: string, options: { env?: Record<string, string>; args?: string[] } = {}) {
    this.child = spawn(process.execPath, [bundledFile(name), ...(options.args ?? [])], {
      env: { PATH: process.env.PATH ?? "", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of ["stdout", "stderr"] as const) {
      createInterface({ input: this.child[stream]! }).on("line", (line) => {
        this.lines[stream].push(line);
        for (const listener of this.#listeners) listener();
      });
    }
    this.exited = new Promise((done) => {
      this.child.on("close", (code, signal) => {
        done({ code, signal });
        for (const listener of this.#listeners) listener();
      });
    });
  }

  /** Resolves with the nth line (1-based) of `stream` matching `pattern`, past or future. */
  waitForLine(stream: Stream, pattern: RegExp, nth = 1): Promise<string> {
    return new Promise((resolvePromise, reject) => {
      const check = (): boolean => {
        const found = this.lines[stream].filter((line) => pattern.test(line));
        if (found.length < nth) return false;
        resolvePromise(found[nth - 1]!);
        return true;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(new Error(`no ${stream} line matching ${pattern} within ${WAIT_MS} ms; output:\n${this.output()}`));
      }, WAIT_MS);
      const listener = (): void => {
        if (check()) {
          clearTimeout(timer);
          this.#listeners.delete(listener);
        }
      };
      this.#listeners.add(listener);
    });
  }

  output(): string {
    return [...this.lines.stdout.map((l) => `out| ${l}`), ...this.lines.stderr.map((l) => `err| ${l}`)].join("\n");
  }

  async stop(): Promise<ExitStatus> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }
}
