// What the canvas asks ComfyUI's server: palettes and random doodles (doodle's routes), and the painting's
// file in input/ (ComfyUI's own upload and view routes). Nothing else is fetched.
import { api } from "../../../scripts/api.js";

export const SUBFOLDER = "doodle_canvas";

async function failure(response) {
  const body = await response.json().catch(() => ({}));
  return new Error(body.error ?? `${response.status} ${response.statusText}`);
}

/** A source's palette: ``{colours: [[r, g, b], ...], names: [...]}`` (names empty where the source has none). */
export async function fetchPalette(source) {
  const response = await api.fetchApi(`/doodle/palette?source=${encodeURIComponent(source)}`);
  if (!response.ok) throw await failure(response);
  return await response.json();
}

export async function fetchRandomDoodle(source, width, height, seed) {
  const query = new URLSearchParams({ source, width, height, seed });
  const response = await api.fetchApi(`/doodle/random_doodle?${query}`);
  if (!response.ok) throw await failure(response);
  return await response.blob();
}

/** Write a file into input/doodle_canvas/ over any of that name (``overwrite``): a canvas's painting (one file per
 * canvas, whatever the strokes) or its underlay. */
export async function uploadPainting(blob, fileName) {
  const form = new FormData();
  form.append("image", blob, fileName);
  form.append("type", "input");
  form.append("subfolder", SUBFOLDER);
  form.append("overwrite", "true");
  const response = await api.fetchApi("/upload/image", { method: "POST", body: form });
  if (!response.ok) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
  const saved = await response.json();
  return `${saved.subfolder ? saved.subfolder + "/" : ""}${saved.name} [input]`;
}

/** The file in input/ a value such as ``doodle_canvas/canvas-x.png [input]`` names: ``doodle_canvas/canvas-x.png``. */
export function inputFile(value) {
  return value.replace(/ \[input\]$/, "");
}

/** The URL of a painting value such as ``doodle_canvas/canvas-x.png [input]``. */
export function paintingUrl(value) {
  const path = inputFile(value);
  const slash = path.lastIndexOf("/");
  const query = new URLSearchParams({
    filename: path.slice(slash + 1),
    subfolder: slash < 0 ? "" : path.slice(0, slash),
    type: "input",
    rand: String(Date.now()),
  });
  return api.apiURL(`/view?${query}`);
}
