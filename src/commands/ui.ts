import { execa } from "execa";
import { Command } from "commander";
import { Engine } from "../engine/engine.js";
import { log } from "../log.js";
import { exitWhenIdle } from "../mcp/shutdown.js";
import { newToken } from "../mcp/token.js";
import { serveDashboard } from "../ui/server.js";
import { parsePort } from "./port-option.js";
import { untilSignal } from "./until-signal.js";

/** The command that opens a URL in the desktop's browser. */
const OPENER: Partial<Record<NodeJS.Platform, [string, ...string[]]>> = { darwin: ["open"], win32: ["cmd", "/c", "start", ""], linux: ["xdg-open"] };

async function openInBrowser(url: string): Promise<void> {
  const [command, ...args] = OPENER[process.platform] ?? ["xdg-open"];
  const opened = await execa(command, [...args, url], { reject: false, stdin: "ignore", timeout: 10_000 });
  if (opened.exitCode !== 0) process.stderr.write(`bot-bottle ui: could not open a browser (${command}: ${opened.shortMessage}); open the URL above yourself\n`);
}

export function uiCommand(): Command {
  return new Command("ui")
    .description(
      "serve a dashboard on 127.0.0.1: every bottle with its status and live activity, the requests bottled agents wait on (approve, reject, modify), " +
        "and the home's agents to start; behind a random token in the URL it prints. Runs beside `bot-bottle mcp` on the same home",
    )
    .option("--port <port>", "port on 127.0.0.1 (0: any free port)", parsePort, 0)
    .option("--open", "open the dashboard in the desktop's browser")
    .action(async (options: { port: number; open?: boolean }) => {
      const engine = Engine.fromProcess();
      // A new token each run: the URL is the key, and an old one stops working when the dashboard does.
      const dashboard = await serveDashboard(engine, { port: options.port, token: newToken() });
      process.stdout.write(`${dashboard.url}\n`);
      process.stderr.write(`bot-bottle ui: the dashboard of ${engine.home} is at the URL above (anyone with it can drive your bottles); Ctrl-C stops it\n`);
      if (options.open) await openInBrowser(dashboard.url);
      log.info(`${await untilSignal()}: closing the dashboard`);
      await dashboard.close();
      // A start in progress was cancelled: its launch removes what it made, then the process ends.
      exitWhenIdle();
    });
}
