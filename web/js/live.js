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

async function queue() {
  busy = true;
  try {
    await app.queuePrompt(0, 1);
  } finally {
    // A prompt the server refused sends no status event: ask, so live mode is not left waiting forever.
    const { Running, Pending } = await api.getQueue();
    busy = Running.length + Pending.length > 0;
  }
}

/** Ask for a render for `owner` (a canvas): now if the queue is idle, else once it empties. */
export function requestRender(owner) {
  if (busy) waiting.add(owner);
  else queue();
}
