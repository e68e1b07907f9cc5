// The agreement between the engine, the backends and the sidecars: where the
// bundle's daemons serve, which paths the bundle and the guest see, and the
// environment variables that configure the daemons. Everything that both sides
// must spell the same way is spelled here, once; the engine and the backends
// import it, and so do the sidecar mains (which import nothing from src/).
// It imports nothing: the forwarder (in every agent) and init (in every
// bundle) load it, and zod alone would add about 11 MiB to each of them;
// what a backend tells the bundle, as a schema, is in bundle-settings.ts.

/** The bundle's daemons, in the order init starts them. */
export const DAEMONS = ["egress", "supervise", "git-gate"] as const;
export type DaemonName = (typeof DAEMONS)[number];

/** Where the bundle serves its Unix sockets; mounted into the agent read-only. */
export const SOCKET_DIR = "/run/bot-bottle";
export const daemonSocket = (daemon: DaemonName) => `${SOCKET_DIR}/${daemon}.sock`;

/** The loopback ports the agent's forwarder listens on, one per daemon. */
export const GUEST_PORTS: Record<DaemonName, number> = { egress: 9099, supervise: 9100, "git-gate": 9418 };
export const guestUrl = (daemon: DaemonName, pathname = "") => `http://127.0.0.1:${GUEST_PORTS[daemon]}${pathname}`;
/** The forwarder's argument for one daemon: `127.0.0.1:PORT=SOCKET`. */
export const forwardMapping = (daemon: DaemonName) => `127.0.0.1:${GUEST_PORTS[daemon]}=${daemonSocket(daemon)}`;

/** Egress answers this path itself (200 when it is up); the engine's readiness probe and supervise's reload check ask it. */
export const HEALTH_PATH = "/__bot-bottle/health";

/** Paths inside the bundle container. */
export const BUNDLE_PATHS = {
  /** The bundle's own scripts (init.js, egress.js, ...). */
  scripts: "/opt/bot-bottle",
  init: "/opt/bot-bottle/init.js",
  /** Egress config (CA, extra upstream CA), read-only. */
  egressConfig: "/etc/bot-bottle/egress",
  /** Egress's live routes, read-write: supervise merges approved routes into them. */
  routes: "/var/lib/bot-bottle/egress-routes",
  /** The bottle's supervise queue, read-write. */
  queue: "/var/lib/bot-bottle/queue",
  /** The sidecars' logs (on the host under the state folder). */
  logs: "/var/log/bot-bottle",
  /** The git gate's configuration (gate.json), read-only. */
  gitGateConfig: "/etc/bot-bottle/git-gate",
  /** The git gate's bare mirrors, read-write (on the host, where get_changes reads them). */
  gitMirrors: "/var/lib/bot-bottle/git-mirrors",
  /** The mirrors' pre-receive hook, baked into the bundle image (sidecars/Dockerfile). */
  gitGateHooks: "/opt/bot-bottle/git-gate-hooks",
  /** A root-only tmpfs: the secrets handoff, and each daemon's private files. */
  private: "/run/bot-bottle-private",
} as const;

/** Paths inside the agent's guest. */
export const GUEST_PATHS = {
  /** The socket-to-port forwarder, the guest's first process. */
  forwarder: "/opt/bot-bottle/forwarder.js",
  /** The background-run monitor (sidecars/runner). */
  runner: "/opt/bot-bottle/runner.js",
  /** The file helper behind read_file / write_file / list_files (sidecars/guest-files). */
  guestFiles: "/opt/bot-bottle/files.js",
  /** Background runs' records, owned by root. */
  runs: "/var/lib/bot-bottle/runs",
  /** The bottle's egress CA, where update-ca-certificates picks it up. */
  ca: "/usr/local/share/ca-certificates/bot-bottle-egress.crt",
  /** The system trust bundle update-ca-certificates writes. */
  systemCaBundle: "/etc/ssl/certs/ca-certificates.crt",
} as const;

/** The forwarder prints this line once every listener is up; backends wait for it. */
export const FORWARDER_READY = "forwarder ready";

/** Environment variables the bundle's daemons read. */
export const ENV = {
  daemons: "BOT_BOTTLE_DAEMONS",
  privateDir: "BOT_BOTTLE_PRIVATE_DIR",
  bottleId: "BOT_BOTTLE_ID",
  forward: "BOT_BOTTLE_FORWARD",
  egressRoutes: "EGRESS_ROUTES",
  egressSocket: "EGRESS_SOCKET",
  egressCaCert: "EGRESS_CA_CERT",
  egressCaKey: "EGRESS_CA_KEY",
  egressExtraCa: "EGRESS_EXTRA_CA",
  egressAllowNetworks: "EGRESS_ALLOW_NETWORKS",
  egressLogFile: "EGRESS_LOG_FILE",
  egressQueueDir: "EGRESS_QUEUE_DIR",
  egressHoldTimeoutMs: "EGRESS_HOLD_TIMEOUT_MS",
  egressSecretsFile: "EGRESS_SECRETS_FILE",
  egressListen: "EGRESS_LISTEN",
  egressDlpMaxBodyBytes: "EGRESS_DLP_MAX_BODY_BYTES",
  superviseQueueDir: "SUPERVISE_QUEUE_DIR",
  superviseSocket: "SUPERVISE_SOCKET",
  superviseTimeoutMs: "SUPERVISE_TIMEOUT_MS",
  gitGateConfig: "GIT_GATE_CONFIG",
  gitGateMirrors: "GIT_GATE_MIRRORS",
  gitGateHooksDir: "GIT_GATE_HOOKS_DIR",
  gitGateSocket: "GIT_GATE_SOCKET",
  gitGateQueueDir: "GIT_GATE_QUEUE_DIR",
  gitGateHoldTimeoutMs: "GIT_GATE_HOLD_TIMEOUT_MS",
  gitGateSecretsFile: "GIT_GATE_SECRETS_FILE",
  gitGateListen: "GIT_GATE_LISTEN",
} as const;

/** File names inside the bundle's folders. */
export const BUNDLE_FILES = { caCert: "ca.pem", caKey: "ca-key.pem", egressLog: "egress.jsonl", gateConfig: "gate.json" } as const;
