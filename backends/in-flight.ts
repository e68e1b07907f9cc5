import { execa } from "execa";
import { LABELS } from "./labels.js";

// A process killed in the middle of a start (a crash, kill -9) leaves the
// backend commands it had started running: `docker run`, `docker network
// create`, `smolvm machine create`. They finish on their own and create what
// they were asked to, after the process is gone. A gc that looked before they
// finished would miss what they make, which then runs for ever. Every command
// that creates a bottle's part carries the bottle's labels in its argv, so gc
// can find them in the process table and wait for them first.

/** A command still running that creates a part of a bottle of the home. */
export interface InFlightCommand {
  pid: number;
  bottleId: string;
  command: string;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One `ps` line (`PID ARGS`) as a creating command of the home, or null. */
export function inFlightCommand(line: string, homeLabel: string): InFlightCommand | null {
  const match = /^\s*(\d+)\s+(.*)$/.exec(line);
  if (!match) return null;
  const [, pid, command] = match as unknown as [string, string, string];
  // `--label K=V` as labelArgs writes it: a creation, not a `--filter label=K=V` query.
  const label = (key: string) => new RegExp(`(?:^|\\s)--label\\s+${escape(key)}=(\\S+)`).exec(command)?.[1];
  const id = label(LABELS.id);
  return id && label(LABELS.home) === homeLabel ? { pid: Number(pid), bottleId: id, command } : null;
}

/**
 * The commands running on this machine that create parts of the home's
 * bottles. Null when the process table cannot be read (no `ps`): then
 * nobody can tell, and the caller goes on as before.
 */
export async function inFlightCommands(homeLabel: string): Promise<InFlightCommand[] | null> {
  // -A and -o work alike in procps (Linux) and BSD ps (macOS); -ww keeps long argvs whole.
  const listed = await execa("ps", ["-ww", "-A", "-o", "pid=,args="], { reject: false });
  if (listed.exitCode !== 0) return null;
  return String(listed.stdout)
    .split("\n")
    .flatMap((line) => inFlightCommand(line, homeLabel) ?? [])
    .filter((command) => command.pid !== process.pid);
}
