import path from "node:path";
import { execa } from "execa";
import { ensureImage } from "../../backends/docker/images.js";
import { waitUntil } from "../../src/wait-until.js";
import { repoRoot } from "./cli.js";
import { baseImage } from "./docker.js";

// A real git upstream reached over SSH: Debian's OpenSSH server and git in a
// container on a test network (ssh-upstream/Dockerfile), the way a forge's
// SSH side looks to the git gate. It has its own ed25519 host key (to pin), a
// `git` user whose authorized keys the test sets, and bare repositories under
// /srv/git whose default branch is `trunk` (not master, so nothing may assume
// a branch name). sshd logs every connection with the client's address.

const IMAGE_DIR = path.join(repoRoot, "test", "support", "ssh-upstream");
const READY_TIMEOUT_MS = 30_000;
/** The names git and the gate accept for a repository (no path separators, no leading dot or dash). */
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface SshUpstreamOptions {
  /** The container's name. */
  name: string;
  /** The network it joins (created by the test). */
  network: string;
  /** Its name on that network, e.g. git.upstream.test. */
  alias: string;
  /** Bare repositories to create, each with one commit on `trunk`. */
  repos: string[];
  /** The port sshd listens on (default 22). */
  port?: number;
}

export interface SshUpstream {
  name: string;
  alias: string;
  port: number;
  /**
   * The known_hosts line that pins this server's host key: `ALIAS ssh-ed25519 AAAA...`
   * on port 22, `[ALIAS]:PORT ssh-ed25519 AAAA...` on any other (what ssh looks up).
   */
  hostKeyLine: string;
  /** ssh://git@ALIAS[:PORT]/srv/git/REPO.git */
  url(repo: string): string;
  /** Adds one authorized_keys line for the git user. */
  authorize(publicKeyLine: string): Promise<void>;
  /** The repository's refs: ref name -> object id. */
  refs(repo: string): Promise<Record<string, string>>;
  /** sshd's log lines so far. */
  log(): Promise<string[]>;
  /** The client address of every connection sshd logged, in order. */
  connections(): Promise<string[]>;
  stop(): Promise<void>;
}

/** The upstream's image (built once, then reused while its files and the base image are unchanged); it also serves as a git + ssh client. */
export function sshUpstreamImage(): Promise<string> {
  return ensureImage(
    "test-ssh-upstream",
    {
      dockerfile: path.join(IMAGE_DIR, "Dockerfile"),
      files: [path.join(IMAGE_DIR, "sshd_config"), path.join(IMAGE_DIR, "entrypoint.sh")],
      dockerfileOrigin: "provider",
      baseImage: baseImage(),
      buildArgs: {},
      buildCa: null,
    },
    () => undefined,
  );
}

/** `HOST` on port 22, `[HOST]:PORT` on others: the form ssh writes and looks up in known_hosts. */
export const knownHostsName = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`);

export async function startSshUpstream(options: SshUpstreamOptions): Promise<SshUpstream> {
  for (const repo of options.repos) {
    if (!REPO_NAME.test(repo)) throw new Error(`not a repository name: ${JSON.stringify(repo)}`);
  }
  const port = options.port ?? 22;
  const image = await sshUpstreamImage();
  await execa("docker", ["run", "-d", "--name", options.name, "--network", options.network, "--network-alias", options.alias, "-e", `SSH_PORT=${port}`, image]);
  const exec = (args: string[], extra: { user?: string; input?: string } = {}) =>
    execa("docker", ["exec", ...(extra.input === undefined ? [] : ["-i"]), ...(extra.user ? ["--user", extra.user] : []), options.name, ...args], {
      input: extra.input,
    });
  const log = async () => {
    const result = await execa("docker", ["logs", options.name], { all: true, reject: false });
    return String(result.all ?? "").split("\n").filter((line) => line !== "");
  };
  try {
    await waitUntil(`sshd in ${options.name} to listen on port ${port}`, async () => ((await log()).some((l) => l.includes(`Server listening on 0.0.0.0 port ${port}`)) ? true : undefined), {
      timeoutMs: READY_TIMEOUT_MS,
    });
    for (const repo of options.repos) {
      // As the git user, so the repositories are its own (git refuses repositories another user owns).
      const script = [
        "set -eu",
        'bare="/srv/git/$1.git"',
        'git init -q --bare -b trunk "$bare"',
        "work=$(mktemp -d)",
        'git -C "$work" init -q -b trunk',
        'printf "# %s\\n" "$1" > "$work/README.md"',
        'git -C "$work" add README.md',
        'git -C "$work" -c user.name=Upstream -c user.email=upstream@example.test commit -q -m "initial commit"',
        'git -C "$work" push -q "$bare" trunk',
        'rm -rf "$work"',
      ].join("\n");
      await exec(["sh", "-c", script, "sh", repo], { user: "git" });
    }
  } catch (error) {
    await execa("docker", ["rm", "-f", options.name], { reject: false });
    throw new Error(`the ssh upstream ${options.name} did not start: ${(error as Error).message}\n${(await log()).join("\n")}`);
  }
  const hostKey = (await exec(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])).stdout.trim().split(/\s+/).slice(0, 2).join(" ");

  return {
    name: options.name,
    alias: options.alias,
    port,
    hostKeyLine: `${knownHostsName(options.alias, port)} ${hostKey}`,
    url: (repo) => `ssh://git@${port === 22 ? options.alias : `${options.alias}:${port}`}/srv/git/${repo}.git`,
    async authorize(publicKeyLine) {
      if (publicKeyLine.includes("\n")) throw new Error("one authorized_keys line at a time");
      await exec(["sh", "-c", "cat >> /etc/ssh/authorized_keys/git"], { input: `${publicKeyLine}\n` });
    },
    async refs(repo) {
      const { stdout } = await exec(["git", "--git-dir", `/srv/git/${repo}.git`, "for-each-ref", "--format=%(objectname) %(refname)"], { user: "git" });
      return Object.fromEntries(
        stdout
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => {
            const [objectId, ref] = line.split(" ");
            return [ref!, objectId!];
          }),
      );
    },
    log,
    async connections() {
      return (await log()).flatMap((line) => /Connection from (\S+) port \d+ on /.exec(line)?.[1] ?? []);
    },
    async stop() {
      await execa("docker", ["rm", "-f", options.name], { reject: false });
    },
  };
}
