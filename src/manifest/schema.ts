import { z } from "zod";
import { DEFAULT_RESOURCES, describeResources, EffectiveResources, Resources } from "./resources.js";

// The frontmatter keys of bottle and agent manifests (design.md section 3).
// Every object is strict: an unknown key is an error, never silently ignored,
// because a misspelt security key (say `tls_pasthrough`) must not quietly
// change what a bottle allows.

/** Name of a variable in the HOST environment (tokens are referenced, never inlined). */
export const HostEnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name (letters, digits, _)");

/** A manifest name: the file name without `.md`. */
export const ManifestName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, "must be a manifest name (lower case letters, digits and -, starting with a letter)");

const NameOrNames = z.union([ManifestName, z.array(ManifestName).min(1)]);

const HOST_PATTERN = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$/;
const IPV6_PATTERN = /^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/;

/** `host` (https, port 443), `host:port` (any other port; plain http is `host:80`), `*.suffix`, an IPv4 literal or a bracketed IPv6 literal. */
export const RouteHost = z
  .string()
  // One regex rather than a refine, so the published JSON Schema carries the pattern too.
  .regex(
    new RegExp(`${HOST_PATTERN.source}|${IPV6_PATTERN.source}`),
    "must be a host name, optionally with :port (e.g. api.example.com or git.example.com:8443)",
  );

export const PathMatch = z.strictObject({
  type: z.enum(["prefix", "exact", "regex"]),
  value: z.string().min(1),
});

export const HttpMethod = z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** One Gateway-API style match: every given field must hold. */
export const RouteMatch = z.strictObject({
  paths: z.array(PathMatch).min(1).optional(),
  methods: z.array(HttpMethod).min(1).optional(),
  headers: z.record(z.string().min(1), z.string()).optional(),
});

export const RouteAuth = z.strictObject({
  /** `Authorization: Bearer|token <value>`, or the `x-api-key` header (Anthropic API keys). */
  scheme: z.enum(["Bearer", "token", "x-api-key"]),
  token_ref: HostEnvName,
});

export const DlpDetector = z.enum(["token_patterns", "known_secrets", "entropy"]);

export const RouteDlp = z.strictObject({
  outbound_detectors: z.array(DlpDetector).optional(),
  inbound_detectors: z.array(DlpDetector).optional(),
  outbound_on_match: z.enum(["supervise", "redact", "block"]).optional(),
  /** Host variables whose values are also treated as known secrets (opt-in). */
  known_secret_env: z.array(HostEnvName).optional(),
});

export const EgressRoute = z
  .strictObject({
    host: RouteHost.describe("host (https on 443), host:port for any other port (plain http is host:80), *.suffix, or an IP literal"),
    matches: z.array(RouteMatch).min(1).optional(),
    auth: RouteAuth.optional(),
    dlp: RouteDlp.optional(),
    tls_passthrough: z.boolean().optional(),
  })
  // Egress never sees inside a passthrough tunnel, so it could enforce none of these.
  .refine((route) => !route.tls_passthrough || (route.matches === undefined && route.auth === undefined && route.dlp === undefined), {
    message: "a tls_passthrough route cannot also declare matches, auth or dlp: egress never sees inside its TLS",
    path: ["tls_passthrough"],
  });

export const Egress = z.strictObject({
  routes: z.array(EgressRoute).optional(),
  log: z
    .union([z.literal(0), z.literal(1), z.literal(2)])
    .optional()
    .describe("Egress decision log: 0 none, 1 refusals, redactions and holds, 2 also every allowed request and tunnel with its bytes (default)."),
});

export const GitUser = z.strictObject({
  name: z.string().min(1).optional(),
  email: z.string().min(1).optional(),
});

export const GitKey = z.discriminatedUnion("provider", [
  z.strictObject({ provider: z.literal("static"), path: z.string().min(1) }),
  z.strictObject({ provider: z.literal("gitea"), forge_token_env: HostEnvName, api_url: z.url() }),
]);

export const GitRepo = z.strictObject({
  url: z.string().min(1),
  host_key: z.string().min(1),
  key: GitKey,
});

export const GitGate = z.strictObject({
  user: GitUser.optional(),
  repos: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, "must be a repository name (letters, digits, . _ -)"), GitRepo).optional(),
});

/**
 * The agent's release: an exact npm version (2.1.332, 1.0.0-beta.2) or a
 * dist-tag (latest, next). It reaches the image build as the AGENT_VERSION
 * build arg, which a Dockerfile expands inside a shell command, so anything
 * but these characters (a space, `$`, a quote, `;`, a range such as `^2`) is
 * refused here. One regex, so the published JSON Schema carries it too.
 */
export const AgentVersion = z
  .string()
  // abort: an empty value is reported once, not also as a bad pattern
  .min(1, { abort: true })
  .max(64, "must be at most 64 characters")
  .regex(
    /^(?:[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?|[A-Za-z][A-Za-z0-9._-]*)$/,
    "must be an npm version (such as 2.1.332) or dist-tag (such as latest): letters, digits, \".\", \"-\", \"_\" and \"+\" only (no range, space or shell character: it becomes a build arg)",
  )
  .describe("The agent's release the image installs: an npm version (such as 2.1.332) or dist-tag (such as latest); default: the release this bot-bottle pins.");

export const AgentProvider = z.strictObject({
  /** claude | codex | the name of a user plugin under $BOT_BOTTLE_HOME/contrib/. */
  template: ManifestName,
  /** Which release of the agent the image installs; the provider's pinned default when absent. */
  version: AgentVersion.optional(),
  dockerfile: z.string().min(1).optional(),
  /** Name of the host secret holding the model API credential (Claude: a long-lived OAuth token by default): an environment variable, else a `bot-bottle secret set` entry. */
  auth_token: HostEnvName.optional(),
  /** What `auth_token` holds, for Claude: an OAuth token (the default) or an API key. */
  auth_kind: z.enum(["oauth", "api_key"]).optional(),
  forward_host_credentials: z.boolean().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});

/** `supervise`: on (true, the default) or off, or on with how long one request waits for an answer. */
export const Supervise = z.union([
  z.boolean(),
  z.strictObject({
    /** How long one call of the bottled agent waits for an answer before it is told "still pending" (default 30). */
    timeout_s: z.number().int().positive().max(3600),
  }),
]);

const EnvValue = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

/**
 * `agent_provider` as one bottle file states it: fields overlay those of the
 * bottles it extends, so `template` may come from a parent; the effective
 * bottle must end up with one.
 */
export const AgentProviderLayer = AgentProvider.partial({ template: true });

/** Where a bottle runs: Docker containers, or libkrun microVMs through smolvm (the sidecars stay in Docker). */
export const BackendName = z.enum(["docker", "smolmachines"]);
export type BackendName = z.infer<typeof BackendName>;

export const BottleFrontmatter = z.strictObject({
  extends: NameOrNames.optional().describe("Parent bottle(s), merged left to right; this bottle wins."),
  env: z.record(HostEnvName, EnvValue).optional().describe("Variables for the agent: literal values only, never secrets."),
  agent_provider: AgentProviderLayer.optional().describe(
    "Which agent runs in the bottle (template claude | codex | a plugin), which release of it (version: an npm version or dist-tag) and how it authenticates.",
  ),
  egress: Egress.optional().describe("The only hosts the agent may reach, and the credentials the proxy injects for them."),
  "git-gate": GitGate.optional().describe("Repositories the agent may fetch from and push to through the secret-scanning gate."),
  backend: BackendName.optional().describe("Where the agent runs: docker (containers) or smolmachines (a libkrun microVM per bottle, through smolvm). Default: docker when its engine answers."),
  pool: z
    .number()
    .int()
    .min(0)
    .max(16)
    .optional()
    .describe("Keep this many bottles of each agent using this bottle launched and waiting, so that start_bottle claims one at once (bot-bottle mcp keeps them; 0, the default: none)."),
  supervise: Supervise.optional().describe("Give the agent the supervise channel to ask for approvals (default true); {timeout_s} sets how long one request waits for an answer."),
  resources: Resources.optional().describe(
    `Limits of the agent container: memory (such as 4g), cpus (such as 2; at most the host's) and pids (processes and threads). ` +
      `Each field left out keeps its default: ${describeResources(DEFAULT_RESOURCES)}.`,
  ),
});

/**
 * One folder directly under the host's skills folder. Never `.` or `..`, never
 * a path: `..` would copy the host's whole ~/.claude (credentials included)
 * into the bottle. One regex, so the published JSON Schema refuses them too.
 */
export const SkillName = z
  .string()
  .regex(
    /^(?!\.\.?$)[A-Za-z0-9._-]+$/,
    'must be the name of one folder under ~/.claude/skills/ (letters, digits, ".", "_", "-"; not "." or "..", no "/")',
  );

export const AgentFrontmatter = z.strictObject({
  bottle: NameOrNames.optional().describe("The bottle(s) the agent runs in; a list merges left to right."),
  skills: z
    .array(SkillName)
    .optional()
    .describe("Skill folders copied from the host's ~/.claude/skills/."),
  "git-gate": z
    .strictObject({ user: GitUser.optional() })
    .optional()
    .describe("Commit identity, overlaying the bottle's git-gate.user."),
  // Claude Code subagent fields: accepted so one file can serve both tools.
  name: z.string().optional(),
  description: z.string().optional(),
  model: z.string().optional(),
  color: z.string().optional(),
});

export type RouteMatch = z.infer<typeof RouteMatch>;
export type EgressRoute = z.infer<typeof EgressRoute>;
export type GitUser = z.infer<typeof GitUser>;
export type GitRepo = z.infer<typeof GitRepo>;
export type BottleFrontmatter = z.infer<typeof BottleFrontmatter>;
export type AgentFrontmatter = z.infer<typeof AgentFrontmatter>;

/**
 * The file line of each key path in a frontmatter (`extends[1]` -> 3), kept so
 * that problems found after loading (a missing parent, a cycle) can still
 * point at their line.
 */
export const KeyLines = z.record(z.string(), z.number().int().positive());

/** A bottle file as loaded: its frontmatter, where it came from, its body (documentation). */
export const BottleFile = z.object({
  name: ManifestName,
  source: z.string(),
  config: BottleFrontmatter,
  body: z.string(),
  lines: KeyLines.optional(),
});
export type BottleFile = z.infer<typeof BottleFile>;

/**
 * Where an agent file was found: the user's home (`$BOT_BOTTLE_HOME/agents/`)
 * or a repository (`.bot-bottle/agents/` of the cwd). A repository agent was
 * written by whoever wrote the repository, so callers are told which it is.
 */
export const AgentOrigin = z.enum(["home", "repository"]);
export type AgentOrigin = z.infer<typeof AgentOrigin>;

/** An agent file as loaded; the body is the agent's system prompt. */
export const AgentFile = z.object({
  name: ManifestName,
  source: z.string(),
  origin: AgentOrigin,
  config: AgentFrontmatter,
  prompt: z.string(),
  lines: KeyLines.optional(),
});
export type AgentFile = z.infer<typeof AgentFile>;

/**
 * The effective bottle after `extends` and overlays: no `extends` left, and the
 * defaults filled in so nothing downstream re-derives them.
 */
export const EffectiveBottle = z.object({
  names: z.array(ManifestName).min(1),
  env: z.record(z.string(), z.string()),
  agent_provider: AgentProvider,
  egress: z.object({ routes: z.array(EgressRoute), log: z.union([z.literal(0), z.literal(1), z.literal(2)]) }),
  git_gate: z.object({ user: GitUser, repos: z.record(z.string(), GitRepo) }),
  /** null: the engine's default (docker when it answers). */
  backend: BackendName.nullable(),
  /** Warm bottles bot-bottle mcp keeps ready for agents of this bottle. */
  pool: z.number().int().min(0),
  supervise: Supervise,
  resources: EffectiveResources,
});
export type EffectiveBottle = z.infer<typeof EffectiveBottle>;

/** Exactly one agent plus its one effective bottle. */
export const Manifest = z.object({
  agent: AgentFile,
  bottle: EffectiveBottle,
});
export type Manifest = z.infer<typeof Manifest>;

export const ManifestKind = z.enum(["bottle", "agent"]);
export type ManifestKind = z.infer<typeof ManifestKind>;

/** One problem in a manifest file, precise enough to print as FILE:LINE: KEYPATH: MESSAGE. */
export const ManifestIssue = z.object({
  file: z.string(),
  /** e.g. `egress.routes[0].tls_passthrough`; empty when the problem is the whole file. */
  keyPath: z.string(),
  line: z.number().int().positive().optional(),
  message: z.string(),
  /** e.g. `did you mean "tls_passthrough"?` */
  hint: z.string().optional(),
});
export type ManifestIssue = z.infer<typeof ManifestIssue>;

/** A manifest file that failed to load; listed so one bad file never hides the others. */
export const BrokenManifest = z.object({
  kind: ManifestKind,
  name: z.string(),
  source: z.string(),
  error: z.string(),
  issues: z.array(ManifestIssue),
});
export type BrokenManifest = z.infer<typeof BrokenManifest>;

/**
 * A repository agent named like a home agent (good or broken). It is never
 * loaded: a repository must not replace what the user's own agent name means.
 */
export const AgentConflict = z.object({
  name: z.string(),
  /** The repository's file, which is not loaded. */
  source: z.string(),
  /** The home agent's file, which keeps the name. */
  home_source: z.string(),
  /** What to tell the user: both files, and to rename the repository's. */
  message: z.string(),
});
export type AgentConflict = z.infer<typeof AgentConflict>;

/** Everything loaded from the home directory and the project, before any resolution. */
export const ManifestIndex = z.object({
  home: z.string(),
  cwd: z.string(),
  bottles: z.record(ManifestName, BottleFile),
  agents: z.record(ManifestName, AgentFile),
  broken: z.array(BrokenManifest),
  conflicts: z.array(AgentConflict),
  warnings: z.array(z.string()),
});
export type ManifestIndex = z.infer<typeof ManifestIndex>;

/** Files named on a command line, checked one by one (no cross-file resolution). */
export const ManifestFiles = z.object({
  bottles: z.array(BottleFile),
  agents: z.array(AgentFile),
  broken: z.array(BrokenManifest),
});
export type ManifestFiles = z.infer<typeof ManifestFiles>;
