import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { deployKeyTitle, forgeRepoOf, gateKeySecrets, generateDeployKey, readStaticKey } from "../../../src/engine/deploy-keys.js";
import { newIdSuffix, planSummary, prepare } from "../../../src/engine/prepare.js";
import { HostSecrets } from "../../../src/secrets/host-secrets.js";
import { SecretStore } from "../../../src/secrets/store.js";
import { fixtureDir, manifest } from "../manifest/fixture-home.js";

// The pure parts of the git gate's keys: which forge repository a URL names,
// the deploy key's title, keys OpenSSH itself accepts (checked with the real
// ssh-keygen), static key files and their errors, and the plan's repo list.

/** What the real ssh-keygen derives from a private key file: its public key (without comment) and fingerprint. */
function sshKeygen(dir: string, privateKey: string): { publicKey: string; fingerprint: string } {
  const file = path.join(dir, `key-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, privateKey, { mode: 0o600 });
  const publicKey = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" ");
  const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", file], { encoding: "utf8" }).split(" ")[1]!;
  return { publicKey, fingerprint };
}

const withoutComment = (publicKey: string) => publicKey.split(" ").slice(0, 2).join(" ");

describe("forgeRepoOf", () => {
  it.each([
    ["ssh://git@git.example.com:2222/acme/widgets.git", "acme", "widgets"],
    ["ssh://git@git.example.com/acme/widgets", "acme", "widgets"],
    ["ssh://git@[2001:db8::1]:2222/acme/widgets.git", "acme", "widgets"],
    ["git@git.example.com:acme/widgets.git", "acme", "widgets"],
    ["git.example.com:acme/widgets.git", "acme", "widgets"],
    ["https://git.example.com:3000/acme/widgets.git", "acme", "widgets"],
    ["https://example.com/gitea/acme/widgets.git/", "acme", "widgets"],
    ["http://git.example.com/acme/my%20repo", "acme", "my repo"],
  ])("reads %s as %s/%s", (url, owner, repo) => {
    expect(forgeRepoOf(url, "widgets")).toEqual({ owner, repo });
  });

  it.each(["https://git.example.com/widgets.git", "git@git.example.com:widgets.git", "ssh://git@git.example.com/", "widgets"])(
    "refuses %s, naming the repository and the url",
    (url) => {
      expect(() => forgeRepoOf(url, "widgets")).toThrow(`git-gate repository widgets: cannot tell the forge's owner and repository from url "${url}"`);
    },
  );
});

describe("deploy keys", () => {
  it("are titled with bot-bottle, the bottle id and the repository", () => {
    expect(deployKeyTitle("probe-1a2b3c4d", "widgets")).toBe("bot-bottle probe-1a2b3c4d widgets");
  });

  it("are fresh ed25519 keys in OpenSSH's private key format, which the real ssh-keygen reads", async () => {
    const dir = await fixtureDir();
    const key = generateDeployKey("bot-bottle probe-1a2b3c4d widgets");
    expect(key.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+\n-----END OPENSSH PRIVATE KEY-----\n$/);
    expect(key.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ bot-bottle probe-1a2b3c4d widgets$/);
    expect(sshKeygen(dir, key.privateKey)).toEqual({ publicKey: withoutComment(key.publicKey), fingerprint: key.fingerprint });
    expect(generateDeployKey("another").fingerprint).not.toBe(key.fingerprint);
  });

  it("reach the bundle as GIT_GATE_KEY_<n>, n the repository's index in the plan's sorted list", () => {
    const repos = ["alpha", "beta"].map((name) => ({ name, url: "", hostKey: "", key: { provider: "static" as const, path: "/k" } }));
    expect(gateKeySecrets(repos, { beta: "key of beta", alpha: "key of alpha" })).toEqual({ GIT_GATE_KEY_0: "key of alpha", GIT_GATE_KEY_1: "key of beta" });
  });
});

describe("static key files", () => {
  const makeKey = (dir: string, name: string, ...args: string[]) => {
    const file = path.join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-N", "", "-C", "", "-f", file, ...args]);
    return file;
  };

  it.each([
    ["an OpenSSH ed25519 key", ["-t", "ed25519"]],
    ["a PEM RSA key", ["-t", "rsa", "-b", "2048", "-m", "PEM"]],
  ])("%s is handed on in OpenSSH format, the same key", async (_what, args) => {
    const dir = await fixtureDir();
    const file = makeKey(dir, "deploy", ...args);
    const key = readStaticKey(file, "widgets");
    expect(key).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+-----END OPENSSH PRIVATE KEY-----\n$/);
    expect(sshKeygen(dir, key).publicKey).toBe(withoutComment(readFileSync(`${file}.pub`, "utf8").trim()));
  });

  it("a missing, unreadable, public, passphrase-protected or foreign file is an error naming the repository and the file", async () => {
    const dir = await fixtureDir({ "notes.txt": "just some text\n" });
    const missing = path.join(dir, "missing");
    expect(() => readStaticKey(missing, "widgets")).toThrow(`git-gate repository widgets: key file ${missing} does not exist`);
    const folder = path.join(dir, "a-folder");
    mkdirSync(folder);
    expect(() => readStaticKey(folder, "widgets")).toThrow(`git-gate repository widgets: key file ${folder} cannot be read (EISDIR)`);
    const deploy = makeKey(dir, "deploy", "-t", "ed25519");
    expect(() => readStaticKey(`${deploy}.pub`, "widgets")).toThrow(`key file ${deploy}.pub holds a public key: key.path must name the private key`);
    const locked = path.join(dir, "locked");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", locked]);
    expect(() => readStaticKey(locked, "widgets")).toThrow(`key file ${locked} is protected by a passphrase`);
    const notes = path.join(dir, "notes.txt");
    expect(() => readStaticKey(notes, "widgets")).toThrow(`key file ${notes} is not an SSH private key`);
  });
});

describe("the plan's git-gate repositories", () => {
  const gitea = (name: string, tokenEnv = "GITEA_TOKEN", apiUrl = "https://git.example.com/api/v1") =>
    [
      `    ${name}:`,
      `      url: ssh://git@git.example.com:2222/acme/${name}.git`,
      `      host_key: "[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"`,
      `      key: {provider: gitea, forge_token_env: ${tokenEnv}, api_url: "${apiUrl}"}`,
    ].join("\n");
  const staticKey = (name: string, file: string) =>
    [`    ${name}:`, `      url: git@github.com:acme/${name}.git`, `      host_key: github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample`, `      key: {provider: static, path: "${file}"}`].join(
      "\n",
    );

  async function planFor(repos: string[], env: Record<string, string> = { GITEA_TOKEN: "a-token" }) {
    const home = await fixtureDir({
      "bottles/b.md": manifest("agent_provider: {template: claude}", "git-gate:", "  repos:", ...repos),
      "agents/hello.md": manifest("bottle: b"),
    });
    const fullEnv = { BOT_BOTTLE_BASE_IMAGE: "bot-bottle-test/no-such-base:1", ...env };
    const prepared = prepare({ agent: "hello" }, { home, cwd: home, env: fullEnv, secrets: new HostSecrets(fullEnv, new SecretStore(home)), defaultBackend: "docker", idSuffix: newIdSuffix() });
    return { home, prepared, plan: prepared.then(({ plan }) => plan) };
  }

  it("are sorted by name, with static paths resolved (~/ is the user's home, relative is the bottles folder) and the forge repository of gitea keys", async () => {
    const { home, plan, prepared } = await planFor([staticKey("zeta", "keys/zeta"), gitea("widgets"), staticKey("alpha", "~/.ssh/alpha")]);
    const resolved = await plan;
    expect(resolved.gitGate.repos.map((r) => [r.name, r.key])).toEqual([
      ["alpha", { provider: "static", path: path.join(os.homedir(), ".ssh", "alpha") }],
      ["widgets", { provider: "gitea", apiUrl: "https://git.example.com/api/v1", tokenSecret: "GITEA_TOKEN", owner: "acme", repo: "widgets" }],
      ["zeta", { provider: "static", path: path.join(home, "bottles", "keys", "zeta") }],
    ]);
    expect(resolved.gitGate.repos[1]).toMatchObject({ url: "ssh://git@git.example.com:2222/acme/widgets.git", hostKey: "[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" });
    expect(planSummary(await prepared)).toContain("fresh deploy key on acme/widgets through https://git.example.com/api/v1, token from GITEA_TOKEN");
    expect(JSON.stringify(resolved)).not.toContain("a-token");
  });

  it("need the forge token before anything starts, naming it and both ways to give it", async () => {
    const { plan } = await planFor([gitea("widgets", "FORGE_TOKEN")], {});
    await expect(plan).rejects.toThrow(
      /bottle b creates a deploy key for git-gate repository widgets through https:\/\/git\.example\.com\/api\/v1 from the secret FORGE_TOKEN, which is neither in bot-bottle's environment nor in its secret store/,
    );
  });

  it("refuse credentials in api_url: the token comes from forge_token_env", async () => {
    const { plan } = await planFor([gitea("widgets", "GITEA_TOKEN", "https://me:secret@git.example.com/api/v1")]);
    await expect(plan).rejects.toThrow("bottle b: git-gate repository widgets's key.api_url carries credentials; give the forge token through forge_token_env instead");
  });
});
