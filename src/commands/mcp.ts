import { spawn } from "node:child_process";
import { Argument, Command, Option } from "commander";
import { Engine } from "../engine/engine.js";
import { log } from "../log.js";
import { serveHttp } from "../mcp/http.js";
import { isLoopback } from "../mcp/host-header.js";
import { installServer, type ClaudeScope, type McpClient } from "../mcp/install.js";
import { SERVER_COMMAND_FORMS, serverCommand, type ServerCommandForm } from "../mcp/server-command.js";
import { SERVER_NAME } from "../mcp/server.js";
import { exitWhenIdle } from "../mcp/shutdown.js";
import { serveStdio } from "../mcp/stdio.js";
import { serverToken } from "../mcp/token.js";
import { UserError } from "../user-error.js";
import { manifestPoolTargets, parseWarmTarget, WarmPool } from "../engine/warm-pool.js";
import { parsePort } from "./port-option.js";
import { untilSignal } from "./until-signal.js";

const DEFAULT_PORT = 8642;

interface ServeOptions {
  http?: boolean;
  warm: [string, number][];
  keepWarm?: boolean;
  host: string;
  port: number;
  tokenEnv?: string;
  allowRemote?: boolean;
  elicit?: boolean;
}

function parseEnvPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value);
  if (!match) throw new UserError(`--env ${value}: expected KEY=VALUE`, 2);
  return { ...previous, [match[1]!]: match[2]! };
}

export function mcpCommand(): Command {
  const command = new Command("mcp")
    .description("serve bot-bottle's tools to an MCP client: on stdio (the default, for `claude mcp add`), or Streamable HTTP with --http")
    .option("--http", "serve Streamable HTTP instead of stdio")
    .option("--host <address>", "address to listen on with --http (loopback unless --allow-remote)", "127.0.0.1")
    .option("--port <port>", `port to listen on with --http (0: any free port)`, parsePort, DEFAULT_PORT)
    .option("--token-env <VAR>", "with --http, take the bearer token from this environment variable instead of $BOT_BOTTLE_HOME/mcp-token")
    .option("--allow-remote", "with --http, allow listening on a non-loopback address (anyone who reaches it and has the token drives your bottles)")
    .option("--elicit", "ask the client's human to decide supervise requests as they arrive (MCP elicitation), where the client supports it")
    .option(
      "--warm <AGENT=N>",
      "keep N launched bottles of AGENT waiting, so start_bottle claims one at once (repeatable; over the bottles' own `pool`)",
      (value: string, previous: [string, number][]) => [...previous, parseWarmTarget(value)],
      [],
    )
    .option("--keep-warm", "leave the unclaimed warm bottles running when the server exits (gc removes them later)")
    .action(async (options: ServeOptions, cmd: Command) => {
      const engine = Engine.fromProcess();
      const pool = await startWarmPool(engine, options);
      const closePool = async () => {
        if (pool && !options.keepWarm) removeDetached(pool.release());
      };
      if (!options.http) {
        const httpOnly = ["host", "port", "tokenEnv", "allowRemote"].filter((name) => cmd.getOptionValueSource(name) === "cli");
        if (httpOnly.length > 0) throw new UserError(`--${httpOnly.map(kebab).join(", --")} ${httpOnly.length === 1 ? "applies" : "apply"} only with --http`, 2);
        await serveStdio(engine, { elicit: options.elicit ?? false }, closePool);
        return;
      }
      await serveHttpUntilSignal(engine, options, closePool);
    });
  command.addCommand(installCommand());
  return command;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Removes the waiting warm bottles in a process of its own: an MCP client
 * that closes a server kills it a moment later, long before containers stop.
 */
function removeDetached(ids: string[]): void {
  if (ids.length === 0) return;
  log.info(`removing ${ids.length} warm bottle(s) that were not claimed: ${ids.join(", ")}`);
  spawn(process.execPath, [process.argv[1]!, "stop", ...ids], { detached: true, stdio: "ignore", env: process.env }).unref();
}

/** The warm pools the home's bottles and --warm ask for, filling in the background; null when none is asked for. */
async function startWarmPool(engine: Engine, options: ServeOptions): Promise<WarmPool | null> {
  const targets = await manifestPoolTargets(engine.home, engine.cwd);
  for (const [agent, size] of options.warm) targets.set(agent, size);
  for (const [agent, size] of targets) if (size === 0) targets.delete(agent);
  if (targets.size === 0) return null;
  const pool = new WarmPool(engine, targets);
  log.info(`warm pools: ${[...targets].map(([agent, size]) => `${agent}=${size}`).join(", ")}`);
  void pool.fill();
  return pool;
}

async function serveHttpUntilSignal(engine: Engine, options: ServeOptions, onClose: () => Promise<unknown>): Promise<void> {
  if (!isLoopback(options.host) && !options.allowRemote) {
    throw new UserError(`--host ${options.host} is not a loopback address: add --allow-remote if you really mean to serve bottles to other machines`, 2);
  }
  const { token, source, created } = serverToken({ home: engine.home, env: process.env, tokenEnv: options.tokenEnv });
  const server = await serveHttp(engine, { host: options.host, port: options.port, token, elicit: options.elicit ?? false });
  const say = (line: string) => process.stderr.write(`bot-bottle mcp: ${line}\n`);
  if (!isLoopback(options.host)) {
    say(`WARNING: listening on ${options.host}, reachable from other machines; the bearer token is all that protects your bottles, and traffic is not encrypted`);
  }
  say(`listening on ${server.url}`);
  if (options.tokenEnv === undefined) {
    say(`bearer token (${created ? "new, saved in" : "from"} ${source}): ${token}`);
    say(`register it: claude mcp add --transport http ${SERVER_NAME} ${server.url} --header "Authorization: Bearer $(cat ${source})"`);
  } else {
    say(`bearer token from ${source}`);
  }
  log.info(`${await untilSignal()}: closing the MCP server`);
  await server.close();
  await onClose();
  exitWhenIdle();
}

function installCommand(): Command {
  return (
    new Command("install")
      .description(
        "register this server with an MCP client through the client's own CLI (`claude mcp add` / `codex mcp add`); running it again replaces the entry. " +
          "The client starts the server with the command --server-command names (by default this copy of bot-bottle, by absolute paths), or the one given after --",
      )
      .addArgument(new Argument("<client>", "the client to register with").choices(["claude", "codex"]))
      .argument("[command...]", "the command the client runs to start the server (after --)")
      .addOption(
        new Option(
          "--server-command <form>",
          "how the client starts the server: absolute (this copy: `<node> <its cli.js> mcp`; run install again if you move either), " +
            "path (`bot-bottle mcp`, from the client's PATH), npx (`npx -y bot-bottle mcp`, once the package is published on the npm registry)",
        )
          .choices(SERVER_COMMAND_FORMS)
          .default("absolute"),
      )
      .addOption(new Option("--scope <scope>", "Claude Code scope: local (this project, for you), project (.mcp.json), user (everywhere)").choices(["user", "project", "local"]))
      .option("--dispatch-agent", "also write a bottle-dispatch Claude Code subagent whose only tools are this server's")
      .option(
        "--env <KEY=VALUE>",
        "an environment variable for the server (repeatable), e.g. BOT_BOTTLE_HOME=...; never a secret (refused): store tokens with `bot-bottle secret set NAME`",
        parseEnvPair,
      )
      // Added with addCommand, it would not inherit the program's exitOverride: usage errors must still exit 2.
      .exitOverride()
      .action(
        async (
          client: McpClient,
          command: string[],
          options: { serverCommand: ServerCommandForm; scope?: ClaudeScope; dispatchAgent?: boolean; env?: Record<string, string> },
          cmd: Command,
        ) => {
          if (command.length > 0 && cmd.getOptionValueSource("serverCommand") === "cli") {
            throw new UserError("give either --server-command or a command after --, not both", 2);
          }
          const lines = await installServer({
            client,
            scope: options.scope,
            dispatchAgent: options.dispatchAgent ?? false,
            env: options.env ?? {},
            command: command.length > 0 ? command : serverCommand(options.serverCommand),
            cwd: process.cwd(),
          });
          process.stdout.write(lines.map((line) => `${line}\n`).join(""));
        },
      )
  );
}
