import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../package-root.js";
import { UserError } from "../user-error.js";

// What an MCP client runs to start this server, as `mcp install` registers
// it. The default is this very copy, by absolute paths: it starts whatever
// PATH the client has (a desktop app's is not your shell's), and it does not
// depend on the package being published. `npx` fetches the package from the
// npm registry, so it works only once the package is published there.

export const SERVER_COMMAND_FORMS = ["absolute", "path", "npx"] as const;
export type ServerCommandForm = (typeof SERVER_COMMAND_FORMS)[number];

export function serverCommand(form: ServerCommandForm): string[] {
  switch (form) {
    case "absolute":
      return [process.execPath, cliEntry(), "mcp"];
    case "path":
      return ["bot-bottle", "mcp"];
    case "npx":
      return ["npx", "-y", "bot-bottle", "mcp"];
  }
}

/** This copy's `bot-bottle` entry point, as package.json's `bin` names it. */
function cliEntry(): string {
  const { bin } = JSON.parse(readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { bin: Record<string, string> };
  const entry = path.join(packageRoot, bin["bot-bottle"]!);
  if (!existsSync(entry)) throw new UserError(`${entry} does not exist: build this copy first (npm run build)`);
  return entry;
}
