import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { log } from "../log.js";
import { decide } from "../supervise/decide.js";
import { listPending, type PendingProposal, queuedBottles } from "../supervise/pending.js";
import { type QueueEvent, watcherFor } from "../supervise/watch.js";
import { refusalsAsInvalidParams } from "./resource-errors.js";

// How pending supervise proposals reach an MCP client without it polling:
// each bottle's pending proposals are a resource (`bottle://<id>/supervise`)
// with subscriptions and `notifications/resources/updated`; every new
// proposal is also a logging notification; and with --elicit, a client that
// supports elicitation gets a form asking its human to decide, whose answer
// is recorded with the name the human gave. Without elicitation support the
// proposals are still there for supervise_list and supervise_approve.

export interface SuperviseOptions {
  /** Ask the client's human directly (elicitation), where the client supports it. */
  elicit: boolean;
}

const superviseUri = (bottle: string) => `bottle://${bottle}/supervise`;

/** Elicitations can wait for a person for a long time; a decision elsewhere cancels them sooner. */
const ELICITATION_TIMEOUT_MS = 60 * 60_000;

const ELICITATION_SCHEMA = {
  type: "object" as const,
  properties: {
    decision: { type: "string" as const, title: "Decision", enum: ["approve", "reject"], description: "approve or reject the request" },
    notes: { type: "string" as const, title: "Notes", description: "what the bottled agent is told along with the decision" },
    answered_by: { type: "string" as const, title: "Your name", description: "recorded in the audit log as who decided" },
  },
  required: ["decision"],
};

const describe = (p: PendingProposal) => `bottle ${p.bottle} asks (${p.kind}): ${p.summary} [request ${p.id}]`;

/** Adds the supervise resources and notifications to one server; call before it connects. */
export function attachSupervise(server: McpServer, home: string, options: SuperviseOptions): void {
  const subscribed = new Set<string>();
  const asking = new Map<string, AbortController>();

  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true }, logging: {} });
  server.registerResource(
    "supervise",
    new ResourceTemplate("bottle://{id}/supervise", {
      list: () => ({
        resources: queuedBottles(home).map((bottle) => ({ uri: superviseUri(bottle), name: `supervise queue of ${bottle}`, mimeType: "application/json" })),
      }),
    }),
    {
      title: "Pending supervise requests",
      description: "The requests a bottled agent is waiting on (answer them with supervise_approve). Subscribe to hear when one arrives.",
      mimeType: "application/json",
    },
    refusalsAsInvalidParams((uri, variables) => {
      const bottle = String(variables.id);
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ bottle, pending: listPending(home, bottle) }, null, 2) }] };
    }),
  );
  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    subscribed.add(request.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });

  const resourceChanged = (bottle: string) => {
    if (subscribed.has(superviseUri(bottle))) void server.server.sendResourceUpdated({ uri: superviseUri(bottle) }).catch(() => undefined);
  };

  const elicit = async (proposal: PendingProposal) => {
    const controller = new AbortController();
    asking.set(proposal.id, controller);
    try {
      const result = await server.server.elicitInput(
        {
          mode: "form",
          message: `${describe(proposal)}\n\nDetails: ${JSON.stringify(proposal.payload, null, 2)}`,
          requestedSchema: ELICITATION_SCHEMA,
        },
        { signal: controller.signal, timeout: ELICITATION_TIMEOUT_MS },
      );
      if (result.action !== "accept" || !result.content) return;
      const { decision, notes, answered_by } = result.content as { decision: "approve" | "reject"; notes?: string; answered_by?: string };
      const client = server.server.getClientVersion()?.name ?? "an MCP client";
      const who = answered_by?.trim() || "a person";
      decide(home, { request_id: proposal.id, decision, ...(notes ? { notes } : {}) }, `${who} (asked through ${client})`);
      log.info({ request: proposal.id, decision, by: who }, "supervise request decided through elicitation");
    } catch (error) {
      // Declined, cancelled, decided elsewhere or unsupported: the tools remain.
      log.debug({ request: proposal.id, err: (error as Error).message }, "elicitation ended without a decision");
    } finally {
      asking.delete(proposal.id);
    }
  };

  const onEvent = (event: QueueEvent) => {
    if (event.type === "decided") {
      asking.get(event.id)?.abort();
      resourceChanged(event.bottle);
      return;
    }
    const proposal = event.proposal;
    resourceChanged(proposal.bottle);
    void server
      .sendLoggingMessage({ level: "notice", logger: "supervise", data: `${describe(proposal)}; answer with supervise_approve` })
      .catch(() => undefined);
    if (options.elicit && server.server.getClientCapabilities()?.elicitation) void elicit(proposal);
  };

  // Only an initialized client may be sent notifications and requests.
  server.server.oninitialized = () => {
    const unsubscribe = watcherFor(home).subscribe(onEvent);
    const closed = server.server.onclose;
    server.server.onclose = () => {
      unsubscribe();
      for (const controller of asking.values()) controller.abort();
      closed?.();
    };
  };
}
