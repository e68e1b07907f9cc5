import type { PlanBackend } from "../src/engine/plan-schema.js";
import type { Backend } from "./backend.js";
import { DockerBackend } from "./docker/backend.js";
import { SmolmachinesBackend } from "./smolmachines/backend.js";

/** Every backend, in the order a default is chosen: Docker whenever it answers. */
export const BACKEND_ORDER: readonly PlanBackend[] = ["docker", "smolmachines"];

export function createBackends(): Record<PlanBackend, Backend> {
  return { docker: new DockerBackend(), smolmachines: new SmolmachinesBackend() };
}
