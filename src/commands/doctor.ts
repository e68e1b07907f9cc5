import { Command } from "commander";
import { type Check, doctorReport } from "../doctor/checks.js";
import { gatherDoctorFacts } from "../doctor/gather.js";
import { botBottleHome } from "../home.js";

const LABEL: Record<Check["status"], string> = { ok: "ok", warn: "WARN", fail: "FAIL", info: "info" };

export function doctorCommand(): Command {
  return new Command("doctor")
    .description(
      "check what bottles need and say how to fix what is missing: the container engine, base images, the home, the secrets bottles name " +
        "(names only), MCP client registrations, optional backends and disk space; exits 1 when bottles cannot start yet",
    )
    .option("--json", "print the report as JSON: {ok, checks: [{id, title, status, detail, fix}]}")
    .action(async (options: { json?: boolean }) => {
      const home = botBottleHome();
      const report = doctorReport(await gatherDoctorFacts({ home, cwd: process.cwd(), env: process.env }));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const lines = report.checks.flatMap((c) => [`${LABEL[c.status].padEnd(5)} ${c.title}: ${c.detail}`, ...(c.fix ? [`      fix: ${c.fix}`] : [])]);
        const verdict = report.ok ? "bottles can start (see the WARN lines for what may still bite)" : "bottles cannot start yet: fix the FAIL lines above, then run `bot-bottle doctor` again";
        process.stdout.write(`${lines.join("\n")}\n\n${verdict}\n`);
      }
      process.exitCode = report.ok ? 0 : 1;
    });
}
