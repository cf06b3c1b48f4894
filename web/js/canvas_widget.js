// The DoodleCanvas widget: a palette-aware canvas in the node. Its value names the painting's file in input/
// (one per node, rewritten after each stroke); the node reads that file when the graph runs.
import { History } from "./history.js";
import { loadHistory, storeHistory } from "./history_store.js";
import { requestRender } from "./live.js";
import { fillAll, floodFill, paintLine, recolor as recolorImage, snapToPalette } from "./paint.js";
import { fetchPalette, fetchRandomDoodle, inputFile, paintingUrl, SUBFOLDER, uploadPainting } from "./server.js";

const SAVE_DELAY_MS = 300;
const BRUSH_SIZES = [2, 4, 8, 16, 32, 64];
const UNDERLAY_OPACITY = 0.35;

function element(tag, properties = {}, children = []) {
  const made = Object.assign(document.createElement(tag), properties);
  made.append(...children);
  return made;
}

function newFileName() {
  return `canvas-${crypto.randomUUID().slice(0, 12)}.png`;
}

/** The file in input/ a style map palette source names (`style map: x.png`, `edit style map: x.png`), or "". */
function mapFile(source) {
  return source?.match(/^(?:edit )?style map: (.+)$/)?.[1] ?? "";
}

/** The canvas of a DoodleCanvas node, or undefined. */
export function canvasOf(node) {
  return node.widgets?.find((w) => w.doodle)?.doodle;
}

function canvasesIn(graph) {
  return (graph?._nodes ?? []).map(canvasOf).filter(Boolean);
}

/** A map was just written into input/ (by a canvas or a run): the canvases painting with its colours fetch them. */
export function mapWritten(graph, file) {
  for (const canvas of canvasesIn(graph)) canvas.refreshPaletteFrom(file);
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("not an image the browser can read"));
    image.src = url;
  });
}

export class DoodleCanvasWidget {
  constructor(node, inputName) {
    this.node = node;
    this.palette = [];
    this.color = 1;
    this.tool = "brush";
    this.history = new History();
    this.value = "";
    this.painted = false;
    this.saving = Promise.resolve();
    this.build();
    this.widget = node.addDOMWidget(inputName, "DOODLE_CANVAS", this.root, {
      getValue: () => this.value,
      setValue: (value) => this.open(value),
      getMinHeight: () => 260,
      hideOnZoom: false,
    });
    this.widget.serializeValue = async () => {
      await this.saving;
      return this.value;
    };
    this.widget.doodle = this;
  }

  build() {
    this.canvas = element("canvas", { className: "doodle-canvas-paper", width: 512, height: 384 });
    this.context = this.canvas.getContext("2d", { willReadFrequently: true });
    this.underlay = element("img", { className: "doodle-canvas-underlay" });
    this.underlay.style.opacity = UNDERLAY_OPACITY;
    this.swatches = element("div", { className: "doodle-canvas-swatches" });
    this.message = element("div", { className: "doodle-canvas-message" });
    this.sizeSelect = element("select", { title: "Brush size" },
      BRUSH_SIZES.map((size) => element("option", { value: size, textContent: `${size}px`, selected: size === 16 })));
    this.seedInput = element("input", {
      type: "number", value: 0, min: 0, title: "Random doodle seed (advances after each doodle)",
    });
    this.liveBox = element("input", { type: "checkbox" });
    this.liveBox.onchange = () => (this.node.properties.doodle_live = this.liveBox.checked);
    this.seedInput.onchange = () => (this.node.properties.doodle_seed = Number(this.seedInput.value));
    this.restoreSettings();
    const button = (text, title, action) => element("button", { textContent: text, title, onclick: action });
    const filePicker = (title, onFile) => {
      const input = element("input", { type: "file", accept: "image/*", hidden: true });
      input.onchange = () => input.files[0] && onFile(input.files[0]).finally(() => (input.value = ""));
      return [button(title, title, () => input.click()), input];
    };
    this.toolButtons = Object.fromEntries(
      [["brush", "Brush"], ["fill", "Fill"], ["eraser", "Eraser (background)"]].map(([tool, title]) => [
        tool, button(title.split(" ")[0], title, () => this.setTool(tool)),
      ]),
    );
    const tools = element("div", { className: "doodle-canvas-tools" }, [
      ...Object.values(this.toolButtons), this.sizeSelect,
      button("Undo", "Undo (Ctrl+Z)", () => this.step("undo")),
      button("Redo", "Redo (Ctrl+Y)", () => this.step("redo")),
      button("Clear", "Fill with the background region", () => this.change(() => fillAll(this.image(), this.palette[0]))),
      button("Random", "Random doodle (seeded like Random Doodle Mask)", () => this.random()),
      element("label", { className: "doodle-canvas-seed" }, ["seed ", this.seedInput]),
      ...filePicker("Load", (file) => this.loadDoodle(file)),
      button("From map", "Start from the palette's style map, to edit it", () => this.fromMap()),
      ...filePicker("Underlay", (file) => this.setUnderlay(file)),  // to trace
      element("label", { title: "Queue the graph when a stroke ends" }, [this.liveBox, "Live"]),
    ]);
    // The picture to trace lies over the paint, see-through and deaf to the mouse: under the opaque canvas it
    // would never show.
    const stage = element("div", { className: "doodle-canvas-stage" }, [this.canvas, this.underlay]);
    // Keys go to a hidden read-only input while the canvas has focus: ComfyUI's workflow undo and its
    // single-key shortcuts leave keys typed into an input alone, so Ctrl+Z/Ctrl+Y stay with the canvas, and
    // they work again as soon as the focus leaves it.
    this.keys = element("input", { className: "doodle-canvas-keys", readOnly: true, ariaLabel: "Canvas shortcuts" });
    this.root = element("div", { className: "doodle-canvas" }, [this.keys, this.swatches, tools, stage, this.message]);
    this.root.addEventListener("keydown", (event) => this.onKey(event));
    this.canvas.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    this.canvas.addEventListener("pointermove", (event) => this.onPointerMove(event));
    this.canvas.addEventListener("pointerup", (event) => this.onPointerUp(event));
    // After the press's own focus change (to the page, not a plain element): the keys are the canvas's now.
    this.canvas.addEventListener("click", () => this.keys.focus({ preventScroll: true }));
    this.setTool("brush");
  }

  // --- state shown in the page -----------------------------------------------------------------------------

  /** Live and the Random seed as the node's properties hold them: they are saved with the workflow, and a
   * reload configures the node after its widgets were made, so the node calls this again then. */
  restoreSettings() {
    this.node.properties ??= {};
    this.liveBox.checked = !!this.node.properties.doodle_live;
    this.seedInput.value = String(this.node.properties.doodle_seed ?? 0);
    const underlay = this.node.properties.doodle_underlay;
    if (underlay) this.underlay.src = paintingUrl(underlay);
  }

  /** Show `file` through the paint, and keep it in input/ (its name in the node's properties), so it is there
   * again after a reload. */
  async setUnderlay(file) {
    this.underlay.src = URL.createObjectURL(file);
    try {
      this.node.properties.doodle_underlay = await uploadPainting(file, `underlay-${crypto.randomUUID().slice(0, 12)}.png`);
    } catch (error) {
      this.say(`the underlay is not saved: ${error.message} (it shows until the page is reloaded)`);
    }
  }

  say(text) {
    this.message.textContent = text;
  }

  setTool(tool) {
    this.tool = tool;
    for (const [name, b] of Object.entries(this.toolButtons)) b.classList.toggle("active", name === tool);
  }

  showPalette() {
    this.swatches.replaceChildren(...this.palette.map((rgb, k) => {
      const swatch = element("button", {
        className: "doodle-canvas-swatch" + (k === this.color ? " active" : ""),
        title: `region ${k}${this.names?.[k] ? ` ${this.names[k]}` : ""}${k === 0 ? " (background)" : ""}: ` +
          `rgb(${rgb.join(", ")})`,
        onclick: () => {
          this.color = k;
          this.setTool(this.tool === "eraser" ? "brush" : this.tool);
          this.showPalette();
        },
      });
      swatch.style.background = `rgb(${rgb.join(",")})`;
      swatch.dataset.rgb = rgb.join(",");
      return swatch;
    }));
  }

  // --- the painting -----------------------------------------------------------------------------------------

  image() {
    if (!this.working) this.working = this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
    return this.working;
  }

  show() {
    this.context.putImageData(this.image(), 0, 0);
  }

  /** Record an undo step, apply `edit` to the pixels, show and save: every change goes through here. */
  change(edit) {
    if (!this.palette.length) return this.say("no palette yet: choose one above");
    const before = new ImageData(new Uint8ClampedArray(this.image().data), this.canvas.width, this.canvas.height);
    if (edit(this.image()) === false) return;
    this.history.record(before);
    this.show();
    this.painted = true;
    this.scheduleSave();
  }

  step(direction) {
    const restored = this.history[direction](this.image());
    if (!restored) return;
    this.resizeTo(restored.width, restored.height);
    this.working = restored;
    this.show();
    this.scheduleSave();
  }

  resizeTo(width, height) {
    if (this.canvas.width === width && this.canvas.height === height) return;
    this.canvas.width = width;
    this.canvas.height = height;
    this.working = null;
    for (const [name, value] of [["width", width], ["height", height]]) {
      const widget = this.node.widgets?.find((w) => w.name === name);
      if (widget && widget.value !== value) widget.value = value;
    }
    this.node.setDirtyCanvas?.(true, true);  // the size widgets show the new values now, not at the next mouse move
  }

  /** A new canvas size from the width/height widgets: the painting keeps its top-left part. */
  resize(width, height) {
    if (this.canvas.width === width && this.canvas.height === height) return;
    const before = this.image();
    const after = new ImageData(width, height);
    fillAll(after, this.palette[0] ?? [0, 0, 0]);
    for (let y = 0; y < Math.min(height, before.height); y++) {
      const row = before.data.subarray(y * before.width * 4, (y * before.width + Math.min(width, before.width)) * 4);
      after.data.set(row, y * width * 4);
    }
    this.resizeTo(width, height);
    this.working = after;
    this.history.record(before);
    this.show();
    this.scheduleSave();
  }

  drawPicture(picture) {
    this.resizeTo(picture.naturalWidth ?? picture.width, picture.naturalHeight ?? picture.height);
    this.context.imageSmoothingEnabled = false;
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.context.drawImage(picture, 0, 0);
    this.working = null;
  }

  // --- pointer and keys -------------------------------------------------------------------------------------

  /** The canvas pixel under the pointer; the stage letterboxes the canvas (object-fit: contain). */
  at(event) {
    const box = this.canvas.getBoundingClientRect();
    const scale = Math.min(box.width / this.canvas.width, box.height / this.canvas.height);
    const left = box.left + (box.width - this.canvas.width * scale) / 2;
    const top = box.top + (box.height - this.canvas.height * scale) / 2;
    return [(event.clientX - left) / scale, (event.clientY - top) / scale];
  }

  paintColor() {
    return this.palette[this.tool === "eraser" ? 0 : this.color];
  }

  onPointerDown(event) {
    if (event.button !== 0) return;
    event.stopPropagation();
    const point = this.at(event);
    if (this.tool === "fill") {
      const [x, y] = point.map(Math.floor);
      if (x < 0 || y < 0 || x >= this.canvas.width || y >= this.canvas.height) return;
      return this.change((image) => floodFill(image, x, y, this.paintColor()));
    }
    if (!this.palette.length) return this.say("no palette yet: choose one above");
    this.canvas.setPointerCapture?.(event.pointerId);
    this.stroke = { last: point, before: new ImageData(new Uint8ClampedArray(this.image().data), this.canvas.width) };
    paintLine(this.image(), point, point, Number(this.sizeSelect.value) / 2, this.paintColor());
    this.show();
  }

  onPointerMove(event) {
    if (!this.stroke) return;
    event.stopPropagation();
    const point = this.at(event);
    paintLine(this.image(), this.stroke.last, point, Number(this.sizeSelect.value) / 2, this.paintColor());
    this.stroke.last = point;
    this.show();
  }

  onPointerUp(event) {
    if (!this.stroke) return;
    event.stopPropagation();
    this.history.record(this.stroke.before);
    this.stroke = null;
    this.painted = true;
    this.scheduleSave(0);  // live mode's picture waits on this upload
  }

  onKey(event) {
    const key = event.key.toLowerCase();
    if (!(event.ctrlKey || event.metaKey) || !["z", "y"].includes(key)) return;
    event.preventDefault();
    event.stopPropagation();
    this.step(key === "y" || event.shiftKey ? "redo" : "undo");
  }

  // --- palette, files and the server ------------------------------------------------------------------------

  /** Show `source`'s swatches; `recolor` (a palette the user chose) repaints region k in its colour k. A
   * source the page was not offered (a map a run or another canvas has yet to write) is asked for only when
   * `fresh`: its file was just written. */
  async usePalette(source, recolor = false, fresh = false) {
    this.source = source;
    const offered = this.node.widgets?.find((w) => w.name === "palette")?.options?.values ?? [];
    if (!fresh && Array.isArray(offered) && !offered.includes(source)) {
      this.palette = [];
      this.showPalette();
      return this.say(`${source} is not in input/ yet: a map appears when the graph runs or its canvas is painted`);
    }
    let colors, names;
    try {
      ({ colors, names } = await fetchPalette(source));
    } catch (error) {
      this.palette = [];
      this.showPalette();
      return this.say(`palette ${source}: ${error.message}`);
    }
    if (source !== this.source) return;
    const old = this.palette;
    this.palette = colors;
    this.names = names;
    this.color = Math.min(this.color, colors.length - 1);
    this.showPalette();
    this.node.setDirtyCanvas?.(true, true);  // the palette combo shows its new value at once
    this.say("");
    if (!this.painted && !this.value) fillAll(this.image(), colors[0]);
    else if (recolor && old.length) recolorImage(this.image(), old, colors);
    else return;
    this.show();
    if (this.painted) this.scheduleSave();
  }

  async random() {
    try {
      const blob = await fetchRandomDoodle(this.source, this.canvas.width, this.canvas.height, this.seedInput.value);
      const picture = await loadImage(URL.createObjectURL(blob));
      this.change((image) => {
        this.context.drawImage(picture, 0, 0);
        image.data.set(this.context.getImageData(0, 0, image.width, image.height).data);
      });
      this.seedInput.value = String(Number(this.seedInput.value) + 1);  // the next click, another doodle
      this.node.properties.doodle_seed = Number(this.seedInput.value);
    } catch (error) {
      this.say(`random doodle: ${error.message}`);
    }
  }

  /** The largest side the node accepts: its width widget's maximum, from the server's schema. */
  maxSide() {
    return this.node.widgets?.find((w) => w.name === "width")?.options?.max ?? Infinity;
  }

  async loadDoodle(file) {
    await this.loadPicture(URL.createObjectURL(file), file.name);
  }

  /** Start from the style map the palette comes from (its file in input/), to edit it: move a border with the
   * brush, merge two regions with a fill, add one with a spare colour. */
  async fromMap() {
    const name = mapFile(this.source);
    if (!name) return this.say("From map needs a style map palette (a generator has no map to start from)");
    await this.usePalette(this.source, false, true);  // the map may have been made since the page opened
    await this.loadPicture(paintingUrl(name), name);
  }

  /** Draw the picture at `url` as the new painting (undoable), its colours snapped to the palette. */
  async loadPicture(url, label) {
    if (!this.palette.length) return this.say("no palette yet: choose one above");
    try {
      const picture = await loadImage(url);
      const side = Math.max(picture.naturalWidth, picture.naturalHeight);
      if (side > this.maxSide()) throw new Error(`${side} px a side; a canvas is at most ${this.maxSide()}`);
      const before = this.image();
      this.drawPicture(picture);
      snapToPalette(this.image(), this.palette);
      this.history.record(before);
      this.show();
      this.painted = true;
      this.scheduleSave();
      this.say(`loaded ${label}; its colours snapped to the palette`);
    } catch (error) {
      this.say(`${label}: ${error.message}`);
    }
  }

  /** Fetch the palette again where it comes from `file` (in input/), which was just written. */
  refreshPaletteFrom(file) {
    if (mapFile(this.source) === file) this.usePalette(this.source, false, true);
  }

  /** A workflow sets the value: show the painting it names (a missing file leaves a blank canvas). */
  async open(value) {
    this.value = value ?? "";
    if (!this.value) return;
    try {
      const picture = await loadImage(paintingUrl(this.value));
      this.drawPicture(picture);
      this.painted = true;
      const kept = await loadHistory(this.value).catch(() => null);  // the undo steps of before a reload
      if (kept && this.history.empty) this.history.restore(kept);
    } catch {
      if (this.palette.length) fillAll(this.image(), this.palette[0]), this.show();
      this.say(`the painting ${this.value} is missing from input/: this canvas starts blank`);
    }
  }

  /** This node's file name, new when the node has none or shares one with another canvas (a copy). */
  fileName() {
    const edited = this.source?.startsWith("edit ") && mapFile(this.source).replace(/\.\w+$/, "");
    if (edited && !this.value) return `${edited}_edited.png`;  // a name the doodle's canvas can be given
    const mine = inputFile(this.value);
    const others = canvasesIn(this.node.graph).filter((canvas) => canvas !== this).map((canvas) => canvas.value);
    if (!mine.startsWith(SUBFOLDER + "/") || others.includes(this.value)) return newFileName();
    return mine.slice(SUBFOLDER.length + 1);
  }

  /** Save after `delay` ms of quiet (several quick changes, one upload); a finished stroke saves at once. */
  scheduleSave(delay = SAVE_DELAY_MS) {
    clearTimeout(this.saveTimer);
    this.saving = new Promise((resolve) => {
      this.saveTimer = setTimeout(() => this.save().finally(resolve), delay);
    });
  }

  async save() {
    try {
      const blob = await new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
      this.value = await uploadPainting(blob, this.fileName());
      this.say("");
      storeHistory(this.value, this.history).catch(() => {});  // undo survives a reload; without storage, not
      mapWritten(this.node.graph, inputFile(this.value));  // canvases painting with this one's colours
      if (this.liveBox.checked) requestRender(this);
    } catch (error) {
      this.say(`not saved: ${error.message} (the painting stays here; it is saved again at the next stroke)`);
    }
  }
}
