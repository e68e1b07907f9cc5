import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { homePaths } from "../home.js";
import { UserError } from "../user-error.js";
import { jsonLines } from "./headless.js";
import type { Provider } from "./provider.js";

// A user plugin is `$BOT_BOTTLE_HOME/contrib/<name>/provider.mjs` (or .js),
// an ES module exporting `provider`, with an optional Dockerfile beside it.
// Its exports are checked here so a mistake is reported against the file.

const PLUGIN_FILES = ["provider.mjs", "provider.js"];

const fn = () => z.custom<(...args: unknown[]) => unknown>((v) => typeof v === "function", "must be a function");

const PluginExport = z.object({
  guestUser: z.string().default("node"),
  guestHome: z.string().default("/home/node"),
  /** Placeholder environment for the agent (never secrets). */
  env: z.record(z.string(), z.string()).default({}),
  headless: z.object({
    /** (request: {prompt, model?, maxTurns?, allowedTools?}, promptFile) => argv */
    argv: fn(),
    /** (stdout) => {result_text, structured, usage}; defaults to the last JSON line with a `result` field. */
    outcome: fn().optional(),
  }),
  /** (name, url) => argv[] to register an MCP server. */
  mcpRegistration: fn().optional(),
});

const asRecord = (v: unknown) => (v && typeof v === "object" ? (v as Record<string, unknown>) : null);

function defaultOutcome(stdout: string) {
  const last = jsonLines(stdout).filter((e) => "result" in e).pop();
  return last
    ? { result_text: typeof last.result === "string" ? last.result : JSON.stringify(last.result), structured: last, usage: asRecord(last.usage) }
    : { result_text: stdout.trim() || null, structured: null, usage: null };
}

const argvOf = (value: unknown, file: string, what: string): string[] => {
  const parsed = z.array(z.string()).safeParse(value);
  if (!parsed.success) throw new UserError(`provider plugin ${file}: ${what} must return an array of strings`);
  return parsed.data;
};

/** The plugin for `template`, or undefined when the home has none by that name. */
export async function loadPluginProvider(home: string, template: string): Promise<Provider | undefined> {
  const dir = path.join(homePaths(home).contrib, template);
  const file = PLUGIN_FILES.map((f) => path.join(dir, f)).find(existsSync);
  if (!file) return undefined;
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`provider plugin ${file} failed to load: ${(err as Error).message}`);
  }
  if (!("provider" in module)) throw new UserError(`provider plugin ${file} does not export \`provider\``);
  const parsed = PluginExport.safeParse(module.provider);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `provider.${i.path.join(".")}: ${i.message}`).join("; ");
    throw new UserError(`provider plugin ${file}: ${problems}`);
  }
  const plugin = parsed.data;
  const dockerfile = path.join(dir, "Dockerfile");
  return {
    name: template,
    dockerfile: existsSync(dockerfile) ? dockerfile : null,
    dockerfileOrigin: "plugin",
    // A plugin's Dockerfile that declares `ARG AGENT_VERSION=...` pins its own default; a bottle's version overrides it.
    defaultVersion: null,
    guestUser: plugin.guestUser,
    guestHome: plugin.guestHome,
    setup: () => ({ env: plugin.env, routes: [], secrets: {}, files: [] }),
    headless: {
      argv: (request, promptFile) => argvOf(plugin.headless.argv(request, promptFile), file, "headless.argv"),
      describeLine: (line) => (line.trim() ? line.trim().slice(0, 200) : undefined),
      outcome: (stdout) => {
        const outcome = plugin.headless.outcome ? asRecord(plugin.headless.outcome(stdout)) : null;
        if (!outcome) return defaultOutcome(stdout);
        return {
          result_text: typeof outcome.result_text === "string" ? outcome.result_text : null,
          structured: asRecord(outcome.structured),
          usage: asRecord(outcome.usage),
        };
      },
    },
    mcpRegistration: (name, url, callTimeoutS) =>
      plugin.mcpRegistration
        ? z.array(z.unknown()).parse(plugin.mcpRegistration(name, url, callTimeoutS)).map((argv) => argvOf(argv, file, "mcpRegistration"))
        : [],
  };
}
