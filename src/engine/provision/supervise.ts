import { guestAnswers } from "../../../backends/guest-http-probe.js";
import { guestUrl } from "../../../sidecars/contract.js";
import { log } from "../../log.js";
import { resolveProvider } from "../../providers/registry.js";
import type { ProvisionStep } from "./step.js";

/** The name the bottled agent knows the server by: its tools reach the model as `mcp__supervise__<tool>`. */
export const SUPERVISE_SERVER_NAME = "supervise";
export const SUPERVISE_URL = guestUrl("supervise", "/mcp");
const READY_TIMEOUT_MS = 30_000;

/**
 * Registers the bundle's supervise MCP server with the bottled agent, as the
 * agent user, with the provider's commands (for Claude Code and Codex, a
 * small node script that writes exactly what `claude mcp add-json` / `codex
 * mcp add` and the setting that lets `codex exec` call its tools would write,
 * without booting the client). A bottle whose registration fails still runs:
 * the failure is a warning of the start.
 */
export const superviseStep: ProvisionStep = {
  name: "supervise",
  describe: "registering the supervise MCP server with the agent",
  // It edits the client config provider-files writes; and a plugin's registration commands may already reach egress.
  after: ["ca", "provider-files"],
  async run(plan, bottle, report) {
    if (plan.sidecars.supervise === null) return;
    const warn = (message: string) => {
      log.warn({ bottle: plan.id }, message);
      report.warn(message);
    };
    // The stateless supervise server answers a GET with 405: any answer means it is up behind the forwarder.
    if (!(await guestAnswers(bottle, SUPERVISE_URL, 405, READY_TIMEOUT_MS))) {
      warn(`supervise: the server does not answer at ${SUPERVISE_URL} (nothing for ${READY_TIMEOUT_MS} ms); the agent cannot ask for approvals`);
      return;
    }
    const provider = await resolveProvider(plan.provider.name, plan.home);
    const commands = provider.mcpRegistration(SUPERVISE_SERVER_NAME, SUPERVISE_URL, plan.sidecars.supervise.timeoutMs / 1000);
    if (commands.length === 0) {
      warn(`supervise: provider ${provider.name} says nothing about registering MCP servers; the agent cannot ask for approvals`);
      return;
    }
    for (const argv of commands) {
      const result = await bottle.exec(argv, { user: plan.guest.user, cwd: plan.guest.home });
      if (result.exit_code !== 0) {
        warn(`supervise: registering with the agent failed: \`${argv.join(" ")}\` exited ${result.exit_code}: ${(result.stderr || result.stdout).trim().slice(0, 500)}`);
        return;
      }
    }
    log.info({ bottle: plan.id, url: SUPERVISE_URL }, "supervise server registered with the agent");
  },
};
