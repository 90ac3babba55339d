/* The review queue: claims in review, highest priority first, with filters and counts.
 * Filters live in the address (so Back and reload keep them); the list refreshes itself while
 * the tab is visible, so locks taken by colleagues show up. */

import { api, el, humanize, money, timeHM } from "./api.js";

const app = document.getElementById("queue-app");
const $ = (id) => document.getElementById(id);
const QUEUE_API = `${app.dataset.apiRoot}queue/`;
const SCREEN_URL = app.dataset.screenUrl;
// Colleagues take and release claims all the time; half a minute keeps the lock column honest
// at one indexed query per open queue page.
const REFRESH_MS = 30000;
// senior_review exists on a senior adjuster's page only (the senior queue: contested claims).
const SENIOR = app.dataset.senior === "true";
const FILTERS = ["reason", "damage_type", "min_age_hours", "mine", ...(SENIOR ? ["senior_review"] : [])];

let page = 1;
let knownReasons = new Set();
// Display names of the damage types, as the server wrote them into the type filter (from the
// label map); a type the filter lacks reads as its name in words.
const typeNames = new Map([...$("filter-type").options].filter((o) => o.value).map((o) => [o.value, o.textContent]));
const typeName = (t) => typeNames.get(t) || humanize(t);
// Short titles of the reason codes (review.selectors.REASON_TITLES), as the rows show them.
const reasonTitles = JSON.parse(document.getElementById("reason-titles").textContent || "{}");
const reasonTitle = (code) => reasonTitles[code] || humanize(code);

function readFilters() {
  const params = new URLSearchParams(window.location.search);
  const form = $("queue-filters");
  for (const name of FILTERS) {
    const field = form.elements[name];
    const value = params.get(name) || "";
    if (field.type === "checkbox") field.checked = value === "1";
    else {
      if (name === "reason" && value && !knownReasons.has(value)) addReasonOption(value);
      field.value = value;
    }
  }
  page = Number(params.get("page")) || 1;
  const decided = params.get("decided");
  if (decided) {
    const flash = $("queue-flash");
    flash.textContent = `Claim ${decided}: ${params.get("outcome") || "decided"}.`;
    flash.hidden = false;
  }
}

function currentParams() {
  const form = $("queue-filters");
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (field.type === "checkbox") { if (field.checked) params.set(name, "1"); }
    else if (field.value) params.set(name, field.value);
  }
  if (page > 1) params.set("page", String(page));
  return params;
}

function addReasonOption(code) {
  knownReasons.add(code);
  $("filter-reason").append(el("option", { value: code }, reasonTitle(code)));
}

function waitingText(row) {
  const h = Number(row.waiting_hours);
  if (h < 1) return `${Math.max(1, Math.round(h * 60))} min`;
  if (h < 48) return `${h.toFixed(h < 10 ? 1 : 0)} h`;
  return `${Math.round(h / 24)} days`;
}

function priorityCell(row) {
  const pct = Math.round(Number(row.priority) * 100);
  const level = pct >= 70 ? "high" : pct >= 40 ? "mid" : "low";
  return el(
    "td",
    { class: "rv-prio-cell" },
    el(
      "span",
      { class: `rv-prio rv-prio--${level}`, title: "Priority from time waiting against the target, estimate and uncertainty" },
      el("span", { class: "rv-prio__bar", style: { "--p": `${pct}%` }, "aria-hidden": "true" }),
      el("span", { class: "rv-prio__num" }, `${pct}`),
      el("span", { class: "visually-hidden" }, ` of 100 (${level})`),
    ),
  );
}

function lockCell(row) {
  if (!row.lock) return el("td", { class: "rv-muted" }, "Free");
  if (row.lock.mine) return el("td", {}, el("span", { class: "rv-tag rv-tag--mine" }, "You"), ` until ${timeHM(row.lock.expires_at)}`);
  return el("td", {}, el("span", { class: "rv-tag rv-tag--locked" }, row.lock.adjuster), ` until ${timeHM(row.lock.expires_at)}`);
}

function row(r) {
  const url = `${SCREEN_URL}${r.id}/`;
  const conf = r.min_photo_confidence === null || r.min_photo_confidence === undefined ? "—" : `${Math.round(r.min_photo_confidence * 100)}%`;
  const tr = el(
    "tr",
    { class: `rv-row${r.lock && !r.lock.mine ? " rv-row--locked" : ""}`, dataset: { claimId: r.id } },
    priorityCell(r),
    el(
      "td",
      {},
      el("a", { class: "rv-row__link", href: url }, r.reference),
      el("span", { class: "rv-row__sub" }, `${r.photo_count} photo${r.photo_count === 1 ? "" : "s"}`),
    ),
    el(
      "td",
      { class: r.sla_breached ? "rv-sla rv-sla--late" : "rv-sla" },
      waitingText(r),
      el("span", { class: "rv-row__sub" }, r.sla_breached ? `over the ${r.sla_hours} h target` : `target ${r.sla_hours} h`),
    ),
    el("td", {}, reasonList(r)),
    el("td", {}, ...(r.damage_types || []).map((t) => el("span", { class: "rv-tag" }, typeName(t)))),
    el("td", { class: "num" }, r.estimate_total === null || r.estimate_total === undefined ? "—" : money(r.estimate_total, r.currency)),
    el("td", { class: "num" }, conf),
    lockCell(r),
  );
  // The whole row opens the claim; the reference stays the real link (keyboard, new tab).
  tr.addEventListener("click", (e) => {
    if (e.target.closest("a") || window.getSelection().toString()) return;
    window.location.assign(url);
  });
  return tr;
}

// A row stays a row: the reasons grouped by code with counts, most important first (the
// server orders them), at most REASONS_SHOWN of them, the rest summed up.
const REASONS_SHOWN = 3;

function reasonList(r) {
  const groups = r.reason_groups || [];
  const shown = groups.slice(0, REASONS_SHOWN);
  const rest = groups.slice(REASONS_SHOWN);
  const items = shown.map((g) => el(
    "li",
    { title: g.messages.join("\n"), dataset: { code: g.code } },
    g.title,
    g.count > 1 ? el("span", { class: "rv-count", "aria-label": `${g.count} times` }, `×${g.count}`) : null,
  ));
  if (rest.length) {
    items.push(el("li", { class: "rv-muted rv-small", title: rest.map((g) => `${g.title} (${g.count})`).join("\n") }, `+ ${rest.length} more`));
  }
  return el("ul", { class: "rv-reason-list" }, ...items);
}

function renderCounts(data) {
  const c = data.counts || {};
  $("queue-counts").textContent =
    `${c.total ?? data.count} in review · ${c.mine ?? 0} taken by you · ${c.locked_by_others ?? 0} taken by colleagues` +
    (data.count !== c.total ? ` · ${data.count} match the filters` : "") +
    // Contested claims are listed to senior adjusters only; everyone else learns they wait.
    (c.senior_review ? (SENIOR ? ` · ${c.senior_review} contested (senior queue)` : ` · ${c.senior_review} contested, waiting for a senior adjuster`) : "");
  const byReason = c.by_reason || {};
  for (const code of Object.keys(byReason)) if (!knownReasons.has(code)) addReasonOption(code);
  const selected = $("filter-reason").value;
  $("reason-chips").replaceChildren(
    ...Object.entries(byReason)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) =>
        el(
          "button",
          {
            type: "button",
            class: "rv-chip",
            "aria-pressed": String(code === selected),
            onclick: () => {
              $("filter-reason").value = code === selected ? "" : code;
              page = 1;
              load();
            },
          },
          reasonTitle(code),
          el("span", { class: "rv-chip__n" }, String(n)),
        ),
      ),
  );
}

let loading = 0;

async function load({ quiet = false } = {}) {
  const params = currentParams();
  const query = params.toString();
  const keep = new URLSearchParams(window.location.search);
  const flash = keep.get("decided") ? `&decided=${encodeURIComponent(keep.get("decided"))}&outcome=${encodeURIComponent(keep.get("outcome") || "")}` : "";
  history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}${flash ? (query ? flash : `?${flash.slice(1)}`) : ""}`);
  const mine = ++loading;
  const body = $("queue-rows");
  if (!quiet) app.setAttribute("aria-busy", "true");
  try {
    const data = await api(`${QUEUE_API}${query ? `?${query}` : ""}`);
    if (mine !== loading) return;
    $("queue-error").hidden = true;
    renderCounts(data);
    body.replaceChildren(
      ...(data.results.length
        ? data.results.map(row)
        : [el("tr", { class: "rv-table__empty" }, el("td", { colspan: "8" }, query ? "No claims match these filters." : "The queue is empty. Nothing is waiting for review."))]),
    );
    const pager = $("queue-pager");
    pager.hidden = !data.next && !data.previous;
    $("page-prev").disabled = !data.previous;
    $("page-next").disabled = !data.next;
    $("page-info").textContent = `Page ${page}`;
    app.dataset.state = "ready";
  } catch (err) {
    if (mine !== loading) return;
    const node = $("queue-error");
    node.textContent = `The queue could not be loaded: ${err.message}`;
    node.hidden = false;
    if (!quiet) body.replaceChildren();
  } finally {
    if (mine === loading) app.removeAttribute("aria-busy");
  }
}

function start() {
  readFilters();
  const form = $("queue-filters");
  form.addEventListener("change", () => { page = 1; load(); });
  form.addEventListener("submit", (e) => { e.preventDefault(); page = 1; load(); });
  $("filter-clear").addEventListener("click", () => {
    form.reset();
    page = 1;
    load();
  });
  $("page-prev").addEventListener("click", () => { page = Math.max(1, page - 1); load(); });
  $("page-next").addEventListener("click", () => { page += 1; load(); });
  window.setInterval(() => { if (document.visibilityState === "visible") load({ quiet: true }); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") load({ quiet: true }); });
  load();
}

start();
