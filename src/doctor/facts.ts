import { z } from "zod";
import { SmolvmFacts } from "../../backends/smolmachines/readiness.js";

// What `bot-bottle doctor` finds out about this machine, gathered once
// (gather.ts) and judged by pure checks (checks.ts), so every verdict and fix
// can be tested from facts written by hand.

export const EngineFacts = z.discriminatedUnion("state", [
  /** The docker command itself is not there. */
  z.object({ state: z.literal("missing-cli"), cli: z.string() }),
  /** The command is there, but no engine answers it. */
  z.object({ state: z.literal("down"), cli: z.string(), error: z.string() }),
  z.object({
    state: z.literal("up"),
    cli: z.string(),
    /** `docker --version`: Podman's shim says "podman version ..." here. */
    clientVersion: z.string(),
    serverVersion: z.string(),
    /** `Server.Platform.Name` of `docker version` ("Docker Desktop 4.x ..." on Docker Desktop). */
    platform: z.string(),
    /** `Server.Components[].Name` ("Podman Engine" behind Podman's API). */
    components: z.array(z.string()),
  }),
]);
export type EngineFacts = z.infer<typeof EngineFacts>;

export const BaseImageFacts = z.object({
  /** BOT_BOTTLE_BASE_IMAGE, when set. */
  configured: z.string().nullable(),
  /** The images bottles are built on, and whether the engine has each. */
  images: z.array(z.object({ name: z.string(), present: z.boolean() })),
  /** Asked only when an image is missing: whether its registry answered for it (or why not). */
  registry: z.discriminatedUnion("state", [
    z.object({ state: z.literal("not-asked") }),
    z.object({ state: z.literal("reachable") }),
    z.object({ state: z.literal("unreachable"), error: z.string() }),
  ]),
});
export type BaseImageFacts = z.infer<typeof BaseImageFacts>;

export const SecretFacts = z.object({
  name: z.string(),
  /** Bottles whose files name it. */
  bottles: z.array(z.string()),
  environment: z.boolean(),
  stored: z.boolean(),
  /** Why the store's entry is refused (naming the file), or null. */
  storeProblem: z.string().nullable(),
});
export type SecretFacts = z.infer<typeof SecretFacts>;

export const HomeFacts = z.object({
  home: z.string(),
  exists: z.boolean(),
  bottles: z.number().int(),
  agents: z.number().int(),
  /** Every problem `bot-bottle validate` reports, formatted as it prints them. */
  issues: z.array(z.string()),
  warnings: z.array(z.string()),
});
export type HomeFacts = z.infer<typeof HomeFacts>;

export const McpClientName = z.enum(["claude", "codex"]);
export type McpClientName = z.infer<typeof McpClientName>;

export const ClientFacts = z.object({
  client: McpClientName,
  /** `<client> --version`, or null when the command is not installed. */
  version: z.string().nullable(),
  /** The config file(s) read. */
  config: z.string(),
  /** Each registration of the server, with whether it is marked to load before the first turn (claude `alwaysLoad`, codex `required`). */
  registrations: z.array(z.object({ scope: z.string(), marked: z.boolean() })),
  /** A config that could not be read, or null. */
  problem: z.string().nullable(),
});
export type ClientFacts = z.infer<typeof ClientFacts>;


export const DoctorFacts = z.object({
  engine: EngineFacts,
  /** DOCKER_HOST, when set: the usual reason an engine that runs is not found. */
  dockerHost: z.string().nullable(),
  /** `docker info --format '{{json .}}'`, when the engine answered. */
  engineInfo: z.unknown().nullable(),
  baseImages: BaseImageFacts.nullable(),
  home: HomeFacts,
  secrets: z.array(SecretFacts),
  clients: z.array(ClientFacts),
  smolvm: SmolvmFacts,
  /** Free space where the engine keeps its images; null when that folder is not on this machine (Docker Desktop's VM). */
  disk: z.object({ path: z.string(), freeBytes: z.number() }).nullable(),
});
export type DoctorFacts = z.infer<typeof DoctorFacts>;
