import { randomBytes } from "node:crypto";
import { constants } from "node:os";
import { execa } from "execa";
import type { ExecResult } from "../src/engine/records.js";
import type { ExecOptions } from "./backend.js";

// Running one command in a guest through its engine's CLI (`docker exec`,
// `smolvm machine exec`): output capped and streamed as it comes, and a
// timeout or a cancel that kills the command inside the guest, since killing
// the local client alone leaves it running there.

/** Grace between killing the process inside and giving up on the local client. */
const CLIENT_EXIT_GRACE_MS = 5_000;

/** Every process of one exec inherits this variable, with a fresh value, so a timeout or a cancel can find them. */
export const EXEC_MARKER_VAR = "BOT_BOTTLE_EXEC";
export const newExecMarker = () => randomBytes(12).toString("hex");

/** argv of a shell, run inside the guest, that kills every process carrying the marker. */
export const killMarkedArgv = (marker: string) => [
  "/bin/sh",
  "-c",
  `for p in /proc/[0-9]*; do if grep -qzx "${EXEC_MARKER_VAR}=$1" "$p/environ" 2>/dev/null; then kill -KILL "\${p#/proc/}" 2>/dev/null; fi; done; exit 0`,
  "sh",
  marker,
];

/** Collects one output stream up to a byte cap, remembering whether anything was dropped. */
class CappedOutput {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}
  push(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/**
 * Runs `binary args` (a guest engine's exec client) as one bottle command.
 * `killInside` kills the command's processes in the guest; it runs on a
 * timeout or an abort, and the client is killed a grace period later.
 */
export async function runGuestCommand(binary: string, args: string[], options: ExecOptions, killInside: () => Promise<void>): Promise<ExecResult> {
  const started = performance.now();
  const cap = options.maxOutputBytes ?? Number.MAX_SAFE_INTEGER;
  const stdout = new CappedOutput(cap);
  const stderr = new CappedOutput(cap);
  const child = execa(binary, args, {
    reject: false,
    buffer: false,
    input: options.stdin,
    stdin: options.stdin === undefined ? "ignore" : undefined,
    stripFinalNewline: false,
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout.push(chunk);
    options.onOutput?.("stdout", chunk.toString("utf8"));
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr.push(chunk);
    options.onOutput?.("stderr", chunk.toString("utf8"));
  });

  let timedOut = false;
  let killing: Promise<void> | undefined;
  const kill = () => {
    killing ??= killInside()
      .catch(() => undefined)
      .finally(() => {
        setTimeout(() => child.kill("SIGKILL"), CLIENT_EXIT_GRACE_MS).unref();
      });
  };
  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs)
      : undefined;
  if (options.signal?.aborted) kill();
  options.signal?.addEventListener("abort", kill, { once: true });

  try {
    const result = await child;
    await killing;
    return {
      exit_code: result.exitCode ?? (result.signal ? 128 + (constants.signals[result.signal] ?? 0) : -1),
      stdout: stdout.text(),
      stderr: stderr.text(),
      truncated: stdout.truncated || stderr.truncated,
      duration_ms: Math.round(performance.now() - started),
      timed_out: timedOut,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", kill);
  }
}
