/* The mask editor: one photo on a canvas with every region's mask over it, and the tools.
 *
 * Conventions (../shared DESIGN.md, "Review screen conventions"): each region's mask is its own
 * offscreen canvas on the photo's mask grid (mask_width x mask_height); they are composited over
 * the photo with an adjustable opacity. The 0/1 bitmap (Uint8Array, row-major) is the truth: the
 * brush and the eraser rasterise round strokes into it (the eraser clears, like
 * `destination-out`), a closed polygon is rasterised into it, and the region's canvas is
 * repainted from it (only the changed rectangle while painting). What is saved is exactly what is
 * drawn: no anti-aliased edge has to be thresholded later.
 *
 * Drawing happens at most once per animation frame, and only after something changed.
 * Every edit is a command on the photo's undo stack.
 */

const MIN_BRUSH = 1;
const MAX_BRUSH = 80;
const CLOSE_DISTANCE_PX = 10; // a click this close to the first polygon point closes it
const MAX_UNDO = 200; // mask snapshots are mask_width * mask_height bytes each
const BACKGROUND = "#1b2430";

let nextUid = 1;

function hexToRgb(hex) {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex || "");
  const n = m ? parseInt(m[1], 16) : 0xff00ff;
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** One damage region: a 0/1 bitmap on the mask grid and the canvas it is drawn from. */
export class Region {
  constructor({ label, severity, sourceIndex = null, confidence = null, modelLabel = null, mask, mw, mh, colour, tagNote = null }) {
    this.uid = nextUid++;
    this.tagNote = tagNote; // the chip's text where the embedding screen says it (labelling QA)
    this.label = label;
    this.severity = severity;
    this.sourceIndex = sourceIndex;
    this.confidence = confidence; // the model's, for the type it predicted (modelLabel)
    this.modelLabel = modelLabel === null ? label : modelLabel;
    this.mw = mw;
    this.mh = mh;
    this.mask = mask || new Uint8Array(mw * mh);
    this.hidden = false;
    this.canvas = document.createElement("canvas");
    this.canvas.width = mw;
    this.canvas.height = mh;
    this.ctx = this.canvas.getContext("2d");
    this.image = this.ctx.createImageData(mw, mh);
    this.pixels = new Uint32Array(this.image.data.buffer);
    this._bounds = undefined;
    this._edges = null;
    this.setColour(colour);
  }

  /** The model's confidence, only while the region has the type the model gave it: a type a
   * person chose has no model confidence (null). */
  shownConfidence() {
    if (this.sourceIndex === null || this.confidence === null) return null;
    return this.label === this.modelLabel ? this.confidence : null;
  }

  /** What the region's confidence chip says: "77%", "added" or "re-typed". */
  confidenceText() {
    if (this.tagNote) return this.tagNote;
    if (this.sourceIndex === null) return "added";
    const c = this.shownConfidence();
    return c === null ? "re-typed" : `${Math.round(c * 100)}%`;
  }

  setColour(hex) {
    const [r, g, b] = hexToRgb(hex);
    this.colour = hex;
    // ImageData is RGBA in memory; a little-endian Uint32 view reads it as ABGR.
    this.packed = ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
    this.repaint(0, 0, this.mw, this.mh);
  }

  /** Repaint [x0, x1) x [y0, y1) of the canvas from the bitmap. */
  repaint(x0, y0, x1, y1) {
    const { mask, pixels, mw, packed } = this;
    for (let y = y0; y < y1; y++) {
      for (let i = y * mw + x0, end = y * mw + x1; i < end; i++) pixels[i] = mask[i] ? packed : 0;
    }
    this.ctx.putImageData(this.image, 0, 0, x0, y0, x1 - x0, y1 - y0);
    this._bounds = undefined;
    this._edges = null;
  }

  setMask(mask) {
    this.mask.set(mask);
    this.repaint(0, 0, this.mw, this.mh);
  }

  /** [x0, y0, x1, y1] (exclusive) of the set pixels, or null when empty. */
  bounds() {
    if (this._bounds !== undefined) return this._bounds;
    const { mask, mw, mh } = this;
    let x0 = mw, y0 = mh, x1 = -1, y1 = -1;
    for (let y = 0; y < mh; y++) {
      const row = y * mw;
      for (let x = 0; x < mw; x++) {
        if (mask[row + x]) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          y1 = y;
        }
      }
    }
    this._bounds = x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
    return this._bounds;
  }

  isEmpty() {
    return this.bounds() === null;
  }

  /** A canvas with the region's outline (set pixels with an unset 4-neighbour). */
  edges() {
    if (this._edges) return this._edges;
    const { mask, mw, mh } = this;
    const canvas = document.createElement("canvas");
    canvas.width = mw;
    canvas.height = mh;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(mw, mh);
    const px = new Uint32Array(image.data.buffer);
    const white = 0xffffffff;
    for (let y = 0; y < mh; y++) {
      for (let x = 0; x < mw; x++) {
        const i = y * mw + x;
        if (!mask[i]) continue;
        if (x === 0 || y === 0 || x === mw - 1 || y === mh - 1 ||
            !mask[i - 1] || !mask[i + 1] || !mask[i - mw] || !mask[i + mw]) px[i] = white;
      }
    }
    ctx.putImageData(image, 0, 0);
    this._edges = canvas;
    return canvas;
  }
}

/** Set (value 1) or clear (0) a round stroke from (ax, ay) to (bx, by), mask coordinates.
 * Returns the changed rectangle [x0, y0, x1, y1) or null. */
export function rasteriseSegment(region, ax, ay, bx, by, diameter, value) {
  const { mask, mw, mh } = region;
  const r = diameter / 2;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - r));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - r));
  const x1 = Math.min(mw, Math.ceil(Math.max(ax, bx) + r) + 1);
  const y1 = Math.min(mh, Math.ceil(Math.max(ay, by) + r) + 1);
  if (x0 >= x1 || y0 >= y1) return null;
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const r2 = r * r;
  for (let y = y0; y < y1; y++) {
    const cy = y + 0.5;
    for (let x = x0; x < x1; x++) {
      const cx = x + 0.5;
      let t = len2 ? ((cx - ax) * dx + (cy - ay) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = ax + t * dx - cx, ey = ay + t * dy - cy;
      if (ex * ex + ey * ey <= r2) mask[y * mw + x] = value;
    }
  }
  return [x0, y0, x1, y1];
}

/** Fill a polygon (mask coordinates) into the bitmap: pixel centres inside (even-odd rule). */
export function rasterisePolygon(region, points) {
  const { mask, mw, mh } = region;
  const ys = points.map((p) => p[1]);
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(mh, Math.ceil(Math.max(...ys)) + 1);
  let minX = mw, maxX = 0;
  for (let y = y0; y < y1; y++) {
    const cy = y + 0.5;
    const xs = [];
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i], [xj, yj] = points[j];
      if ((yi > cy) !== (yj > cy)) xs.push(xi + ((cy - yi) * (xj - xi)) / (yj - yi));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const from = Math.max(0, Math.ceil(xs[k] - 0.5));
      const to = Math.min(mw - 1, Math.floor(xs[k + 1] - 0.5));
      for (let x = from; x <= to; x++) mask[y * mw + x] = 1;
      if (from <= to) { minX = Math.min(minX, from); maxX = Math.max(maxX, to + 1); }
    }
  }
  return minX < maxX ? [minX, y0, maxX, y1] : null;
}

export class MaskEditor {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {object} hooks colourOf(label), labelName(label), defaultLabel(), onChange(kind),
   *   onSelect(region), onView(), announce(text); readOnlyMessage, what a read-only screen
   *   says when an edit is tried. The review screen (screen.js) and the labelling item screen
   *   (labelling/item.js) embed this one editor with their own hooks.
   */
  constructor(canvas, hooks) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.hooks = { labelName: (label) => label, readOnlyMessage: "This claim is open read-only.", ...hooks };
    this.state = null; // the photo being edited (see screen.js photoState)
    this.tool = "select";
    this.brushSize = 12;
    this.opacity = 0.55;
    this.compare = false;
    this.showTags = true; // T hides the tags of all but the selected region
    this.readOnly = false;
    this.selected = null;
    this.highlight = null; // a Set of regions to outline (a part's evidence), or null
    this.spaceDown = false;
    this.pointerInside = false;
    this.cursor = null; // last pointer position, canvas CSS pixels
    this.drag = null;
    this.polygon = []; // points in mask coordinates
    this.frame = 0;
    this.dpr = window.devicePixelRatio || 1;
    this.onFirstDraw = null;
    this._bind();
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
    this.resize();
  }

  // ---- photo and view -----------------------------------------------------------------

  setPhoto(state) {
    this.finishDrag();
    this.polygon = [];
    this.state = state;
    this.selected = null;
    if (!state.view) this.fit();
    this.hooks.onSelect(null);
    this.requestDraw();
  }

  get regions() {
    if (!this.state) return [];
    return this.compare ? this.state.predictedRegions() : this.state.regions;
  }

  resize() {
    const parent = this.canvas.parentElement;
    const w = Math.max(1, parent.clientWidth);
    const h = Math.max(1, parent.clientHeight);
    this.dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.round(w * this.dpr);
    this.canvas.height = Math.round(h * this.dpr);
    this.cssW = w;
    this.cssH = h;
    if (this.state && (!this.state.view || this.state.view.fitted)) this.fit();
    this.requestDraw();
  }

  fit() {
    if (!this.state) return;
    const { W, H } = this.state;
    const pad = 12;
    const s = Math.min((this.cssW - 2 * pad) / W, (this.cssH - 2 * pad) / H);
    this.state.view = {
      s,
      tx: (this.cssW - W * s) / 2,
      ty: (this.cssH - H * s) / 2,
      fitted: true,
      fitScale: s,
    };
    this.hooks.onView();
    this.requestDraw();
  }

  zoomBy(factor, cx = this.cssW / 2, cy = this.cssH / 2) {
    const v = this.state && this.state.view;
    if (!v) return;
    const s = Math.min(Math.max(v.s * factor, v.fitScale * 0.5), v.fitScale * 20);
    v.tx = cx - ((cx - v.tx) * s) / v.s;
    v.ty = cy - ((cy - v.ty) * s) / v.s;
    v.s = s;
    v.fitted = false;
    this.hooks.onView();
    this.requestDraw();
  }

  zoomPercent() {
    const v = this.state && this.state.view;
    return v ? Math.round((v.s / v.fitScale) * 100) : 100;
  }

  /** Canvas CSS pixel -> mask grid coordinate (float). */
  toMask(x, y) {
    const { view, W, H, mw, mh } = this.state;
    return [((x - view.tx) / view.s) * (mw / W), ((y - view.ty) / view.s) * (mh / H)];
  }

  /** Mask grid coordinate -> canvas CSS pixel. */
  toScreen(mx, my) {
    const { view, W, H, mw, mh } = this.state;
    return [view.tx + mx * (W / mw) * view.s, view.ty + my * (H / mh) * view.s];
  }

  maskToScreenScale() {
    const { view, W, mw } = this.state;
    return (W / mw) * view.s;
  }

  // ---- tools and edits ---------------------------------------------------------------

  setTool(tool) {
    if (tool !== "polygon") this.polygon = [];
    this.tool = tool;
    this.updateCursor();
    this.hooks.onChange("tool");
    this.requestDraw();
  }

  setBrushSize(size) {
    this.brushSize = Math.min(MAX_BRUSH, Math.max(MIN_BRUSH, Math.round(size)));
    this.hooks.onChange("brush");
    this.requestDraw();
  }

  changeBrush(direction) {
    const step = this.brushSize < 6 ? 1 : this.brushSize < 20 ? 2 : 5;
    this.setBrushSize(this.brushSize + direction * step);
  }

  setOpacity(value) {
    this.opacity = value;
    this.requestDraw();
  }

  setCompare(on) {
    this.compare = on;
    this.polygon = [];
    this.select(null);
    this.hooks.onChange("compare");
    this.requestDraw();
  }

  editable() {
    if (!this.state) return false;
    if (this.readOnly) {
      this.hooks.announce(this.hooks.readOnlyMessage);
      return false;
    }
    if (this.compare) {
      this.hooks.announce("You are looking at the model's masks. Press M to edit the current ones.");
      return false;
    }
    return true;
  }

  select(region) {
    this.selected = region;
    this.hooks.onSelect(region);
    this.requestDraw();
  }

  selectByOffset(delta) {
    const list = this.regions;
    if (!list.length) return;
    const i = list.indexOf(this.selected);
    const next = i < 0 ? (delta > 0 ? 0 : list.length - 1) : (i + delta + list.length) % list.length;
    this.select(list[next]);
  }

  newRegion(label) {
    const { mw, mh } = this.state;
    const name = label || this.hooks.defaultLabel();
    return new Region({
      label: name,
      severity: "minor",
      mask: new Uint8Array(mw * mh),
      mw,
      mh,
      colour: this.hooks.colourOf(name),
    });
  }

  addRegion() {
    if (!this.editable()) return null;
    const region = this.newRegion();
    this.apply({ kind: "add", region, index: this.state.regions.length });
    this.select(region);
    if (this.tool === "select") this.setTool("brush");
    this.hooks.announce(`Region ${this.state.regions.length} added (${this.hooks.labelName(region.label)}). Paint it with the brush.`);
    return region;
  }

  deleteSelected() {
    if (!this.selected || !this.editable()) return;
    const region = this.selected;
    const index = this.state.regions.indexOf(region);
    if (index < 0) return;
    this.apply({ kind: "delete", region, index });
    this.select(null);
    this.hooks.announce(`Region ${index + 1} (${this.hooks.labelName(region.label)}) deleted.`);
  }

  setField(field, value) {
    const region = this.selected;
    if (!region || !this.editable() || region[field] === value) return;
    this.apply({ kind: "set", region, field, before: region[field], after: value });
  }

  toggleHidden(region = this.selected) {
    if (!region) return;
    region.hidden = !region.hidden;
    this.hooks.onChange("visibility");
    this.requestDraw();
  }

  // ---- undo / redo ---------------------------------------------------------------------

  apply(command, { record = true } = {}) {
    this._do(command, false);
    if (record) {
      const { undo, redo } = this.state;
      undo.push(command);
      if (undo.length > MAX_UNDO) undo.shift();
      redo.length = 0;
    }
    this.hooks.onChange("edit");
    this.requestDraw();
  }

  _do(command, reverse) {
    const regions = this.state.regions;
    switch (command.kind) {
      case "group": {
        const items = reverse ? [...command.items].reverse() : command.items;
        for (const item of items) this._do(item, reverse);
        break;
      }
      case "add":
      case "delete": {
        const insert = (command.kind === "add") !== reverse;
        if (insert) regions.splice(command.index, 0, command.region);
        else {
          const i = regions.indexOf(command.region);
          if (i >= 0) regions.splice(i, 1);
          if (this.selected === command.region) this.selected = null;
        }
        break;
      }
      case "set": {
        const region = command.region;
        region[command.field] = reverse ? command.before : command.after;
        if (command.field === "label") region.setColour(this.hooks.colourOf(region.label));
        break;
      }
      case "mask": // only ever replayed: the tool itself made the first change
        command.region.setMask(reverse ? command.before : command.after);
        break;
      default:
        throw new Error(`unknown command ${command.kind}`);
    }
  }

  undo() {
    if (!this.state || this.readOnly || this.compare) return;
    this.cancelPolygon();
    const command = this.state.undo.pop();
    if (!command) return;
    this._do(command, true);
    this.state.redo.push(command);
    this.hooks.onSelect(this.selected);
    this.hooks.onChange("edit");
    this.requestDraw();
  }

  redo() {
    if (!this.state || this.readOnly || this.compare) return;
    const command = this.state.redo.pop();
    if (!command) return;
    this._do(command, false);
    this.state.undo.push(command);
    this.hooks.onSelect(this.selected);
    this.hooks.onChange("edit");
    this.requestDraw();
  }

  // ---- polygon -------------------------------------------------------------------------

  cancelPolygon() {
    if (!this.polygon.length) return false;
    this.polygon = [];
    this.requestDraw();
    return true;
  }

  removePolygonPoint() {
    if (!this.polygon.length) return false;
    this.polygon.pop();
    this.requestDraw();
    return true;
  }

  closePolygon() {
    if (this.polygon.length < 3) {
      if (this.polygon.length) this.hooks.announce("A polygon needs at least three points.");
      return false;
    }
    const points = this.polygon;
    this.polygon = [];
    let region = this.selected;
    const items = [];
    if (!region) {
      region = this.newRegion();
      items.push({ kind: "add", region, index: this.state.regions.length });
      this.state.regions.push(region); // applied now; the group below records it
    }
    const before = region.mask.slice();
    const rect = rasterisePolygon(region, points);
    if (rect) region.repaint(...rect);
    items.push({ kind: "mask", region, before, after: region.mask.slice() });
    // Everything is already applied: record without applying again.
    const command = items.length === 1 ? items[0] : { kind: "group", items };
    this._record(command);
    this.select(region);
    this.hooks.announce(`Polygon added to region ${this.state.regions.indexOf(region) + 1} (${this.hooks.labelName(region.label)}).`);
    return true;
  }

  _record(command) {
    const { undo, redo } = this.state;
    undo.push(command);
    if (undo.length > MAX_UNDO) undo.shift();
    redo.length = 0;
    this.hooks.onChange("edit");
    this.requestDraw();
  }

  // ---- pointer -------------------------------------------------------------------------

  _bind() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this._down(e));
    c.addEventListener("pointermove", (e) => this._move(e));
    c.addEventListener("pointerup", (e) => this._up(e));
    c.addEventListener("pointercancel", (e) => this._up(e));
    c.addEventListener("pointerenter", () => { this.pointerInside = true; });
    c.addEventListener("pointerleave", () => {
      this.pointerInside = false;
      this.cursor = null;
      this.requestDraw();
    });
    c.addEventListener("wheel", (e) => {
      if (!this.state) return;
      e.preventDefault();
      const p = this._point(e);
      this.zoomBy(Math.exp(-e.deltaY * 0.0015), p[0], p[1]);
    }, { passive: false });
    c.addEventListener("auxclick", (e) => { if (e.button === 1) e.preventDefault(); });
    c.addEventListener("contextmenu", (e) => { if (this.drag) e.preventDefault(); });
  }

  _point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  _down(e) {
    if (!this.state) return;
    this.canvas.focus({ preventScroll: true });
    const p = this._point(e);
    this.cursor = p;
    const panning = e.button === 1 || this.spaceDown;
    if (panning) {
      e.preventDefault();
      this._startPan(e, p);
      return;
    }
    if (e.button !== 0) return;
    if (this.tool === "select") {
      const hit = this.hitTest(p);
      if (hit) this.select(hit);
      else {
        this.select(null);
        this._startPan(e, p); // dragging the background pans
      }
      return;
    }
    if (!this.editable()) return;
    if (this.tool === "polygon") {
      this._polygonClick(p);
      return;
    }
    // brush or eraser
    let region = this.selected;
    const items = [];
    if (!region) {
      if (this.tool === "eraser") {
        this.hooks.announce("Select a region to erase from.");
        return;
      }
      region = this.newRegion();
      this.state.regions.push(region);
      items.push({ kind: "add", region, index: this.state.regions.length - 1 });
      this.select(region);
      this.hooks.onChange("edit");
    }
    const m = this.toMask(...p);
    this.drag = {
      kind: "stroke",
      pointerId: e.pointerId,
      region,
      items,
      before: region.mask.slice(),
      last: m,
      value: this.tool === "brush" ? 1 : 0,
    };
    this.canvas.setPointerCapture(e.pointerId);
    this._paint(m);
  }

  _startPan(e, p) {
    const v = this.state.view;
    this.drag = { kind: "pan", pointerId: e.pointerId, start: p, tx: v.tx, ty: v.ty };
    this.canvas.setPointerCapture(e.pointerId);
    this.updateCursor();
  }

  _move(e) {
    if (!this.state) return;
    const p = this._point(e);
    this.cursor = p;
    const d = this.drag;
    if (d && d.pointerId === e.pointerId) {
      if (d.kind === "pan") {
        const v = this.state.view;
        v.tx = d.tx + p[0] - d.start[0];
        v.ty = d.ty + p[1] - d.start[1];
        v.fitted = false;
      } else if (d.kind === "stroke") {
        const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
        for (const ev of events.length ? events : [e]) this._paint(this.toMask(...this._point(ev)));
      }
    }
    this.requestDraw();
  }

  _paint(m) {
    const d = this.drag;
    const rect = rasteriseSegment(d.region, d.last[0], d.last[1], m[0], m[1], this.brushSize, d.value);
    d.last = m;
    if (rect) d.region.repaint(...rect);
    this.requestDraw();
  }

  _up(e) {
    const d = this.drag;
    if (!d || d.pointerId !== e.pointerId) return;
    this.finishDrag();
  }

  finishDrag() {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    if (d.kind === "stroke") {
      const after = d.region.mask.slice();
      let changed = false;
      for (let i = 0; i < after.length; i++) if (after[i] !== d.before[i]) { changed = true; break; }
      if (changed || d.items.length) {
        const items = [...d.items, { kind: "mask", region: d.region, before: d.before, after }];
        this._record(items.length === 1 ? items[0] : { kind: "group", items });
        this.hooks.onSelect(this.selected);
      }
    }
    this.updateCursor();
    this.requestDraw();
  }

  _polygonClick(p) {
    if (this.polygon.length >= 3) {
      const first = this.toScreen(...this.polygon[0]);
      if (Math.hypot(first[0] - p[0], first[1] - p[1]) <= CLOSE_DISTANCE_PX) {
        this.closePolygon();
        return;
      }
    }
    this.polygon.push(this.toMask(...p));
    this.requestDraw();
  }

  hitTest(p) {
    const [mx, my] = this.toMask(...p).map(Math.floor);
    const { mw, mh } = this.state;
    if (mx < 0 || my < 0 || mx >= mw || my >= mh) return null;
    const list = this.regions;
    // The selected region first (it is drawn on top), then from the top of the stack down.
    if (this.selected && !this.selected.hidden && this.selected.mask[my * mw + mx]) return this.selected;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i];
      if (!r.hidden && r.mask[my * mw + mx]) return r;
    }
    return null;
  }

  updateCursor() {
    let cursor = "default";
    if (this.drag && this.drag.kind === "pan") cursor = "grabbing";
    else if (this.spaceDown) cursor = "grab";
    else if (this.tool === "brush" || this.tool === "eraser") cursor = this.readOnly || this.compare ? "not-allowed" : "none";
    else if (this.tool === "polygon") cursor = "crosshair";
    this.canvas.style.cursor = cursor;
  }

  // ---- drawing -------------------------------------------------------------------------

  requestDraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw() {
    const ctx = this.ctx;
    const dpr = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalAlpha = 1;
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const st = this.state;
    if (!st || !st.image || !st.view) return;
    const { W, H, view } = st;
    ctx.setTransform(dpr * view.s, 0, 0, dpr * view.s, dpr * view.tx, dpr * view.ty);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(st.image, 0, 0, W, H);
    ctx.imageSmoothingEnabled = false;
    const regions = this.regions;
    for (const r of regions) {
      if (r.hidden) continue;
      ctx.globalAlpha = r === this.selected ? Math.min(1, this.opacity + 0.2) : this.opacity;
      ctx.drawImage(r.canvas, 0, 0, W, H);
    }
    if (this.selected && !this.selected.hidden && regions.includes(this.selected)) {
      ctx.globalAlpha = 0.95;
      ctx.drawImage(this.selected.edges(), 0, 0, W, H);
    }
    // A part's evidence the estimate points at (hover or focus on a part): outlined too.
    if (this.highlight) {
      ctx.globalAlpha = 0.95;
      for (const r of regions) if (this.highlight.has(r) && !r.hidden) ctx.drawImage(r.edges(), 0, 0, W, H);
    }
    ctx.globalAlpha = 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this._drawTags(regions);
    this._drawPolygon();
    this._drawBrush();
    if (this.onFirstDraw) {
      const done = this.onFirstDraw;
      this.onFirstDraw = null;
      done();
    }
  }

  setShowTags(show) {
    this.showTags = Boolean(show);
    this.requestDraw();
    this.hooks.onChange("tags");
  }

  _drawTags(regions) {
    const ctx = this.ctx;
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const placed = []; // tag rectangles drawn so far: a tag never covers another one
    const free = (x, y, w) => placed.every(([px, py, pw]) => x + w <= px || x >= px + pw || y + 19 <= py || y >= py + 19);
    // The selected region's tag is placed first, so the others make room for it.
    const order = regions.map((r, i) => [r, i]);
    order.sort((a, b) => (b[0] === this.selected) - (a[0] === this.selected));
    order.forEach(([r, i]) => {
      if (r.hidden) return;
      const b = r.bounds();
      if (!b) return;
      const [x0, y0] = this.toScreen(b[0], b[1]);
      const [x1, y1] = this.toScreen(b[2], b[3]);
      if (r === this.selected) {
        ctx.save();
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 1.5;
        ctx.strokeStyle = "#ffffff";
        ctx.strokeRect(x0 - 3, y0 - 3, x1 - x0 + 6, y1 - y0 + 6);
        ctx.restore();
      }
      // Tags hidden (T): only the selected region keeps its tag.
      if (!this.showTags && r !== this.selected) return;
      let text = `${i + 1} ${this.hooks.labelName(r.label)} · ${r.confidenceText()}`;
      let tw = ctx.measureText(text).width + 10;
      const tx = Math.max(2, Math.min(x0 - 3, this.cssW - tw - 2));
      let ty = y0 - 24 < 2 ? y1 + 4 : y0 - 24;
      // Slide down past tags already drawn; where there is no room, only the number is shown.
      for (let tries = 0; !free(tx, ty, tw) && tries < 6; tries++) ty += 21;
      if (!free(tx, ty, tw) && r !== this.selected) {
        text = `${i + 1}`;
        tw = ctx.measureText(text).width + 12;
        ty = y0 - 24 < 2 ? y1 + 4 : y0 - 24;
        if (!free(tx, ty, tw)) return;
      }
      placed.push([tx, ty, tw]);
      ctx.fillStyle = r === this.selected ? "#ffffff" : "rgba(20, 32, 46, .82)";
      ctx.fillRect(tx, ty, tw, 19);
      ctx.fillStyle = r.colour;
      ctx.fillRect(tx, ty, 4, 19);
      ctx.fillStyle = r === this.selected ? "#14202e" : "#ffffff";
      ctx.fillText(text, tx + 7, ty + 10);
    });
    this.tagRects = placed; // [x, y, width] of each tag drawn (height 19): for the tests
  }

  _drawPolygon() {
    if (!this.polygon.length) return;
    const ctx = this.ctx;
    const pts = this.polygon.map((p) => this.toScreen(...p));
    ctx.save();
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#ffffff";
    ctx.fillStyle = "rgba(255, 255, 255, .18)";
    ctx.beginPath();
    ctx.moveTo(...pts[0]);
    for (const p of pts.slice(1)) ctx.lineTo(...p);
    if (this.cursor) ctx.lineTo(...this.cursor);
    ctx.fill();
    ctx.stroke();
    ctx.setLineDash([]);
    pts.forEach((p, i) => {
      ctx.beginPath();
      ctx.arc(p[0], p[1], i === 0 ? 6 : 3.5, 0, Math.PI * 2);
      ctx.fillStyle = i === 0 ? "#ffd400" : "#ffffff";
      ctx.fill();
      ctx.strokeStyle = "#14202e";
      ctx.lineWidth = 1;
      ctx.stroke();
    });
    ctx.restore();
  }

  _drawBrush() {
    if (!this.cursor || !this.pointerInside) return;
    if (this.tool !== "brush" && this.tool !== "eraser") return;
    if (this.spaceDown || (this.drag && this.drag.kind === "pan")) return;
    const ctx = this.ctx;
    const r = Math.max(1.5, (this.brushSize / 2) * this.maskToScreenScale());
    ctx.save();
    ctx.beginPath();
    ctx.arc(this.cursor[0], this.cursor[1], r, 0, Math.PI * 2);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(0, 0, 0, .6)";
    ctx.stroke();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = this.tool === "eraser" ? "#ffd400" : "#ffffff";
    if (this.tool === "eraser") ctx.setLineDash([4, 3]);
    ctx.stroke();
    ctx.restore();
  }
}
