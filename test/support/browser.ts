import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { describe, it } from "vitest";
import { repoRoot } from "./cli.js";

// Suites driven in a real browser: Debian's chromium, driven by
// playwright-core (which downloads no browser of its own). In CI a missing
// chromium fails the suite; locally the suite is skipped with the reason.

export const CHROMIUM = process.env.BOT_BOTTLE_TEST_CHROMIUM ?? "/usr/bin/chromium";
const INSTALL_HINT = "install it with: apt-get install -y --no-install-recommends chromium";

/** Where browser tests leave their screenshots (git-ignored; CI keeps them as artifacts). */
export function artifactsDir(suite: string): string {
  const dir = path.join(repoRoot, "test-artifacts", suite);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const launchBrowser = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, headless: true });

export function describeWithBrowser(name: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it("has chromium (required in CI)", () => {
        throw new Error(`CI=true but ${CHROMIUM} is missing; .ci/run must install it (${INSTALL_HINT})`);
      });
    });
  } else {
    const reason = `no chromium at ${CHROMIUM}; ${INSTALL_HINT}`;
    process.stderr.write(`SKIPPED "${name}": ${reason}\n`);
    describe.skip(`${name} [skipped: ${reason}]`, body);
  }
}
