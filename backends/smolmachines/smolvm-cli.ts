import { execa, type Options } from "execa";
import { z } from "zod";
import { UserError } from "../../src/user-error.js";
import { smolvmCommand } from "./readiness.js";

// Every call to smolvm goes through here: its CLI is the contract (see
// ../shared/facts.md), and only its JSON output is parsed, never its prose.

export class SmolvmError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(`smolvm ${args.slice(0, 2).join(" ")} failed (exit ${exitCode ?? "?"}): ${stderr.trim() || "no output"}`);
    this.name = "SmolvmError";
  }
}

export const smolvmBinary = () => smolvmCommand(process.env);

/** Runs `smolvm ARGS` and returns stdout; a non-zero exit throws SmolvmError with its stderr. */
export async function smolvm(args: string[], options: Options = {}): Promise<string> {
  try {
    const result = await execa(smolvmBinary(), args, { stdin: "ignore", ...options, reject: false, stripFinalNewline: true });
    if (result.exitCode !== 0) throw new SmolvmError(args, result.exitCode, String(result.stderr ?? ""));
    return String(result.stdout ?? "");
  } catch (error) {
    if (error instanceof SmolvmError) throw error;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new UserError(`smolvm was not found (${smolvmBinary()}): install it and put it on PATH, or set BOT_BOTTLE_SMOLVM`);
    }
    throw error;
  }
}

/** One machine as `machine ls --json` / `machine status --json` describe it (snake_case; more fields are ignored). */
export const MachineInfo = z.object({
  name: z.string(),
  state: z.enum(["created", "running", "stopped", "failed", "unreachable", "frozen"]),
  pid: z.number().int().nullable().optional(),
  image: z.string().nullable().optional(),
  labels: z.record(z.string(), z.string()).nullable().optional(),
});
export type MachineInfo = z.infer<typeof MachineInfo>;

export async function listMachines(): Promise<MachineInfo[]> {
  const stdout = await smolvm(["machine", "ls", "--json"]);
  const parsed = z.array(MachineInfo).safeParse(JSON.parse(stdout || "[]"));
  if (!parsed.success) throw new Error(`smolvm machine ls --json answered something unexpected: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** The machine's status, or null when smolvm knows no machine of that name. */
export async function machineStatus(name: string): Promise<MachineInfo | null> {
  return (await listMachines()).find((machine) => machine.name === name) ?? null;
}

/**
 * Lifecycle calls on one machine run one at a time: smolvm does not expect a
 * stop to overtake a create of the same machine, and a re-created machine
 * must not start while the old one's process is still there.
 */
export class MachineLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.#tails.set(name, tail);
    void tail.then(() => {
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    });
    return next;
  }
}
