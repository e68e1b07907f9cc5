import { describe, expect, it } from "vitest";
import type { ActivityEvent } from "../../../src/activity/bottle-activity.js";
import type { BottleRecord } from "../../../src/engine/records.js";
import type { PendingProposal } from "../../../src/supervise/pending.js";
import { ActivityCursor } from "../../../src/ui/feed.js";
import { html } from "../../../src/ui/html.js";
import { activityItem, ageText, bottleRow, requestItem } from "../../../src/ui/views.js";

// The dashboard's markup and its live cursor, without a server: what a
// bottled agent writes (summaries, paths, reasons) is text, never markup.

const hostile = `<img src=x onerror="alert(1)">`;

describe("dashboard markup", () => {
  it("escapes every interpolated value, and keeps nested templates as markup", () => {
    const inner = html`<b>${hostile}</b>`;
    expect(html`<p title="${'"quoted"'}">${inner}${["a&", "b"]}${null}${false}</p>`.text).toBe(
      '<p title="&quot;quoted&quot;"><b>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</b>a&amp;b</p>',
    );
  });

  it("renders a pending request from a bottled agent as text, with its decision form", () => {
    const proposal: PendingProposal = {
      id: "0123456789abcdef0123456789abcdef",
      bottle: "demo-1a2b3c4d",
      kind: "request-approval",
      summary: hostile,
      payload: { question: hostile },
      created_at: "2026-12-01T10:00:00.000Z",
      age_s: 3,
    };
    const markup = requestItem(proposal, "").text;
    expect(markup).not.toContain("<img");
    expect(markup).toContain("&lt;img src=x");
    expect(markup).toContain('action="requests/0123456789abcdef0123456789abcdef/decide"');
    expect(markup).toContain('<label for="notes-0123456789abcdef0123456789abcdef">');
    // Only an egress route can carry a credential.
    expect(markup).not.toContain("extend_credential");
  });

  it("renders a bottle row with a stop button named for its bottle, only while it can be stopped", () => {
    const record: BottleRecord = {
      id: "demo-1a2b3c4d",
      agent: "demo",
      bottles: ["demo"],
      provider: "demo",
      backend: "docker",
      label: hostile,
      cwd: null,
      status: "running",
      started_at: "2026-12-01T10:00:00.000Z",
      stopped_at: null,
      resources: { agent: "a", bundle: "b", network: "n", volume: "v" },
      warnings: [],
    };
    const now = Date.parse("2026-12-01T10:05:30.000Z");
    const running = bottleRow(record, now, "").text;
    expect(running).toContain('aria-label="Stop bottle demo-1a2b3c4d"');
    expect(running).toContain('<time datetime="2026-12-01T10:00:00.000Z" data-age>5 min</time>');
    expect(running).not.toContain("<img");
    expect(bottleRow({ ...record, status: "stopped" }, now, "").text).not.toContain("Stop bottle");
    expect(running).not.toContain('class="problem"');
    expect(bottleRow({ ...record, problem: "its sidecar bundle is not running" }, now, "").text).toContain(
      '<span class="problem">its sidecar bundle is not running</span>',
    );
  });

  it("says why egress refused a request", () => {
    const event: ActivityEvent = {
      source: "egress",
      time: "2026-12-01T10:00:00.123Z",
      host: "undeclared.example",
      port: 443,
      method: null,
      path: null,
      decision: "deny",
      reason: "host undeclared.example is not declared",
      bytes_sent: null,
      bytes_received: null,
    };
    expect(activityItem(event).text).toBe(
      '<li class="event egress decision-deny"><time datetime="2026-12-01T10:00:00.123Z">10:00:00</time> <span class="source">egress</span> <strong>refused</strong> <code>CONNECT undeclared.example:443</code> <span class="reason">host undeclared.example is not declared</span></li>',
    );
  });

  it("gives short ages", () => {
    const now = Date.parse("2026-12-03T12:00:00Z");
    expect(["2026-12-03T11:59:18Z", "2026-12-03T11:45:00Z", "2026-12-03T07:00:00Z", "2026-12-01T12:00:00Z"].map((t) => ageText(t, now))).toEqual(["42 s", "15 min", "5 h", "2 d"]);
  });
});

describe("the activity cursor", () => {
  const at = (time: string, reason: string): ActivityEvent => ({
    source: "egress",
    time,
    host: "h",
    port: 443,
    method: null,
    path: null,
    decision: "deny",
    reason,
    bytes_sent: null,
    bytes_received: null,
  });

  it("hands out each event once, also events that share a millisecond across reads", () => {
    const cursor = new ActivityCursor();
    expect(cursor.since()).toBeUndefined();
    const a = at("2026-12-01T10:00:00.001Z", "a");
    const b = at("2026-12-01T10:00:00.002Z", "b");
    expect(cursor.take([a, b])).toEqual([a, b]);
    // The next read starts a millisecond before the last time seen, so it sees b again, and c that shares its time.
    expect(cursor.since()).toBe("2026-12-01T10:00:00.001Z");
    const c = at("2026-12-01T10:00:00.002Z", "c");
    const d = at("2026-12-01T10:00:00.003Z", "d");
    expect(cursor.take([b, c, d])).toEqual([c, d]);
    expect(cursor.take([d])).toEqual([]);
  });
});
