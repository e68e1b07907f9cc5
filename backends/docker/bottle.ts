import { statSync } from "node:fs";
import type { ExecResult } from "../../src/engine/records.js";
import type { Bottle, ExecOptions } from "../backend.js";
import { EXEC_MARKER_VAR, killMarkedArgv, newExecMarker, runGuestCommand } from "../guest-exec.js";
import { docker, dockerBinary } from "./docker-cli.js";

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
    const marker = newExecMarker();
    const args = ["exec", ...(options.stdin !== undefined ? ["-i"] : []), "-u", user, "-e", `${EXEC_MARKER_VAR}=${marker}`];
    const home = this.target.homes[user];
    if (home) args.push("-e", `HOME=${home}`, "-e", `USER=${user}`);
    for (const [key, value] of Object.entries(options.env ?? {})) args.push("-e", `${key}=${value}`);
    args.push("-w", options.cwd ?? (user === this.target.defaultUser ? this.target.workspace : "/"));
    args.push(this.target.container, ...argv);

    return runGuestCommand(dockerBinary(), args, options, () => this.killMarked(marker, user));
  }

  /**
   * Kills every process inside the container carrying the exec marker. It runs
   * as the command's own user: reading another user's /proc/PID/environ needs
   * CAP_SYS_PTRACE, which containers lack, and no-new-privileges keeps every
   * descendant on that user.
   */
  private async killMarked(marker: string, user: string): Promise<void> {
    await docker(["exec", "-u", user, this.target.container, ...killMarkedArgv(marker)]).catch(() => undefined);
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
