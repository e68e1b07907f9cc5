import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { constants } from "node:os";
import { execa } from "execa";
import type { ExecResult } from "../../src/engine/records.js";
import type { Bottle, ExecOptions } from "../backend.js";
import { CappedOutput } from "../capped-output.js";
import { docker, dockerBinary } from "./docker-cli.js";

/** Grace between killing the process inside and giving up on the `docker exec` client. */
const CLIENT_EXIT_GRACE_MS = 5_000;

interface DockerBottleTarget {
  id: string;
  container: string;
  defaultUser: string;
  homes: Record<string, string>;
  workspace: string;
  /** Removes the bottle's containers, network and volume. */
  remove: () => Promise<string[]>;
}

export class DockerBottle implements Bottle {
  readonly id: string;
  constructor(private readonly target: DockerBottleTarget) {
    this.id = target.id;
  }

  async exec(command: string | string[], options: ExecOptions = {}): Promise<ExecResult> {
    const user = options.user ?? this.target.defaultUser;
    const argv = typeof command === "string" ? ["/bin/sh", "-c", command] : command;
    // Every process the command starts inherits this marker, so a timeout or a
    // cancel can find and kill them inside the bottle: killing the local
    // `docker exec` client alone leaves them running.
    const marker = randomBytes(12).toString("hex");
    const args = ["exec", ...(options.stdin !== undefined ? ["-i"] : []), "-u", user, "-e", `BOT_BOTTLE_EXEC=${marker}`];
    const home = this.target.homes[user];
    if (home) args.push("-e", `HOME=${home}`, "-e", `USER=${user}`);
    for (const [key, value] of Object.entries(options.env ?? {})) args.push("-e", `${key}=${value}`);
    args.push("-w", options.cwd ?? (user === this.target.defaultUser ? this.target.workspace : "/"));
    args.push(this.target.container, ...argv);

    const started = performance.now();
    const cap = options.maxOutputBytes ?? Number.MAX_SAFE_INTEGER;
    const stdout = new CappedOutput(cap);
    const stderr = new CappedOutput(cap);
    const child = execa(dockerBinary(), args, {
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
    const killInside = () => {
      killing ??= this.killMarked(marker, user).finally(() => {
        setTimeout(() => child.kill("SIGKILL"), CLIENT_EXIT_GRACE_MS).unref();
      });
    };
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            killInside();
          }, options.timeoutMs)
        : undefined;
    const onAbort = () => killInside();
    if (options.signal?.aborted) killInside();
    options.signal?.addEventListener("abort", onAbort, { once: true });

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
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Kills every process inside the container carrying the exec marker. It runs
   * as the command's own user: reading another user's /proc/PID/environ needs
   * CAP_SYS_PTRACE, which containers lack, and no-new-privileges keeps every
   * descendant on that user.
   */
  private async killMarked(marker: string, user: string): Promise<void> {
    const script =
      'for p in /proc/[0-9]*; do if grep -qzx "BOT_BOTTLE_EXEC=$1" "$p/environ" 2>/dev/null; then kill -KILL "${p#/proc/}" 2>/dev/null; fi; done; exit 0';
    await docker(["exec", "-u", user, this.target.container, "/bin/sh", "-c", script, "sh", marker]).catch(() => undefined);
  }

  async cpIn(hostPath: string, guestPath: string): Promise<void> {
    if (statSync(hostPath).isDirectory()) {
      await docker(["exec", "-u", "root", this.target.container, "mkdir", "-p", guestPath]);
      await docker(["cp", `${hostPath}/.`, `${this.target.container}:${guestPath}`]);
    } else {
      await docker(["cp", hostPath, `${this.target.container}:${guestPath}`]);
    }
  }

  async cpOut(guestPath: string, hostPath: string): Promise<void> {
    await docker(["cp", `${this.target.container}:${guestPath}`, hostPath]);
  }

  stop(): Promise<string[]> {
    return this.target.remove();
  }
}
