import { rmSync } from "node:fs";
import { Engine } from "../engine/engine.js";
import { SUPERVISE_URL } from "../engine/provision/supervise.js";
import type { AgentRunResult } from "../engine/records.js";
import { homePaths } from "../home.js";
import { decide } from "../supervise/decide.js";
import { pendingOf } from "../supervise/pending.js";
import { UserError } from "../user-error.js";
import { waitUntil } from "../wait-until.js";
import { curlThroughEgress, type EgressOutcome, readEgressOutcome } from "./egress-probe.js";
import { claimDemoHome, writeDemoManifests } from "./home.js";

// `bot-bottle demo`: one bottle of the built-in demo agent, shown step by
// step holding what it should (a command as the agent user, an egress refusal
// and an allowed request, a supervise request answered), then removed with
// everything it made, also when a step fails or the user interrupts. Every
// step goes through the engine, as the CLI and the MCP tools do.

const AGENT = "demo";
/** Not declared by the demo bottle: egress refuses it. */
const REFUSED_URL = "https://example.org";
/** The one host the demo bottle declares (src/demo/home/bottles/demo.md). */
const ALLOWED_HOST = "example.com";
const TASK = "tidy up the workspace";
const DECIDED_BY = "bot-bottle demo";
const STEPS = 6;
const INDENT = "      ";
/** For one command in the bottle (curl gives up before: see egress-probe.ts). */
const EXEC_TIMEOUT_MS = 90_000;
/** For the agent's request to reach the queue: it asks as soon as it runs. */
const REQUEST_TIMEOUT_MS = 60_000;
/** For the agent's whole run, the answer included. */
const AGENT_TIMEOUT_MS = 120_000;

export interface DemoOptions {
  /** The demo's own home (see home.ts). */
  home: string;
  /** The environment the engine reads (base image, build CA, ...). */
  env: NodeJS.ProcessEnv;
  /** Prints one line of the walk-through. */
  say: (line: string) => void;
  /** Aborted on Ctrl-C: the current step stops and everything is removed. */
  signal: AbortSignal;
  /** Whether step 4 may reach out (a DNS lookup and a connection to the declared public host); false keeps every request on this machine. */
  internet: boolean;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const { home } = options;
  // The demo home itself as the cwd: no repository's agents take part.
  const engine = new Engine({ home, cwd: home, env: options.env });
  const availability = await engine.backend("docker").available();
  if (!availability.ok) throw new UserError(`the demo needs a Docker engine: ${availability.reason}`);

  const release = await claimDemoHome(home);
  try {
    await demoInOwnHome(engine, options);
  } finally {
    await release().catch(() => undefined);
  }
}

async function demoInOwnHome(engine: Engine, options: DemoOptions): Promise<void> {
  const { home, say, signal } = options;
  say("bot-bottle demo: a bottle of the built-in demo agent, step by step (no model, token or MCP client needed).");
  say(`Its home is ${home}; your own bot-bottle home is not used.`);
  await removeLeftovers(engine, say);
  writeDemoManifests(home);

  let id: string | null = null;
  let failure: { error: unknown } | null = null;
  try {
    id = await startBottle(engine, options);
    await walkThrough(engine, id, options);
  } catch (error) {
    failure = { error };
  }
  const removed = await removeEverything(engine, id, say);
  if (signal.aborted) throw new UserError(`interrupted${removed ? "; the bottle and everything it made are removed" : ""}`, 130);
  if (failure) throw failure.error;
  if (!removed) throw new UserError("the demo ran, but could not remove everything it made (see above)");
  say("Done: nothing of the bottle is left. Next, let your own agent start bottles: bot-bottle mcp install claude (or codex).");
}

/** This run holds the demo home: any bottle in it is one an earlier run, killed outright, could not remove. */
async function removeLeftovers(engine: Engine, say: DemoOptions["say"]): Promise<void> {
  const removed: string[] = [];
  for (const bottle of await engine.list()) {
    if (bottle.status === "running" || bottle.status === "starting") removed.push(...(await engine.stop(bottle.id)).removed);
  }
  removed.push(...(await engine.gc()).removed);
  // gc keeps the audit logs of what it removes; nothing in the demo home is worth keeping.
  rmSync(homePaths(engine.home).audit, { recursive: true, force: true });
  if (removed.length > 0) say(`Removed what an earlier, interrupted demo left: ${removed.join(", ")}`);
}

const step = (say: DemoOptions["say"], n: number, title: string) => say(`[${n}/${STEPS}] ${title}`);

async function startBottle(engine: Engine, { say, signal }: DemoOptions): Promise<string> {
  step(say, 1, "Starting a bottle of the demo agent (the first run builds its images, which can take a few minutes)");
  const record = await engine.start({ agent: AGENT, label: "demo" }, { signal, onProgress: (p) => say(`${INDENT}${p.phase}: ${p.message}`) });
  // A warning means a part of the demo would not work (e.g. no supervise registration): stop here, clearly.
  if (record.warnings.length > 0) throw new UserError(`the demo bottle started with warnings: ${record.warnings.join("; ")}`);
  say(`${INDENT}bottle ${record.id} is running: the agent in ${record.resources.agent}, its sidecars (egress, supervise) in ${record.resources.bundle}`);
  return record.id;
}

async function walkThrough(engine: Engine, id: string, options: DemoOptions): Promise<void> {
  const { say, signal } = options;
  const exec = (command: string[]) => engine.exec(id, command, { signal, timeoutMs: EXEC_TIMEOUT_MS });
  const show = (text: string) => text.trimEnd().split("\n").forEach((line) => say(`${INDENT}${line}`));

  step(say, 2, "A command runs as the agent user: id && ls /sys/class/net");
  const command = await exec(["sh", "-c", "id && ls /sys/class/net"]);
  if (command.exit_code !== 0) throw new UserError(`the command failed (exit ${command.exit_code}): ${command.stderr.trim()}`);
  show(command.stdout);
  say(`${INDENT}(loopback is its only network interface: whatever it sends out goes through egress)`);

  step(say, 3, `Egress refuses a host the bottle does not declare: curl ${REFUSED_URL}`);
  const refused = readEgressOutcome(await exec(curlThroughEgress(REFUSED_URL)));
  if (refused.kind !== "refused") throw new UserError(`egress should have refused ${REFUSED_URL}, but ${describe(refused, REFUSED_URL)}`);
  say(`${INDENT}${describe(refused, REFUSED_URL)}`);

  const allowedUrl = `https://${ALLOWED_HOST}`;
  if (!options.internet) {
    step(say, 4, `Egress lets the host the bottle declares through: curl ${allowedUrl}`);
    say(`${INDENT}skipped (--no-internet): nothing leaves this machine, not even a DNS lookup`);
  } else {
    await allowedRequest(exec, say, allowedUrl);
  }

  step(say, 5, `The agent asks for approval through supervise (request-approval at ${SUPERVISE_URL}, inside the bottle); the demo answers`);
  const answer = await approveAgentRequest(engine, id, options);
  say(`${INDENT}the agent got the answer: ${answer}`);
}

async function allowedRequest(exec: (command: string[]) => Promise<{ exit_code: number; stdout: string; stderr: string }>, say: DemoOptions["say"], allowedUrl: string): Promise<void> {
  step(say, 4, `Egress lets the host the bottle declares through: curl ${allowedUrl}`);
  const allowed = readEgressOutcome(await exec(curlThroughEgress(allowedUrl)));
  if (allowed.kind === "refused" || allowed.kind === "no-egress") throw new UserError(`egress should have let ${ALLOWED_HOST} through, but ${describe(allowed, ALLOWED_HOST)}`);
  say(`${INDENT}${describe(allowed, ALLOWED_HOST)}`);
}

/** What curl's request came to, in a sentence. */
function describe(outcome: EgressOutcome, target: string): string {
  switch (outcome.kind) {
    case "refused":
      return `egress refused it (HTTP ${outcome.status}): ${outcome.reason}`;
    case "unreachable":
      return `egress let it through, but ${target} cannot be reached from here: no internet here (${outcome.reason})`;
    case "answered":
      return `egress let it through, and ${target} answered HTTP ${outcome.httpStatus}`;
    case "tunnel-failed":
      return `egress let it through and connected, but the exchange with ${target} failed: ${outcome.error}`;
    case "no-egress":
      return `curl got no answer from egress: ${outcome.error}`;
  }
}

/**
 * Runs the agent with a task: it asks through supervise and waits. The
 * request shows up in the bottle's queue on the host, where the demo approves
 * it as `bot-bottle approve` would; returns what the agent was told.
 */
async function approveAgentRequest(engine: Engine, id: string, options: DemoOptions): Promise<string> {
  // Lines that arrive once this step is over (it failed or was interrupted) would land in the middle of the removal's.
  let listening = true;
  try {
    const say = (line: string) => {
      if (listening) options.say(line);
    };
    return await approveWhileListening(engine, id, { ...options, say });
  } finally {
    listening = false;
  }
}

async function approveWhileListening(engine: Engine, id: string, { home, say, signal }: DemoOptions): Promise<string> {
  let finished = false;
  const run = engine.runAgent(id, { prompt: TASK }, {
    signal,
    timeoutMs: AGENT_TIMEOUT_MS,
    onEvent: (line) => {
      // The agent's last line is its JSON result: shown below as the answer it got.
      if (!line.startsWith("{")) say(`${INDENT}[agent] ${line}`);
    },
  });
  // Settles either way, so a run that fails while the demo waits on the queue is not an unhandled rejection.
  void run.then(
    () => (finished = true),
    () => (finished = true),
  );
  const request = await waitUntil(
    "the demo agent's request to reach the supervise queue",
    async () => {
      const [pending] = pendingOf(home, id);
      if (pending) return pending;
      if (finished) throw new UserError(`the demo agent ended without asking: ${agentOutcome(await run)}`);
      return undefined;
    },
    { timeoutMs: REQUEST_TIMEOUT_MS, intervalMs: 200, signal },
  );
  say(`${INDENT}request ${request.id} is waiting in ${homePaths(home).queueOf(id)}: ${request.kind}, "${request.summary}"`);
  decide(home, { request_id: request.id, decision: "approve", notes: "go ahead" }, DECIDED_BY);
  say(`${INDENT}the demo approves it (as \`bot-bottle approve ${request.id}\` or the MCP tool supervise_approve would)`);
  const result = await run;
  if (result.structured?.status !== "approved") throw new UserError(`the demo agent did not get the approval: ${agentOutcome(result)}`);
  return result.result_text ?? "";
}

const agentOutcome = (result: AgentRunResult) => `exit ${result.exit_code}: ${result.result_text ?? (result.stderr.trim() || "no output")}`;

/**
 * Stops the bottle (containers, network, volume) and clears its state, queue
 * and audit log. Never throws: when something could not be removed, it says
 * so (the next demo removes it) and returns false.
 */
async function removeEverything(engine: Engine, id: string | null, say: DemoOptions["say"]): Promise<boolean> {
  step(say, STEPS, "Removing the bottle and everything it made");
  try {
    // A bottle that never got an id (its start failed or was interrupted) is removed by its launch; gc clears its state.
    const stopped = id ? (await engine.stop(id)).removed : [];
    const { removed } = await engine.gc();
    if (id) {
      rmSync(homePaths(engine.home).auditOf(id), { force: true });
      removed.push(`audit log ${id}`);
    }
    say(`${INDENT}removed ${[...stopped, ...removed].join(", ") || "nothing (nothing was made)"}`);
    return true;
  } catch (error) {
    say(`${INDENT}could not remove everything: ${(error as Error).message}`);
    say(`${INDENT}the next \`bot-bottle demo\` removes what is left`);
    return false;
  }
}
