import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { Backend, Bottle, DiscoveredBottle, ExecOptions } from "../../backends/backend.js";
import { inFlightCommands } from "../../backends/in-flight.js";
import { BACKEND_ORDER, createBackends } from "../../backends/registry.js";
import type { BackendName } from "../manifest/schema.js";
import { botBottleHome, homePaths } from "../home.js";
import { log } from "../log.js";
import { resolveProvider } from "../providers/registry.js";
import { HostSecrets } from "../secrets/host-secrets.js";
import { SecretStore } from "../secrets/store.js";
import { syncAudit } from "../supervise/audit.js";
import { UserError } from "../user-error.js";
import { waitUntil } from "../wait-until.js";
import { createBottleCa, writeBottleCa } from "./ca.js";
import { type DeletedKeys, deleteGateKeys, describeKey, gateKeySecrets, prepareGateKeys } from "./deploy-keys.js";
import type { BottlePlan, PreparedBottle } from "./plan-schema.js";
import { homeLabel, newIdSuffix, prepare } from "./prepare.js";
import { provision } from "./provision/steps.js";
import type { FilePart, FileWritten, FolderListing } from "../../sidecars/guest-files/spec.js";
import { listFilesIn, readFileIn, writeFileIn } from "./files.js";
import { Runs } from "./runs/runs.js";
import { resolveSecrets } from "./secrets.js";
import { LineTail } from "./line-tail.js";
import { ORIGIN_REPO } from "../../sidecars/git-gate/config.js";
import { type BottleChanges, importChanges, originBranches } from "./git-gate/changes.js";
import { readSeedRefs, seedOrigin, writeSeedRefs } from "./git-gate/origin.js";
import { commitWorkspace, workspaceBranch } from "./git-gate/workspace-commit.js";
import { workspaceStep } from "./provision/workspace.js";
import { canClaim, poolKey } from "./warm-pool.js";
import type { AgentRunRequest, AgentRunResult, BottleRecord, BottleSpec, ExecResult, Progress, StopResult } from "./records.js";
import { type BottleMetadata, StateStore, UnreadablePlan, writeFileAtomic } from "./state.js";

export interface EngineOptions {
  home: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** The backends by name (default: every backend of backends/registry.ts). */
  backends?: Partial<Record<BackendName, Backend>>;
}

export interface StartHooks {
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

export interface AgentRunOptions {
  timeoutMs?: number;
  maxOutputBytes?: number;
  signal?: AbortSignal;
  onEvent?: (message: string) => void;
}

/** Enough of the end of an agent's output to hold its final events. */
const AGENT_OUTPUT_TAIL_LINES = 200;
/** How long gc waits for the commands a killed start left running (a container create, a network create: seconds). */
const ORPHANED_COMMANDS_WAIT_MS = 120_000;

export interface GcResult {
  removed: string[];
  /** What could not be removed and why (its state folder is kept, so the next gc tries again). */
  failures: string[];
}

const isAlive = (pid: number | null) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** A listed bottle's problem when its agent runs and its bundle does not. */
export const BUNDLE_DOWN =
  "its sidecar bundle is not running: the agent has no egress, supervise or git gate, and cannot get them back; stop the bottle and start a new one";

const publicRecord = ({ starter_pid: _pid, pool: _pool, ...record }: BottleMetadata): BottleRecord => record;

/**
 * The one engine behind the CLI and the MCP tools: plan -> launch -> provision,
 * then exec, list, stop and gc over the recorded state.
 */
export class Engine {
  readonly home: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The secrets bottles name: from `env`, else the home's secret store. */
  readonly secrets: HostSecrets;
  readonly state: StateStore;
  /** Background runs in this home's bottles. */
  readonly runs: Runs;
  private readonly backends: Partial<Record<BackendName, Backend>>;

  constructor(options: EngineOptions) {
    this.home = options.home;
    this.cwd = options.cwd;
    this.env = options.env ?? process.env;
    this.secrets = new HostSecrets(this.env, new SecretStore(this.home));
    this.state = new StateStore(this.home);
    this.backends = options.backends ?? createBackends();
    this.runs = new Runs({ home: this.home, attach: (id) => this.attach(id) });
  }

  /** The engine for this process: BOT_BOTTLE_HOME (or ~/.bot-bottle) and the current folder. */
  static fromProcess(): Engine {
    return new Engine({ home: botBottleHome(), cwd: process.cwd() });
  }

  backend(name: string): Backend {
    const backend = (BACKEND_ORDER as readonly string[]).includes(name) ? this.backends[name as BackendName] : undefined;
    if (!backend) {
      throw new UserError(`backend "${name}" is not available here; available: ${Object.keys(this.backends).join(", ")}`);
    }
    return backend;
  }

  /** The backend, after checking its engine answers (a UserError that says how to start one otherwise). */
  private async ready(name: string): Promise<Backend> {
    const backend = this.backend(name);
    const availability = await backend.available();
    if (!availability.ok) throw new UserError(availability.reason);
    return backend;
  }

  /** The backends this engine has, in the order a default is chosen. */
  private known(): Backend[] {
    return BACKEND_ORDER.flatMap((name) => this.backends[name] ?? []);
  }

  /** Where a bottle runs when neither its start nor its manifest says: the first backend that answers (Docker whenever it does). */
  async defaultBackend(): Promise<BackendName> {
    for (const backend of this.known()) if ((await backend.available()).ok) return backend.name;
    return "docker";
  }

  /** The backends that answer; when none does, a UserError with the first one's reason. */
  private async answering(): Promise<Backend[]> {
    const checked = await Promise.all(this.known().map(async (backend) => ({ backend, availability: await backend.available() })));
    const ready = checked.filter((c) => c.availability.ok).map((c) => c.backend);
    const first = checked[0]?.availability;
    if (ready.length === 0) throw new UserError(first && !first.ok ? first.reason : "no backend is configured");
    return ready;
  }

  /**
   * Every bottle of this home any answering backend finds, with the backends
   * that found it, and which backends answered: a bottle of a backend that did
   * not answer cannot be judged (its sidecars may show up elsewhere, its agent
   * not), so it is left as recorded.
   */
  private async discoverAll(): Promise<{ found: Map<string, DiscoveredBottle & { backends: Backend[] }>; answered: Set<string> }> {
    const found = new Map<string, DiscoveredBottle & { backends: Backend[] }>();
    const label = homeLabel(this.home);
    const answering = await this.answering();
    for (const backend of answering) {
      for (const bottle of await backend.discover(label)) {
        const entry = found.get(bottle.id) ?? { id: bottle.id, resources: [], agentRunning: false, bundleRunning: null, backends: [] };
        entry.resources.push(...bottle.resources);
        entry.agentRunning ||= bottle.agentRunning;
        // Up if any backend saw it up; unknown while no backend that holds bundles answered for it.
        if (bottle.bundleRunning !== null) entry.bundleRunning = entry.bundleRunning === true || bottle.bundleRunning;
        entry.backends.push(backend);
        found.set(bottle.id, entry);
      }
    }
    return { found, answered: new Set(answering.map((backend) => backend.name)) };
  }

  /** Plans a bottle: pure, nothing is written until launch. */
  async plan(spec: BottleSpec): Promise<PreparedBottle> {
    return prepare(spec, { home: this.home, cwd: this.cwd, env: this.env, secrets: this.secrets, defaultBackend: await this.defaultBackend(), idSuffix: newIdSuffix() });
  }

  /** Starts a bottle: a warm one from a pool when one matches the spec, else a new one. */
  async start(spec: BottleSpec, hooks: StartHooks = {}): Promise<BottleRecord> {
    const claimed = await this.claimPooled(spec);
    if (claimed) {
      hooks.onProgress?.({ phase: "pool", message: `claimed warm bottle ${claimed.id}`, step: 1 });
      return claimed;
    }
    return this.launch(await this.plan(spec), hooks);
  }

  /** Called with the agent's name whenever a start claims a pooled bottle (a pool refills). */
  onPoolClaim?: (agent: string) => void;

  /**
   * Takes a launched, unclaimed bottle of a warm pool that serves this spec,
   * applying what a pool cannot know in advance: the label, and the copy of
   * the cwd into the workspace. Null when none is free (or the spec needs a
   * fresh bottle). A claim is a directory created in the bottle's state
   * folder: exactly one process wins it.
   */
  private async claimPooled(spec: BottleSpec): Promise<BottleRecord | null> {
    const cwd = spec.cwd ? path.resolve(this.cwd, spec.cwd) : null;
    if (!canClaim(spec, cwd)) return null;
    const key = poolKey(spec);
    for (const id of this.state.ids()) {
      const metadata = this.state.readMetadata(id);
      if (metadata?.status !== "pooled" || metadata.pool?.key !== key || !isAlive(metadata.pool.owner_pid)) continue;
      try {
        mkdirSync(path.join(this.state.dir(id), "claimed"));
      } catch {
        continue;
      }
      const plan = this.state.readPlan(id);
      if (!plan) continue;
      const claimed = { ...plan, label: spec.label ?? null, cwd };
      this.state.writePlan(claimed);
      if (cwd) await workspaceStep.run(claimed, this.backend(plan.backend).attach(plan), { warn: () => undefined });
      const record = this.state.updateMetadata(id, { status: "running", label: claimed.label, cwd, pool: null, started_at: new Date().toISOString() });
      log.info({ bottle: id }, "warm bottle claimed");
      this.onPoolClaim?.(metadata.agent);
      return publicRecord(record);
    }
    return null;
  }

  /**
   * Writes the plan's files and its record, then launches and provisions the
   * bottle. With `pool`, the bottle waits, launched and provisioned, as
   * "pooled" until a start claims it.
   */
  async launch({ plan, files }: PreparedBottle, hooks: StartHooks = {}, pool?: { key: string }): Promise<BottleRecord> {
    const backend = await this.ready(plan.backend);
    // Image builds report a line per Dockerfile step, so the number of steps is not known up front.
    let step = 0;
    const report = (phase: string, message: string) => hooks.onProgress?.({ phase, message, step: ++step });

    try {
      for (const file of files) writeFileAtomic(file.path, file.content, file.mode);
      this.state.writePlan(plan);
      this.state.writeMetadata({
        id: plan.id,
        agent: plan.agent.name,
        agent_origin: plan.agent.origin,
        agent_source: plan.agent.source,
        bottles: plan.bottles,
        provider: plan.provider.name,
        backend: plan.backend,
        label: plan.label,
        cwd: plan.cwd,
        status: "starting",
        started_at: new Date().toISOString(),
        stopped_at: null,
        resources: plan.resources,
        warnings: [],
        starter_pid: process.pid,
      });
    } catch (err) {
      // Nothing was launched and nothing refers to the folder yet: a start that
      // could not even record itself (a full disk) leaves no half-written folder.
      this.#forget(plan.id);
      throw err;
    }
    try {
      report("ca", "creating the bottle's egress CA");
      writeBottleCa(await createBottleCa(plan.id), plan.ca.cert, plan.ca.key);
      const folders = plan.gitGate.folders;
      if (plan.gitGate.origin && folders && plan.cwd) {
        report("git-gate", `copying ${plan.cwd} as the bottle's origin`);
        mkdirSync(folders.mirrors, { recursive: true, mode: 0o770 });
        writeSeedRefs(plan.gitGate.origin.seedFile, await seedOrigin(plan.cwd, path.join(folders.mirrors, `${ORIGIN_REPO}.git`)));
      }
      const gate = await prepareGateKeys(plan, this.secrets, {
        record: (keys) => this.state.writeDeployKeys(plan.id, keys),
        report: (message) => report("git-gate", message),
        signal: hooks.signal,
      });
      const secrets = { ...resolveSecrets(plan.sidecars.secrets, this.secrets), ...gateKeySecrets(plan.gitGate.repos, gate.keys) };
      const bottle = await backend.launch(plan, secrets, { signal: hooks.signal, onProgress: (p) => report(p.phase, p.message) });
      const warnings = await provision(plan, bottle, { signal: hooks.signal, onStep: (step) => report(`provision:${step.name}`, step.describe) });
      const record = this.state.updateMetadata(plan.id, {
        status: pool ? "pooled" : "running",
        starter_pid: null,
        warnings,
        pool: pool ? { key: pool.key, owner_pid: process.pid } : null,
      });
      log.info({ bottle: plan.id }, pool ? "bottle is warm in its pool" : "bottle is running");
      return publicRecord(record);
    } catch (err) {
      await backend.remove(plan.id, plan.homeLabel).catch(() => undefined);
      // What is left stays recorded for gc; the launch's own error is the one to report.
      const left = await this.deleteDeployKeys(plan.id).then(
        ({ failed }) => failed.map(({ key, error }) => `${describeKey(key)}: ${error}`),
        (error: Error) => [error.message],
      );
      for (const problem of left) log.warn({ bottle: plan.id }, `a deploy key was left on its forge (\`bot-bottle gc\` tries again): ${problem}`);
      try {
        this.state.updateMetadata(plan.id, { status: "failed", stopped_at: new Date().toISOString(), starter_pid: null });
      } catch (recordError) {
        // The disk that failed the launch may fail this write too; the launch's own
        // error is still the one to report. With its containers removed and no key
        // left on a forge, the bottle's folder records nothing worth keeping.
        log.warn({ bottle: plan.id, err: (recordError as Error).message }, "cannot record the failed start");
        if (left.length === 0) this.#forget(plan.id);
      }
      throw err;
    }
  }

  /** Removes a bottle's state folder and queue folder, as far as it can (what stays is gc's). */
  #forget(id: string): void {
    try {
      this.state.remove(id);
      rmSync(homePaths(this.home).queueOf(id), { recursive: true, force: true });
    } catch (error) {
      log.warn({ bottle: id, err: (error as Error).message }, "cannot remove the folders of a failed start; `bot-bottle gc` tries again");
    }
  }

  /**
   * Deletes the bottle's recorded deploy keys; those that could not be
   * deleted stay recorded, for stop or gc to try again.
   */
  private async deleteDeployKeys(id: string): Promise<DeletedKeys> {
    const result = await deleteGateKeys(this.state.readDeployKeys(id), this.secrets);
    this.state.writeDeployKeys(id, result.failed.map((f) => f.key));
    return result;
  }

  /** A handle on a running bottle, or a UserError that says what exists. */
  attach(id: string): { plan: BottlePlan; bottle: Bottle } {
    const metadata = this.state.readMetadata(id);
    if (!metadata) throw this.unknownBottle(id);
    if (metadata.status !== "running") throw new UserError(`bottle ${id} is ${metadata.status}, not running; start a new one`);
    const plan = this.state.readPlan(id);
    if (!plan) throw this.unknownBottle(id);
    return { plan, bottle: this.backend(plan.backend).attach(plan) };
  }

  /** A file's path inside the bottle: a relative one is in the agent's workspace; and the user to act as (default the agent user). */
  #inBottle(id: string, file: string, user?: string) {
    const { plan, bottle } = this.attach(id);
    return { bottle, user: user ?? plan.guest.user, file: path.posix.isAbsolute(file) ? file : path.posix.join(plan.guest.workspace, file) };
  }

  async readFile(id: string, file: string, options: { user?: string; offset: number; maxBytes: number }): Promise<FilePart> {
    const target = this.#inBottle(id, file, options.user);
    return readFileIn(target.bottle, target.user, target.file, options.offset, options.maxBytes);
  }

  async writeFile(id: string, file: string, bytes: Buffer, options: { user?: string; offset: number | null; mode: string | null }): Promise<FileWritten> {
    const target = this.#inBottle(id, file, options.user);
    return writeFileIn(target.bottle, target.user, target.file, bytes, options.offset, options.mode);
  }

  async listFiles(id: string, folder: string, options: { user?: string; maxEntries: number }): Promise<FolderListing> {
    const target = this.#inBottle(id, folder, options.user);
    return listFilesIn(target.bottle, target.user, target.file, options.maxEntries);
  }

  async exec(id: string, command: string | string[], options: ExecOptions = {}): Promise<ExecResult> {
    const { bottle } = this.attach(id);
    return bottle.exec(command, options);
  }

  /**
   * Runs a prompt through the provider's headless mode, as the agent user in
   * the workspace. Each line of output the provider finds worth telling is
   * reported as it arrives; the answer is read from the end of the output even
   * when the raw output was cut by the cap.
   */
  async runAgent(id: string, request: AgentRunRequest, options: AgentRunOptions = {}): Promise<AgentRunResult> {
    const { plan, bottle } = this.attach(id);
    const provider = await resolveProvider(plan.provider.name, plan.home);
    const tail = new LineTail(AGENT_OUTPUT_TAIL_LINES);
    const result = await bottle.exec(provider.headless.argv(request, plan.prompt.guest), {
      user: plan.guest.user,
      cwd: plan.guest.workspace,
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes,
      signal: options.signal,
      onOutput: (stream, chunk) => {
        if (stream !== "stdout") return;
        for (const line of tail.push(chunk)) {
          const message = provider.headless.describeLine(line);
          if (message) options.onEvent?.(message);
        }
      },
    });
    return { ...result, ...provider.headless.outcome(tail.text()) };
  }

  /**
   * Brings what the bottle pushed to its origin into its cwd repository as
   * bottle/<id>/<branch>, first committing and pushing the workspace's
   * uncommitted state when asked (which needs the bottle running).
   */
  async changes(id: string, options: { commitWorkspace?: { message?: string } } = {}): Promise<BottleChanges> {
    const metadata = this.state.readMetadata(id);
    const plan = metadata ? this.state.readPlan(id) : null;
    if (!metadata || !plan) throw this.unknownBottle(id);
    const origin = plan.gitGate.origin;
    const folders = plan.gitGate.folders;
    if (!origin || !folders || !plan.cwd) {
      throw new UserError(`bottle ${id} was not started from a git repository (cwd: ${plan.cwd ?? "none"}), so it has no origin to bring changes from`);
    }
    const mirror = path.join(folders.mirrors, `${ORIGIN_REPO}.git`);
    const seed = readSeedRefs(origin.seedFile);
    let workspace: BottleChanges["workspace_commit"] = null;
    if (options.commitWorkspace) {
      const { bottle } = this.attach(id);
      const known = [...new Set([...(await originBranches(plan.cwd, mirror)).values(), ...(origin.base ? [origin.base] : [])])];
      workspace = await commitWorkspace(
        bottle,
        { user: plan.guest.user, workspace: plan.guest.workspace, id },
        workspaceBranch(new Date()),
        options.commitWorkspace.message ?? `Work left in the workspace of bottle ${id}`,
        known,
      );
    }
    const imported = await importChanges({ id, repo: plan.cwd, mirror, seed, base: origin.base });
    log.info({ bottle: id, branches: imported.branches.map((b) => b.ref), removed: imported.removed }, "bottle changes imported");
    return { ...imported, workspace_commit: workspace };
  }

  private unknownBottle(id: string): UserError {
    const known = this.state.ids().join(", ") || "none";
    return new UserError(`no bottle with id "${id}" (known bottles: ${known}); list them with list_bottles / \`bot-bottle ls\``);
  }

  /** The bottle's plan; null when there is one this version cannot read (it is logged). */
  private readPlanIfPossible(id: string): BottlePlan | null | undefined {
    try {
      return this.state.readPlan(id);
    } catch (error) {
      if (!(error instanceof UnreadablePlan)) throw error;
      log.warn({ bottle: id }, error.message);
      return null;
    }
  }

  /** Every bottle with a state folder, its status reconciled with what the backend reports. */
  async list(): Promise<BottleRecord[]> {
    const { found: discovered, answered } = await this.discoverAll();
    const records: BottleRecord[] = [];
    for (const id of this.state.ids()) {
      const metadata = this.state.readMetadata(id);
      if (!metadata) continue;
      let status = metadata.status;
      const up = status === "running" || status === "pooled";
      const found = discovered.get(id);
      if (up && answered.has(metadata.backend) && !found?.agentRunning) status = "stopped";
      if (status === "starting" && !isAlive(metadata.starter_pid)) status = "failed";
      const record = publicRecord({ ...metadata, status });
      // The agent runs on with no way out and nobody to ask: say so rather than call it simply running.
      if ((status === "running" || status === "pooled") && found?.agentRunning && found.bundleRunning === false) record.problem = BUNDLE_DOWN;
      records.push(record);
    }
    return records;
  }

  async stop(id: string): Promise<StopResult> {
    const metadata = this.state.readMetadata(id);
    const plan = this.readPlanIfPossible(id);
    if (!metadata || plan === undefined) throw this.unknownBottle(id);
    // Through the handle whatever the recorded status: stopping also clears a half-made bottle.
    // Without a readable plan, what carries the bottle's labels is all there is to go by.
    const removed = plan
      ? await (await this.ready(plan.backend)).attach(plan).stop()
      : await (await this.ready(metadata.backend)).remove(id, homeLabel(this.home));
    this.state.updateMetadata(id, { status: "stopped", stopped_at: new Date().toISOString(), starter_pid: null });
    // After the bottle is recorded as stopped: if this fails or dies, gc finds the keys still recorded.
    const keys = await this.deleteDeployKeys(id);
    removed.push(...keys.deleted);
    log.info({ bottle: id, removed }, "bottle stopped");
    if (keys.failed.length > 0) {
      throw new UserError(
        `bottle ${id} is stopped, but ${keys.failed.map(({ key, error }) => `${describeKey(key)} could not be deleted: ${error}`).join("; ")}. ` +
          `\`bot-bottle gc\` tries again.`,
      );
    }
    return { id, removed };
  }

  /**
   * Waits (bounded) for the creating commands a killed process left running
   * (backends/in-flight.ts), so that what they make is there to be removed;
   * a bottle a live process is starting or keeping warm is not waited for.
   * Returns a problem for each command still running at the bound.
   */
  private async awaitOrphanedCommands(label: string): Promise<string[]> {
    const beingMade = (id: string): boolean => {
      const metadata = this.state.readMetadata(id);
      if (metadata?.status === "starting") return isAlive(metadata.starter_pid);
      return metadata?.status === "pooled" && metadata.pool !== null && isAlive(metadata.pool.owner_pid);
    };
    const orphaned = async () => ((await inFlightCommands(label)) ?? []).filter((command) => !beingMade(command.bottleId));
    const first = await orphaned();
    if (first.length === 0) return [];
    log.info({ commands: first.map((c) => c.pid) }, "waiting for the commands a killed start left running");
    try {
      await waitUntil("the commands a killed start left running to end", async () => ((await orphaned()).length === 0 ? true : undefined), {
        timeoutMs: ORPHANED_COMMANDS_WAIT_MS,
      });
      return [];
    } catch {
      return (await orphaned()).map(
        (c) => `bottle ${c.bottleId}: a command a killed start left running (pid ${c.pid}) has not ended; run gc again once it has: ${c.command.slice(0, 200)}`,
      );
    }
  }

  /**
   * Removes what belongs to no live bottle: backend resources without a
   * running record, half-made bottles whose starter died, and the state
   * folders of bottles that are gone.
   */
  async gc(): Promise<GcResult> {
    const label = homeLabel(this.home);
    const removed: string[] = [];
    const failures: string[] = await this.awaitOrphanedCommands(label);
    const { found: discovered, answered } = await this.discoverAll();
    const live = (id: string): boolean => {
      const metadata = this.state.readMetadata(id);
      if (!metadata) return false;
      if (metadata.status === "starting") return isAlive(metadata.starter_pid);
      // A warm bottle lives as long as the process that keeps its pool.
      if (metadata.status === "pooled") return metadata.pool !== null && isAlive(metadata.pool.owner_pid) && discovered.get(id)?.agentRunning === true;
      if (metadata.status !== "running") return false;
      // Its backend did not answer: whether its agent runs cannot be told, so it is kept.
      return !answered.has(metadata.backend) || discovered.get(id)?.agentRunning === true;
    };
    const paths = homePaths(this.home);
    const queues = existsSync(paths.queue) ? readdirSync(paths.queue) : [];
    for (const id of new Set([...discovered.keys(), ...this.state.ids(), ...queues])) {
      if (live(id)) continue;
      for (const backend of discovered.get(id)?.backends ?? []) removed.push(...(await backend.remove(id, label)));
      if (this.state.ids().includes(id)) {
        // The state folder holds the deploy key record: it goes only once the keys are gone.
        let keysLeft: string[];
        try {
          const keys = await this.deleteDeployKeys(id);
          removed.push(...keys.deleted);
          keysLeft = keys.failed.map(({ key, error }) => `${describeKey(key)}: ${error}`);
        } catch (error) {
          keysLeft = [(error as Error).message];
        }
        if (keysLeft.length === 0) {
          this.state.remove(id);
          removed.push(`state ${id}`);
        }
        failures.push(...keysLeft.map((problem) => `bottle ${id} keeps its state folder: ${problem}`));
      }
      if (queues.includes(id)) {
        // Nobody is left to wait for these answers; the audit log keeps what the queue held.
        syncAudit(this.home, id);
        rmSync(paths.queueOf(id), { recursive: true, force: true });
        removed.push(`supervise queue ${id}`);
      }
    }
    return { removed, failures };
  }
}
