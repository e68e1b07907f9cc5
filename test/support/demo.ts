import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import { homeLabel } from "../../src/engine/prepare.js";

// What `bot-bottle demo` prints and leaves, for the tests that run it: the
// built CLI (test/integration/demo) and a copy installed the README's way
// (test/e2e/fresh-install).

/** The demo's home for a given XDG_CACHE_HOME (src/demo/home.ts). */
export const demoHomeIn = (cacheHome: string) => path.join(cacheHome, "bot-bottle", "demo");

/** The lines of step `n` of the demo's output, its `[n/6]` header first. */
export function demoStep(stdout: string, n: number): string[] {
  const lines = stdout.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`[${n}/6] `));
  if (start < 0) return [];
  const end = lines.findIndex((line, i) => i > start && !line.startsWith("      "));
  return lines.slice(start, end < 0 ? undefined : end);
}

/**
 * Checks a whole demo run step by step; returns the bottle's id. `home` is
 * the demo's home, where the supervise request must have waited.
 */
export function expectEveryDemoStep(stdout: string, home: string): string {
  expect(stdout.split("\n").filter((line) => /^\[\d\/6\] /.test(line)).map((line) => line.slice(0, 5))).toEqual(["[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]"]);
  expect(stdout).toContain(`Its home is ${home}; your own bot-bottle home is not used.`);

  const started = demoStep(stdout, 1).join("\n");
  const id = /bottle (demo-[0-9a-f]{8}) is running: the agent in bot-bottle-demo-[0-9a-f]{8}-agent/.exec(started)?.[1];
  expect(id, started).toBeDefined();

  // The command ran as the agent user, whose only network interface is loopback.
  expect(demoStep(stdout, 2)).toEqual([
    "[2/6] A command runs as the agent user: id && ls /sys/class/net",
    "      uid=1000(node) gid=1000(node) groups=1000(node)",
    "      lo",
    "      (loopback is its only network interface: whatever it sends out goes through egress)",
  ]);
  expect(demoStep(stdout, 3)).toEqual([
    "[3/6] Egress refuses a host the bottle does not declare: curl https://example.org",
    "      egress refused it (HTTP 403): host example.org is not declared",
  ]);
  // Tests run the demo with --no-internet: they reach nothing but loopback and their own containers.
  expect(demoStep(stdout, 4)).toEqual([
    "[4/6] Egress lets the host the bottle declares through: curl https://example.com",
    "      skipped (--no-internet): nothing leaves this machine, not even a DNS lookup",
  ]);

  const supervise = demoStep(stdout, 5);
  expect(supervise[0]).toBe("[5/6] The agent asks for approval through supervise (request-approval at http://127.0.0.1:9100/mcp, inside the bottle); the demo answers");
  const request = new RegExp(`^ {6}request ([0-9a-f]{32}) is waiting in ${path.join(home, "queue", id!)}: request-approval, "tidy up the workspace"$`);
  const requestId = supervise.map((line) => request.exec(line)?.[1]).find(Boolean);
  expect(requestId, supervise.join("\n")).toBeDefined();
  expect(supervise.slice(1)).toEqual([
    "      [agent] connecting to the supervise server at http://127.0.0.1:9100/mcp",
    "      [agent] asking for approval (request-approval): tidy up the workspace",
    expect.stringMatching(request),
    `      the demo approves it (as \`bot-bottle approve ${requestId}\` or the MCP tool supervise_approve would)`,
    "      [agent] the answer: approved",
    "      the agent got the answer: Approved by bot-bottle demo. Notes: go ahead",
  ]);

  const name = `bot-bottle-${id}`;
  expect(demoStep(stdout, 6)).toEqual([
    "[6/6] Removing the bottle and everything it made",
    `      removed container ${name}-agent, container ${name}-bundle, network ${name}, volume ${name}-sockets, state ${id}, supervise queue ${id}, audit log ${id}`,
  ]);
  expect(stdout.trimEnd().split("\n").pop()).toBe("Done: nothing of the bottle is left. Next, let your own agent start bottles: bot-bottle mcp install claude (or codex).");
  return id!;
}

/** Nothing of the demo's bottles is left: no container, network or volume of its home, no state, queue or audit file. */
export async function expectNothingLeft(home: string): Promise<void> {
  const filter = ["--filter", `label=bot-bottle.home=${homeLabel(home)}`];
  for (const list of [["ps", "-a", "-q"], ["network", "ls", "-q"], ["volume", "ls", "-q"]]) {
    const found = await execa("docker", [...list, ...filter]);
    expect(found.stdout.trim(), `docker ${list.join(" ")}`).toBe("");
  }
  for (const folder of ["state", "queue", "audit"]) {
    const dir = path.join(home, folder);
    expect(existsSync(dir) ? readdirSync(dir) : [], dir).toEqual([]);
  }
}
