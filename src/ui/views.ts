import { z } from "zod";
import type { ActivityEvent } from "../activity/bottle-activity.js";
import type { AgentListing } from "../manifest/agent-summary.js";
import { type BottleRecord, RunRecord } from "../engine/records.js";
import type { PendingProposal } from "../supervise/pending.js";
import { html, type SafeHtml } from "./html.js";

// The dashboard's markup: pure functions from the engine's records to HTML.
// The page is complete without JavaScript (forms post, links navigate);
// dashboard.js keeps it live by swapping in the same fragments the server
// sends over server-sent events. Every page has <base href="/<token>/">, so
// links and form actions are relative to it.

/** A run as the bottle page shows it: its record, the output read so far (its tail) and, for a prompt that ended, the answer. */
export const RunView = z.object({
  record: RunRecord,
  stdout: z.string(),
  stderr: z.string(),
  /** The output shown is the end of a longer one. */
  clipped: z.boolean(),
  result_text: z.string().nullable(),
});
export type RunView = z.infer<typeof RunView>;

/** What a page says about the engine when it cannot list bottles (no engine): the reason and where to look. */
export type Problem = string | null;

/** Seconds to a short age ("42 s", "5 min", "3 h", "2 d"); dashboard.js keeps it current with the same rule. */
export function ageText(since: string, now: number): string {
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

const age = (since: string, now: number) => html`<time datetime="${since}" data-age>${ageText(since, now)}</time>`;

const clock = (time: string) => {
  const parsed = new Date(time);
  return Number.isNaN(parsed.getTime()) ? time : parsed.toISOString().slice(11, 19);
};

function layout(title: string, base: string, body: SafeHtml, attributes: { feed: string }): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · bot-bottle</title>
<base href="${base}">
<link rel="stylesheet" href="assets/dashboard.css">
<script src="assets/dashboard.js" defer></script>
</head>
<body data-feed="${attributes.feed}">
<a class="skip" href="#main">Skip to content</a>
${body}
</body>
</html>
`;
}

function notices(notice: string | null, problem: Problem): SafeHtml {
  return html`<div id="notices" class="notices" role="status" aria-live="polite">${notice ? html`<p class="notice">${notice}</p>` : null}</div>
${problem ? html`<p class="problem" role="alert">${problem}</p>` : null}`;
}

const canStop = (record: BottleRecord) => record.status === "running" || record.status === "starting";

export function bottleRow(record: BottleRecord, now: number, back: string): SafeHtml {
  return html`<tr id="bottle-${record.id}">
<th scope="row" data-label="Bottle"><a href="bottle/${record.id}">${record.id}</a></th>
<td data-label="Agent">${record.agent}${record.agent_origin === "repository" ? html` <span class="tag" title="${record.agent_source ?? ""}">from a repository</span>` : null}</td>
<td data-label="Status"><span class="status status-${record.status}">${record.status}</span>${record.problem ? html` <span class="problem">${record.problem}</span>` : null}</td>
<td data-label="Age">${age(record.started_at, now)}</td>
<td data-label="Label">${record.label ?? html`<span class="none">none</span>`}</td>
<td data-label="Backend">${record.backend}</td>
<td data-label="Actions">${
    canStop(record)
      ? html`<form method="post" action="bottles/${record.id}/stop" data-confirm="Stop bottle ${record.id}? Its containers go, and work not pushed or copied out is lost.">
<input type="hidden" name="back" value="${back}"><button type="submit" class="danger" aria-label="Stop bottle ${record.id}">Stop</button></form>`
      : html`<span class="none">—</span>`
  }</td>
</tr>`;
}

export function bottleRows(records: readonly BottleRecord[], now: number, back: string): SafeHtml {
  return html`${records.map((record) => bottleRow(record, now, back))}`;
}

function bottlesTable(records: readonly BottleRecord[], now: number, back: string, caption: string): SafeHtml {
  return html`<section aria-labelledby="bottles-heading">
<h2 id="bottles-heading">${caption}</h2>
<table class="bottles">
<thead><tr><th scope="col">Bottle</th><th scope="col">Agent</th><th scope="col">Status</th><th scope="col">Age</th><th scope="col">Label</th><th scope="col">Backend</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody id="bottles-body" data-empty="bottles-empty">${bottleRows(records, now, back)}</tbody>
</table>
<p id="bottles-empty" class="empty"${records.length > 0 ? html` hidden` : null}>No bottles in this home yet: start one of the agents below.</p>
</section>`;
}

export function requestItem(proposal: PendingProposal, back: string): SafeHtml {
  const id = proposal.id;
  const payload = JSON.stringify(proposal.payload, null, 2);
  return html`<li id="request-${id}" class="request">
<article aria-labelledby="request-${id}-title">
<h3 id="request-${id}-title"><span class="kind">${proposal.kind}</span> ${proposal.summary}</h3>
<p class="meta">bottle <a href="bottle/${proposal.bottle}">${proposal.bottle}</a> · asked <time datetime="${proposal.created_at}">${clock(proposal.created_at)}</time> UTC · request <code>${id}</code></p>
<details><summary>What it asks for, in full</summary><pre>${payload}</pre></details>
<form method="post" action="requests/${id}/decide" class="decide">
<input type="hidden" name="back" value="${back}">
<label for="notes-${id}">Notes for the agent (optional; a rejection should say why)</label>
<textarea id="notes-${id}" name="notes" rows="2" maxlength="2000" aria-describedby="request-${id}-title"></textarea>
${
  proposal.kind === "egress-allow"
    ? html`<p class="check"><input type="checkbox" id="extend-${id}" name="extend_credential" value="true"><label for="extend-${id}">Let the approved requests carry the credential the summary names (by default they go without)</label></p>`
    : null
}
<div class="buttons">
<button type="submit" name="decision" value="approve" aria-describedby="request-${id}-title">Approve</button>
<button type="submit" name="decision" value="reject" class="danger" aria-describedby="request-${id}-title">Reject</button>
</div>
<details class="modify"><summary>Modify, then approve</summary>
<label for="modified-${id}">The request as it should be approved (JSON, the same shape as above)</label>
<textarea id="modified-${id}" name="modified" rows="8" spellcheck="false">${payload}</textarea>
<button type="submit" name="decision" value="modify" aria-describedby="request-${id}-title">Approve as modified</button>
</details>
</form>
</article>
</li>`;
}

function requestsSection(pending: readonly PendingProposal[], back: string, heading: string): SafeHtml {
  return html`<section aria-labelledby="requests-heading">
<h2 id="requests-heading" tabindex="-1">${heading}</h2>
<ul id="requests-list" class="requests" data-empty="requests-empty">${pending.map((p) => requestItem(p, back))}</ul>
<p id="requests-empty" class="empty"${pending.length > 0 ? html` hidden` : null}>Nothing is waiting for a decision.</p>
</section>`;
}

function agentsSection(listing: AgentListing | null, problem: Problem): SafeHtml {
  if (!listing) return html`<section aria-labelledby="agents-heading"><h2 id="agents-heading">Agents</h2><p class="problem">${problem}</p></section>`;
  return html`<section aria-labelledby="agents-heading">
<h2 id="agents-heading">Agents</h2>
${listing.agents.length === 0 ? html`<p class="empty">No agents in this home: add one under agents/ (\`bot-bottle init\` writes examples).</p>` : null}
<ul class="agents">${listing.agents.map(
    (agent) => html`<li>
<article aria-labelledby="agent-${agent.name}-title">
<h3 id="agent-${agent.name}-title">${agent.name}${agent.origin === "repository" ? html` <span class="tag">from a repository</span>` : null}</h3>
${agent.description ? html`<p>${agent.description}</p>` : null}
<p class="meta">${agent.bottles.length > 0 ? `bottle ${agent.bottles.join(" + ")}` : "no bottle declared"}${agent.provider ? ` · provider ${agent.provider}` : null}${agent.skills.length > 0 ? ` · skills ${agent.skills.join(", ")}` : null}</p>
${
  agent.error
    ? html`<p class="problem">Cannot start: ${agent.error}</p>`
    : html`<form method="post" action="agents/${agent.name}/start" class="start">
<label for="label-${agent.name}">Label for the new bottle (optional)</label>
<input id="label-${agent.name}" name="label" maxlength="200" autocomplete="off" aria-describedby="agent-${agent.name}-title">
<button type="submit" aria-label="Start a bottle of ${agent.name}">Start</button>
</form>`
}
</article>
</li>`,
  )}</ul>
${listing.broken.length > 0 ? html`<h3>Broken files</h3><ul class="broken">${listing.broken.map((b) => html`<li><code>${b.source}</code>: ${b.error}</li>`)}</ul>` : null}
</section>`;
}

export interface OverviewPage {
  base: string;
  home: string;
  bottles: readonly BottleRecord[];
  pending: readonly PendingProposal[];
  agents: AgentListing | null;
  agentsProblem: Problem;
  problem: Problem;
  notice: string | null;
  now: number;
}

export function overviewPage(page: OverviewPage): SafeHtml {
  return layout(
    "Bottles",
    page.base,
    html`<header><h1>bot-bottle</h1><p class="meta">home <code>${page.home}</code></p></header>
<main id="main">
${notices(page.notice, page.problem)}
${bottlesTable(page.bottles, page.now, "", "Bottles")}
${requestsSection(page.pending, "", "Waiting for a decision")}
${agentsSection(page.agents, page.agentsProblem)}
</main>`,
    { feed: "events" },
  );
}

const DECISION_WORDS: Record<string, string> = { allow: "allowed", deny: "refused", redact: "redacted", hold: "held" };

export function activityItem(event: ActivityEvent): SafeHtml {
  if (event.source === "egress") {
    const target = `${event.method ?? "CONNECT"} ${event.host ?? "?"}${event.port ? `:${event.port}` : ""}${event.path ?? ""}`;
    const bytes = event.bytes_sent !== null ? html` <span class="bytes">${event.bytes_sent} B out, ${event.bytes_received ?? 0} B in</span>` : null;
    return html`<li class="event egress decision-${event.decision}"><time datetime="${event.time}">${clock(event.time)}</time> <span class="source">egress</span> <strong>${DECISION_WORDS[event.decision] ?? event.decision}</strong> <code>${target}</code> <span class="reason">${event.reason}</span>${bytes}</li>`;
  }
  if (event.event === "request") {
    return html`<li class="event supervise"><time datetime="${event.time}">${clock(event.time)}</time> <span class="source">supervise</span> <strong>asked</strong> <span class="kind">${event.kind}</span> ${event.summary} <code>${event.request_id}</code></li>`;
  }
  return html`<li class="event supervise decision-${event.decision ?? "none"}"><time datetime="${event.time}">${clock(event.time)}</time> <span class="source">supervise</span> <strong>${event.decision === "approve" ? "approved" : "rejected"}</strong> <span class="kind">${event.kind}</span> ${event.summary} <span class="reason">by ${event.decided_by ?? "?"}${event.notes ? `: ${event.notes}` : ""}</span></li>`;
}

export function runItem(run: RunView): SafeHtml {
  const r = run.record;
  const ended = r.state !== "running";
  const outcome = ended ? `${r.state}${r.exit_code !== null ? `, exit ${r.exit_code}` : ""}${r.signal ? `, ${r.signal}` : ""}` : "running";
  const stream = (name: string, text: string) => html`<h4>${name}</h4><pre class="output">${text || html`<span class="none">${ended ? "(nothing)" : "(nothing yet)"}</span>`}</pre>`;
  // A prompt's summary says "prompt: ..." itself.
  const title = r.kind === "command" ? html`<span class="kind">command</span> <code>${r.summary}</code>` : r.summary;
  return html`<li id="run-${r.run_id}" class="run run-${r.state}">
<article aria-labelledby="run-${r.run_id}-title">
<h3 id="run-${r.run_id}-title">${title}</h3>
<p class="meta"><code>${r.run_id}</code> · <span class="status status-${r.state}">${outcome}</span> · started <time datetime="${r.started_at}">${clock(r.started_at)}</time> UTC</p>
${run.result_text !== null ? html`<p class="answer"><strong>Answer:</strong> ${run.result_text}</p>` : null}
<details data-keep-open="run-${r.run_id}"><summary>Output${run.clipped ? " (the end of it)" : ""}</summary>${stream("stdout", run.stdout)}${stream("stderr", run.stderr)}</details>
</article>
</li>`;
}

export interface BottlePage {
  base: string;
  record: BottleRecord;
  pending: readonly PendingProposal[];
  activity: readonly ActivityEvent[];
  runs: readonly RunView[];
  problem: Problem;
  notice: string | null;
  now: number;
}

export function bottlePage(page: BottlePage): SafeHtml {
  const id = page.record.id;
  const back = `bottle/${id}`;
  return layout(
    id,
    page.base,
    html`<header><p><a href="./">← All bottles</a></p><h1>Bottle ${id}</h1><p class="meta">agent ${page.record.agent} · bottles ${page.record.bottles.join(" + ")} · provider ${page.record.provider}${page.record.cwd ? html` · workspace from <code>${page.record.cwd}</code>` : null}</p></header>
<main id="main">
${notices(page.notice, page.problem)}
${bottlesTable([page.record], page.now, back, "Status")}
${requestsSection(page.pending, back, "Waiting for a decision")}
<section aria-labelledby="activity-heading">
<h2 id="activity-heading">Activity</h2>
<p class="meta">Egress decisions with their reasons, and supervise requests and decisions, oldest first; new ones appear as they happen.</p>
<ol id="activity-list" class="activity" role="log" data-empty="activity-empty">${page.activity.map(activityItem)}</ol>
<p id="activity-empty" class="empty"${page.activity.length > 0 ? html` hidden` : null}>Nothing has crossed the bottle's boundary yet.</p>
</section>
<section aria-labelledby="runs-heading">
<h2 id="runs-heading">Runs</h2>
<ul id="runs-list" class="runs" data-empty="runs-empty">${page.runs.map(runItem)}</ul>
<p id="runs-empty" class="empty"${page.runs.length > 0 ? html` hidden` : null}>No background runs (start one with <code>bot-bottle exec ${id} --background …</code> or exec_in_bottle).</p>
</section>
</main>`,
    { feed: `events?bottle=${encodeURIComponent(id)}` },
  );
}

export function messagePage(base: string, title: string, message: string): SafeHtml {
  return layout(title, base, html`<main id="main"><h1>${title}</h1><p>${message}</p><p><a href="./">Back to the dashboard</a></p></main>`, { feed: "" });
}
