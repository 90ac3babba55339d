/* What a page that hosts the mask editor (editor.js) shares with the other: the review screen
 * (screen.js) and the labelling item screen (labelling/static/labelling/item.js). The page's
 * markup is review/templates/review/_editor_canvas.html and _editor_help.html; the page keeps
 * its own state, saving and lock, and hands this module hooks for what differs.
 */

import { el, humanize } from "./api.js";
import { encode } from "./rle.js";

const $ = (id) => document.getElementById(id);

const TOOL_HINTS = {
  select: "Click a region to select it; drag the photo to pan.",
  brush: "Paint into the selected region (or a new one). [ ] change the size.",
  eraser: "Erase from the selected region. [ ] change the size.",
  polygon: "Click points; click the first point or press Enter to close. Esc cancels.",
};

/** The editing shortcuts both pages have, for their help dialog's list (each page adds its own
 * moving-on, saving and view keys around them). */
export const EDITING_SHORTCUTS = [
  ["Ctrl+Z / Ctrl+Shift+Z", "Undo / redo"],
  ["V", "Select tool (click a region)"],
  ["B / E", "Brush / eraser"],
  ["P", "Polygon: click points; click the first point or press Enter to close"],
  ["[ / ]", "Smaller / larger brush"],
  ["N", "Add a region"],
  ["↑ / ↓", "Select the previous / next region"],
  ["1 – 9", "Set the selected region's damage type"],
  ["Alt+1 / 2 / 3", "Severity: minor / moderate / severe"],
  ["Delete", "Delete the selected region (Backspace removes the last polygon point)"],
  ["Esc", "Cancel the polygon, else deselect"],
  ["Alt+H", "Hide / show the selected region"],
];

/** Say ``text`` to a screen reader (the page's #announcer live region). */
export function announce(text) {
  const node = $("announcer");
  node.textContent = "";
  window.setTimeout(() => { node.textContent = text; }, 40);
}

/** A message over the canvas (loading, a photo that cannot be shown). */
export function showStageMessage(content, kind = "") {
  const msg = $("stage-msg");
  msg.className = `rv-stage__msg ${kind}`;
  msg.replaceChildren(...(Array.isArray(content) ? content : [content]));
  msg.hidden = false;
}

/** "m:ss", or "h:mm:ss" from an hour on. */
export function fmtDuration(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** Where typing is text, not a shortcut. */
export function isTextField(target) {
  if (!target || !target.closest) return false;
  if (target.closest("textarea, select, [contenteditable='true']")) return true;
  const input = target.closest("input");
  return Boolean(input && !["range", "checkbox", "radio", "button", "submit"].includes(input.type));
}

/** The tool buttons, the brush size and the hint under the canvas. */
export function renderTools(editor, { readOnly }) {
  for (const button of document.querySelectorAll(".rv-tool")) {
    button.setAttribute("aria-pressed", String(button.dataset.tool === editor.tool));
  }
  $("size-value").textContent = `Size ${editor.brushSize}`;
  const hint = $("stage-hint");
  hint.classList.toggle("rv-stage__hint--compare", Boolean(editor.compare));
  if (editor.compare) hint.textContent = "Showing the model's masks, as predicted (read-only). Press M for the current ones.";
  else hint.textContent = readOnly ? "Read-only" : TOOL_HINTS[editor.tool];
}

/** Undo / redo buttons for the state ``st`` on the canvas (none: both off). */
export function renderUndo(st, { readOnly }) {
  $("undo").disabled = readOnly || !st || !st.undo.length;
  $("redo").disabled = readOnly || !st || !st.redo.length;
}

/** One region of the side list: the pick button (swatch, number, ``name``, then severity and
 * ``conf`` as one group that moves to a second line when the name needs the room),
 * hide and delete, the empty warning and, while it is selected and editable, ``controls()``. */
export function regionListItem(editor, r, i, { selected, editable, name, ariaLabel, conf, confTitle = null, controls }) {
  return el(
    "li",
    { class: `rv-region${selected ? " rv-region--selected" : ""}${r.hidden ? " rv-region--hidden" : ""}`, dataset: { uid: String(r.uid) } },
    el(
      "div",
      { class: "rv-region__row" },
      el(
        "button",
        {
          type: "button",
          class: "rv-region__pick",
          "aria-pressed": String(selected),
          "aria-label": ariaLabel,
          onclick: () => editor.select(selected ? null : r),
        },
        el("span", { class: "rv-swatch", style: { background: r.colour }, "aria-hidden": "true" }),
        el("span", { class: "rv-region__num" }, `${i + 1}`),
        el("span", { class: "rv-region__label" }, name),
        el(
          "span",
          { class: "rv-region__meta" },
          el("span", { class: `rv-sev rv-sev--${r.severity}` }, humanize(r.severity)),
          el("span", { class: "rv-conf", title: confTitle }, conf),
        ),
      ),
      el("button", {
        type: "button",
        class: "rv-iconbtn rv-iconbtn--sm",
        "aria-pressed": String(r.hidden),
        "aria-label": `${r.hidden ? "Show" : "Hide"} region ${i + 1} (Alt+H)`,
        title: `${r.hidden ? "Show" : "Hide"} (Alt+H)`,
        onclick: () => editor.toggleHidden(r),
      }, r.hidden ? "◌" : "◉"),
      editable
        ? el("button", {
            type: "button",
            class: "rv-iconbtn rv-iconbtn--sm rv-iconbtn--danger",
            "aria-label": `Delete region ${i + 1} (Delete)`,
            title: "Delete (Delete)",
            onclick: () => { editor.select(r); editor.deleteSelected(); },
          }, "✕")
        : null,
    ),
    r.isEmpty() ? el("p", { class: "rv-region__warn" }, "Empty: paint it, or it is not saved.") : null,
    selected && editable ? controls() : null,
  );
}

/** The selected region's damage type select (1 – 9 as the shortcut keys pick them). */
export function regionTypeSelect(r, { classes, typeName, setLabel, className = null }) {
  return el(
    "select",
    { id: `region-type-${r.uid}`, class: className, onchange: (e) => setLabel(e.target.value) },
    ...classes.map((c, k) => el("option", { value: c.name, selected: c.name === r.label ? true : null }, `${k < 9 ? `${k + 1} · ` : ""}${typeName(c.name)}`)),
  );
}

/** The selected region's severity select (Alt+1 – 3). */
export function regionSeveritySelect(editor, r, { severities, className = null }) {
  return el(
    "select",
    { id: `region-sev-${r.uid}`, class: className, onchange: (e) => editor.setField("severity", e.target.value) },
    ...severities.map((s, k) => el("option", { value: s, selected: s === r.severity ? true : null }, `Alt+${k + 1} · ${humanize(s)}`)),
  );
}

/** The regions as the labels API takes them (empty ones are not saved). */
export function regionsPayload(st, { sourceIndex = (r) => r.sourceIndex } = {}) {
  return st.regions
    .filter((r) => !r.isEmpty())
    .map((r) => ({
      label: r.label,
      severity: r.severity,
      source_index: sourceIndex(r),
      part: r.part || "",
      mask_rle: encode(r.mask, st.mh, st.mw),
    }));
}

/** Make the page read-only: the editor, the banner (with a way back) and the controls; the
 * page then renders what depends on its own state. */
export function readOnlyShow(editor, { app, message, backUrl, backText, disable = [] }) {
  editor.readOnly = true;
  editor.finishDrag();
  app.classList.add("rv-app--readonly");
  const banner = $("lock-banner");
  banner.replaceChildren(el("strong", {}, "Read-only. "), message, " ", el("a", { href: backUrl }, backText));
  banner.hidden = false;
  for (const id of ["add-region", "save", ...disable]) if ($(id)) $(id).disabled = true;
  for (const b of document.querySelectorAll(".rv-tool")) if (b.dataset.tool !== "select") b.disabled = true;
}

/** Active time and the lock's renewal. Time counts while the tab is visible and the person did
 * something in the last ``idleAfterMs`` (``state.lastInteraction``); ``onActive(delta)`` gets
 * each second of it. ``onRenew()`` runs every ``lockRenewMs`` unless the person is idle (an idle
 * person lets the lock lapse). */
export function activityTrack({ state, idleAfterMs, lockRenewMs, onActive, onRenew }) {
  const touch = () => { state.lastInteraction = Date.now(); };
  for (const type of ["pointerdown", "keydown", "wheel"]) window.addEventListener(type, touch, { capture: true, passive: true });
  let lastMove = 0;
  window.addEventListener("pointermove", () => {
    const now = Date.now();
    if (now - lastMove > 1000) { lastMove = now; touch(); }
  }, { passive: true });
  let last = Date.now();
  window.setInterval(() => {
    const now = Date.now();
    const delta = Math.min(now - last, 2000); // a sleeping laptop is not time on task
    last = now;
    if (document.visibilityState !== "visible" || now - state.lastInteraction > idleAfterMs) return;
    onActive(delta);
  }, 1000);
  document.addEventListener("visibilitychange", () => { last = Date.now(); });
  window.setInterval(() => {
    if (Date.now() - state.lastInteraction > idleAfterMs) return;
    onRenew();
  }, lockRenewMs);
}

/** The keydown handler of the editor's shortcuts (the help dialog lists them).
 *
 * ``state``: the page's ``classes``, ``readOnly`` and ``lastLabel`` (the type of the next new
 * region). ``keys``: the page's own actions: ``submit`` (Ctrl+Enter), ``skip`` (Ctrl+Space),
 * ``save`` (Ctrl+S), ``next`` / ``previous`` (F / D), and where the page has them ``compare``
 * (M) and ``tags`` (T). ``newTypeHint``: said after "New regions will be <type>."
 */
export function editorKeyHandler({ editor, state, severities, typeName, setLabel, keys, newTypeHint = "" }) {
  return (e) => {
    if (document.querySelector("dialog[open]")) return; // the dialog has the keyboard
    if (isTextField(e.target)) return;
    if (e.target && e.target.type === "range" && e.key.startsWith("Arrow")) return; // the slider's own keys
    const ctrl = e.ctrlKey || e.metaKey;
    const key = e.key;
    const code = e.code;
    const handled = () => { e.preventDefault(); e.stopPropagation(); };

    if (ctrl && key === "Enter") { handled(); keys.submit(); return; }
    if (ctrl && code === "Space") { handled(); keys.skip(); return; }
    if (ctrl && !e.altKey && (key === "z" || key === "Z")) { handled(); if (e.shiftKey) editor.redo(); else editor.undo(); return; }
    if (ctrl && (key === "y" || key === "Y")) { handled(); editor.redo(); return; }
    if (ctrl && (key === "s" || key === "S")) { handled(); keys.save(); return; }
    if (ctrl) return;
    if (e.altKey) {
      if (code === "KeyH") { handled(); editor.toggleHidden(); return; }
      const sev = { Digit1: 0, Digit2: 1, Digit3: 2, Numpad1: 0, Numpad2: 1, Numpad3: 2 }[code];
      if (sev !== undefined) {
        handled();
        if (!editor.selected) announce("Select a region first.");
        else {
          const chosen = severities()[sev];
          editor.setField("severity", chosen);
          announce(`Severity ${chosen}.`);
        }
      }
      return;
    }
    if (key === " " && editor.pointerInside) {
      handled();
      if (!editor.spaceDown) { editor.spaceDown = true; editor.updateCursor(); editor.requestDraw(); }
      return;
    }
    const isButton = e.target && e.target.closest && e.target.closest("button, a");
    if (key === "Enter" && !isButton && editor.tool === "polygon") { handled(); editor.closePolygon(); return; }
    if (/^[1-9]$/.test(key)) {
      handled();
      const cls = state.classes[Number(key) - 1];
      if (!cls) return;
      if (!editor.selected) { state.lastLabel = cls.name; announce(`New regions will be ${typeName(cls.name)}.${newTypeHint}`); return; }
      setLabel(cls.name);
      announce(`Region type ${typeName(cls.name)}.`);
      return;
    }
    switch (key) {
      case "f": case "F": handled(); keys.next(); break;
      case "d": case "D": handled(); keys.previous(); break;
      case "v": case "V": handled(); editor.setTool("select"); break;
      case "b": case "B": handled(); if (!state.readOnly) editor.setTool("brush"); break;
      case "e": case "E": handled(); if (!state.readOnly) editor.setTool("eraser"); break;
      case "p": case "P": handled(); if (!state.readOnly) editor.setTool("polygon"); break;
      case "n": case "N": handled(); editor.addRegion(); break;
      case "m": case "M": if (keys.compare) { handled(); keys.compare(); } break;
      case "t": case "T": if (keys.tags) { handled(); keys.tags(); } break;
      case "[": handled(); editor.changeBrush(-1); break;
      case "]": handled(); editor.changeBrush(1); break;
      case "+": case "=": handled(); editor.zoomBy(1.25); break;
      case "-": case "_": handled(); editor.zoomBy(0.8); break;
      case "0": handled(); editor.fit(); break;
      case "?": handled(); $("help-dialog").showModal(); break;
      case "Delete": handled(); editor.deleteSelected(); break;
      case "Backspace": handled(); if (!editor.removePolygonPoint()) editor.deleteSelected(); break;
      case "Escape": if (!editor.cancelPolygon()) editor.select(null); break;
      case "ArrowDown": if (!isButton || e.target.closest(".rv-regions")) { handled(); editor.selectByOffset(1); } break;
      case "ArrowUp": if (!isButton || e.target.closest(".rv-regions")) { handled(); editor.selectByOffset(-1); } break;
      default: break;
    }
  };
}

/** Wire the editor's markup: the shortcuts (``onKeyDown``), space-to-pan, the toolbar and view
 * bar, the help dialog (``shortcuts``: [keys, what] pairs), the "leave the page?" question while
 * ``hasUnsaved()``, and ``onPageHide`` (release the lock). ``save``: the Save button's action. */
export function editorControlsBind(editor, { onKeyDown, save, shortcuts, hasUnsaved, onPageHide }) {
  document.addEventListener("keydown", onKeyDown);
  document.addEventListener("keyup", (e) => {
    if (e.key === " " && editor.spaceDown) {
      editor.spaceDown = false;
      editor.updateCursor();
      editor.requestDraw();
      e.preventDefault();
    }
  });
  window.addEventListener("blur", () => { editor.spaceDown = false; editor.updateCursor(); });
  for (const button of document.querySelectorAll(".rv-tool")) {
    button.addEventListener("click", () => editor.setTool(button.dataset.tool));
  }
  $("size-down").addEventListener("click", () => editor.changeBrush(-1));
  $("size-up").addEventListener("click", () => editor.changeBrush(1));
  $("add-region").addEventListener("click", () => editor.addRegion());
  $("undo").addEventListener("click", () => editor.undo());
  $("redo").addEventListener("click", () => editor.redo());
  if ($("save")) $("save").addEventListener("click", () => save());
  $("zoom-in").addEventListener("click", () => editor.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => editor.zoomBy(0.8));
  $("zoom-fit").addEventListener("click", () => editor.fit());
  $("opacity").addEventListener("input", (e) => {
    editor.setOpacity(Number(e.target.value) / 100);
    $("opacity-value").textContent = `${e.target.value}%`;
  });
  $("help-open").addEventListener("click", () => $("help-dialog").showModal());
  $("help-list").replaceChildren(
    el("dl", {}, ...shortcuts.flatMap(([k, v]) => [el("dt", {}, ...k.split(" / ").flatMap((part, i) => [i ? " / " : "", el("kbd", {}, part)])), el("dd", {}, v)])),
  );
  window.addEventListener("beforeunload", (e) => {
    if (hasUnsaved()) {
      e.preventDefault();
      e.returnValue = "";
    }
  });
  window.addEventListener("pagehide", onPageHide);
}
