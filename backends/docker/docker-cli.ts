import { execa, type Options } from "execa";
import { UserError } from "../../src/user-error.js";

// Every engine call goes through the `docker` CLI, so Docker Desktop, colima
// and Podman's docker shim work alike.

export class DockerError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(`docker ${args.slice(0, 2).join(" ")} failed (exit ${exitCode ?? "?"}): ${stderr.trim() || "no output"}`);
    this.name = "DockerError";
  }
}

/** How to get an engine, for every message that finds none. */
export const START_AN_ENGINE = "Start one (Docker Desktop, colima, or `sudo dockerd`; on Debian: bash scripts/docker-engine.sh)";

export const dockerBinary = () => process.env.BOT_BOTTLE_DOCKER ?? "docker";

/** Runs `docker ARGS` and returns stdout; a non-zero exit throws DockerError with its stderr. */
export async function docker(args: string[], options: Options = {}): Promise<string> {
  try {
    const result = await execa(dockerBinary(), args, { ...options, reject: false, stripFinalNewline: true });
    if (result.exitCode !== 0) {
      throw new DockerError(args, result.exitCode, String(result.stderr ?? ""));
    }
    return String(result.stdout ?? "");
  } catch (err) {
    if (err instanceof DockerError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new UserError(`the docker CLI was not found (${dockerBinary()}): install Docker (or set BOT_BOTTLE_DOCKER)`);
    }
    throw err;
  }
}

/** Like docker() but answers false instead of throwing (for existence checks). */
export async function dockerSucceeds(args: string[]): Promise<boolean> {
  const result = await execa(dockerBinary(), args, { reject: false });
  return result.exitCode === 0;
}

/** Parses `--format '{{json .}}'` output: one JSON object per line. */
export function parseJsonLines<T>(stdout: string): T[] {
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}
