import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { writeDemoManifests } from "../../../src/demo/home.js";
import { readAudit } from "../../../src/supervise/audit.js";
import { artifactsDir, describeWithBrowser, launchBrowser } from "../../support/browser.js";
import { runCli } from "../../support/cli.js";
import { type RunningUi, startUi } from "../../support/dashboard.js";
import { describeWithDocker, engineTestEnv } from "../../support/docker.js";
import { useTempDir } from "../../support/temp-dir.js";

// `bot-bottle ui` as a person uses it: the built CLI serves the dashboard of
// a home holding the built-in demo agent (it needs no model: it asks for
// approval through supervise and reports the answer), and a real headless
// Chromium clicks through it while the bottle works. Nothing leaves the
// machine: the page is on 127.0.0.1, the refused request never leaves the
// bottle's egress.

describeWithBrowser("bot-bottle ui in a real browser", () => {
  describeWithDocker("a bottle of the demo agent, watched and answered from the dashboard", () => {
    const tmp = useTempDir("bb-ui-");
    const shots = () => artifactsDir("ui");
    let home = "";
    let env: Record<string, string> = {};
    let ui: RunningUi;
    let browser: Browser;
    let page: Page;
    let bottleId = "";
    const shoot = (name: string) => page.screenshot({ path: path.join(shots(), `${name}.png`), fullPage: true });

    beforeAll(async () => {
      home = path.join(tmp.path, "home");
      writeDemoManifests(home);
      env = { ...engineTestEnv(), PATH: process.env.PATH ?? "", BOT_BOTTLE_HOME: home, BOT_BOTTLE_LOG: "warn" };
      ui = await startUi(env);
      browser = await launchBrowser();
      page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    });

    afterAll(async () => {
      await browser?.close();
      await ui?.stop();
      if (bottleId) await runCli(["stop", bottleId], env);
      await runCli(["gc"], env);
    });

    it("lists the home's agents and starts a bottle of one, which shows up running", async () => {
      await page.goto(ui.url);
      await expect(page.getByRole("heading", { name: "demo", level: 3 }).isVisible()).resolves.toBe(true);
      await shoot("1-overview");
      await page.getByLabel("Label for the new bottle (optional)").fill("from-the-dashboard");
      await page.getByRole("button", { name: "Start a bottle of demo" }).click();
      const row = page.locator("#bottles-body tr", { hasText: "from-the-dashboard" });
      // The first start builds the demo and bundle images.
      await row.locator(".status-running").waitFor({ timeout: 900_000 });
      bottleId = (await row.locator("th a").textContent()) ?? "";
      expect(bottleId).toMatch(/^demo-[0-9a-f]{8}$/);
      await expect(row.textContent()).resolves.toMatch(/demo.*running.*from-the-dashboard.*docker/s);
      await shoot("2-running");
    }, 960_000);

    it("shows a request egress refuses on the bottle's page as it happens, with the reason", async () => {
      await page.getByRole("link", { name: bottleId }).click();
      await page.getByRole("heading", { name: `Bottle ${bottleId}` }).waitFor();
      const entry = page.locator("#activity-list li", { hasText: "undeclared.example" });
      expect(await entry.count()).toBe(0);
      const curl = await runCli(["exec", bottleId, "--", "curl", "-sS", "-o", "/dev/null", "-x", "http://127.0.0.1:9099", "https://undeclared.example/"], env);
      expect(curl.stderr).toMatch(/403/);
      await entry.waitFor({ timeout: 30_000 });
      await expect(entry.textContent()).resolves.toMatch(/refused.*undeclared\.example:443.*host undeclared\.example is not declared/s);
      await shoot("3-refused-egress");
    });

    it("approves from the keyboard what the bottled agent asks, and the agent gets the approval", async () => {
      const started = await runCli(["exec", bottleId, "--background", "--prompt", "tidy up the workspace"], env);
      expect(started.exitCode, started.stderr).toBe(0);
      const runId = started.stdout.trim();
      const request = page.locator("#requests-list li", { hasText: "tidy up the workspace" });
      await request.waitFor({ timeout: 120_000 });
      await shoot("4-pending-request");

      await request.getByLabel(/Notes for the agent/).fill("go ahead, from the browser");
      await page.keyboard.press("Tab");
      await expect(page.locator(":focus").textContent()).resolves.toBe("Approve");
      await page.keyboard.press("Enter");
      await request.waitFor({ state: "detached", timeout: 30_000 });

      const run = page.locator(`#run-${runId}`);
      await run.locator(".answer").waitFor({ timeout: 120_000 });
      const user = os.userInfo().username;
      await expect(run.locator(".answer").textContent()).resolves.toContain(`Approved by ${user} (bot-bottle ui). Notes: go ahead, from the browser`);
      await page.locator("#activity-list li.decision-approve", { hasText: "tidy up the workspace" }).waitFor({ timeout: 30_000 });
      await run.locator("summary").click();
      await shoot("5-approved");

      // The agent itself said so, and the audit log records who decided, and from where.
      const answer = await runCli(["run", runId], env);
      expect(answer.stdout).toContain(`Approved by ${user} (bot-bottle ui)`);
      const decision = readAudit(home, bottleId).find((record) => record.event === "decision");
      expect(decision).toMatchObject({ decision: "approve", decided_by: `${user} (bot-bottle ui)`, notes: "go ahead, from the browser" });
    });

    it("reads in a narrow window", async () => {
      await page.setViewportSize({ width: 380, height: 900 });
      const width = await page.evaluate("document.documentElement.scrollWidth");
      expect(width).toBeLessThanOrEqual(380);
      await shoot("6-narrow");
      await page.setViewportSize({ width: 1200, height: 900 });
    });

    it("stops the bottle", async () => {
      page.once("dialog", (dialog) => void dialog.accept());
      await page.getByRole("button", { name: `Stop bottle ${bottleId}` }).click();
      await page.locator(`#bottle-${bottleId} .status-stopped`).waitFor({ timeout: 120_000 });
      // The bottles list updates over the feed, which can beat the stop request's own answer to the page.
      await page.locator("#notices p", { hasText: `stopped bottle ${bottleId}` }).waitFor({ timeout: 30_000 });
      await shoot("7-stopped");
      const ls = await runCli(["ls", "--json"], env);
      expect((JSON.parse(ls.stdout) as { id: string; status: string }[]).find((r) => r.id === bottleId)?.status).toBe("stopped");
      bottleId = "";
    });
  });
});
