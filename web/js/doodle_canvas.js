// Registers the DoodleCanvas widget (the node's `painting` input) and ties it to the node's other widgets.
import { api } from "../../../scripts/api.js";
import { app } from "../../../scripts/app.js";
import { canvasOf, DoodleCanvasWidget, mapWritten } from "./canvas_widget.js";

const STYLE = `
.doodle-canvas { display: flex; flex-direction: column; gap: 4px; font: 12px sans-serif; outline: none; }
.doodle-canvas-swatches, .doodle-canvas-tools { display: flex; flex-wrap: wrap; gap: 3px; align-items: center; }
.doodle-canvas-swatch { width: 22px; height: 22px; border: 2px solid #666; border-radius: 3px; padding: 0; }
.doodle-canvas-swatch.active { border-color: #fff; outline: 2px solid #39f; }
.doodle-canvas-tools button.active { outline: 2px solid #39f; }
.doodle-canvas-tools input[type=number] { width: 5em; }
.doodle-canvas-stage { position: relative; flex: 1; min-height: 0; }
.doodle-canvas-stage > * { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; }
.doodle-canvas-paper { image-rendering: pixelated; cursor: crosshair; touch-action: none; }
.doodle-canvas-underlay { pointer-events: none; }
.doodle-canvas-underlay:not([src]) { display: none; }
.doodle-canvas-message { color: #f96; min-height: 1em; }
.doodle-canvas-keys { position: absolute; width: 1px; height: 1px; opacity: 0; pointer-events: none; }
`;

app.registerExtension({
  name: "doodle.DoodleCanvas",

  setup() {
    document.head.append(Object.assign(document.createElement("style"), { textContent: STYLE }));
    // A StyleMapFromPainting run saved a map in input/: canvases painting with it fetch its colours again.
    api.addEventListener("executed", ({ detail }) => {
      for (const file of detail?.output?.doodle_saved_map ?? []) mapWritten(app.graph, file);
    });
  },

  getCustomWidgets() {
    return {
      DOODLE_CANVAS(node, inputName) {
        return { widget: new DoodleCanvasWidget(node, inputName).widget, minWidth: 360, minHeight: 320 };
      },
    };
  },

  nodeCreated(node) {
    if (node.comfyClass !== "DoodleCanvas") return;
    const find = (name) => node.widgets.find((w) => w.name === name);
    const canvas = canvasOf(node);
    if (!canvas) return;
    const palette = find("palette"), width = find("width"), height = find("height");
    const chain = (widget, action) => {
      const previous = widget.callback;
      widget.callback = function (...args) {
        previous?.apply(this, args);
        action();
      };
    };
    chain(palette, () => canvas.usePalette(palette.value, true));
    for (const size of [width, height]) chain(size, () => canvas.resize(width.value, height.value));
    canvas.resize(width.value, height.value);
    canvas.usePalette(palette.value);
    const configure = node.onConfigure;
    node.onConfigure = function (...args) {
      configure?.apply(this, args);
      // A workflow's blank canvas takes its saved size (a painting, when there is one, brings its own).
      if (!canvas.painted && !canvas.value) canvas.resizeTo(width.value, height.value);
      canvas.restoreSettings();
      canvas.usePalette(palette.value);
    };
    node.setSize([Math.max(node.size[0], 420), Math.max(node.size[1], 520)]);
  },
});
