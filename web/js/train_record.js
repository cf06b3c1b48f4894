// TrainDoodleStyle shows its training record under its preview: the file it saved, steps, loss, minutes.
import { app } from "../../../scripts/app.js";

app.registerExtension({
  name: "doodle.TrainRecord",

  nodeCreated(node) {
    if (node.comfyClass !== "TrainDoodleStyle") return;
    const line = document.createElement("div");
    line.className = "doodle-train-record";
    line.style.cssText = "font: 12px sans-serif; white-space: pre-wrap; overflow-wrap: anywhere; padding: 2px 4px;";
    const widget = node.addDOMWidget("record", "DOODLE_RECORD", line, {
      serialize: false,
      getMinHeight: () => Math.max(18, line.scrollHeight),
    });
    widget.serialize = false;  // shown only: not a value of the workflow
    const executed = node.onExecuted;
    node.onExecuted = function (output) {
      executed?.apply(this, arguments);
      const text = output?.text;
      line.textContent = Array.isArray(text) ? text.join("\n") : (text ?? "");
      node.setDirtyCanvas(true, true);
    };
  },
});
