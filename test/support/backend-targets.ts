import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describe, it } from "vitest";
import { LABELS } from "../../backends/labels.js";
import { smolvmFacts, smolvmReadiness } from "../../backends/smolmachines/readiness.js";
import { listMachines } from "../../backends/smolmachines/smolvm-cli.js";
import type { BackendName } from "../../src/manifest/schema.js";
import { repoRoot } from "./cli.js";
import { engine } from "./docker.js";

// The backends a backend-agnostic suite runs against, each as one describe
// block: Docker (a missing engine fails in CI), smolmachines with the real
// smolvm (only where smolvm is on PATH and /dev/kvm is usable; skipped with
// its reason otherwise), and smolmachines through the stand-in smolvm
// (test/support/stand-in-smolvm.mjs, Docker containers posing as microVMs):
// named so that nobody mistakes a pass there for the microVM path verified.

export const STAND_IN_SMOLVM = path.join(repoRoot, "test", "support", "stand-in-smolvm.mjs");

export interface BackendTarget {
  /** The describe block's name. */
  title: string;
  backend: BackendName;
  /** Why the block cannot run here (null: it runs). */
  unavailable: string | null;
  /** Whether a missing prerequisite is a failure under CI=true rather than a skip. */
  requiredInCi: boolean;
  /** Points the process (whose environment the backends read) at this target; undone by leave(). */
  enter(): void;
  leave(): Promise<void>;
  /** What the target adds to the environment of a CLI it runs (set by enter()). */
  env(): Record<string, string>;
  /** The target's own resources (beyond Docker's) still labelled with the bottle id. */
  machinesOf(id: string): Promise<string[]>;
  /** Whether the home's agent (container or machine) exists yet, in any state. */
  agentExists(homeLabel: string): Promise<boolean>;
}

const dockerAgentExists = async (homeLabel: string) =>
  (await execa("docker", ["ps", "-a", "-q", "--filter", `label=${LABELS.role}=agent`, "--filter", `label=${LABELS.home}=${homeLabel}`])).stdout.trim() !== "";

/** Variables set for the block and restored after it. */
function scopedEnv() {
  const saved = new Map<string, string | undefined>();
  return {
    set(vars: Record<string, string>) {
      for (const [key, value] of Object.entries(vars)) {
        if (!saved.has(key)) saved.set(key, process.env[key]);
        process.env[key] = value;
      }
    },
    restore() {
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      saved.clear();
    },
  };
}

const machinesLabelled = async (id: string) => (await listMachines()).filter((m) => m.labels?.[LABELS.id] === id).map((m) => `machine ${m.name} (${m.state})`);
const machineAgentExists = async (homeLabel: string) =>
  (await listMachines()).some((m) => m.labels?.[LABELS.home] === homeLabel && m.labels?.[LABELS.role] === "agent");

function dockerTarget(): BackendTarget {
  return {
    title: "docker",
    backend: "docker",
    unavailable: engine.ok ? null : `no Docker engine (${engine.reason}); start one with: sudo bash scripts/docker-engine.sh`,
    requiredInCi: true,
    enter() {},
    async leave() {},
    env: () => ({}),
    machinesOf: async () => [],
    agentExists: dockerAgentExists,
  };
}

function realSmolvmTarget(): BackendTarget {
  // BOT_BOTTLE_SMOLVM is ignored here: it may point at the stand-in.
  const facts = smolvmFacts({ ...process.env, BOT_BOTTLE_SMOLVM: "" });
  const readiness = smolvmReadiness(facts);
  const vars = { BOT_BOTTLE_SMOLVM: facts.path ?? "smolvm" };
  const env = scopedEnv();
  return {
    title: "smolmachines (real smolvm, libkrun microVMs)",
    backend: "smolmachines",
    unavailable: !readiness.ok
      ? `real smolvm cannot run here: ${readiness.detail} (${readiness.fix})`
      : engine.ok
        ? null
        : `the sidecar bundle needs a Docker engine, and none answers (${engine.reason})`,
    requiredInCi: false,
    enter: () => env.set(vars),
    leave: async () => env.restore(),
    env: () => vars,
    machinesOf: machinesLabelled,
    agentExists: machineAgentExists,
  };
}

function standInSmolvmTarget(): BackendTarget {
  const env = scopedEnv();
  let state: string | undefined;
  const vars = () => {
    if (!state) throw new Error("the stand-in smolvm's state exists only between enter() and leave()");
    return { BOT_BOTTLE_SMOLVM: STAND_IN_SMOLVM, STAND_IN_SMOLVM_STATE: state, STAND_IN_SMOLVM_WARMUP_137: "1" };
  };
  return {
    title: "smolmachines through the stand-in smolvm (over Docker)",
    backend: "smolmachines",
    unavailable: engine.ok ? null : `the stand-in smolvm runs its machines as Docker containers, and no Docker engine answers (${engine.reason})`,
    requiredInCi: true,
    enter() {
      state = mkdtempSync(path.join(os.tmpdir(), "bb-stand-in-smolvm-"));
      env.set(vars());
    },
    async leave() {
      if (state) {
        // The stand-in's machines of this state folder only: containers this suite made.
        const ours = (await execa("docker", ["ps", "-a", "-q", "--filter", `label=stand-in-smolvm.state=${state}`], { reject: false })).stdout.trim();
        if (ours) await execa("docker", ["rm", "-f", ...ours.split(/\s+/)], { reject: false });
        rmSync(state, { recursive: true, force: true });
      }
      state = undefined;
      env.restore();
    },
    env: vars,
    machinesOf: machinesLabelled,
    agentExists: machineAgentExists,
  };
}

export const backendTargets = (): BackendTarget[] => [dockerTarget(), realSmolvmTarget(), standInSmolvmTarget()];

/**
 * One describe block per target. A target that cannot run is skipped with its
 * reason in the block's name and on stderr, except a target CI requires,
 * which fails there.
 */
export function describeOnTarget(suite: string, target: BackendTarget, body: () => void): void {
  const name = `${suite}: ${target.title}`;
  if (!target.unavailable) {
    describe(name, body);
  } else if (process.env.CI && target.requiredInCi) {
    describe(name, () => {
      it("can run (required in CI)", () => {
        throw new Error(`CI=true but ${target.title} cannot run: ${target.unavailable}. .ci/run must start a Docker engine (scripts/docker-engine.sh).`);
      });
    });
  } else {
    process.stderr.write(`SKIPPED "${name}": ${target.unavailable}\n`);
    describe.skip(`${name} [skipped: ${target.unavailable}]`, body);
  }
}
