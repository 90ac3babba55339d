/* The review screen: one claim, its photos with the model's regions, the tools to correct them,
 * and the decision. Talks to the review API only (docs/review-api.md).
 *
 * Per photo the screen keeps a state (regions, undo stack, view, active time); its masks are
 * decoded from RLE the first time the photo is shown, not before. Corrections are PUT when the
 * adjuster moves to another photo, saves (Ctrl+S) or decides.
 */

import { api, dateTime, el, humanize, money, timeHM } from "./api.js";
import { MaskEditor, Region } from "./editor.js";
import { EDITING_SHORTCUTS, activityTrack, announce, editorControlsBind, editorKeyHandler, fmtDuration, readOnlyShow, regionListItem, regionSeveritySelect, regionTypeSelect, regionsPayload, renderTools as renderToolsOf, renderUndo as renderUndoOf, showStageMessage } from "./editor_host.js";
import { decode } from "./rle.js";

const app = document.getElementById("screen-app");
const $ = (id) => document.getElementById(id);
const claimId = app.dataset.claimId;
const API = `${app.dataset.apiRoot}claims/${claimId}/`;
const LOCK_RENEW_MS = Number(app.dataset.lockRenewMs) || 60000;
const IDLE_AFTER_MS = Number(app.dataset.idleAfterMs) || 60000;
const openedAt = performance.now();

export const SHORTCUTS = [
  ["Ctrl+Enter", "Accept this photo's regions and go to the next photo"],
  ["Ctrl+Space", "Skip to the next photo"],
  ["F / D", "Next / previous photo"],
  ["Ctrl+S", "Save this photo's regions"],
  ...EDITING_SHORTCUTS,
  ["M", "Show the model's masks / the current ones"],
  ["T", "Hide / show the region tags on the photo"],
  ["+ / − / 0", "Zoom in / out / fit; the mouse wheel zooms too"],
  ["Space + drag, middle button", "Pan"],
  ["?", "This list"],
];

const S = {
  claim: null,
  classes: [],
  colours: new Map(),
  names: new Map(), // damage type -> display name, from the label map the server sends
  severities: ["minor", "moderate", "severe"],
  photos: [], // photo states, one per photo in the claim
  current: -1,
  readOnly: false,
  haveLock: false,
  decided: false,
  lastLabel: null,
  claimActiveMs: 0, // this session, shown on screen
  claimUnreportedMs: 0, // not yet sent with a lock renewal or the decision
  lastInteraction: Date.now(),
  saving: Promise.resolve(true),
};

// ---- helpers ----------------------------------------------------------------------------

function colourOf(label) {
  return S.colours.get(label) || "#ff00ff";
}

/** The name people read for a damage type: the label map's display name, else it in words. */
function typeName(label) {
  return S.names.get(label) || humanize(label);
}

/** The car part the model put a region on ("front_bumper"), from the predicted region it
 * started from; null for a region the adjuster added or a model without a part head. */
function partName(part) {
  const found = (S.claim && S.claim.parts || []).find((p) => p.name === part);
  return found ? found.display_name : part ? humanize(part) : "Unknown part";
}

/** The part a region is on as the select shows it: the adjuster's, else the source's, else "". */
function partChosen(st, r) {
  return r.part || partOf(st, r) || "";
}

function partOf(st, r) {
  if (r.part) return r.part === "other" ? null : r.part; // the adjuster's choice
  if (r.sourceIndex === null || r.sourceIndex === undefined) return null;
  const source = st.photo.predicted.find((p) => p.index === r.sourceIndex);
  return source && source.part ? source.part : null;
}

/** "Dent · Front bumper", or just "Dent" when the part is not known. */
function regionName(st, r) {
  const part = partOf(st, r);
  return part ? `${typeName(r.label)} · ${partName(part)}` : typeName(r.label);
}

// ---- photo states ------------------------------------------------------------------------

function photoState(photo, index) {
  const st = {
    photo,
    index,
    W: photo.width,
    H: photo.height,
    mw: photo.mask_width,
    mh: photo.mask_height,
    image: null,
    imagePromise: null,
    regions: null,
    predicted: null,
    undo: [],
    redo: [],
    seq: 0, // edits made
    savedSeq: 0, // edits saved
    accepted: Boolean(photo.labels),
    version: photo.labels ? photo.labels.version : 0,
    savedBy: photo.labels ? photo.labels.adjuster : null,
    savedAt: photo.labels ? photo.labels.saved_at : null,
    activeMs: 0,
    view: null,
    error: null,
    get dirty() { return this.seq !== this.savedSeq; },
    predictedRegions() {
      if (!this.predicted) this.predicted = photo.predicted.map((p) => regionFrom(this, p, p.index, p.confidence));
      return this.predicted;
    },
  };
  return st;
}

function regionFrom(st, data, sourceIndex, confidence, modelLabel = null) {
  let mask;
  try {
    mask = decode(data.mask_rle);
    if (mask.length !== st.mw * st.mh) throw new Error("mask size differs from the photo's mask grid");
  } catch (err) {
    st.error = `A mask on this photo could not be read (${err.message}).`;
    mask = new Uint8Array(st.mw * st.mh);
  }
  return new Region({
    label: data.label,
    severity: data.severity,
    sourceIndex,
    confidence,
    modelLabel,
    mask,
    mw: st.mw,
    mh: st.mh,
    colour: colourOf(data.label),
  });
}

/** Decode the photo's current regions: the saved labels if any, else the model's. */
function ensureRegions(st) {
  if (st.regions) return;
  const predicted = new Map(st.photo.predicted.map((p) => [p.index, p]));
  if (st.photo.labels) {
    st.regions = st.photo.labels.regions.map((r) => {
      const source = r.source_index === null || r.source_index === undefined ? null : predicted.get(r.source_index);
      const region = regionFrom(st, r, source ? r.source_index : null, source ? source.confidence : null, source ? source.label : null);
      region.part = r.part || null;
      return region;
    });
  } else {
    st.regions = st.photo.predicted.map((p) => regionFrom(st, p, p.index, p.confidence));
  }
}

function loadImage(st) {
  if (!st.imagePromise) {
    st.imagePromise = new Promise((resolve, reject) => {
      const img = new Image();
      img.decoding = "async";
      img.onload = () => {
        (img.decode ? img.decode().catch(() => undefined) : Promise.resolve()).then(() => {
          st.image = img;
          st.W = img.naturalWidth || st.W;
          st.H = img.naturalHeight || st.H;
          resolve(img);
        });
      };
      img.onerror = () => reject(new Error("The photo could not be loaded."));
      img.src = st.photo.image_url;
    });
  }
  return st.imagePromise;
}

// ---- the editor ----------------------------------------------------------------------------

const editor = new MaskEditor($("canvas"), {
  colourOf,
  labelName: typeName,
  defaultLabel: () => S.lastLabel || (S.classes[0] && S.classes[0].name) || "damage",
  announce,
  onChange(kind) {
    const st = S.photos[S.current];
    if (kind === "edit" && st) {
      st.seq++;
      renderSaveState();
      renderPhotoNav();
      scheduleEstimate();
    }
    if (kind === "tags") renderTagsToggle();
    if (kind === "tool" || kind === "brush") renderTools();
    if (kind === "compare") renderCompare();
    renderRegions();
    renderUndo();
  },
  onSelect() {
    renderRegions();
  },
  onView() {
    $("zoom-value").textContent = `${editor.zoomPercent()}%`;
  },
});

// ---- rendering -----------------------------------------------------------------------------

function renderTools() {
  renderToolsOf(editor, { readOnly: S.readOnly });
}

function renderCompare() {
  $("compare").setAttribute("aria-pressed", String(editor.compare));
  app.classList.toggle("rv-app--compare", editor.compare);
  renderTools();
}

function renderTagsToggle() {
  const button = $("tags-toggle");
  button.setAttribute("aria-pressed", String(editor.showTags));
  button.title = `${editor.showTags ? "Hide" : "Show"} the region tags on the photo (T)`;
}

function renderUndo() {
  renderUndoOf(S.photos[S.current], { readOnly: S.readOnly });
}

function renderSaveState() {
  const st = S.photos[S.current];
  const node = $("save-state");
  if (!st) { node.textContent = ""; return; }
  node.classList.toggle("rv-save-state--dirty", st.dirty);
  node.classList.toggle("rv-save-state--error", Boolean(st.saveError));
  if (st.saveError) node.textContent = st.saveError;
  else if (st.dirty) node.textContent = "Unsaved changes";
  else if (st.version) node.textContent = `Saved (version ${st.version}${st.savedBy ? `, ${st.savedBy}` : ""})`;
  else node.textContent = "Model's regions, not yet reviewed";
  $("save").disabled = S.readOnly || !st.dirty;
}

function renderPhotoNav() {
  const nav = $("photo-nav");
  nav.replaceChildren(
    ...S.photos.map((st, i) => {
      const state = st.dirty ? "unsaved" : st.version ? "saved" : "todo";
      const stateText = { unsaved: "unsaved changes", saved: "saved", todo: "not reviewed" }[state];
      const conf = Math.round(st.photo.photo_confidence * 100);
      return el(
        "button",
        {
          type: "button",
          class: `rv-photo-chip rv-photo-chip--${state}`,
          "aria-current": i === S.current ? "true" : null,
          "aria-label": `Photo ${i + 1} of ${S.photos.length}, confidence ${conf}%, ${stateText}`,
          title: `Photo ${i + 1}: confidence ${conf}%, ${stateText}`,
          onclick: () => goToPhoto(i),
        },
        el("span", { class: "rv-photo-chip__dot", "aria-hidden": "true" }),
        `${i + 1}`,
        el("span", { class: "rv-photo-chip__conf", "aria-hidden": "true" }, `${conf}%`),
      );
    }),
  );
}

function renderRegions() {
  const st = S.photos[S.current];
  const list = $("regions");
  if (!st || !st.regions) { list.replaceChildren(); return; }
  const regions = editor.regions;
  $("regions-count").textContent = `(${regions.length})`;
  $("regions-empty").hidden = regions.length > 0;
  const editable = !S.readOnly && !editor.compare;
  // Re-rendering must not drop a keyboard user's focus: remember where it was in the list.
  const active = list.contains(document.activeElement) ? document.activeElement : null;
  const focusUid = active && active.closest("li") ? active.closest("li").dataset.uid : null;
  const focusClass = active ? active.className.split(" ").find((c) => c.startsWith("rv-")) || "" : "";
  const focusTag = active ? active.tagName.toLowerCase() : "";
  list.replaceChildren(
    ...regions.map((r, i) => {
      const selected = r === editor.selected;
      const shown = r.shownConfidence();
      const conf = shown === null ? null : Math.round(shown * 100);
      const confText = r.confidenceText();
      const source = r.sourceIndex === null
        ? "added by adjuster"
        : conf === null ? `model region ${r.sourceIndex + 1}, type changed by a person: no model confidence` : `model region ${r.sourceIndex + 1}`;
      return regionListItem(editor, r, i, {
        selected,
        editable,
        name: regionName(st, r),
        ariaLabel: `Region ${i + 1}: ${regionName(st, r)}, ${r.severity}, ${conf === null ? confText : `confidence ${conf}%`}${r.hidden ? ", hidden" : ""}`,
        conf: conf === null ? confText : el("span", {}, el("span", { class: "rv-conf__bar", style: { "--c": `${conf}%` } }), `${conf}%`),
        confTitle: source,
        controls: () => regionControls(r, i),
      });
    }),
  );
  const chosen = list.querySelector(".rv-region--selected");
  if (chosen) chosen.scrollIntoView({ block: "nearest" });
  if (active) {
    const item = list.querySelector(`li[data-uid="${focusUid}"]`);
    const target = item && (item.querySelector(`${focusTag}${focusClass ? `.${focusClass}` : ""}`) || item.querySelector("button"));
    if (target) target.focus({ preventScroll: true });
    else $("canvas").focus({ preventScroll: true }); // its region was deleted
  }
}

function regionControls(r, i) {
  const typeSelect = regionTypeSelect(r, { classes: S.classes, typeName, setLabel, className: "rv-region__type" });
  const st = S.photos[S.current];
  const partSelect = el(
    "select",
    { id: `region-part-${r.uid}`, class: "rv-region__part", onchange: (e) => editor.setField("part", e.target.value || null) },
    el("option", { value: "", selected: partChosen(st, r) === "" ? true : null }, "No part chosen"),
    ...(S.claim.parts || []).map((p) => el("option", { value: p.name, selected: p.name === partChosen(st, r) ? true : null }, p.display_name)),
  );
  const sevSelect = regionSeveritySelect(editor, r, { severities: S.severities, className: "rv-region__sev" });
  return el(
    "div",
    { class: "rv-region__edit" },
    el("label", { for: typeSelect.id }, "Type"),
    typeSelect,
    el("label", { for: sevSelect.id }, "Severity"),
    sevSelect,
    el("label", { for: partSelect.id }, "Car part"),
    partSelect,
    el("p", { class: "rv-region__source rv-muted" }, r.sourceIndex === null ? "Added by the adjuster" : `From the model's region ${r.sourceIndex + 1}`),
  );
}

function setLabel(name) {
  editor.setField("label", name);
  S.lastLabel = name;
}

function renderPhotoMeta(st) {
  const p = st.photo;
  const parts = [`Photo ${st.index + 1} of ${S.photos.length}`, `confidence ${Math.round(p.photo_confidence * 100)}%`, `model ${p.model_version}`];
  const meta = $("photo-meta");
  meta.replaceChildren(parts.join(" · "));
  for (const w of p.quality_warnings || []) {
    meta.append(" ", el("span", { class: "rv-tag rv-tag--warn" }, typeof w === "string" ? humanize(w) : w.message || humanize(w.code)));
  }
  if (p.duplicate) meta.append(" ", el("span", { class: "rv-tag rv-tag--warn" }, "Duplicate photo"));
}

function renderClaim() {
  const c = S.claim;
  if (c.vehicle) $("claim-vehicle").textContent = `· ${c.vehicle.year} ${c.vehicle.make} ${c.vehicle.model}`;
  renderReasons();
  renderEstimate();
  renderClaimConfidence();
  const facts = $("claim-facts");
  const rows = [
    ["Status", humanize(c.status)],
    ["Incident", c.incident_date || "—"],
    ["Vehicle", c.vehicle ? `${c.vehicle.year} ${c.vehicle.make} ${c.vehicle.model}` : "—"],
    ["Customer's description", c.description || "—"],
  ];
  facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  renderNotes();
  renderHistory();
}

/** "Why this claim is here": the routing reasons grouped by code with a count, most important
 * first (the server orders them; a customer's contest, with their own words, is on top). */
function renderReasons() {
  const groups = S.claim.reason_groups || [];
  $("reasons").replaceChildren(
    ...(groups.length
      ? groups.map((g) => {
          const contest = g.code.startsWith("customer_contest");
          const head = [el("strong", {}, g.title), g.count > 1 ? el("span", { class: "rv-count", "aria-label": `${g.count} times` }, `×${g.count}`) : null];
          const quote = contest && g.detail ? el("blockquote", { class: "rv-reason__quote" }, g.detail) : null;
          const body = g.messages.length === 1
            ? el("p", { class: "rv-reason__msg" }, g.messages[0])
            : el("details", { class: "rv-reason__more" }, el("summary", {}, `${g.messages.length} details`), el("ul", {}, ...g.messages.map((m) => el("li", {}, m))));
          return el("li", { class: `rv-reason${contest ? " rv-reason--contest" : ""}`, dataset: { code: g.code, count: String(g.count) } }, el("p", { class: "rv-reason__head" }, ...head), quote, body);
        })
      : [el("li", { class: "rv-muted" }, "No routing reason recorded.")]),
  );
}

/** The claim confidence under the estimate (staff only; docs/assessment.md, "Claim confidence"):
 * the number, whether it is the prior or fitted on reviews, and what it means in words. Hidden in
 * a random audit: there it is the model's claim-level verdict on its own line items, the number
 * that cleared the automatic decision (`min_claim_confidence`), and the audit is reviewed blind. */
function isRandomAudit(claim) {
  const codes = [...(claim.reason_groups || []), ...((claim.decision && claim.decision.reasons) || [])].map((r) => r.code);
  return codes.includes("random_audit");
}

function renderClaimConfidence() {
  const box = $("claim-confidence");
  const cc = S.claim.assessment ? S.claim.assessment.claim_confidence : null;
  // The API sends no claim confidence in an audit; the screen says why it is missing.
  if (S.claim.assessment && isRandomAudit(S.claim)) {
    box.hidden = false;
    box.dataset.state = "audit";
    box.replaceChildren(el("p", { class: "rv-muted rv-small rv-confidence__meaning", id: "claim-confidence-hidden" }, "Claim confidence is not shown in a random audit."));
    return;
  }
  if (!cc) { box.hidden = true; box.replaceChildren(); delete box.dataset.state; return; }
  box.hidden = false;
  box.dataset.state = cc.source;
  const value = Number(cc.value).toFixed(2);
  const source = cc.source === "fitted" ? `(fitted on ${cc.reviews} review${cc.reviews === 1 ? "" : "s"})` : "(prior)";
  // The meaning starts with the number ("0.72: a prior from ..."), which the line above shows.
  const meaning = String(cc.meaning || "").replace(/^\s*\d+(\.\d+)?:\s*/, "");
  box.replaceChildren(
    el("div", { class: "rv-confidence__head", role: "group", "aria-labelledby": "claim-confidence-label", "aria-describedby": "claim-confidence-meaning" },
      el("span", { class: "rv-confidence__label", id: "claim-confidence-label" }, "Claim confidence"),
      el("strong", { class: "rv-confidence__value", id: "claim-confidence-value" }, value),
      el("span", { class: "rv-muted", id: "claim-confidence-source" }, source)),
    el("p", { class: "rv-muted rv-small rv-confidence__meaning", id: "claim-confidence-meaning" }, meaning.charAt(0).toUpperCase() + meaning.slice(1)),
  );
}

// ---- the live estimate ---------------------------------------------------------------------
// The server prices the regions on screen with its own code and price table (POST estimate/),
// so the sidebar shows what "Approve with corrections" will record. Photos with unsaved edits
// are sent; the others count with their saved labels, else the model's regions, as the
// decision counts them.

let estimateTimer = 0;
let estimateSeq = 0;
let estimateKey = "";

function editedPhotos() {
  return S.photos
    .filter((st) => st.regions && st.dirty)
    .map((st) => ({
      photo_id: st.photo.id,
      regions: st.regions.filter((r) => !r.isEmpty()).map((r) => ({ label: r.label, severity: r.severity, source_index: r.sourceIndex, part: r.part || "" })),
    }));
}

function scheduleEstimate({ now = false } = {}) {
  if (S.readOnly || !S.claim || S.claim.status !== "in_review") return;
  window.clearTimeout(estimateTimer);
  estimateTimer = window.setTimeout(() => { refreshEstimate(); }, now ? 0 : 250);
}

/** Ask the server for the estimate of what is on screen; resolves with the preview. */
async function refreshEstimate({ force = false } = {}) {
  const photos = editedPhotos();
  const key = JSON.stringify(photos);
  if (!force && key === estimateKey && S.preview) return S.preview;
  const seq = ++estimateSeq;
  app.dataset.estimateState = "pending";
  try {
    const preview = await api(`${API}estimate/`, { method: "POST", body: { photos } });
    if (seq !== estimateSeq) return S.preview; // a newer edit asked again
    S.preview = preview;
    estimateKey = key;
    app.dataset.estimateState = "ready";
    renderEstimate();
    return preview;
  } catch (err) {
    if (seq === estimateSeq) {
      app.dataset.estimateState = "error";
      const note = $("estimate-note");
      if (note) note.textContent = `The estimate could not be updated: ${err.message}`;
    }
    throw err;
  }
}

function estimateTable(lines, currency, total, caption) {
  const photoNo = new Map(S.claim.photos.map((p, i) => [p.id, i + 1]));
  return el(
    "table",
    { class: "rv-estimate" },
    el("caption", { class: "visually-hidden" }, caption),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Damage"), el("th", { scope: "col" }, "Work"), el("th", { scope: "col", class: "num" }, "Total"))),
    el(
      "tbody",
      {},
      ...lines.map((l) =>
        el(
          "tr",
          {},
          el("td", {}, `${typeName(l.damage_type)}, ${l.severity}`, el("span", { class: "rv-muted rv-small" }, ` · photo ${photoNo.get(l.photo_id) || "?"} #${l.region_index + 1}`)),
          el("td", { title: l.description }, humanize(l.operation)),
          el("td", { class: "num" }, money(l.total, currency)),
        ),
      ),
    ),
    el("tfoot", {}, el("tr", {}, el("th", { scope: "row", colspan: "2" }, "Total"), el("td", { class: "num", id: "estimate-total" }, money(total, currency)))),
  );
}

// ---- estimate lines by part: the adjuster's edits ----------------------------------------
// Each edit (an operation, hours, a removed or added line) is saved at once with POST
// estimate/adjustments/ (the server's ledger of line edits) and the live estimate is asked again.

const OPERATION_NAMES = { repair: "Repair", replace: "Replace", refinish: "Refinish", r_and_i: "Remove and refit", blend: "Blend" };
const opName = (op) => OPERATION_NAMES[op] || humanize(op);
const slug = (text) => String(text || "none").replace(/[^a-z0-9_]/gi, "-");

function canEditLines() {
  return !S.readOnly && S.haveLock && !S.decided && S.claim.status === "in_review";
}

async function adjustLine(body, done) {
  const note = $("estimate-note");
  try {
    const res = await api(`${API}estimate/adjustments/`, { method: "POST", body });
    S.claim.estimate_adjustments = res.estimate_adjustments;
    await refreshEstimate({ force: true });
    announce(done);
  } catch (err) {
    if (note) note.textContent = `The line could not be changed: ${err.message}`;
    renderEstimate(); // put the controls back to the figures the server has
  }
}

/** Outline a part's evidence on the photo on screen (hover or focus on the part), or none. */
function showEvidence(part) {
  const st = S.photos[S.current];
  const c = S.preview && S.preview.corrected;
  if (!st || !st.regions || !c || part === null) {
    editor.highlight = null;
  } else {
    const entry = c.parts.find((p) => p.part === part);
    const shown = editor.regions.filter((r) => !r.isEmpty());
    const mine = entry ? entry.evidence.filter((e) => e.photo_id === st.photo.id).map((e) => shown[e.region_index]).filter(Boolean) : [];
    editor.highlight = mine.length ? new Set(mine) : null;
  }
  app.dataset.highlightPart = part || "";
  app.dataset.highlightCount = String(editor.highlight ? editor.highlight.size : 0);
  editor.requestDraw();
}

function lineRow(l, currency, editable) {
  const name = partName(l.part);
  const key = `${slug(l.part)}-${l.operation}`;
  if (!editable || !l.part) {
    return el("tr", { dataset: { part: l.part, operation: l.operation } },
      el("td", { title: l.description }, l.part ? opName(l.operation) : `${typeName(l.damage_type)}, ${l.severity}`),
      el("td", { class: "num" }, `${Number(l.labour_hours).toFixed(1)} h`),
      el("td", { class: "num" }, money(l.total, currency)),
      el("td", {}));
  }
  const op = el("select", {
    id: `line-op-${key}`,
    class: "rv-line__op",
    "aria-label": `Operation of the ${name} line (${opName(l.operation)})`,
    onchange: (e) => adjustLine({ action: "change", part: l.part, operation: l.operation, to_operation: e.target.value }, `${name}: ${opName(l.operation)} changed to ${opName(e.target.value)}.`),
  }, ...(S.claim.operations || Object.keys(OPERATION_NAMES)).map((o) => el("option", { value: o, selected: o === l.operation ? true : null }, opName(o))));
  const hours = el("input", {
    id: `line-hours-${key}`,
    class: "rv-line__hours",
    type: "number",
    min: "0",
    step: "0.1",
    inputmode: "decimal",
    value: Number(l.labour_hours).toFixed(2),
    "aria-label": `Labour hours of ${name}, ${opName(l.operation)}`,
    onchange: (e) => {
      const v = e.target.value.trim();
      if (v === "" || Number.isNaN(Number(v)) || Number(v) < 0) { renderEstimate(); return; }
      adjustLine({ action: "change", part: l.part, operation: l.operation, labour_hours: Number(v).toFixed(2) }, `${name}, ${opName(l.operation)}: ${Number(v)} hours.`);
    },
  });
  const remove = el("button", {
    type: "button",
    id: `line-remove-${key}`,
    class: "rv-iconbtn rv-iconbtn--sm rv-iconbtn--danger",
    "aria-label": `Remove the line ${name}, ${opName(l.operation)}`,
    title: "Remove line",
    onclick: () => adjustLine({ action: "remove", part: l.part, operation: l.operation }, `Line removed: ${name}, ${opName(l.operation)}.`),
  }, "✕");
  return el("tr", { class: "rv-line", dataset: { part: l.part, operation: l.operation } },
    el("td", {}, op),
    el("td", { class: "num" }, hours),
    el("td", { class: "num", id: `line-total-${key}` }, money(l.total, currency)),
    el("td", {}, remove));
}

function addLineForm(part, have) {
  const name = partName(part);
  const free = (S.claim.operations || Object.keys(OPERATION_NAMES)).filter((o) => !have.has(o));
  if (!free.length) return null;
  const key = slug(part);
  const op = el("select", { id: `add-op-${key}`, class: "rv-line__op", "aria-label": `Operation of a new ${name} line` }, ...free.map((o) => el("option", { value: o }, opName(o))));
  const hours = el("input", { id: `add-hours-${key}`, class: "rv-line__hours", type: "number", min: "0", step: "0.1", inputmode: "decimal", placeholder: "h", "aria-label": `Labour hours of the new ${name} line (empty: the price table's)` });
  const add = el("button", {
    type: "button",
    id: `add-line-${key}`,
    class: "rv-btn rv-btn--small",
    onclick: () => {
      const v = hours.value.trim();
      const body = { action: "add", part, operation: op.value };
      if (v !== "" && !Number.isNaN(Number(v)) && Number(v) >= 0) body.labour_hours = Number(v).toFixed(2);
      adjustLine(body, `Line added: ${name}, ${opName(op.value)}.`);
    },
  }, "Add line");
  return el("div", { class: "rv-part__add" }, op, hours, add);
}

function estimateByPart(c) {
  const editable = canEditLines();
  const photoNo = new Map(S.claim.photos.map((p, i) => [p.id, i + 1]));
  const groups = new Map();
  for (const p of c.parts) groups.set(p.part, []);
  for (const l of c.lines) {
    if (!groups.has(l.part)) groups.set(l.part, []);
    groups.get(l.part).push(l);
  }
  const sections = [...groups.entries()].map(([part, lines]) => {
    const entry = c.parts.find((p) => p.part === part);
    const photos = entry ? entry.photo_ids : [...new Set(lines.map((l) => l.photo_id))];
    const title = part ? partName(part) : entry ? "Unknown part" : "Priced per region";
    const key = slug(part);
    const seen = photos.map((id) => photoNo.get(id)).filter(Boolean);
    return el(
      "section",
      {
        class: "rv-part",
        id: `part-${key}`,
        dataset: { part },
        "aria-labelledby": `part-title-${key}`,
        onmouseenter: () => showEvidence(part),
        onmouseleave: () => showEvidence(null),
        onfocusin: () => showEvidence(part),
        onfocusout: () => showEvidence(null),
      },
      el("h3", { class: "rv-part__title", id: `part-title-${key}` },
        el("button", { type: "button", class: "rv-part__show", "aria-label": `${title}: show its evidence on the photo`, onfocus: () => showEvidence(part) }, title),
        el("span", { class: "rv-muted rv-small" }, seen.length ? ` · photo${seen.length > 1 ? "s" : ""} ${seen.join(", ")}` : ""),
        ...seen.filter((n) => n !== S.current + 1).map((n) => el("button", { type: "button", class: "rv-link rv-small", "aria-label": `Go to photo ${n}`, onclick: () => goToPhoto(n - 1) }, ` → ${n}`))),
      lines.length
        ? el("table", { class: "rv-estimate rv-estimate--part" },
            el("caption", { class: "visually-hidden" }, `Lines of ${title}`),
            el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Work"), el("th", { scope: "col", class: "num" }, "Hours"), el("th", { scope: "col", class: "num" }, "Total"), el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Remove")))),
            el("tbody", {}, ...lines.map((l) => lineRow(l, c.currency, editable))))
        : el("p", { class: "rv-muted rv-small" }, part ? "No lines." : "Not priced: put its regions on a part."),
      editable && part && entry ? addLineForm(part, new Set(lines.map((l) => l.operation))) : null,
    );
  });
  return el("div", { class: "rv-parts" },
    ...sections,
    el("p", { class: "rv-estimate__total" }, el("span", {}, "Total "), el("strong", { id: "estimate-total" }, money(c.total, c.currency))));
}

function renderEstimate() {
  const a = S.claim.assessment;
  const box = $("estimate");
  const p = S.preview;
  if (p && S.claim.status === "in_review") {
    const c = p.corrected;
    const same = p.model.total !== null && Number(c.total) === Number(p.model.total);
    $("estimate-source").textContent = same ? "(as assessed)" : "(with your corrections)";
    const focusId = box.contains(document.activeElement) ? document.activeElement.id : "";
    const parts = [estimateByPart(c)];
    if (c.unpriced.length) parts.push(el("p", { class: "rv-error rv-small" }, `${c.unpriced.length} region${c.unpriced.length > 1 ? "s" : ""} no price rule covers: price ${c.unpriced.length > 1 ? "them" : "it"} by hand.`));
    if (p.model.total !== null) {
      const diff = Number(c.total) - Number(p.model.total);
      parts.push(el("p", { class: "rv-muted rv-small", id: "estimate-model" }, `Model's estimate ${money(p.model.total, p.model.currency)}${same ? "" : ` (${diff > 0 ? "+" : "−"}${money(Math.abs(diff), c.currency)})`}`));
    }
    parts.push(el("p", { class: "rv-muted rv-small", id: "estimate-note", "aria-live": "polite" }, ""));
    if (c.skipped_adjustments && c.skipped_adjustments.length) parts.push(el("p", { class: "rv-warn rv-small", id: "estimate-skipped" }, `${c.skipped_adjustments.length} line edit${c.skipped_adjustments.length > 1 ? "s do" : " does"} not apply now: ${c.skipped_adjustments.map((a) => `${partName(a.part)} ${humanize(a.to_operation || a.operation)}`).join(", ")} (no damage on that part, or the part has that line already).`));
    box.replaceChildren(...parts);
    app.dataset.estimateTotal = String(c.total);
    if (focusId && $(focusId)) $(focusId).focus({ preventScroll: true });
    return;
  }
  renderAssessedEstimate();
}

function renderAssessedEstimate() {
  const a = S.claim.assessment;
  const box = $("estimate");
  if (!a) { box.replaceChildren(el("p", { class: "rv-muted" }, "No estimate.")); return; }
  $("estimate-source").textContent = a.source === "adjuster" ? "(from corrections)" : "(as assessed)";
  box.replaceChildren(estimateTable(a.lines || [], a.currency, a.estimate_total, "Estimate lines"));
  app.dataset.estimateTotal = String(a.estimate_total);
}

function renderNotes() {
  const notes = S.claim.notes || [];
  $("notes").replaceChildren(
    ...(notes.length
      ? notes.map((n) => el("li", { class: "rv-note" }, el("p", { class: "rv-note__meta" }, `${n.author} · ${dateTime(n.created_at)}`), el("p", {}, n.text)))
      : [el("li", { class: "rv-muted rv-small" }, "No notes yet.")]),
  );
}

function renderHistory() {
  const items = S.claim.history || [];
  $("history").replaceChildren(
    ...items.map((h) =>
      el(
        "li",
        { class: "rv-hist" },
        el("p", { class: "rv-hist__meta" }, `${dateTime(h.at)} · ${h.actor}`),
        el("p", {}, el("strong", {}, humanize(h.outcome || h.kind)), h.summary ? ` — ${h.summary}` : ""),
      ),
    ),
  );
}

// ---- photos --------------------------------------------------------------------------------

async function showPhoto(index) {
  const st = S.photos[index];
  S.current = index;
  renderPhotoNav();
  renderSaveState();
  showStageMessage([el("span", { class: "spinner", "aria-hidden": "true" }), " Loading the photo…"]);
  try {
    await loadImage(st);
  } catch (err) {
    showStageMessage(err.message, "rv-stage__msg--error");
    return;
  }
  if (S.current !== index) return;
  ensureRegions(st);
  editor.setPhoto(st);
  $("stage-msg").hidden = !st.error;
  if (st.error) showStageMessage(st.error, "rv-stage__msg--error");
  renderPhotoMeta(st);
  renderRegions();
  renderUndo();
  renderSaveState();
  $("zoom-value").textContent = `${editor.zoomPercent()}%`;
  // The next photo's bytes, while the adjuster looks at this one.
  const next = S.photos[index + 1];
  if (next) loadImage(next).catch(() => undefined);
}

async function goToPhoto(index, { force = false } = {}) {
  if (index < 0 || index >= S.photos.length) {
    announce(index < 0 ? "This is the first photo." : "This is the last photo.");
    return false;
  }
  if (index === S.current) return true;
  const ok = await savePhoto(S.photos[S.current], { force });
  if (!ok) return false;
  await showPhoto(index);
  announce(`Photo ${index + 1} of ${S.photos.length}.`);
  return true;
}

function regionPayload(st) {
  if (!st.regions) {
    // Never opened: the model's regions as they are, without decoding them.
    const source = st.photo.labels ? st.photo.labels.regions : st.photo.predicted;
    return source.map((r) => ({
      label: r.label,
      severity: r.severity,
      source_index: st.photo.labels ? r.source_index : r.index,
      part: st.photo.labels ? r.part || "" : "",
      mask_rle: r.mask_rle,
    }));
  }
  return regionsPayload(st);
}

/** PUT the photo's regions when they changed (or when `force`: the adjuster accepts them).
 * Saves run one after another; resolves true when stored (or nothing to store). */
function savePhoto(st, { force = false } = {}) {
  S.saving = S.saving.then(async () => {
    if (!st || S.readOnly) return !st || !st.dirty;
    if (!st.dirty && !(force && !st.accepted)) return true;
    const seq = st.seq;
    const active = Math.round(st.activeMs);
    $("save-state").textContent = "Saving…";
    try {
      const res = await api(`${API}photos/${st.photo.id}/labels/`, {
        method: "PUT",
        body: { base_version: st.version, active_ms: active, regions: regionPayload(st) },
      });
      const labels = res && res.labels ? res.labels : res;
      st.version = labels && labels.version ? labels.version : st.version + 1;
      st.savedBy = labels && labels.adjuster ? labels.adjuster : app.dataset.user;
      st.savedSeq = seq;
      st.accepted = true;
      st.activeMs = Math.max(0, st.activeMs - active);
      st.saveError = null;
      if (labels && labels.regions) st.photo.labels = labels;
      scheduleEstimate();
      renderSaveState();
      renderPhotoNav();
      announce(`Photo ${st.index + 1} saved.`);
      return true;
    } catch (err) {
      st.saveError = `Not saved: ${err.message}`;
      if (err.code === "claim_locked" || err.code === "claim_not_in_review") goReadOnly(err.message);
      renderSaveState();
      announce(st.saveError);
      return false;
    }
  });
  return S.saving;
}

async function acceptAndNext() {
  const st = S.photos[S.current];
  if (!st) return;
  const ok = await savePhoto(st, { force: true });
  if (!ok) return;
  if (S.current < S.photos.length - 1) await goToPhoto(S.current + 1);
  else {
    announce("All photos reviewed. Decide the claim.");
    $("decide-corrections").focus();
  }
}

// ---- lock, read-only, active time ------------------------------------------------------------

function goReadOnly(message) {
  S.readOnly = true;
  S.haveLock = false;
  readOnlyShow(editor, {
    app,
    message,
    backUrl: app.dataset.queueUrl,
    backText: "Back to the queue",
    disable: ["decide-approve", "decide-corrections", "decide-photos", "decide-deny"],
  });
  $("note-text").disabled = true;
  $("note-form").querySelector("button").disabled = true;
  editor.setTool("select");
  renderTools();
  renderUndo();
  renderRegions();
}

async function takeLock() {
  try {
    const lock = await api(`${API}lock/`, { method: "POST" });
    S.haveLock = true;
    app.dataset.lockUntil = lock && lock.expires_at ? lock.expires_at : "";
    return true;
  } catch (err) {
    if (err.code === "claim_locked" || err.status === 409) {
      goReadOnly(err.message || "Another adjuster is reviewing this claim.");
    } else if (err.code === "senior_adjuster_required") {
      goReadOnly(err.message);
    } else {
      goReadOnly(`The claim could not be taken: ${err.message}`);
    }
    return false;
  }
}

function releaseLock() {
  if (!S.haveLock || S.decided) return;
  S.haveLock = false;
  api(`${API}lock/`, { method: "DELETE", keepalive: true }).catch(() => undefined);
}

function trackActivity() {
  activityTrack({
    state: S,
    idleAfterMs: IDLE_AFTER_MS,
    lockRenewMs: LOCK_RENEW_MS,
    onActive(delta) {
      S.claimActiveMs += delta;
      S.claimUnreportedMs += delta;
      const st = S.photos[S.current];
      if (st) st.activeMs += delta;
      $("active-timer").textContent = `Active ${fmtDuration(S.claimActiveMs)}`;
      app.dataset.activeMs = String(S.claimActiveMs);
    },
    onRenew() {
      if (!S.haveLock || S.decided) return;
      const reported = Math.round(S.claimUnreportedMs);
      api(`${API}lock/`, { method: "POST", body: { active_ms: reported } }).then(
        () => { S.claimUnreportedMs = Math.max(0, S.claimUnreportedMs - reported); },
        (err) => { if (err.code === "claim_locked") goReadOnly(err.message); },
      );
    },
  });
}

// ---- decisions and notes -------------------------------------------------------------------

// Every decision goes through one confirm step (the dialog): what will be paid, a reason (for
// the audit trail; required where the server says so: deny, more photos, and corrections that
// change the amount the model estimated) and the message the customer will read.
const DECISION_FORMS = {
  approve: { title: "Approve as assessed", submit: "Approve claim", kind: "primary", reasonLabel: "Reason" },
  approve_with_corrections: { title: "Approve with corrections", submit: "Approve with corrections", kind: "primary", reasonLabel: "Reason for the corrections" },
  deny: { title: "Deny the claim", submit: "Deny claim", kind: "danger", reasonLabel: "Reason for the denial" },
  request_photos: { title: "Ask the customer for more photos", submit: "Send request", kind: "primary", reasonLabel: "Reason (for the file)" },
};
// Used when the estimate preview cannot be had: the outcomes that always need a reason.
const ALWAYS_REASON = new Set(["deny", "request_photos"]);

function decideError(text) {
  const node = $("decide-error");
  node.textContent = text || "";
  node.hidden = !text;
}

/** Save the photos with unsaved edits before deciding. Untouched photos are never saved here:
 * saving them would record the model's guesses as a person's labels. */
async function saveAllFor() {
  for (const st of S.photos) {
    if (st.dirty) {
      const ok = await savePhoto(st);
      if (!ok) {
        decideError(`Photo ${st.index + 1}: ${st.saveError}`);
        return false;
      }
    }
  }
  return true;
}

async function decide(outcome, { reason = "", message = "" } = {}) {
  if (S.readOnly) return false;
  decideError("");
  const buttons = document.querySelectorAll(".rv-decide button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    if (!(await saveAllFor())) return false;
    // Claim-level time not yet reported with a lock renewal (photo time is reported with each
    // photo's save, separately: it is part of the claim's time, not added to it).
    const body = { outcome, active_ms: Math.round(S.claimUnreportedMs) };
    if (reason) body.reason = reason;
    if (message) body.message_to_customer = message;
    const claim = await api(`${API}decision/`, { method: "POST", body });
    S.claimUnreportedMs = 0;
    S.decided = true;
    S.haveLock = false;
    const display = (claim && claim.decision && claim.decision.outcome_display) || humanize(outcome);
    const url = new URL(app.dataset.queueUrl, window.location.href);
    url.searchParams.set("decided", S.claim.reference);
    url.searchParams.set("outcome", display);
    window.location.assign(url.toString());
    return true;
  } catch (err) {
    decideError(err.message);
    if (err.code === "claim_locked" || err.code === "claim_not_in_review") goReadOnly(err.message);
    return false;
  } finally {
    if (!S.decided && !S.readOnly) buttons.forEach((b) => { b.disabled = false; });
  }
}

function photoList(numbers) {
  return numbers.length === 1 ? `photo ${numbers[0]}` : `photos ${numbers.slice(0, -1).join(", ")} and ${numbers[numbers.length - 1]}`;
}

/** Whether a person changed what the model said on this photo: edits on screen, or saved
 * labels that are not the model's regions accepted as they were (a region edited, added or
 * deleted). Accepting a photo without change is a check, not a correction. */
function photoChanged(st) {
  if (st.dirty) return true;
  const labels = st.photo.labels;
  if (!labels || !st.version) return false;
  const regions = labels.regions || [];
  return regions.some((r) => r.origin !== "accepted") || regions.length !== (st.photo.predicted || []).length;
}

/** The dialog's summary: what the decision pays and what it does, from the server's preview. */
function confirmSummary(outcome, preview) {
  const parts = [];
  const corrected = S.photos.filter(photoChanged).map((st) => st.index + 1);
  const lineEdits = (S.claim.estimate_adjustments || []).length;
  const changes = [
    ...(corrected.length ? [`corrections on ${photoList(corrected)}`] : []),
    ...(lineEdits ? [`${lineEdits} estimate line edit${lineEdits === 1 ? "" : "s"}`] : []),
  ].join(" and ");
  if (!preview) {
    parts.push(el("p", { class: "rv-error" }, "The estimate could not be computed; the decision records the server's figures."));
    return { parts, blocked: false };
  }
  const c = preview.corrected;
  const modelTotal = preview.model.total;
  const row = (label, value, id) => [el("dt", {}, label), el("dd", { id }, value)];
  if (outcome === "approve") {
    parts.push(el("dl", { class: "rv-confirm__facts" }, ...row("Pays", modelTotal === null ? "No estimate" : money(modelTotal, preview.model.currency), "confirm-total"), ...row("Estimate", "as the model assessed it")));
    if (changes) parts.push(el("p", { class: "rv-warn" }, `You made ${changes}: they are kept, but this pays the model's estimate. Use “Approve with corrections” to pay the corrected one (${money(c.total, c.currency)}).`));
    return { parts, blocked: false };
  }
  if (outcome === "approve_with_corrections") {
    if (!changes) {
      parts.push(el("p", { class: "rv-error" }, "Nothing differs from the model's assessment yet (photos accepted without change are not corrections): correct a region or an estimate line first, or approve as assessed."));
      return { parts, blocked: true };
    }
    const diff = modelTotal === null ? null : Number(c.total) - Number(modelTotal);
    parts.push(el(
      "dl",
      { class: "rv-confirm__facts" },
      ...row("Pays", money(c.total, c.currency), "confirm-total"),
      ...row("Lines", `${c.lines.length} estimate line${c.lines.length === 1 ? "" : "s"}, ${changes}`),
      ...(modelTotal === null ? [] : row("Model's estimate", `${money(modelTotal, preview.model.currency)}${diff ? ` (${diff > 0 ? "+" : "−"}${money(Math.abs(diff), c.currency)})` : " (same amount)"}`)),
    ));
    if (c.unpriced.length) parts.push(el("p", { class: "rv-warn" }, `${c.unpriced.length} region${c.unpriced.length > 1 ? "s have" : " has"} no price rule and ${c.unpriced.length > 1 ? "are" : "is"} not in the total.`));
    return { parts, blocked: false };
  }
  if (outcome === "deny") {
    parts.push(el("dl", { class: "rv-confirm__facts" }, ...row("Pays", "Nothing", "confirm-total"), ...(modelTotal === null ? [] : row("Model's estimate", money(modelTotal, preview.model.currency)))));
    return { parts, blocked: false };
  }
  parts.push(el("p", {}, "No decision yet: the claim goes back to the customer, who adds photos and submits it again. It then returns to this queue."));
  return { parts, blocked: false };
}

function reasonRequired(outcome) {
  const info = S.preview && (S.preview.outcomes || []).find((o) => o.outcome === outcome);
  return info ? info.reason_required : ALWAYS_REASON.has(outcome);
}

function standardMessage(outcome) {
  const info = S.preview && (S.preview.outcomes || []).find((o) => o.outcome === outcome);
  return info ? info.customer_message : "";
}

function renderConfirm(outcome) {
  const dialog = $("decision-dialog");
  if (dialog.dataset.outcome !== outcome) return;
  const { parts, blocked } = confirmSummary(outcome, S.preview);
  $("decision-summary").replaceChildren(...parts);
  const required = reasonRequired(outcome);
  $("decision-reason").required = required;
  $("decision-reason").setAttribute("aria-required", String(required));
  $("decision-reason-need").textContent = required
    ? (outcome === "approve_with_corrections" ? "(required: the corrections change the amount)" : "(required)")
    : "(optional)";
  const message = $("decision-message");
  if (!message.dataset.edited) message.value = standardMessage(outcome);
  message.dataset.standard = standardMessage(outcome);
  $("decision-submit").disabled = blocked;
  dialog.dataset.ready = "true";
}

async function openDecisionDialog(outcome) {
  if (S.readOnly) return;
  const form = DECISION_FORMS[outcome];
  const dialog = $("decision-dialog");
  dialog.dataset.outcome = outcome;
  dialog.dataset.ready = "false";
  $("decision-dialog-title").textContent = form.title;
  $("decision-submit").textContent = form.submit;
  $("decision-submit").className = `button button--small button--${form.kind}`;
  dialog.querySelector("label[for=decision-reason]").firstChild.textContent = `${form.reasonLabel} `;
  $("decision-reason").value = "";
  const message = $("decision-message");
  message.value = "";
  delete message.dataset.edited;
  message.required = outcome === "request_photos";
  $("decision-dialog-error").hidden = true;
  $("decision-summary").replaceChildren(el("p", { class: "rv-muted" }, el("span", { class: "spinner", "aria-hidden": "true" }), " Computing the estimate…"));
  $("decision-submit").disabled = true;
  dialog.showModal();
  $("decision-cancel").focus();
  try {
    await refreshEstimate({ force: true });
  } catch (err) {
    S.preview = S.preview || null;
  }
  if (!dialog.open) return;
  renderConfirm(outcome);
  // The keyboard goes where the adjuster acts next: the reason when one is needed, else the
  // confirm button (Enter decides, Esc cancels).
  if ($("decision-reason").required) $("decision-reason").focus();
  else if (!$("decision-submit").disabled) $("decision-submit").focus();
}

async function submitDecision() {
  const dialog = $("decision-dialog");
  const outcome = dialog.dataset.outcome;
  if (dialog.dataset.ready !== "true" || $("decision-submit").disabled) return;
  const reason = $("decision-reason").value.trim();
  const messageField = $("decision-message");
  const message = messageField.value.trim();
  const err = $("decision-dialog-error");
  if (($("decision-reason").required && !reason) || (messageField.required && !message)) {
    err.textContent = $("decision-reason").required && !reason
      ? (outcome === "approve_with_corrections" ? "Give a reason: the corrections change the amount the model estimated." : "Give a reason.")
      : "Write the message the customer will see.";
    err.hidden = false;
    ($("decision-reason").required && !reason ? $("decision-reason") : messageField).focus();
    return;
  }
  $("decision-submit").disabled = true;
  // The standard sentence is the server's own default: send only what the adjuster wrote.
  const written = message && message !== (messageField.dataset.standard || "").trim() ? message : "";
  const ok = await decide(outcome, { reason, message: written });
  $("decision-submit").disabled = false;
  if (!ok) {
    err.textContent = $("decide-error").textContent || "The decision was not recorded.";
    err.hidden = false;
  }
}

function bindDecisions() {
  $("decide-approve").addEventListener("click", () => openDecisionDialog("approve"));
  $("decide-corrections").addEventListener("click", () => openDecisionDialog("approve_with_corrections"));
  $("decide-deny").addEventListener("click", () => openDecisionDialog("deny"));
  $("decide-photos").addEventListener("click", () => openDecisionDialog("request_photos"));
  $("decision-cancel").addEventListener("click", () => $("decision-dialog").close());
  $("decision-message").addEventListener("input", (e) => { e.target.dataset.edited = "true"; });
  $("decision-dialog").addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      submitDecision();
    }
  });
  $("decision-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submitDecision();
  });
  $("note-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) return;
    const button = $("note-form").querySelector("button");
    button.disabled = true;
    try {
      const note = await api(`${API}notes/`, { method: "POST", body: { text } });
      S.claim.notes = [...(S.claim.notes || []), note];
      $("note-text").value = "";
      renderNotes();
      announce("Note added.");
    } catch (err) {
      announce(`Note not added: ${err.message}`);
      $("notes").append(el("li", { class: "rv-error" }, `Note not added: ${err.message}`));
    } finally {
      button.disabled = S.readOnly;
    }
  });
}

// ---- keyboard ------------------------------------------------------------------------------

const onKeyDown = editorKeyHandler({
  editor,
  state: S,
  severities: () => S.severities,
  typeName,
  setLabel,
  newTypeHint: " Select a region to change its type.",
  keys: {
    submit: () => acceptAndNext(),
    skip: () => { if (S.current < S.photos.length - 1) goToPhoto(S.current + 1); },
    save: () => savePhoto(S.photos[S.current]),
    next: () => goToPhoto(S.current + 1),
    previous: () => goToPhoto(S.current - 1),
    compare: () => editor.setCompare(!editor.compare),
    tags: () => {
      editor.setShowTags(!editor.showTags);
      announce(editor.showTags ? "Tags shown." : "Tags hidden.");
    },
  },
});

function bindControls() {
  editorControlsBind(editor, {
    onKeyDown,
    save: () => savePhoto(S.photos[S.current]),
    shortcuts: SHORTCUTS,
    hasUnsaved: () => !S.readOnly && !S.decided && S.photos.some((st) => st.dirty),
    onPageHide: releaseLock,
  });
  $("compare").addEventListener("click", () => editor.setCompare(!editor.compare));
  $("tags-toggle").addEventListener("click", () => editor.setShowTags(!editor.showTags));
}

// ---- start -------------------------------------------------------------------------------

async function start() {
  bindControls();
  bindDecisions();
  renderTools();
  editor.setOpacity(Number($("opacity").value) / 100);
  const claimPromise = api(API);
  const lockPromise = takeLock();
  let claim;
  try {
    claim = await claimPromise;
  } catch (err) {
    showStageMessage(`The claim could not be loaded: ${err.message}`, "rv-stage__msg--error");
    app.dataset.state = "error";
    return;
  }
  S.claim = claim;
  S.classes = (claim.label_map && claim.label_map.classes) || [];
  for (const c of S.classes) {
    S.colours.set(c.name, c.colour);
    if (c.display) S.names.set(c.name, c.display);
  }
  if (claim.severities && claim.severities.length) S.severities = claim.severities;
  S.photos = (claim.photos || []).map(photoState);
  if (claim.status !== "in_review") {
    await lockPromise;
    if (!S.readOnly) goReadOnly(`This claim is ${humanize(claim.status).toLowerCase()}, not in review.`);
  }
  if (!S.photos.length) {
    showStageMessage("This claim has no photos.");
  } else {
    editor.onFirstDraw = () => {
      app.dataset.firstPaintMs = String(Math.round(performance.now() - openedAt));
      app.dataset.state = "ready";
    };
    const shown = showPhoto(0);
    renderClaim();
    await shown;
  }
  if (claim.status === "in_review") scheduleEstimate({ now: true });
  await lockPromise;
  trackActivity();
  renderUndo();
  renderSaveState();
  if (!S.photos.length) app.dataset.state = "ready";
  $("canvas").focus({ preventScroll: true });
}

start();

// For the browser tests and for debugging in the console.
window.reviewScreen = { S, editor };
