// LoadDoodleGenerator shows its generator's palette: the colours to paint a doodle with, region by region.
import { app } from "../../../scripts/app.js";
import { readableText } from "./contrast.js";
import { fetchPalette } from "./server.js";

const SWATCH_ROW = 24;

function show(list, { colors, names }) {
  list.replaceChildren(...colors.map((rgb, k) => {
    const swatch = document.createElement("span");
    swatch.className = "doodle-palette-swatch";
    swatch.style.background = `rgb(${rgb.join(",")})`;
    swatch.style.color = readableText(rgb);
    swatch.title = `region ${k}: rgb(${rgb.join(", ")})`;
    swatch.textContent = names[k] ? `${names[k]} ${rgb.join(",")}` : rgb.join(",");
    return swatch;
  }));
}

app.registerExtension({
  name: "doodle.GeneratorPalette",

  setup() {
    const style = document.createElement("style");
    style.textContent = `
.doodle-palette { display: flex; flex-wrap: wrap; gap: 3px; font: 10px monospace; }
.doodle-palette-swatch { padding: 2px 4px; border: 1px solid #666; border-radius: 3px; }`;
    document.head.append(style);
  },

  nodeCreated(node) {
    if (node.comfyClass !== "LoadDoodleGenerator") return;
    const name = node.widgets.find((w) => w.name === "generator_name");
    const list = document.createElement("div");
    list.className = "doodle-palette";
    // As tall as the swatches' rows (named swatches wrap at a node's usual width), so none spills below it.
    const minHeight = () => Math.max(SWATCH_ROW, list.scrollHeight);
    const widget = node.addDOMWidget("palette", "DOODLE_PALETTE", list, { serialize: false, getMinHeight: minHeight });
    widget.serialize = false;  // shown only: not a value of the workflow
    const fit = () => {
      const needed = node.computeSize()[1];
      if (needed > node.size[1]) node.setSize([node.size[0], needed]);
      node.setDirtyCanvas(true, true);
    };
    const refresh = () =>
      fetchPalette(`generator: ${name.value}`).then(
        (palette) => {
          show(list, palette);
          requestAnimationFrame(fit);  // once the browser has laid the swatches out
        },
        (error) => (list.textContent = error.message),
      );
    const changed = name.callback;
    name.callback = function (...args) {
      changed?.apply(this, args);
      refresh();
    };
    const configure = node.onConfigure;
    node.onConfigure = function (...args) {
      configure?.apply(this, args);
      refresh();
    };
    refresh();
  },
});
