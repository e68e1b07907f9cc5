import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateDeployKey } from "../../../src/engine/deploy-keys.js";
import { describeWithDocker } from "../../support/docker.js";
import { createTestInternet, type TestInternet } from "../../support/fake-model-container.js";
import { knownHostsName, type SshUpstream, sshUpstreamImage, startSshUpstream } from "../../support/ssh-upstream.js";

// The test upstream is a real sshd with real git: a real git client in
// another container clones and pushes over SSH with the host key pinned, the
// way the git gate will, and is refused with any other host key or an
// unauthorized key. The client's key is one the engine generates for deploy
// keys, so this also shows those keys work with OpenSSH.

/** ssh as the gate runs it: this key only, this host key only, never a prompt. */
const SSH_COMMAND = [
  "ssh -F /dev/null -i /root/.ssh/id -o IdentitiesOnly=yes -o IdentityAgent=none",
  "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/root/.ssh/known_hosts -o GlobalKnownHostsFile=/dev/null",
  "-o BatchMode=yes -o ConnectTimeout=15",
].join(" ");

describeWithDocker("the ssh upstream for tests (real sshd and git)", () => {
  const tag = `${process.pid}`;
  const client = `bb-test-ssh-client-${tag}`;
  let internet: TestInternet;
  let upstream: SshUpstream;
  let clientAddress = "";
  const key = generateDeployKey("test client");

  const inClient = (script: string, input?: string) =>
    execa("docker", ["exec", ...(input === undefined ? [] : ["-i"]), "-e", `GIT_SSH_COMMAND=${SSH_COMMAND}`, client, "sh", "-c", script], { input, reject: false });
  const useIdentity = (privateKey: string) => inClient("umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/id", privateKey);
  const pin = (knownHostsLine: string) => inClient("umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/known_hosts", `${knownHostsLine}\n`);

  beforeAll(async () => {
    internet = await createTestInternet(`bb-test-ssh-net-${tag}`);
    upstream = await startSshUpstream({ name: `bb-test-ssh-upstream-${tag}`, network: internet.name, alias: "git.upstream.test", repos: ["widgets"] });
    await upstream.authorize(key.publicKey);
    await execa("docker", ["run", "-d", "--name", client, "--network", internet.name, "--entrypoint", "sleep", await sshUpstreamImage(), "infinity"]);
    clientAddress = (await execa("docker", ["inspect", "--format", `{{(index .NetworkSettings.Networks "${internet.name}").IPAddress}}`, client])).stdout.trim();
    expect((await useIdentity(key.privateKey)).exitCode).toBe(0);
  });

  afterAll(async () => {
    await execa("docker", ["rm", "-f", client], { reject: false });
    await upstream?.stop();
    await internet?.remove();
  });

  it("pins its host key in known_hosts form, without a port on 22 (a [host]:22 line never matches)", async () => {
    expect(upstream.hostKeyLine).toMatch(/^git\.upstream\.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+$/);
    expect(upstream.url("widgets")).toBe("ssh://git@git.upstream.test/srv/git/widgets.git");
    expect((await pin(upstream.hostKeyLine.replace("git.upstream.test", "[git.upstream.test]:22"))).exitCode).toBe(0);
    const listing = await inClient(`git ls-remote ${upstream.url("widgets")}`);
    expect(listing.exitCode).not.toBe(0);
    expect(listing.stderr).toMatch(/Host key verification failed/);
  });

  it("serves a clone of trunk and takes a push, over ssh with the pinned host key", async () => {
    expect((await pin(upstream.hostKeyLine)).exitCode).toBe(0);
    const before = await upstream.refs("widgets");
    expect(Object.keys(before)).toEqual(["refs/heads/trunk"]);

    const clone = await inClient(`git clone -q ${upstream.url("widgets")} /work && git -C /work rev-parse --abbrev-ref HEAD && cat /work/README.md`);
    expect(clone.exitCode, clone.stderr).toBe(0);
    expect(clone.stdout).toBe("trunk\n# widgets");

    const push = await inClient(
      [
        "set -e",
        "cd /work",
        "echo change >> README.md",
        "git -c user.name=Client -c user.email=client@example.test commit -q -am 'a change'",
        "git push -q origin trunk HEAD:refs/heads/feature",
        "git rev-parse HEAD",
      ].join("\n"),
    );
    expect(push.exitCode, push.stderr).toBe(0);
    const head = push.stdout.trim();
    expect(await upstream.refs("widgets")).toEqual({ "refs/heads/feature": head, "refs/heads/trunk": head });

    expect(await upstream.connections()).toContain(clientAddress);
    expect((await upstream.log()).some((line) => line.includes(`Accepted publickey for git from ${clientAddress}`) && line.includes(key.fingerprint))).toBe(true);
  });

  it("is refused by a client that pinned another host key, which sends nothing", async () => {
    const impostor = generateDeployKey("not the upstream's key").publicKey.split(" ").slice(0, 2).join(" ");
    expect((await pin(`git.upstream.test ${impostor}`)).exitCode).toBe(0);
    const accepted = async () => (await upstream.log()).filter((line) => line.includes(`Accepted publickey for git from ${clientAddress}`)).length;
    const before = { refs: await upstream.refs("widgets"), accepted: await accepted() };
    const push = await inClient(`cd /work && git push ${upstream.url("widgets")} HEAD:refs/heads/refused`);
    expect(push.exitCode).not.toBe(0);
    expect(push.stderr).toMatch(/Host key verification failed/);
    // The client stopped before authenticating: no new login, no new ref.
    expect({ refs: await upstream.refs("widgets"), accepted: await accepted() }).toEqual(before);
  });

  it("refuses a key it was not told to authorize", async () => {
    expect((await pin(upstream.hostKeyLine)).exitCode).toBe(0);
    expect((await useIdentity(generateDeployKey("unauthorized").privateKey)).exitCode).toBe(0);
    try {
      const listing = await inClient(`git ls-remote ${upstream.url("widgets")}`);
      expect(listing.exitCode).not.toBe(0);
      expect(listing.stderr).toMatch(/Permission denied \(publickey\)/);
    } finally {
      expect((await useIdentity(key.privateKey)).exitCode).toBe(0);
    }
  });

  it("on another port, is pinned as [alias]:port; ssh also takes a port-less line there, never one for another port", async () => {
    const other = await startSshUpstream({ name: `bb-test-ssh-upstream-2222-${tag}`, network: internet.name, alias: "git2.upstream.test", repos: ["gadgets"], port: 2222 });
    try {
      await other.authorize(key.publicKey);
      expect(other.hostKeyLine.startsWith(`${knownHostsName("git2.upstream.test", 2222)} ssh-ed25519 `)).toBe(true);
      expect(other.hostKeyLine.startsWith("[git2.upstream.test]:2222 ")).toBe(true);
      expect(other.url("gadgets")).toBe("ssh://git@git2.upstream.test:2222/srv/git/gadgets.git");

      expect((await pin(other.hostKeyLine)).exitCode).toBe(0);
      const listing = await inClient(`git ls-remote ${other.url("gadgets")}`);
      expect(listing.exitCode, listing.stderr).toBe(0);
      expect(listing.stdout).toMatch(/^[0-9a-f]{40}\tHEAD\n[0-9a-f]{40}\trefs\/heads\/trunk$/);

      // OpenSSH falls back to the host's port-less line when no [host]:port line names the key ("found matching key w/out port").
      expect((await pin(other.hostKeyLine.replace("[git2.upstream.test]:2222", "git2.upstream.test"))).exitCode).toBe(0);
      const portless = await inClient(`git ls-remote ${other.url("gadgets")}`);
      expect(portless.exitCode, portless.stderr).toBe(0);

      expect((await pin(other.hostKeyLine.replace("[git2.upstream.test]:2222", "[git2.upstream.test]:2223"))).exitCode).toBe(0);
      const otherPort = await inClient(`git ls-remote ${other.url("gadgets")}`);
      expect(otherPort.exitCode).not.toBe(0);
      expect(otherPort.stderr).toMatch(/Host key verification failed/);
    } finally {
      await other.stop();
    }
  });
});
