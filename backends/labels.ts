import type { BottlePlan } from "../src/engine/plan-schema.js";

// Every backend resource of a bottle carries these labels: its id, a hash of
// the home that started it (two homes never touch each other's bottles), and
// its role. Re-discovery and gc go by them alone.

export const LABELS = { id: "bot-bottle.id", home: "bot-bottle.home", role: "bot-bottle.role" } as const;

export const bottleLabels = (plan: Pick<BottlePlan, "id" | "homeLabel">, role: string): Record<string, string> => ({
  [LABELS.id]: plan.id,
  [LABELS.home]: plan.homeLabel,
  [LABELS.role]: role,
});

/** `--label K=V` pairs, the form both the docker and the smolvm CLIs take. */
export const labelArgs = (labels: Record<string, string>) => Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
