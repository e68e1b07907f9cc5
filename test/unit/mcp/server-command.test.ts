import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { serverCommand } from "../../../src/mcp/server-command.js";
import { repoRoot } from "../../support/cli.js";

describe("the server command mcp install registers", () => {
  it("by default, this copy by absolute paths: the running Node and the cli.js package.json's bin names", () => {
    const [node, cli, ...args] = serverCommand("absolute");
    expect(node).toBe(process.execPath);
    expect(cli).toBe(path.join(repoRoot, "dist", "src", "cli.js"));
    expect(existsSync(cli!)).toBe(true);
    expect(args).toEqual(["mcp"]);
  });

  it("bot-bottle from the client's PATH, or npx for the published package", () => {
    expect(serverCommand("path")).toEqual(["bot-bottle", "mcp"]);
    expect(serverCommand("npx")).toEqual(["npx", "-y", "bot-bottle", "mcp"]);
  });
});
