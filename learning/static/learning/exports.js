/* The data team's export page: start an export through the export API, list your exports,
 * follow queued and running ones until they finish, offer the zip as a link.
 * Everything goes through /api/v1/exports/ (docs/exports.md), so the page shows exactly what
 * the API lets this member see. */

import { ApiError, api as projectApi, el } from "../review/api.js";

const app = document.getElementById("export-app");
const API = app.dataset.apiRoot;
const POLL_MS = Number(app.dataset.pollMs) || 2000;
const form = document.getElementById("export-form");
const rows = document.getElementById("export-rows");
const live = document.getElementById("export-live");
const startButton = document.getElementById("export-start");
const startStatus = document.getElementById("export-start-status");
const errorBox = document.getElementById("export-errors");
const errorList = document.getElementById("export-error-list");
const listError = document.getElementById("export-list-error");
const moreButton = document.getElementById("export-more");
const sinceSelect = document.getElementById("since-export");

const ACTIVE = new Set(["queued", "running"]);
const STATUS_TEXT = {
  queued: "Queued",
  running: "Running",
  succeeded: "Ready",
  failed: "Failed",
};
const FORMAT_TEXT = {
  coco: "COCO",
  voc: "VOC",
  yolo: "YOLO",
  labelstudio: "Label Studio",
  csv: "CSV",
};
// Which form field an API error code is about, so the message sits next to it.
const CODE_FIELDS = {
  invalid_format: "formats",
  invalid_model_version: "model_version",
  invalid_damage_type: "damage_types",
  invalid_since_export: "since_export",
  invalid_split: "split",
  invalid_dates: "date_to",
  invalid_project: "project",
};
const FIELD_LABELS = {
  formats: "Formats",
  date_from: "Labels saved from",
  date_to: "Labels saved to",
  model_version: "Model version",
  damage_types: "Damage types",
  split: "Split",
  since_export: "Only what changed since",
  project: "Photos from",
};
const FALLBACK = {
  0: "No connection to ClaimVision. Check your network and try again.",
  401: "Your session has ended. Sign in again to continue.",
  403: "Only data-team members can export labels. Sign in with a data-team account.",
  429: "You have started many exports in a short time. Wait a while and try again.",
  500: "Something went wrong on our side. Try again in a moment.",
};

// Damage types by the one name people read (the label map's display names, as the form shows).
const TYPE_TEXT = Object.fromEntries(
  [...form.querySelectorAll("input[name=damage_types]")].map((box) => [
    box.value,
    form.querySelector(`label[for="${box.id}"]`).textContent.trim(),
  ]),
);

// Labelling projects by name, as the form's project choice shows them.
const PROJECT_TEXT = Object.fromEntries(
  [...form.querySelectorAll("select[name=project] option")]
    .filter((option) => option.value)
    .map((option) => [option.value, option.textContent.trim()]),
);

const jobs = new Map(); // id -> job, as the API last returned it
let nextPage = null;
let pollTimer = null;

// The project's one API client (CSRF, JSON, the error shape): review's, with this page's own
// words for an answer that carries no message of its own.
async function api(url, options) {
  try {
    return await projectApi(url, options);
  } catch (err) {
    if (err instanceof ApiError && (err.code === "network_error" || err.code === `http_${err.status}`)) {
      err.message = FALLBACK[err.status] || FALLBACK[500];
    }
    throw err;
  }
}

function announce(text) {
  // Cleared first so the same words said twice are read twice.
  live.textContent = "";
  window.setTimeout(() => { live.textContent = text; }, 50);
}

function formatBytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, {
  day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});

function when(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "";
}

function filtersText(job) {
  const f = job.filters || {};
  const parts = [f.include_predictions ? "reviewed and predicted photos" : "reviewed photos"];
  if (f.project) parts.unshift(PROJECT_TEXT[String(f.project)] || `labelling project ${f.project}`);
  if (f.date_from || f.date_to) parts.push(`saved ${f.date_from || "…"} to ${f.date_to || "…"}`);
  if (f.model_version) parts.push(`model ${f.model_version}`);
  if (f.damage_types && f.damage_types.length) {
    parts.push(f.damage_types.map((name) => TYPE_TEXT[name] || name).join(", "));
  }
  if (f.split) parts.push(`${f.split} split`);
  if (job.since_export) parts.push(`changed since export ${job.since_export}`);
  return parts.join(" · ");
}

function photosText(job) {
  const c = job.counts || {};
  if (job.status !== "succeeded" || c.images === undefined) return "";
  return String(c.images);
}

function statusCell(job) {
  const text = STATUS_TEXT[job.status] || job.status;
  const cell = el("td", { class: "dx-status" });
  const badge = el("span", { class: `dx-badge dx-badge--${job.status}`, text });
  if (ACTIVE.has(job.status)) badge.prepend(el("span", { class: "spinner", "aria-hidden": "true" }));
  cell.append(badge);
  if (job.status === "succeeded" && job.finished_at) {
    cell.append(el("span", { class: "rv-row__sub", text: `finished ${when(job.finished_at)}` }));
  }
  if (job.status === "failed" && job.error) {
    cell.append(el("span", { class: "rv-row__sub dx-failed", text: job.error }));
  }
  return cell;
}

function downloadCell(job) {
  const cell = el("td");
  if (job.status === "succeeded" && job.download_url) {
    cell.append(
      el("a", {
        class: "dx-download",
        href: job.download_url,
        download: `claimvision-export-${job.id}.zip`,
        // "Download" is what fits the column at 1366x768; the row's export is in its name
        "aria-label": `Download export ${job.id}`,
        text: "Download",
      }),
      el("span", { class: "rv-row__sub", text: `zip, ${formatBytes(job.size_bytes)}` }),
    );
  } else if (ACTIVE.has(job.status)) {
    cell.append(el("span", { class: "rv-muted", text: "When ready" }));
  } else {
    cell.append(el("span", { class: "rv-muted", text: "None" }));
  }
  return cell;
}

function row(job) {
  const skipped = job.counts && (job.counts.skipped_photos || job.counts.skipped_regions);
  const contents = el(
    "td",
    {},
    el("span", { text: job.formats.map((f) => FORMAT_TEXT[f] || f).join(", ") + (job.coco_polygons ? " (+ polygons)" : "") }),
    el("span", { class: "rv-row__sub", text: filtersText(job) }),
  );
  if (skipped) {
    contents.append(el("span", {
      class: "rv-row__sub dx-warn",
      text: `left out: ${job.counts.skipped_photos || 0} photos without files, ${job.counts.skipped_regions || 0} regions of unknown types`,
    }));
  }
  return el(
    "tr",
    { id: `export-${job.id}`, "data-status": job.status },
    el(
      "th",
      { scope: "row" },
      el("span", { class: "rv-row__link", text: `Export ${job.id}` }),
      el("span", { class: "rv-row__sub", text: when(job.created_at) }),
    ),
    statusCell(job),
    contents,
    el("td", { class: "num", text: photosText(job) }),
    downloadCell(job),
  );
}

function render() {
  const sorted = [...jobs.values()].sort((a, b) => b.id - a.id);
  if (!sorted.length) {
    rows.replaceChildren(el("tr", { class: "rv-table__empty" }, el("td", { colspan: "5", text: "No exports yet. Start one with the form." })));
  } else {
    rows.replaceChildren(...sorted.map(row));
  }
  const chosen = sinceSelect.value;
  const options = [el("option", { value: "", text: "Everything (not incremental)" })];
  for (const job of sorted) {
    if (job.status === "failed") continue;
    options.push(el("option", { value: String(job.id), text: `Export ${job.id} (${when(job.created_at)})` }));
  }
  sinceSelect.replaceChildren(...options);
  if ([...sinceSelect.options].some((o) => o.value === chosen)) sinceSelect.value = chosen;
  moreButton.hidden = !nextPage;
}

function schedulePoll() {
  window.clearTimeout(pollTimer);
  if ([...jobs.values()].some((j) => ACTIVE.has(j.status))) {
    pollTimer = window.setTimeout(poll, POLL_MS);
  }
}

async function poll() {
  const active = [...jobs.values()].filter((j) => ACTIVE.has(j.status));
  for (const old of active) {
    try {
      const job = await api(`${API}${old.id}/`);
      jobs.set(job.id, job);
      if (job.status !== old.status) {
        if (job.status === "succeeded") {
          announce(`Export ${job.id} is ready: ${job.counts.images} photos, ${formatBytes(job.size_bytes)}. The download link is in its row.`);
        } else if (job.status === "failed") {
          announce(`Export ${job.id} failed. ${job.error}`);
        } else {
          announce(`Export ${job.id} is ${STATUS_TEXT[job.status].toLowerCase()}.`);
        }
      }
      listError.hidden = true;
    } catch (err) {
      listError.textContent = `Could not refresh export ${old.id}: ${err.message}`;
      listError.hidden = false;
    }
  }
  render();
  schedulePoll();
}

async function loadPage(url) {
  try {
    const page = await api(url);
    for (const job of page.results) jobs.set(job.id, job);
    nextPage = page.next;
    listError.hidden = true;
  } catch (err) {
    listError.textContent = `Could not load your exports: ${err.message}`;
    listError.hidden = false;
  }
  render();
  schedulePoll();
}

function clearErrors() {
  errorBox.hidden = true;
  errorList.replaceChildren();
  for (const node of form.querySelectorAll(".field__error")) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

function fieldTarget(field) {
  const box = document.getElementById(`field-${field}`);
  if (!box) return null;
  return box.querySelector("input, select") || box;
}

function showErrors(items) {
  errorList.replaceChildren();
  for (const { field, message } of items) {
    const target = field ? fieldTarget(field) : null;
    const text = field && FIELD_LABELS[field] ? `${FIELD_LABELS[field]}: ${message}` : message;
    const li = el("li");
    if (target) {
      const link = el("a", { href: `#${target.id}`, text });
      link.addEventListener("click", (event) => {
        event.preventDefault();
        target.focus();
      });
      li.append(link);
      const slot = document.getElementById(`${field}-error`);
      if (slot) {
        slot.textContent = message;
        slot.hidden = false;
      }
      if (target.matches("input, select")) target.setAttribute("aria-invalid", "true");
    } else {
      li.textContent = text;
    }
    errorList.append(li);
  }
  errorBox.hidden = false;
  errorBox.focus();
}

function errorItems(err) {
  const fields = err.details && err.details.fields;
  if (fields && typeof fields === "object") {
    const items = [];
    for (const [field, messages] of Object.entries(fields)) {
      const list = Array.isArray(messages) ? messages : [messages];
      for (const m of list) items.push({ field, message: typeof m === "string" ? m : JSON.stringify(m) });
    }
    if (items.length) return items;
  }
  return [{ field: CODE_FIELDS[err.code] || null, message: err.message }];
}

function requestBody() {
  const data = new FormData(form);
  const body = {
    formats: data.getAll("formats"),
    coco_polygons: data.get("coco_polygons") === "1",
    include_predictions: data.get("include_predictions") === "1",
  };
  for (const name of ["date_from", "date_to", "model_version", "split"]) {
    const value = data.get(name);
    if (value) body[name] = value;
  }
  const since = data.get("since_export");
  if (since) body.since_export = Number(since);
  const project = data.get("project");
  if (project) body.project = Number(project);
  const types = data.getAll("damage_types");
  if (types.length) body.damage_types = types;
  return body;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const body = requestBody();
  if (!body.formats.length) {
    showErrors([{ field: "formats", message: "Choose at least one format." }]);
    return;
  }
  startButton.disabled = true;
  startButton.setAttribute("aria-busy", "true");
  startStatus.textContent = "Starting…";
  try {
    const job = await api(API, { method: "POST", body });
    jobs.set(job.id, job);
    render();
    announce(`Export ${job.id} started. This page follows it and says when it is ready.`);
    schedulePoll();
    document.getElementById(`export-${job.id}`).classList.add("dx-new");
  } catch (err) {
    showErrors(errorItems(err));
  } finally {
    startButton.disabled = false;
    startButton.removeAttribute("aria-busy");
    startStatus.textContent = "";
  }
});

moreButton.addEventListener("click", () => {
  if (nextPage) loadPage(nextPage);
});

loadPage(API);
