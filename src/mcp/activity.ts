import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { bottleActivity } from "../activity/bottle-activity.js";
import type { Engine } from "../engine/engine.js";
import { refusalsAsInvalidParams } from "./resource-errors.js";

// Each bottle's recent activity at its boundary as a resource,
// `bottle://<id>/activity` (the same as the bottle_activity tool without `since`).

export function attachActivity(server: McpServer, engine: Engine): void {
  server.registerResource(
    "activity",
    new ResourceTemplate("bottle://{id}/activity", {
      list: () => ({
        resources: engine.state.ids().map((id) => ({ uri: `bottle://${id}/activity`, name: `activity of ${id}`, mimeType: "application/json" })),
      }),
    }),
    {
      title: "Bottle activity",
      description: "What the bottle did at its boundary: egress decisions with their bytes, supervise requests and decisions (the 200 most recent).",
      mimeType: "application/json",
    },
    refusalsAsInvalidParams((uri, variables) => ({
      contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(bottleActivity(engine.home, String(variables.id)), null, 2) }],
    })),
  );
}
