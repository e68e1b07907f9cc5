import { z } from "zod";
import { Scanner } from "../egress/dlp-detectors.js";
import { git } from "./mirror.js";

// Placeholder until the maintained scanner lands: declared secret values and
// token shapes in the added lines of the pushed commits, through egress's DLP
// detectors. Same API as the full scanner.

export const PushFinding = z.object({ commit: z.string(), path: z.string(), line: z.number().int(), rule: z.string(), message: z.string(), excerpt: z.string() });
export const Suppression = z.object({ commit: z.string(), path: z.string(), line: z.number().int(), rule: z.string(), comment: z.string() });
export const PushScan = z.object({ findings: z.array(PushFinding), suppressions: z.array(Suppression) });
export type PushScan = z.infer<typeof PushScan>;

const ZERO = /^0{40}$/;

export async function scanPush(input: {
  repoDir: string;
  env: NodeJS.ProcessEnv;
  updates: { old: string; new: string; ref: string }[];
  knownSecrets: { name: string; value: string }[];
}): Promise<PushScan> {
  const scanner = new Scanner(input.knownSecrets);
  const findings: PushScan["findings"] = [];
  for (const update of input.updates) {
    if (ZERO.test(update.new)) continue;
    const range = ZERO.test(update.old) ? [update.new, "--not", "--all"] : [`${update.old}..${update.new}`];
    const log = await git(["log", "-p", "--format=commit %H", "--no-color", "-U0", ...range], { cwd: input.repoDir, env: input.env });
    let commit = "";
    let file = "";
    let line = 0;
    for (const text of log.stdout.split("\n")) {
      if (text.startsWith("commit ")) commit = text.slice(7);
      else if (text.startsWith("+++ b/")) file = text.slice(6);
      else if (text.startsWith("@@")) line = Number(/\+(\d+)/.exec(text)?.[1] ?? 0) - 1;
      else if (text.startsWith("+") && !text.startsWith("+++")) {
        line++;
        for (const found of scanner.scan(Buffer.from(text.slice(1)).toString("latin1"), ["known_secrets", "token_patterns"])) {
          findings.push({ commit, path: file, line, rule: found.detector === "known_secrets" ? `known-secret:${found.label}` : found.label, message: found.label, excerpt: "[REDACTED]" });
        }
      }
    }
  }
  return { findings, suppressions: [] };
}

export function describeFindings(scan: PushScan): string {
  return scan.findings.map((f) => `${f.path}:${f.line} ${f.rule} in ${f.commit.slice(0, 7)}: ${f.excerpt}`).join("\n");
}
