import { describe, expect, it } from "vitest";
import type { Bottle } from "../../../backends/backend.js";
import type { BottlePlan } from "../../../src/engine/plan-schema.js";
import { provision, provisionSteps } from "../../../src/engine/provision/steps.js";
import type { ProvisionStep } from "../../../src/engine/provision/step.js";

// The provisioning runner: steps overlap unless one comes `after` another,
// warnings keep step order, and a failure waits for what is running.

const plan = {} as BottlePlan;
const bottle = {} as Bottle;

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Steps that record when they start and end, and finish only when the test lets them. */
function scripted(specs: { name: string; after?: string[]; warn?: string }[]) {
  const events: string[] = [];
  const gates = new Map(specs.map((s) => [s.name, deferred()]));
  const started = new Map(specs.map((s) => [s.name, deferred()]));
  const steps: ProvisionStep[] = specs.map((spec) => ({
    name: spec.name,
    describe: spec.name,
    after: spec.after ?? [],
    async run(_plan, _bottle, report) {
      events.push(`start ${spec.name}`);
      started.get(spec.name)!.resolve();
      if (spec.warn) report.warn(spec.warn);
      await gates.get(spec.name)!.promise;
      events.push(`end ${spec.name}`);
    },
  }));
  return { steps, events, gate: (name: string) => gates.get(name)!, started: (name: string) => started.get(name)!.promise };
}

describe("provisioning order", () => {
  it("starts independent steps at once and a dependent one only after what it comes after", async () => {
    const { steps, events, gate, started } = scripted([{ name: "a" }, { name: "b" }, { name: "c", after: ["a", "b"] }]);
    const run = provision(plan, bottle, {}, steps);
    await Promise.all([started("a"), started("b")]);
    expect(events).toEqual(["start a", "start b"]);
    gate("a").resolve();
    gate("b").resolve();
    await started("c");
    expect(events).toEqual(["start a", "start b", "end a", "end b", "start c"]);
    gate("c").resolve();
    await run;
  });

  it("reports each step as it starts, and returns the warnings in step order, not finishing order", async () => {
    const { steps, gate, started } = scripted([{ name: "a", warn: "from a" }, { name: "b", warn: "from b" }]);
    const reported: string[] = [];
    const run = provision(plan, bottle, { onStep: (step) => reported.push(step.name) }, steps);
    await Promise.all([started("a"), started("b")]);
    gate("b").resolve();
    gate("a").resolve();
    expect(await run).toEqual(["from a", "from b"]);
    expect(reported).toEqual(["a", "b"]);
  });

  it("on a failure, lets running steps finish before throwing, and never starts the steps after the failed one", async () => {
    const { steps, events, gate, started } = scripted([{ name: "a" }, { name: "b" }, { name: "c", after: ["a"] }]);
    const run = provision(plan, bottle, {}, steps);
    let settled = false;
    void run.catch(() => undefined).finally(() => (settled = true));
    await Promise.all([started("a"), started("b")]);
    gate("a").reject(new Error("a broke"));
    // b still runs: the error waits for it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    gate("b").resolve();
    await expect(run).rejects.toThrow("a broke");
    expect(events).toEqual(["start a", "start b", "end b"]);
  });

  it("refuses a step that comes after one that is not before it", async () => {
    const steps: ProvisionStep[] = [{ name: "a", describe: "a", after: ["b"], run: async () => undefined }];
    await expect(provision(plan, bottle, {}, steps)).rejects.toThrow("provisioning step a runs after b, which is not an earlier step");
  });

  it("the real steps name only earlier steps", () => {
    const seen = new Set<string>();
    for (const step of provisionSteps) {
      for (const name of step.after) expect(seen, `${step.name} after ${name}`).toContain(name);
      seen.add(step.name);
    }
  });
});
