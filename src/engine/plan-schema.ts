import { z } from "zod";
import { EffectiveResources } from "../manifest/resources.js";
import { AgentOrigin, BackendName } from "../manifest/schema.js";
import { SecretSource } from "../providers/provider.js";

// A BottlePlan is everything launch and provisioning need, resolved once from
// the manifest. It is saved as `state/<id>/plan.json`, so a later process can
// reattach to the bottle without re-reading (possibly edited) manifests.

const GuestFile = z.object({ host: z.string(), guest: z.string() });

export const ImagePlan = z.object({
  dockerfile: z.string(),
  /** Further host files placed beside the Dockerfile in the build context. */
  files: z.array(z.string()),
  /** Where the Dockerfile came from in the cascade, for the preflight summary. */
  dockerfileOrigin: z.enum(["start-option", "manifest", "plugin", "provider"]),
  baseImage: z.string(),
  /**
   * `--build-arg`s of the build (the agent's AGENT_VERSION); part of the image's
   * cache key. Plans written before this field existed read as none.
   */
  buildArgs: z.record(z.string(), z.string()).default({}),
  /** Extra CA bundle trusted by the image build only (TLS-inspecting proxies). */
  buildCa: z.string().nullable(),
});

/**
 * A repository the git gate pushes upstream to, as the bottle declares it,
 * with where its private key comes from at launch (sources only, never a key).
 */
export const GateRepoPlan = z.object({
  name: z.string(),
  url: z.string(),
  /** The known_hosts line the upstream's host key must match. */
  hostKey: z.string(),
  key: z.discriminatedUnion("provider", [
    /** A private key file on the host (absolute path), read at launch. */
    z.object({ provider: z.literal("static"), path: z.string() }),
    /** A deploy key created at launch through Gitea's API (token: the host secret named tokenSecret) and deleted at stop. */
    z.object({ provider: z.literal("gitea"), apiUrl: z.string(), tokenSecret: z.string(), owner: z.string(), repo: z.string() }),
  ]),
});
export type GateRepoPlan = z.infer<typeof GateRepoPlan>;

export const BottlePlan = z.object({
  id: z.string(),
  home: z.string(),
  /** Short hash of the home folder, carried as a label so two homes never touch each other's bottles. */
  homeLabel: z.string(),
  stateDir: z.string(),
  backend: BackendName,
  agent: z.object({ name: z.string(), source: z.string(), origin: AgentOrigin }),
  bottles: z.array(z.string()),
  label: z.string().nullable(),
  cwd: z.string().nullable(),
  provider: z.object({
    name: z.string(),
    /** The agent release the image installs (AGENT_VERSION); null when its Dockerfile pins its own (or the plan predates versions). */
    version: z.string().nullable().default(null),
  }),
  images: z.object({ agent: ImagePlan, bundle: ImagePlan }),
  guest: z.object({
    user: z.string(),
    home: z.string(),
    workspace: z.string(),
    /** The agent's environment: the bottle's env, proxy and CA settings, provider placeholders. Never secrets. */
    env: z.record(z.string(), z.string()),
  }),
  prompt: GuestFile,
  /** Provider files (config, placeholder credentials) rendered at prepare time into the state folder. */
  providerFiles: z.array(GuestFile.extend({ mode: z.number().int() })),
  skills: z.array(z.object({ name: z.string(), host: z.string(), guest: z.string() })),
  gitUser: z.object({ name: z.string().optional(), email: z.string().optional() }),
  ca: z.object({ cert: z.string(), key: z.string(), guestCert: z.string() }),
  sidecars: z.object({
    daemons: z.array(z.enum(["egress", "supervise", "git-gate"])),
    /** `127.0.0.1:PORT=/run/bot-bottle/NAME.sock` mappings for the agent's forwarder. */
    forwards: z.array(z.string()),
    /** Host folder mounted read-only at /etc/bot-bottle/egress in the bundle (CA, extra upstream CA). */
    egressConfigDir: z.string(),
    /** Host path of egress's live routes file; its folder is mounted read-write in the bundle, where supervise merges approved routes. */
    routesFile: z.string(),
    /** File name, inside egressConfigDir, of extra CAs egress trusts for upstream servers; null for none. */
    egressExtraCa: z.string().nullable(),
    /** Private networks (CIDRs) that declared names may resolve into; egress refuses every other private address. */
    egressAllowNetworks: z.array(z.string()),
    /** How long egress holds a request DLP sent for review before refusing it. */
    egressHoldTimeoutMs: z.number().int().positive(),
    /** Host folder of the bottle's supervise queue (`$BOT_BOTTLE_HOME/queue/<id>`), mounted read-write in the bundle. */
    queueDir: z.string(),
    /** Host folder for the sidecars' logs (`state/<id>/logs`), mounted read-write in the bundle. */
    logDir: z.string(),
    /** Bundle env var -> where its secret value is read at launch (sources only, never values). */
    secrets: z.record(z.string(), SecretSource),
    /** The supervise server's settings; null when the bottle says `supervise: false` (no daemon, no registration). */
    supervise: z.object({ timeoutMs: z.number().int().positive() }).nullable(),
  }),
  /**
   * The git gate: the repositories it pushes upstream to, sorted by name
   * (repository n's private key reaches the bundle as the secret
   * GIT_GATE_KEY_<n>), the bottle's cwd repository it serves as `origin`,
   * and its host folders. Plans written before the gate read as no gate.
   */
  gitGate: z
    .object({
      repos: z.array(GateRepoPlan),
      /** The cwd repository served as `origin`: the commit it starts from (null: none yet) and the host-side record of the branches it was seeded with. */
      origin: z.object({ base: z.string().nullable(), seedFile: z.string() }).nullable(),
      /** Null when the gate does not run (no repositories, no git repository as cwd); else gate.json's folder (read-only in the bundle) and the mirrors' (read-write). */
      folders: z.object({ config: z.string(), mirrors: z.string() }).nullable(),
    })
    .default({ repos: [], origin: null, folders: null }),
  /** The bottle's `resources` key, defaults filled in: the agent container's memory (bytes), CPUs and pids limits. */
  limits: EffectiveResources,
  /** Backend resource names. */
  resources: z.object({ agent: z.string(), bundle: z.string(), network: z.string(), volume: z.string() }),
});
export type BottlePlan = z.infer<typeof BottlePlan>;

/** The backends a plan can name (the manifest's `backend` key, as backends see it). */
export const PlanBackend = BottlePlan.shape.backend;
export type PlanBackend = z.infer<typeof PlanBackend>;

/** A host file the plan wants written before launch (prompt, provider files, routes, gate.json). */
export const PlannedFile = z.object({ path: z.string(), content: z.string(), mode: z.number().int() });
export type PlannedFile = z.infer<typeof PlannedFile>;

/** What planning returns: the plan, and the files launch writes; planning itself writes nothing. */
export const PreparedBottle = z.object({ plan: BottlePlan, files: z.array(PlannedFile) });
export type PreparedBottle = z.infer<typeof PreparedBottle>;
export type ImagePlan = z.infer<typeof ImagePlan>;
