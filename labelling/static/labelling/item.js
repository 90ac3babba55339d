/* The labelling item screen: one project item in the review screen's mask editor
 * (review/static/review/editor.js, the same editor adjusters use), for a labeller (label mode)
 * or a reviewer (QA mode). Talks to the labelling API (docs/labelling.md) for the item, its
 * labels, flag, skip and QA, and to the screen's own endpoints for its lock and the queue.
 *
 * What the editor starts from: the item's saved labels if any, else the model's pre-labels,
 * which the API sends only for items that show them (an item drawn "from scratch" starts
 * empty, and nothing of its prediction reaches the page). Active time counts while the tab
 * is visible and the person did something in the last minute; each save reports it.
 */

import { api, el, humanize } from "../review/api.js";
import { MaskEditor, Region } from "../review/editor.js";
import { EDITING_SHORTCUTS, activityTrack, announce, editorControlsBind, editorKeyHandler, fmtDuration, readOnlyShow, regionListItem, regionSeveritySelect, regionTypeSelect, regionsPayload, renderTools as renderToolsOf, renderUndo as renderUndoOf, showStageMessage } from "../review/editor_host.js";
import { decode } from "../review/rle.js";

const app = document.getElementById("item-app");
const $ = (id) => document.getElementById(id);
const MODE = app.dataset.mode; // "label" | "qa"
const ITEM_ID = app.dataset.itemId;
const API = app.dataset.itemApi;
const LOCK_RENEW_MS = Number(app.dataset.lockRenewMs) || 60000;
const IDLE_AFTER_MS = Number(app.dataset.idleAfterMs) || 60000;
const SEVERITIES = ["minor", "moderate", "severe"];
// What the canvas chip says of a region in QA: where the labeller's region came from.
const ORIGIN_NOTES = { accepted: "kept", edited: "edited", added: "drawn" };
const STATUS_NAMES = {
  new: "New", prelabelling: "Pre-labelling", prelabelled: "Pre-labelled", in_progress: "In progress",
  labelled: "Labelled", in_qa: "In QA", accepted: "Accepted", sent_back: "Sent back", skipped: "Skipped",
};
const statusName = (status) => STATUS_NAMES[status] || humanize(status);

export const SHORTCUTS = [
  ["Ctrl+Enter", MODE === "qa" ? "Accept the labels and go to the next item" : "Submit the labels and go to the next item"],
  ["Ctrl+Space", MODE === "qa" ? "Skip: the next item, this one stays in QA" : "Skip: put this item aside, go to the next"],
  ["F / D", MODE === "qa" ? "Next / previous item (asks first when your corrections are not sent)" : "Next / previous item"],
  ...(MODE === "label" ? [["Ctrl+S", "Save without submitting"]] : []),
  ...EDITING_SHORTCUTS,
  ["+ / − / 0", "Zoom in / out / fit"],
  ["?", "This list"],
];

const S = {
  item: null,
  st: null, // the editor's state for this item
  classes: [],
  colours: new Map(),
  names: new Map(),
  readOnly: false,
  haveLock: false,
  leaving: false,
  lastLabel: null,
  activeMs: 0, // this visit, shown
  unreportedMs: 0, // not yet sent with a save
  lastInteraction: Date.now(),
  busy: false,
};

// ---- helpers ----------------------------------------------------------------------------

function showError(text) {
  const node = $("decide-error");
  node.textContent = text || "";
  node.hidden = !text;
  if (text) announce(text);
}

const colourOf = (label) => S.colours.get(label) || "#ff00ff";
const typeName = (label) => S.names.get(label) || humanize(label);

// ---- the item's state for the editor -----------------------------------------------------

function regionFrom(st, data, { sourceIndex = null, confidence = null, modelLabel = null, tagNote = null } = {}) {
  let mask;
  try {
    mask = decode(data.mask_rle);
    if (mask.length !== st.mw * st.mh) throw new Error("mask size differs from the item's mask grid");
  } catch (err) {
    st.error = `A mask on this item could not be read (${err.message}).`;
    mask = new Uint8Array(st.mw * st.mh);
  }
  const region = new Region({
    label: data.label,
    severity: data.severity,
    sourceIndex,
    confidence,
    modelLabel,
    tagNote,
    mask,
    mw: st.mw,
    mh: st.mh,
    colour: colourOf(data.label),
  });
  region.part = data.part || null;
  return region;
}

function itemState(item) {
  const predicted = item.prediction ? item.prediction.regions : [];
  const st = {
    W: item.working_width,
    H: item.working_height,
    mw: item.mask_width,
    mh: item.mask_height,
    image: null,
    regions: [],
    predicted: null,
    undo: [],
    redo: [],
    view: null,
    seq: 0,
    savedSeq: 0,
    version: item.labels ? item.labels.version : 0,
    error: null,
    get dirty() { return this.seq !== this.savedSeq; },
    predictedRegions() {
      if (!this.predicted) {
        this.predicted = predicted.map((p) => regionFrom(this, p, { sourceIndex: p.index, confidence: p.score }));
      }
      return this.predicted;
    },
  };
  const byIndex = new Map(predicted.map((p) => [p.index, p]));
  if (item.labels) {
    st.regions = item.labels.regions.map((r) => {
      if (MODE === "qa") return regionFrom(st, r, { tagNote: ORIGIN_NOTES[r.origin] || null });
      const source = r.source_index === null || r.source_index === undefined ? null : byIndex.get(r.source_index);
      return regionFrom(st, r, source
        ? { sourceIndex: r.source_index, confidence: source.score, modelLabel: source.label }
        : {});
    });
  } else if (MODE === "label") {
    st.regions = predicted.map((p) => regionFrom(st, p, { sourceIndex: p.index, confidence: p.score }));
  }
  return st;
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.decoding = "async";
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("The photo could not be loaded."));
    img.src = url;
  });
}

// ---- the editor ----------------------------------------------------------------------------

const editor = new MaskEditor($("canvas"), {
  colourOf,
  labelName: typeName,
  defaultLabel: () => S.lastLabel || (S.classes[0] && S.classes[0].name) || "damage",
  announce,
  readOnlyMessage: "This item is open read-only.",
  onChange(kind) {
    if (kind === "edit" && S.st) {
      S.st.seq++;
      renderSaveState();
    }
    if (kind === "tool" || kind === "brush") renderTools();
    renderRegions();
    renderUndo();
  },
  onSelect() { renderRegions(); },
  onView() { $("zoom-value").textContent = `${editor.zoomPercent()}%`; },
});

// ---- rendering -----------------------------------------------------------------------------

function renderTools() {
  renderToolsOf(editor, { readOnly: S.readOnly });
}

function renderUndo() {
  renderUndoOf(S.st, { readOnly: S.readOnly });
}

function renderSaveState() {
  const st = S.st;
  const node = $("save-state");
  if (!st) { node.textContent = ""; return; }
  node.classList.toggle("rv-save-state--dirty", st.dirty);
  if (st.saveError) node.textContent = st.saveError;
  else if (st.dirty) node.textContent = MODE === "qa" ? "Corrected (sent with your decision)" : "Unsaved changes";
  else if (st.version) node.textContent = `Saved (version ${st.version})`;
  else node.textContent = S.item && S.item.prediction ? "Model's regions, not yet saved" : "Nothing drawn yet";
  if ($("save")) $("save").disabled = S.readOnly || !st.dirty;
}

function renderItem() {
  const item = S.item;
  $("item-status").textContent = statusName(item.status);
  let text;
  if (MODE === "qa") {
    const n = item.labels ? item.labels.regions.length : 0;
    text = `The labeller's ${n} region${n === 1 ? "" : "s"} (version ${item.labels ? item.labels.version : 0}). Correct what is wrong, then accept, or send it back with a note.`;
    if (item.flagged) text += ` Flagged by the labeller: “${item.flag_note || "no note"}”.`;
  } else if (!item.show_prelabels) {
    text = "From scratch: this item is shown without pre-labels (drawn at random, to measure the time pre-labels save). Draw every damage yourself.";
  } else if (item.prediction) {
    const n = item.prediction.regions.length;
    text = `The model found ${n} region${n === 1 ? "" : "s"} (model ${item.prediction.model_version}). Keep what is right, correct the rest.`;
  } else {
    text = "No pre-labels for this item yet. Draw every damage yourself.";
  }
  $("source-text").textContent = text;
  if ($("flag-state")) {
    $("flag-state").textContent = item.flagged ? `Flagged: “${item.flag_note || "no note"}”. It will go to QA.` : "Not flagged.";
    $("flag-submit").textContent = item.flagged ? "Update flag" : "Flag";
  }
  $("photo-meta").textContent = `${item.original_name || "item"} · ${item.working_width}×${item.working_height}`;
}

function renderRegions() {
  const list = $("regions");
  if (!S.st) { list.replaceChildren(); return; }
  const regions = editor.regions;
  $("regions-count").textContent = `(${regions.length})`;
  $("regions-empty").hidden = regions.length > 0;
  const editable = !S.readOnly;
  const active = list.contains(document.activeElement) ? document.activeElement : null;
  const focusUid = active && active.closest("li") ? active.closest("li").dataset.uid : null;
  list.replaceChildren(
    ...regions.map((r, i) => {
      const selected = r === editor.selected;
      const chip = r.confidenceText();
      return regionListItem(editor, r, i, {
        selected,
        editable,
        name: typeName(r.label),
        ariaLabel: `Region ${i + 1}: ${typeName(r.label)}, ${r.severity}, ${chip}${r.hidden ? ", hidden" : ""}`,
        conf: chip,
        controls: () => regionControls(r),
      });
    }),
  );
  if (active) {
    const item = list.querySelector(`li[data-uid="${focusUid}"]`);
    const target = item && item.querySelector("button");
    if (target) target.focus({ preventScroll: true });
    else $("canvas").focus({ preventScroll: true });
  }
}

function regionControls(r) {
  const typeSelect = regionTypeSelect(r, { classes: S.classes, typeName, setLabel });
  const sevSelect = regionSeveritySelect(editor, r, { severities: SEVERITIES });
  return el(
    "div",
    { class: "rv-region__edit" },
    el("label", { for: typeSelect.id }, "Type"),
    typeSelect,
    el("label", { for: sevSelect.id }, "Severity"),
    sevSelect,
  );
}

function setLabel(name) {
  editor.setField("label", name);
  S.lastLabel = name;
}

// ---- saving and moving on ------------------------------------------------------------------

function regionPayload() {
  // QA corrections are the reviewer's own regions: no pre-label was shown to them.
  return regionsPayload(S.st, { sourceIndex: (r) => (MODE === "qa" ? null : r.sourceIndex) });
}

/** PUT the labels (``submit``: finish the item). Resolves true when stored. */
async function saveLabels({ submit = false } = {}) {
  const st = S.st;
  if (!st || S.readOnly) return false;
  if (!submit && !st.dirty) return true;
  const seq = st.seq;
  const active = Math.round(S.unreportedMs);
  $("save-state").textContent = submit ? "Submitting…" : "Saving…";
  try {
    const labels = await api(`${API}labels/`, {
      method: "PUT",
      body: { base_version: st.version, active_ms: active, regions: regionPayload(), submit },
    });
    st.version = labels.version;
    st.savedSeq = seq;
    st.saveError = null;
    S.unreportedMs = Math.max(0, S.unreportedMs - active);
    renderSaveState();
    announce(submit ? "Submitted." : `Saved (version ${st.version}).`);
    return true;
  } catch (err) {
    st.saveError = `Not saved: ${err.message}`;
    if (err.code === "item_not_editable" || err.code === "stale_labels") goReadOnly(err.message);
    renderSaveState();
    showError(st.saveError);
    return false;
  }
}

/** Whether leaving now would lose work: a labeller's unsaved labels, or a reviewer's
 * corrections not yet sent (QA has no draft: they are stored only with Accept or Send back).
 * The page's "leave the page?" question and the QA moves below both ask it. */
function hasUnsaved() {
  return Boolean(!S.readOnly && !S.leaving && S.st && S.st.dirty);
}

const QA_LEAVE_QUESTION = "Your corrections to this item are not sent: they are kept only with Accept or Send back. Leave this item and lose them?";

/** In QA, ask before moving on with unsent corrections. Asked before the queue is (which
 * releases the item): refused, the screen stays as it was, corrections and lock kept. */
function qaLeaveConfirmed() {
  if (MODE !== "qa" || !hasUnsaved()) return true;
  if (window.confirm(QA_LEAVE_QUESTION)) return true;
  announce("Still on this item: your corrections are kept. Accept or send back to store them.");
  return false;
}

/** Ask the queue for the next item (releasing this one) and go there. */
async function goNext(direction = "next") {
  try {
    const res = await api(app.dataset.nextUrl, {
      method: "POST",
      body: { mode: MODE, current: ITEM_ID, direction },
    });
    if (!res.item_id && direction !== "next") {
      announce(direction === "forward" ? "This is the last item of your queue." : "This is the first item of your queue.");
      await takeLock(); // the queue released it: take it back, this screen stays
      return;
    }
    S.leaving = true;
    S.haveLock = false;
    window.location.assign(res.url);
  } catch (err) {
    showError(err.message);
  }
}

async function withBusy(action) {
  if (S.busy) return;
  S.busy = true;
  try { await action(); } finally { S.busy = false; }
}

function submitAndNext() {
  return withBusy(async () => {
    showError("");
    if (await saveLabels({ submit: true })) await goNext("next");
  });
}

function skip() {
  return withBusy(async () => {
    showError("");
    if (!qaLeaveConfirmed()) return;
    // Put aside is not thrown away: the labeller's unsaved work is saved first, as F / D do.
    if (MODE === "label" && S.st && S.st.dirty && !(await saveLabels())) return;
    if (MODE === "label" && !S.readOnly) {
      try {
        await api(`${API}skip/`, { method: "POST" });
      } catch (err) {
        showError(err.message);
        return;
      }
    }
    await goNext("next");
  });
}

function step(direction) {
  return withBusy(async () => {
    if (MODE === "label" && S.st && S.st.dirty && !(await saveLabels())) return;
    if (!qaLeaveConfirmed()) return;
    await goNext(direction);
  });
}

function qaDecide(outcome) {
  return withBusy(async () => {
    showError("");
    const note = $("qa-note").value.trim();
    if (outcome === "sent_back" && !note) {
      showError("Say why the item is sent back: the labeller reads the note.");
      $("qa-note").focus();
      return;
    }
    const body = { outcome, note };
    if (S.st.dirty) body.regions = regionPayload();
    try {
      await api(`${API}qa/`, { method: "POST", body });
    } catch (err) {
      showError(err.message);
      return;
    }
    S.st.savedSeq = S.st.seq;
    announce(outcome === "accepted" ? "Accepted." : "Sent back to the labeller.");
    await goNext("next");
  });
}

async function flag(e) {
  e.preventDefault();
  const note = $("flag-note").value.trim();
  try {
    const item = await api(`${API}flag/`, { method: "POST", body: { flagged: true, note } });
    S.item.flagged = item.flagged;
    S.item.flag_note = item.flag_note;
    $("flag-note").value = "";
    renderItem();
    announce("Flagged: this item will go to QA.");
  } catch (err) {
    showError(err.message);
  }
}

// ---- lock, read-only, active time ------------------------------------------------------------

function goReadOnly(message) {
  S.readOnly = true;
  readOnlyShow(editor, {
    app,
    message,
    backUrl: app.dataset.projectUrl,
    backText: "Back to the project",
    disable: ["submit", "qa-accept", "qa-send-back", "flag-submit"],
  });
  editor.setTool("select");
  renderTools();
  renderUndo();
  renderRegions();
}

async function takeLock() {
  try {
    await api(app.dataset.lockUrl, { method: "POST", body: { purpose: MODE } });
    S.haveLock = true;
    return true;
  } catch (err) {
    goReadOnly(err.code === "item_locked" ? err.message : `The item could not be taken: ${err.message}`);
    return false;
  }
}

function releaseLock() {
  if (!S.haveLock || S.leaving) return;
  S.haveLock = false;
  api(app.dataset.lockUrl, { method: "DELETE", keepalive: true }).catch(() => undefined);
}

function trackActivity() {
  activityTrack({
    state: S,
    idleAfterMs: IDLE_AFTER_MS,
    lockRenewMs: LOCK_RENEW_MS,
    onActive(delta) {
      S.activeMs += delta;
      S.unreportedMs += delta;
      $("active-timer").textContent = `Active ${fmtDuration(S.activeMs)}`;
      app.dataset.activeMs = String(S.activeMs);
    },
    onRenew() {
      if (!S.haveLock || S.readOnly) return;
      api(app.dataset.lockUrl, { method: "POST", body: { purpose: MODE } }).catch((err) => {
        if (err.code === "item_locked") goReadOnly(err.message);
      });
    },
  });
}

// ---- keyboard ------------------------------------------------------------------------------

const onKeyDown = editorKeyHandler({
  editor,
  state: S,
  severities: () => SEVERITIES,
  typeName,
  setLabel,
  keys: {
    submit: () => { if (MODE === "qa") qaDecide("accepted"); else submitAndNext(); },
    skip: () => skip(),
    save: () => { if (MODE === "label") saveLabels(); },
    next: () => step("forward"),
    previous: () => step("back"),
  },
});

function bindControls() {
  editorControlsBind(editor, {
    onKeyDown,
    save: () => saveLabels(),
    shortcuts: SHORTCUTS,
    hasUnsaved,
    onPageHide: releaseLock,
  });
  if ($("submit")) $("submit").addEventListener("click", () => submitAndNext());
  $("skip").addEventListener("click", () => skip());
  if ($("qa-accept")) $("qa-accept").addEventListener("click", () => qaDecide("accepted"));
  if ($("qa-send-back")) $("qa-send-back").addEventListener("click", () => qaDecide("sent_back"));
  if ($("done")) $("done").addEventListener("click", () => { window.location.assign(app.dataset.projectUrl); });
  if ($("flag-form")) $("flag-form").addEventListener("submit", flag);
}

// ---- start -------------------------------------------------------------------------------

async function start() {
  bindControls();
  renderTools();
  editor.setOpacity(Number($("opacity").value) / 100);
  const lockPromise = takeLock();
  let item;
  try {
    item = await api(API);
  } catch (err) {
    showStageMessage(`The item could not be loaded: ${err.message}`, "rv-stage__msg--error");
    app.dataset.state = "error";
    return;
  }
  S.item = item;
  S.classes = JSON.parse(app.dataset.classes || "[]"); // the project's label map
  for (const c of S.classes) {
    S.colours.set(c.name, c.colour);
    if (c.display) S.names.set(c.name, c.display);
  }
  const st = itemState(item);
  S.st = st;
  renderItem();
  try {
    st.image = await loadImage(item.image_url);
    st.W = st.image.naturalWidth || st.W;
    st.H = st.image.naturalHeight || st.H;
  } catch (err) {
    showStageMessage(err.message, "rv-stage__msg--error");
    app.dataset.state = "error";
    return;
  }
  editor.onFirstDraw = () => { app.dataset.state = "ready"; };
  editor.setPhoto(st);
  $("stage-msg").hidden = !st.error;
  if (st.error) showStageMessage(st.error, "rv-stage__msg--error");
  if (MODE === "label" && ["in_qa", "accepted"].includes(item.status)) {
    goReadOnly(`This item is ${statusName(item.status).toLowerCase()}: it cannot be labelled now.`);
  }
  if (MODE === "qa" && item.status !== "in_qa") goReadOnly(`This item is ${statusName(item.status).toLowerCase()}, not waiting for QA.`);
  await lockPromise;
  trackActivity();
  renderRegions();
  renderUndo();
  renderSaveState();
  $("canvas").focus({ preventScroll: true });
}

start();

// For the browser tests and for debugging in the console.
window.labellingScreen = { S, editor };
