import type { DiscoveredBottle } from "../backend.js";
import { LABELS } from "../labels.js";
import { docker, parseJsonLines } from "./docker-cli.js";

// A bottle's Docker resources (containers, networks, volumes), found and
// removed by their labels. The Docker backend is made of nothing else; the
// smolmachines backend keeps its sidecar bundle and network here too.

/** How long a stopping bottle's processes get between SIGTERM and SIGKILL. */
const STOP_GRACE_S = 5;

function parseLabels(labels: string): Record<string, string> {
  return Object.fromEntries(
    labels
      .split(",")
      .filter((pair) => pair.includes("="))
      .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
  );
}

/** Every labelled Docker resource of the home's bottles, by bottle. */
export async function discoverLabelled(homeLabel: string): Promise<DiscoveredBottle[]> {
  const filter = ["--filter", `label=${LABELS.home}=${homeLabel}`];
  const [containers, networks, volumes] = await Promise.all([
    docker(["ps", "-a", ...filter, "--format", "{{json .}}"]),
    docker(["network", "ls", ...filter, "--format", "{{json .}}"]),
    docker(["volume", "ls", ...filter, "--format", "{{json .}}"]),
  ]);
  const byId = new Map<string, DiscoveredBottle>();
  const entry = (id: string) => {
    let found = byId.get(id);
    if (!found) byId.set(id, (found = { id, resources: [], agentRunning: false, bundleRunning: false }));
    return found;
  };
  type Row = { Names?: string; Name?: string; Labels: string; State?: string };
  for (const row of parseJsonLines<Row>(containers)) {
    const labels = parseLabels(row.Labels);
    const id = labels[LABELS.id];
    if (!id) continue;
    const running = row.State === "running";
    entry(id).resources.push({ kind: "container", name: row.Names ?? "", running });
    if (labels[LABELS.role] === "agent" && running) entry(id).agentRunning = true;
    if (labels[LABELS.role] === "bundle" && running) entry(id).bundleRunning = true;
  }
  for (const [kind, stdout] of [
    ["network", networks],
    ["volume", volumes],
  ] as const) {
    for (const row of parseJsonLines<Row>(stdout)) {
      const id = parseLabels(row.Labels)[LABELS.id];
      if (id) entry(id).resources.push({ kind, name: row.Name ?? "", running: false });
    }
  }
  return [...byId.values()];
}

/** Removes every labelled Docker resource of the bottle; returns what was removed. */
export async function removeLabelled(id: string, homeLabel: string): Promise<string[]> {
  const found = (await discoverLabelled(homeLabel)).find((b) => b.id === id);
  if (!found) return [];
  const removed: string[] = [];
  // A stop, not a kill, first: the daemons get SIGTERM and tidy up (the git
  // gate hands its mirrors back to the host user's group, so they can be removed).
  const running = found.resources.filter((r) => r.kind === "container" && r.running).map((r) => r.name);
  if (running.length > 0) await docker(["stop", "--time", String(STOP_GRACE_S), ...running]).catch(() => undefined);
  // Containers first: a network or volume in use cannot be removed.
  for (const kind of ["container", "network", "volume"] as const) {
    const names = found.resources.filter((r) => r.kind === kind).map((r) => r.name);
    if (names.length === 0) continue;
    if (kind === "network") await disconnectStrangers(names);
    const command = kind === "container" ? ["rm", "-f", "-v"] : [kind, "rm"];
    await docker([...command, ...names]);
    removed.push(...names.map((n) => `${kind} ${n}`));
  }
  return removed;
}

/** Containers someone else attached to a bottle's network would block its removal. */
async function disconnectStrangers(networks: string[]): Promise<void> {
  for (const network of networks) {
    const attached = await docker(["network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}", network]);
    for (const container of attached.split(/\s+/).filter(Boolean)) {
      await docker(["network", "disconnect", "-f", network, container]);
    }
  }
}
