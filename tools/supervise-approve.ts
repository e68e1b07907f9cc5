import { decide, DecisionRecord, DecisionRequest } from "../src/supervise/decide.js";
import { defineTool } from "./tool.js";

export const superviseApproveTool = defineTool({
  name: "supervise_approve",
  title: "Answer a supervise request",
  description:
    "Answer a request a bottled agent is waiting on (ids from supervise_list): decision approve, reject, or modify (approve an edited payload: " +
    "give `modified`, the whole payload as supervise_list showed it, changed; it is checked like the original). `notes` reach the bottled agent, so say why. " +
    "An approved egress-allow route is live in the bottle's egress at once, and its new requests carry no credential: when the summary names a credential " +
    "(the host already injects a token, or the route asks for one), a plain approval opens the requests without it, and only extend_credential: true lets them carry it. " +
    "Each request is answered once: an unknown or already answered id is an error. " +
    "Returns the recorded decision (also appended to the bottle's audit log).",
  input: DecisionRequest.extend({
    request_id: DecisionRequest.shape.request_id.describe("The request's id, from supervise_list."),
    decision: DecisionRequest.shape.decision.describe("approve, reject, or modify (approve the edited payload given in `modified`)."),
    notes: DecisionRequest.shape.notes.describe("Why; the bottled agent reads them."),
    modified: DecisionRequest.shape.modified.describe("With decision modify: the edited payload."),
    extend_credential: DecisionRequest.shape.extend_credential.describe(
      "egress-allow approvals only: true to let the approved requests carry the credential the summary names (widening the host's credentialed route, or injecting the token the route asks for). Omit to open them without any credential.",
    ),
  }),
  output: DecisionRecord,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, { engine }) {
    const record = decide(engine.home, args, "the outer agent (supervise_approve)");
    const how = [record.modified ? "modified" : "", record.extend_credential ? "extending the credential" : ""].filter((word) => word !== "").join(", ");
    const verb = record.decision === "approve" ? `Approved${how ? ` (${how})` : ""}` : "Rejected";
    return { structured: record, text: `${verb} request ${record.request_id} of bottle ${record.bottle}: ${record.summary}` };
  },
});
