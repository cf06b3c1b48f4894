// Live mode: queue the graph when a stroke has been saved, never while a run is in progress; strokes made
// during a run are rendered by one more run when it ends.
import { api } from "../../../scripts/api.js";
import { app } from "../../../scripts/app.js";

let busy = false;
const waiting = new Set();

api.addEventListener("status", (event) => {
  busy = (event.detail?.exec_info?.queue_remaining ?? 0) > 0;
  if (!busy && waiting.size) {
    waiting.clear();
    queue();
  }
});

function queue() {
  busy = true;
  app.queuePrompt(0, 1);
}

/** Ask for a render for `owner` (a canvas): now if the queue is idle, else once it empties. */
export function requestRender(owner) {
  if (busy) waiting.add(owner);
  else queue();
}
