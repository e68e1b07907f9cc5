import { z } from "zod";
import { listPending, PendingProposal } from "../src/supervise/pending.js";
import { defineTool } from "./tool.js";

export const superviseListTool = defineTool({
  name: "supervise_list",
  title: "List supervise requests",
  description:
    "List the requests bottled agents are waiting on: new egress routes they ask for (egress-allow), free-form approvals (request-approval), " +
    "requests egress held for a secret it found (egress-dlp) and git-gate suppressions. Give bottle_id for one bottle, or nothing for all. " +
    "Each has id, bottle, kind, summary, payload (the details to judge, and what supervise_approve's `modified` edits) and age_s. " +
    "Answer each with supervise_approve; a bottled agent waits until then.",
  input: z.object({ bottle_id: z.string().min(1).optional().describe("Only this bottle's requests (from list_bottles).") }),
  output: z.object({ proposals: z.array(PendingProposal) }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  async run({ bottle_id }, { engine }) {
    const proposals = listPending(engine.home, bottle_id);
    const lines = proposals.map((p) => `- ${p.id} [${p.bottle}, ${p.kind}, ${p.age_s} s ago]: ${p.summary}`);
    return {
      structured: { proposals },
      text: proposals.length > 0 ? [`${proposals.length} pending request(s):`, ...lines].join("\n") : "No pending requests.",
    };
  },
});
