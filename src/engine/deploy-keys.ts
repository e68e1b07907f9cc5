import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import sshpk from "sshpk";
import { z } from "zod";
import type { HostSecrets } from "../secrets/host-secrets.js";
import { UserError } from "../user-error.js";
import type { BottlePlan, GateRepoPlan } from "./plan-schema.js";

// The private keys the git gate pushes upstream with. A `static` key is a
// file on the host, read at launch. A `gitea` key is made fresh for each
// bottle: an ed25519 pair generated here, its public half registered as a
// deploy key with write access through the forge's API, and deleted again at
// stop (or by gc after a crash). The forge token is read from the host
// (environment, then secret store) each time it is needed and sent in one
// request header: never written anywhere, never handed to the bottle.
//
// Crash safety: before asking the forge for a key, the engine records the
// key's title and fingerprint (without an id) in the bottle's state; once the
// forge answers, the id. A start killed in between leaves a record without an
// id, and deletion finds the key by its fingerprint, which only this key has.

/** How long one forge request may take before the start (or stop) gives up on it. */
const FORGE_TIMEOUT_MS = 30_000;
/** How much of a forge's error body an error message quotes. */
const FORGE_ERROR_CHARS = 300;

/** A deploy key the engine asked a forge for, as recorded in `state/<id>/deploy-keys.json`. */
export const RecordedKey = z.object({
  /** The git-gate repository (the manifest's name for it). */
  repo: z.string(),
  provider: z.literal("gitea"),
  /** The forge's API root, e.g. https://git.example.com/api/v1. */
  apiUrl: z.string(),
  owner: z.string(),
  forgeRepo: z.string(),
  /** Name of the host secret holding the forge token (never its value). */
  tokenSecret: z.string(),
  title: z.string(),
  /** SHA256:... of the public key: finds the key when its id was never seen. */
  fingerprint: z.string(),
  /** The forge's id of the key; null while the forge's answer has not been seen. */
  id: z.number().int().nullable(),
});
export type RecordedKey = z.infer<typeof RecordedKey>;
export const RecordedKeys = z.array(RecordedKey);

/** The bundle secret that carries repository n's private key (n: its index in the plan's sorted repo list). */
export const gateKeySecretName = (index: number) => `GIT_GATE_KEY_${index}`;

/**
 * The owner and repository a forge knows a clone URL's repository by: the
 * last two segments of its path, without `.git`. Accepts
 * ssh://[user@]host[:port]/owner/repo.git, scp-like [user@]host:owner/repo.git
 * and http(s)://host[:port][/prefix]/owner/repo(.git).
 */
export function forgeRepoOf(url: string, repoName: string): { owner: string; repo: string } {
  let pathPart: string | undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      pathPart = decodeURIComponent(new URL(url).pathname);
    } catch {
      pathPart = undefined;
    }
  } else {
    pathPart = /^(?:[^@/:]+@)?[^/:]+:(.+)$/.exec(url)?.[1];
  }
  const segments = (pathPart ?? "").split("/").filter((s) => s !== "");
  const owner = segments.at(-2);
  const repo = segments.at(-1)?.replace(/\.git$/, "");
  if (!owner || !repo) {
    throw new UserError(
      `git-gate repository ${repoName}: cannot tell the forge's owner and repository from url "${url}" ` +
        `(expected ssh://git@host[:port]/OWNER/REPO.git, git@host:OWNER/REPO.git or https://host/OWNER/REPO.git)`,
    );
  }
  return { owner, repo };
}

/** The deploy key's title on the forge: says who made it and for which bottle, so a person can tell where it came from. */
export const deployKeyTitle = (bottleId: string, repoName: string) => `bot-bottle ${bottleId} ${repoName}`;

export interface GeneratedKey {
  /** OpenSSH private key file content (`-----BEGIN OPENSSH PRIVATE KEY-----`), as `ssh -i` reads it. */
  privateKey: string;
  /** One authorized_keys line: `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
  /** SHA256:..., as `ssh-keygen -l` and Gitea show it. */
  fingerprint: string;
}

const withNewline = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);

/** A fresh ed25519 key pair: Node's generator (the OS's CSPRNG), written in OpenSSH's formats by sshpk. */
export function generateDeployKey(comment: string): GeneratedKey {
  const { privateKey } = generateKeyPairSync("ed25519");
  const key = sshpk.parsePrivateKey(privateKey.export({ type: "pkcs8", format: "pem" }), "pkcs8");
  key.comment = comment;
  return {
    privateKey: withNewline(key.toString("openssh")),
    publicKey: key.toPublic().toString("ssh"),
    fingerprint: key.fingerprint("sha256").toString(),
  };
}

/**
 * A static key's private key, in OpenSSH format, or an error naming the file
 * and what is wrong with it: missing, unreadable, a public key, protected by
 * a passphrase (the gate cannot type one), or not a key at all.
 */
export function readStaticKey(file: string, repoName: string): string {
  const what = `git-gate repository ${repoName}: key file ${file}`;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`${what} does not exist`);
    throw new UserError(`${what} cannot be read (${code ?? (error as Error).message})`);
  }
  try {
    return withNewline(sshpk.parsePrivateKey(text, "auto", { filename: file }).toString("openssh"));
  } catch (error) {
    if ((error as Error).name === "KeyEncryptedError") {
      throw new UserError(`${what} is protected by a passphrase, which the gate cannot type: give it a key without one (a deploy key for this repository only)`);
    }
    if (isPublicKey(text)) throw new UserError(`${what} holds a public key: key.path must name the private key (the file without .pub)`);
    throw new UserError(`${what} is not an SSH private key (${(error as Error).message})`);
  }
}

function isPublicKey(text: string): boolean {
  try {
    sshpk.parseKey(text, "auto");
    return true;
  } catch {
    return false;
  }
}

/** The forge answered, and said no: nothing was created. */
class ForgeRefused extends UserError {}

/** A forge's answer to one request: status and parsed body (JSON when it is JSON, else text). */
interface ForgeAnswer {
  status: number;
  body: unknown;
}

/** The message of a Gitea error body (`{"message": ..., "url": ...}`), or the start of whatever it sent. */
function forgeMessage(body: unknown): string {
  const message = typeof body === "object" && body !== null && "message" in body ? String((body as { message: unknown }).message) : JSON.stringify(body);
  return message.length > FORGE_ERROR_CHARS ? `${message.slice(0, FORGE_ERROR_CHARS)}...` : message;
}

/** Gitea's deploy-key API for one repository, authenticated with a token sent in the Authorization header only. */
class GiteaDeployKeys {
  constructor(
    private readonly key: Pick<RecordedKey, "repo" | "apiUrl" | "owner" | "forgeRepo" | "tokenSecret">,
    private readonly token: string,
    private readonly signal?: AbortSignal,
  ) {}

  private get where(): string {
    return `${this.key.owner}/${this.key.forgeRepo} at ${this.key.apiUrl}`;
  }

  private async request(method: string, suffix: string, body?: unknown): Promise<ForgeAnswer> {
    const url = `${this.key.apiUrl.replace(/\/+$/, "")}/repos/${encodeURIComponent(this.key.owner)}/${encodeURIComponent(this.key.forgeRepo)}/keys${suffix}`;
    const signals = [AbortSignal.timeout(FORGE_TIMEOUT_MS), ...(this.signal ? [this.signal] : [])];
    let status: number;
    let text: string;
    try {
      const response = await fetch(url, {
        method,
        headers: { Authorization: `token ${this.token}`, Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
        // A redirected POST would come back as a GET that creates nothing: a moved API is an error to fix in api_url.
        redirect: "error",
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      this.signal?.throwIfAborted();
      const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new UserError(`git-gate repository ${this.key.repo}: cannot reach the forge for ${this.where} (${method} ${url}: ${cause})`);
    }
    let parsed: unknown = text;
    try {
      parsed = text === "" ? "" : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): quoted as text.
    }
    return { status, body: parsed };
  }

  /** The error for an answer no caller expected, saying what the status means for this token and repository. */
  private refused(action: string, answer: ForgeAnswer): ForgeRefused {
    const detail = `HTTP ${answer.status}: ${forgeMessage(answer.body)}`;
    const hint =
      answer.status === 401 || answer.status === 403
        ? `: check that the token in ${this.key.tokenSecret} is valid and may manage the deploy keys of ${this.key.owner}/${this.key.forgeRepo}`
        : answer.status === 404
          ? `: the repository does not exist there, or the token in ${this.key.tokenSecret} cannot see it`
          : "";
    return new ForgeRefused(`git-gate repository ${this.key.repo}: the forge refused to ${action} for ${this.where} (${detail})${hint}`);
  }

  async create(title: string, publicKey: string): Promise<number> {
    const answer = await this.request("POST", "", { title, key: publicKey, read_only: false });
    if (answer.status === 422) {
      throw new ForgeRefused(
        `git-gate repository ${this.key.repo}: the forge already has a deploy key titled "${title}" or with this public key on ${this.where} ` +
          `(HTTP 422: ${forgeMessage(answer.body)}); the bottle did not start. Remove that key on the forge if nothing uses it, then start again`,
      );
    }
    if (answer.status !== 201) throw this.refused(`create deploy key "${title}"`, answer);
    const id = (answer.body as { id?: unknown }).id;
    if (typeof id !== "number" || !Number.isInteger(id)) {
      throw new UserError(`git-gate repository ${this.key.repo}: the forge answered 201 for deploy key "${title}" on ${this.where} without a numeric id: ${forgeMessage(answer.body)}`);
    }
    return id;
  }

  /** Deletes one key; a key already gone counts as deleted (Gitea answers 404, or 204 for an id it does not have). */
  async delete(id: number): Promise<void> {
    const answer = await this.request("DELETE", `/${id}`);
    if (answer.status !== 204 && answer.status !== 404) throw this.refused(`delete deploy key ${id}`, answer);
  }

  /** Ids of this repository's deploy keys with this fingerprint and title. */
  async find(fingerprint: string, title: string): Promise<number[]> {
    const answer = await this.request("GET", `?fingerprint=${encodeURIComponent(fingerprint)}`);
    if (answer.status !== 200 || !Array.isArray(answer.body)) throw this.refused(`list the deploy keys with fingerprint ${fingerprint}`, answer);
    return (answer.body as { id?: unknown; fingerprint?: unknown; title?: unknown }[])
      .filter((key) => key.fingerprint === fingerprint && key.title === title && typeof key.id === "number")
      .map((key) => key.id as number);
  }
}

function forgeToken(hostSecrets: HostSecrets, tokenSecret: string, purpose: string): string {
  const found = hostSecrets.find(tokenSecret);
  if (!found) throw hostSecrets.missing(tokenSecret, purpose);
  return found.value;
}

export interface PrepareGateKeysOptions {
  /** Called with every recorded key each time the record changes; must write it durably before returning. */
  record: (keys: RecordedKey[]) => void;
  report?: (message: string) => void;
  signal?: AbortSignal;
}

export interface GateKeys {
  /** Repository name -> its private key in OpenSSH format. */
  keys: Record<string, string>;
  /** The deploy keys created on forges (also recorded through `record`). */
  created: RecordedKey[];
}

/**
 * The private key of every repository the plan's git gate declares: static
 * keys read from their files, gitea keys created on the forge. On an error it
 * throws with what it created so far still recorded (the caller deletes those
 * with deleteGateKeys). A forge that refused a key created nothing, so that
 * key is not left in the record.
 */
export async function prepareGateKeys(plan: BottlePlan, hostSecrets: HostSecrets, options: PrepareGateKeysOptions): Promise<GateKeys> {
  const keys: Record<string, string> = {};
  const recorded: RecordedKey[] = [];
  for (const repo of plan.gitGate.repos) {
    options.signal?.throwIfAborted();
    if (repo.key.provider === "static") {
      keys[repo.name] = readStaticKey(repo.key.path, repo.name);
      continue;
    }
    const title = deployKeyTitle(plan.id, repo.name);
    const generated = generateDeployKey(title);
    const entry: RecordedKey = {
      repo: repo.name,
      provider: "gitea",
      apiUrl: repo.key.apiUrl,
      owner: repo.key.owner,
      forgeRepo: repo.key.repo,
      tokenSecret: repo.key.tokenSecret,
      title,
      fingerprint: generated.fingerprint,
      id: null,
    };
    const token = forgeToken(hostSecrets, entry.tokenSecret, `git-gate repository ${repo.name} creates its deploy key on ${entry.apiUrl}`);
    options.report?.(`creating deploy key "${title}" for ${entry.owner}/${entry.forgeRepo} at ${entry.apiUrl}`);
    options.record([...recorded, entry]);
    let id: number;
    try {
      id = await new GiteaDeployKeys(entry, token, options.signal).create(title, generated.publicKey);
    } catch (error) {
      // A refusal created nothing. No answer (unreachable, timed out, cancelled) or an odd one may have
      // created the key: it stays recorded without an id, for deletion to find by its fingerprint.
      if (error instanceof ForgeRefused) options.record([...recorded]);
      throw error;
    }
    recorded.push({ ...entry, id });
    options.record([...recorded]);
    keys[repo.name] = generated.privateKey;
  }
  return { keys, created: recorded };
}

/** The bundle secrets carrying the keys: GIT_GATE_KEY_<n> for the repository at index n of the plan's sorted repo list. */
export function gateKeySecrets(repos: GateRepoPlan[], keys: Record<string, string>): Record<string, string> {
  return Object.fromEntries(repos.map((repo, index) => [gateKeySecretName(index), keys[repo.name]!]));
}

export interface DeletedKeys {
  /** What was deleted (or found already gone), one line per key. */
  deleted: string[];
  /** The keys that could not be deleted, with why; they stay recorded. */
  failed: { key: RecordedKey; error: string }[];
}

export const describeKey = (key: RecordedKey) =>
  `deploy key ${key.id ?? `"${key.title}"`} of ${key.owner}/${key.forgeRepo} at ${key.apiUrl} (git-gate repository ${key.repo})`;

/**
 * Deletes recorded deploy keys; a key the forge no longer has counts as
 * deleted. A key recorded without an id (a start killed while the forge
 * answered) is looked up by its fingerprint and title. Every key is tried,
 * whatever happens to the others.
 */
export async function deleteGateKeys(recorded: RecordedKey[], hostSecrets: HostSecrets, signal?: AbortSignal): Promise<DeletedKeys> {
  const result: DeletedKeys = { deleted: [], failed: [] };
  for (const key of recorded) {
    try {
      const token = forgeToken(hostSecrets, key.tokenSecret, `deleting ${describeKey(key)} needs the forge token`);
      const forge = new GiteaDeployKeys(key, token, signal);
      const ids = key.id === null ? await forge.find(key.fingerprint, key.title) : [key.id];
      for (const id of ids) await forge.delete(id);
      result.deleted.push(describeKey(key));
    } catch (error) {
      result.failed.push({ key, error: (error as Error).message });
    }
  }
  return result;
}
