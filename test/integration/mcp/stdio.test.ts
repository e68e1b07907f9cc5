import { describeWithDocker } from "../../support/docker.js";
import { connectStdio, useMcpTestHome } from "../../support/mcp-server.js";
import { toolSuite } from "./tool-suite.js";

describeWithDocker("the MCP server over stdio (SDK client, real bottle)", () => {
  const server = useMcpTestHome();
  toolSuite({ connect: async () => (await connectStdio(server.env)).client });
});
