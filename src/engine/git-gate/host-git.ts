import { execa } from "execa";

// git as the engine runs it on the host, for the bottle's origin: never
// inside the gate's mirror (a folder the bundle can write, so its config and
// hooks are not to be trusted), only in the user's repository or against the
// mirror as a remote, where git runs upload-pack, which git documents as safe
// against an untrusted repository.

/** Variables that would point git somewhere other than the folder it is given. */
const STEERING = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE"];

function environment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_NO_LAZY_FETCH: "1" };
  for (const name of STEERING) delete env[name];
  return env;
}

export interface HostGitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs git in `cwd`; a failure is returned, not thrown. */
export async function hostGit(cwd: string, args: string[]): Promise<HostGitResult> {
  const result = await execa("git", args, { cwd, env: environment(), extendEnv: false, reject: false, stripFinalNewline: false, stdin: "ignore" });
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Runs git in `cwd` and returns its output; a failure throws an Error saying what was being done and git's last words. */
export async function hostGitOk(cwd: string, args: string[], doing: string): Promise<string> {
  const result = await hostGit(cwd, args);
  if (result.exitCode !== 0) {
    const said = result.stderr.trim().split("\n").slice(-3).join("; ") || `exit code ${result.exitCode}`;
    throw new Error(`${doing}: git ${args[0]} failed: ${said}`);
  }
  return result.stdout;
}
