import { writeFileSync } from "node:fs";
import { text } from "node:stream/consumers";
import { readSecretsFile } from "../secrets-handoff.js";
import { describeFindings, scanPush } from "./push-scan.js";
import { parseRefUpdates } from "./pushed-commits.js";

// The push scanner as a pre-receive hook (bundled as git-gate-scan.js): git
// runs it in the receiving repository with the ref updates on stdin and the
// pushed objects in quarantine; a nonzero exit refuses the whole push. It
// prints what it found to stderr, which git relays to the pusher as
// `remote: ...` lines, and exits 1 on any finding or suppression (a
// suppression waits for a reviewer, which is the gate's business), and on any
// error: a push that could not be scanned is refused.
//
// Environment:
//   GIT_GATE_SECRETS_FILE  JSON file of the bottle's declared secret values by
//                          name (the format egress reads); optional
//   GIT_GATE_SCAN_RESULT   file the scan (PushScan JSON, secrets redacted) is
//                          written to, for the gate; optional

async function main(): Promise<number> {
  const updates = parseRefUpdates(await text(process.stdin));
  const secretsFile = process.env.GIT_GATE_SECRETS_FILE;
  const secrets = secretsFile ? readSecretsFile(secretsFile) : {};
  const scan = await scanPush({
    repoDir: process.cwd(),
    env: process.env,
    updates,
    knownSecrets: Object.entries(secrets).map(([name, value]) => ({ name, value })),
  });
  if (process.env.GIT_GATE_SCAN_RESULT) writeFileSync(process.env.GIT_GATE_SCAN_RESULT, `${JSON.stringify(scan)}\n`);
  const description = describeFindings(scan);
  if (description) process.stderr.write(`${description}\n`);
  return scan.findings.length + scan.suppressions.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`git-gate: the push could not be scanned, so it was refused: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
