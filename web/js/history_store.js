// Undo history that survives a page reload: each canvas's steps in the browser's IndexedDB, under its painting's
// file name, as PNGs (flat doodles compress about a hundredfold). The newest KEEP canvases' histories stay.

const DATABASE = "doodle-canvas";
const STEPS = "steps";
const TIMES = "times";
const KEEP = 12;
const encoded = new WeakMap();  // ImageData -> its PNG, so a save encodes only the steps that are new

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

let opened = null;
function database() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STEPS);
      request.result.createObjectStore(TIMES);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function png(image) {
  if (!encoded.has(image)) {
    const canvas = new OffscreenCanvas(image.width, image.height);
    canvas.getContext("2d").putImageData(image, 0, 0);
    encoded.set(image, await canvas.convertToBlob({ type: "image/png" }));
  }
  return encoded.get(image);
}

async function pixels(blob) {
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const image = context.getImageData(0, 0, bitmap.width, bitmap.height);
  encoded.set(image, blob);
  return image;
}

/** Keep `history`'s undo and redo steps under `key`, and forget the oldest canvases beyond KEEP. */
export async function storeHistory(key, history) {
  const undo = await Promise.all(history.undoStack.map(png));
  const redo = await Promise.all(history.redoStack.map(png));
  const db = await database();
  const write = db.transaction([STEPS, TIMES], "readwrite");
  write.objectStore(STEPS).put({ undo, redo }, key);
  write.objectStore(TIMES).put(Date.now(), key);
  const times = write.objectStore(TIMES);
  const [keys, stamps] = await Promise.all([done(times.getAllKeys()), done(times.getAll())]);
  const oldest = keys.map((k, i) => [stamps[i], k]).sort((a, b) => b[0] - a[0]).slice(KEEP);
  if (oldest.length) {
    const prune = db.transaction([STEPS, TIMES], "readwrite");
    for (const [, k] of oldest) prune.objectStore(STEPS).delete(k), prune.objectStore(TIMES).delete(k);
  }
}

/** The undo and redo steps kept under `key` (ImageData lists), or null. */
export async function loadHistory(key) {
  const db = await database();
  const kept = await done(db.transaction(STEPS).objectStore(STEPS).get(key));
  if (!kept) return null;
  return { undo: await Promise.all(kept.undo.map(pixels)), redo: await Promise.all(kept.redo.map(pixels)) };
}
