// bot-bottle ui: keeps the server-rendered page live and posts its forms in
// place. The server sends the same HTML fragments it renders the page with,
// over server-sent events; this file only puts them where they belong,
// leaving alone what did not change (so focus and typed notes stay). Without
// it the page still works: forms post and come back, a reload shows news.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const fragment = (html) => {
    const template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  };
  /** The HTML each live element was last rendered from, to tell a change from a refreshed age. */
  const renderedFrom = new WeakMap();
  const MAX_NOTICES = 6;

  function toggleEmpty(list) {
    const note = list && byId(list.dataset.empty);
    if (note) note.hidden = list.children.length > 0;
  }

  function say(text, level, key) {
    const notices = byId("notices");
    if (!notices) return;
    let line = key ? notices.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
    if (!line) {
      line = document.createElement("p");
      if (key) line.dataset.key = key;
      notices.append(line);
    }
    line.className = level === "error" ? "notice error" : "notice";
    line.textContent = text;
    while (notices.children.length > MAX_NOTICES) notices.firstElementChild.remove();
  }

  function unsay(key) {
    document.querySelector(`#notices [data-key="${CSS.escape(key)}"]`)?.remove();
  }

  // The same rule as ageText in src/ui/views.ts.
  function ageText(since) {
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${Math.floor(s / 3600)} h`;
    return `${Math.floor(s / 86400)} d`;
  }

  function refreshAges() {
    for (const time of document.querySelectorAll("time[data-age]")) time.textContent = ageText(time.dateTime);
  }

  /** Puts `element` in place of the live element with its id, keeping a <details> open and the focus where they were. */
  function replaceKeeping(existing, element) {
    for (const details of existing.querySelectorAll("details[open]")) {
      const same = element.querySelector(`details[data-keep-open="${CSS.escape(details.dataset.keepOpen ?? "")}"]`);
      if (same) same.open = true;
    }
    const focused = existing.contains(document.activeElement) ? document.activeElement : null;
    existing.replaceWith(element);
    if (focused?.name || focused?.getAttribute("aria-label")) {
      const selector = focused.name ? `[name="${CSS.escape(focused.name)}"]` : `[aria-label="${CSS.escape(focused.getAttribute("aria-label"))}"]`;
      element.querySelector(selector)?.focus();
    }
  }

  /** Upserts one rendered element by id; returns it. */
  function upsert(container, html) {
    const element = fragment(html).firstElementChild;
    const existing = byId(element.id);
    if (existing && renderedFrom.get(existing) === element.outerHTML) return existing;
    renderedFrom.set(element, element.outerHTML);
    if (existing) replaceKeeping(existing, element);
    else container.append(element);
    return element;
  }

  /** Makes `container`'s children the ones in `html`, in order, touching only those that changed. */
  function morph(container, html) {
    const incoming = [...fragment(html).children].map((element) => [element.id, element.outerHTML]);
    const ids = new Set(incoming.map(([id]) => id));
    for (const child of [...container.children]) if (!ids.has(child.id)) child.remove();
    for (const [, source] of incoming) container.append(upsert(container, source));
    toggleEmpty(container);
    refreshAges();
  }

  function removeRequest(id) {
    const item = byId(`request-${id}`);
    if (!item) return;
    if (item.contains(document.activeElement)) byId("requests-heading")?.focus();
    item.remove();
    toggleEmpty(byId("requests-list"));
  }

  function listen(feed) {
    const source = new EventSource(feed);
    const on = (name, handle) => source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
    source.addEventListener("open", () => unsay("connection"));
    source.addEventListener("error", () => say("Lost the connection to the dashboard; trying again…", "error", "connection"));
    on("bottles", ({ html }) => {
      const body = byId("bottles-body");
      if (body) morph(body, html);
    });
    on("request", ({ id, html }) => {
      const list = byId("requests-list");
      // One already shown keeps what the user typed into it.
      if (!list || byId(`request-${id}`)) return;
      upsert(list, html);
      toggleEmpty(list);
    });
    on("decided", ({ id }) => removeRequest(id));
    on("activity", ({ replace, html }) => {
      const list = byId("activity-list");
      if (!list) return;
      if (replace) list.replaceChildren(fragment(html));
      else list.append(fragment(html));
      toggleEmpty(list);
    });
    on("run", ({ html }) => {
      const list = byId("runs-list");
      if (!list) return;
      upsert(list, html);
      toggleEmpty(list);
    });
    on("notice", ({ key, level, text }) => say(text, level, key));
  }

  async function submit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method !== "post") return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const body = new URLSearchParams(new FormData(form, event.submitter));
    const buttons = [...form.querySelectorAll("button")];
    for (const button of buttons) button.disabled = true;
    try {
      const response = await fetch(form.action, { method: "POST", body, headers: { accept: "application/json" } });
      const result = await response.json();
      say(result.message, result.ok ? "info" : "error", "action");
      if (result.ok && form.classList.contains("decide")) removeRequest(form.closest(".request")?.id.replace(/^request-/, ""));
      if (result.ok && form.classList.contains("start")) form.reset();
    } catch (error) {
      say(`The dashboard did not answer: ${error.message}`, "error", "action");
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => void submit(event));
  for (const list of document.querySelectorAll("[data-empty]")) {
    for (const child of list.children) if (child.id) renderedFrom.set(child, child.outerHTML);
  }
  setInterval(refreshAges, 5_000);
  const feed = document.body.dataset.feed;
  if (feed) listen(feed);
})();
