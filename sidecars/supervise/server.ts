import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { checkEgressAllow, checkRequestApproval, declaredTokens, egressAllowSummary, EgressAllowPayload, RequestApprovalPayload } from "./proposals.js";
import { ProposalId } from "./queue.js";
import { MatchView, RouteView, viewOf } from "./route-view.js";
import { DecisionResult, type Supervisor } from "./supervisor.js";

// The MCP server the bottled agent sees (as `supervise`): it asks for a new
// egress route or for approval of anything else, and waits for the answer of a
// person or the outer agent. One server per HTTP request (the transport is
// stateless), all sharing one Supervisor.

const INSTRUCTIONS = `Ask a human (or the agent supervising you) before doing what your sandbox does not allow or what you are unsure about.
- list-egress-routes: the hosts you may reach now (read-only).
- egress-allow: ask for a host you need to reach; on approval it works at once.
- request-approval: ask about anything else (a risky action, a change of plan).
Each waits a while for the answer. "pending" means nobody has answered yet: do something else and call await-decision with the request_id later.`;

const DecisionOutput = DecisionResult.shape;

const refusal = (text: string): CallToolResult => ({ content: [{ type: "text", text }], isError: true });

const decided = (outcome: DecisionResult): CallToolResult => ({
  content: [{ type: "text", text: `${outcome.message}${outcome.request_id ? ` (request_id ${outcome.request_id})` : ""}` }],
  structuredContent: outcome,
});

/** Runs a handler, turning a thrown error into an `isError` result the model can read. */
async function guarded(work: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await work();
  } catch (error) {
    return refusal((error as Error).message);
  }
}

export function createSuperviseServer(supervisor: Supervisor): McpServer {
  const server = new McpServer({ name: "supervise", title: "bot-bottle supervise", version: "1.0.0" }, { instructions: INSTRUCTIONS });

  server.registerTool(
    "list-egress-routes",
    {
      title: "List egress routes",
      description:
        "List the hosts this sandbox may reach right now, with their request filters and which token (by name) the proxy injects. " +
        "Token values are never shown. `tokens` lists the token names an egress-allow request may use for auth.",
      inputSchema: z.object({}),
      outputSchema: z.object({ routes: z.array(RouteView), tokens: z.array(z.string()) }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    () =>
      guarded(async () => {
        const { routes } = supervisor.routes.read();
        const view = routes.map(viewOf);
        const lines = view.map((r) => `- ${r.port === null ? r.host : `${r.host}:${r.port}`}${r.matches ? ` (${r.matches.length} match rule(s))` : ""}${r.auth ? `, auth ${r.auth.token}` : ""}`);
        return {
          content: [{ type: "text", text: view.length > 0 ? lines.join("\n") : "No host is reachable." }],
          structuredContent: { routes: view, tokens: declaredTokens(routes) },
        };
      }),
  );

  server.registerTool(
    "egress-allow",
    {
      title: "Ask for an egress route",
      description:
        "Ask for permission to reach a host that egress refuses (403). Give the host, optionally a port and request filters " +
        "(matches: [{paths: [{type: prefix|exact|regex, value}], methods, headers}]), optional auth naming a token from list-egress-routes, " +
        "and why you need it. New requests go without a credential unless the approver explicitly extends one; the answer's route says what went live. " +
        "Waits for the answer: approved (the route is live at once), rejected (with notes), or pending (ask again with await-decision).",
      inputSchema: z.object({
        host: EgressAllowPayload.shape.host.describe("host name (lower case), or *.suffix"),
        port: z.number().int().min(1).max(65535).optional().describe("omit for 443 (https)"),
        matches: z.array(MatchView).min(1).optional().describe("omit to allow every request to the host"),
        auth: EgressAllowPayload.shape.auth.unwrap().optional().describe("a token the bottle already declares, injected by the proxy only if the approver extends it"),
        justification: EgressAllowPayload.shape.justification.describe("why you need this host"),
      }),
      outputSchema: DecisionOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const payload = { host: args.host, port: args.port ?? null, matches: args.matches ?? null, auth: args.auth ?? null, justification: args.justification };
        const { routes } = supervisor.routes.read();
        const check = checkEgressAllow(payload, declaredTokens(routes));
        if (!check.ok) return refusal(`Not a valid route request: ${check.problems.join("; ")}`);
        return decided(await supervisor.propose("egress-allow", egressAllowSummary(check.payload, routes), check.payload, extra.signal));
      }),
  );

  server.registerTool(
    "request-approval",
    {
      title: "Ask for approval",
      description:
        "Ask a human (or the agent supervising you) to approve something: a risky or irreversible action, a change of plan, anything you are unsure about. " +
        "Waits for the answer: approved or rejected, with the approver's notes, or pending (ask again with await-decision).",
      inputSchema: z.object({
        summary: RequestApprovalPayload.shape.summary.describe("one line: what you want to do"),
        justification: RequestApprovalPayload.shape.justification.describe("why"),
        details: RequestApprovalPayload.shape.details.unwrap().optional().describe("anything the approver should read first"),
      }),
      outputSchema: DecisionOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const check = checkRequestApproval({ summary: args.summary, justification: args.justification, details: args.details ?? null });
        if (!check.ok) return refusal(`Not a valid request: ${check.problems.join("; ")}`);
        return decided(await supervisor.propose("request-approval", check.payload.summary, check.payload, extra.signal));
      }),
  );

  server.registerTool(
    "await-decision",
    {
      title: "Wait for a decision",
      description: "Ask again about a request that came back pending: waits for its answer once more and returns approved, rejected or still pending.",
      inputSchema: z.object({ request_id: ProposalId.describe("the request_id a pending answer gave") }),
      outputSchema: DecisionOutput,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args, extra) => guarded(async () => decided(await supervisor.await(args.request_id, extra.signal))),
  );

  return server;
}
