import { mkdirSync, statSync } from "node:fs";
import { execa } from "execa";
import type { ExecResult } from "../../src/engine/records.js";
import type { Bottle, ExecOptions } from "../backend.js";
import { EXEC_MARKER_VAR, killMarkedArgv, newExecMarker, runGuestCommand } from "../guest-exec.js";
import { smolvm, smolvmBinary } from "./smolvm-cli.js";

/** libkrun's exec channel can SIGKILL the first execs after `machine start`; one retry within this window. */
export const WARM_UP_MS = 15_000;
const EXIT_KILLED = 137;

interface SmolmachinesTarget {
  id: string;
  machine: string;
  defaultUser: string;
  homes: Record<string, string>;
  workspace: string;
  /** Until when an exit 137 with no output is the exec channel warming up, not the command (0: never). */
  warmUntil: number;
  remove: () => Promise<string[]>;
}

interface Invocation {
  user: string;
  env: Record<string, string>;
  cwd: string;
  input?: string | Buffer;
}

/**
 * A bottle in a smolvm microVM. smolvm's exec runs as root and has no
 * `--user`: commands for another user go through `runuser -u USER --` with
 * HOME and USER set, since runuser keeps root's otherwise.
 */
export class SmolmachinesBottle implements Bottle {
  readonly id: string;
  constructor(private readonly target: SmolmachinesTarget) {
    this.id = target.id;
  }

  #args(argv: string[], invocation: Invocation): string[] {
    const args = ["machine", "exec", "--name", this.target.machine];
    if (invocation.input !== undefined) args.push("-i");
    const home = this.target.homes[invocation.user];
    const env = { ...(home ? { HOME: home, USER: invocation.user } : {}), ...invocation.env };
    for (const [key, value] of Object.entries(env)) args.push("-e", `${key}=${value}`);
    args.push("-w", invocation.cwd, "--");
    return invocation.user === "root" ? [...args, ...argv] : [...args, "runuser", "-u", invocation.user, "--", ...argv];
  }

  async exec(command: string | string[], options: ExecOptions = {}): Promise<ExecResult> {
    const first = await this.#execOnce(command, options);
    // Output does not tell the two apart (the killed child may have printed a line, smolvm may say why), the moment does.
    const warmingUp = first.exit_code === EXIT_KILLED && !first.timed_out && !options.signal?.aborted;
    if (!warmingUp || Date.now() > this.target.warmUntil) return first;
    return this.#execOnce(command, options);
  }

  async #execOnce(command: string | string[], options: ExecOptions): Promise<ExecResult> {
    const user = options.user ?? this.target.defaultUser;
    const argv = typeof command === "string" ? ["/bin/sh", "-c", command] : command;
    // Every process the command starts inherits this marker, so a timeout or a
    // cancel can find and kill them inside the VM, not just the local client.
    const marker = newExecMarker();
    const args = this.#args(argv, {
      user,
      env: { [EXEC_MARKER_VAR]: marker, ...options.env },
      cwd: options.cwd ?? (user === this.target.defaultUser ? this.target.workspace : "/"),
      input: options.stdin,
    });
    return runGuestCommand(smolvmBinary(), args, options, () => this.#killMarked(marker, user));
  }

  /**
   * Kills every process in the VM carrying the exec marker. It runs as the
   * command's own user, as on Docker: root may read another user's
   * /proc/PID/environ only with CAP_SYS_PTRACE, which a guest's root need not
   * hold (the stand-in's containers do not), while a user always reads its own.
   */
  async #killMarked(marker: string, user: string): Promise<void> {
    await smolvm(this.#args(killMarkedArgv(marker), { user, env: {}, cwd: "/" })).catch(() => undefined);
  }

  /** A root command with binary input and output (tar streams). */
  async #rootPipe(argv: string[], input?: Buffer): Promise<Buffer> {
    const result = await execa(smolvmBinary(), this.#args(argv, { user: "root", env: {}, cwd: "/", input }), {
      reject: false,
      input,
      stdin: input === undefined ? "ignore" : undefined,
      encoding: "buffer",
    });
    if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} in bottle ${this.id} failed (exit ${result.exitCode}): ${Buffer.from(result.stderr).toString("utf8").trim()}`);
    return Buffer.from(result.stdout);
  }

  // `machine cp` copies single files; folders travel as tar through exec.
  async cpIn(hostPath: string, guestPath: string): Promise<void> {
    if (statSync(hostPath).isDirectory()) {
      const archive = await execa("tar", ["-C", hostPath, "-cf", "-", "."], { encoding: "buffer" });
      // --no-same-owner: extracted as root, owned by root, as the interface promises.
      await this.#rootPipe(["/bin/sh", "-c", 'mkdir -p "$1" && tar --no-same-owner -C "$1" -xf -', "sh", guestPath], Buffer.from(archive.stdout));
    } else {
      await smolvm(["machine", "cp", hostPath, `${this.target.machine}:${guestPath}`]);
    }
  }

  async cpOut(guestPath: string, hostPath: string): Promise<void> {
    const isFolder = (await this.exec(["test", "-d", guestPath], { user: "root", cwd: "/" })).exit_code === 0;
    if (!isFolder) {
      await smolvm(["machine", "cp", `${this.target.machine}:${guestPath}`, hostPath]);
      return;
    }
    const archive = await this.#rootPipe(["tar", "-C", guestPath, "-cf", "-", "."]);
    mkdirSync(hostPath, { recursive: true });
    await execa("tar", ["-C", hostPath, "-xf", "-"], { input: archive });
  }

  stop(): Promise<string[]> {
    return this.target.remove();
  }
}


