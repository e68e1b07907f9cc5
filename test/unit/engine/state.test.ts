import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StateStore } from "../../../src/engine/state.js";

// The state folder across versions: a bottle an earlier bot-bottle started
// must stay readable, or ls would hide it and gc would remove it while it runs.

describe("bottle metadata", () => {
  const home = mkdtempSync(path.join(os.tmpdir(), "bb-state-"));
  afterEach(() => rmSync(path.join(home, "state"), { recursive: true, force: true }));

  it("reads the record of a bottle started by an earlier version, which had no agent origin and no warm pool", () => {
    const earlier = {
      id: "hello-1a2b3c4d",
      agent: "hello",
      bottles: ["claude"],
      provider: "claude",
      backend: "docker",
      label: null,
      cwd: null,
      status: "running",
      started_at: "2026-11-30T10:00:00.000Z",
      stopped_at: null,
      resources: { agent: "a", bundle: "b", network: "n", volume: "v" },
      warnings: [],
      starter_pid: null,
    };
    mkdirSync(path.join(home, "state", earlier.id), { recursive: true });
    writeFileSync(path.join(home, "state", earlier.id, "metadata.json"), JSON.stringify(earlier));
    expect(new StateStore(home).readMetadata(earlier.id)).toEqual({ ...earlier, pool: null });
  });
});
