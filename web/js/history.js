// Undo and redo as whole-canvas snapshots: simple and exact; LIMIT bounds the memory (a 512x384 canvas is
// 0.8 MB a step, a 4096² one 64 MB, so big canvases keep fewer).

const BUDGET_BYTES = 256 * 1024 * 1024;
const LIMIT = 50;

export class History {
  constructor() {
    this.undoStack = [];
    this.redoStack = [];
  }

  /** Call before a change with the image as it was. */
  record(snapshot) {
    this.undoStack.push(snapshot);
    this.redoStack = [];
    const keep = Math.max(1, Math.min(LIMIT, Math.floor(BUDGET_BYTES / snapshot.data.length)));
    this.undoStack.splice(0, Math.max(0, this.undoStack.length - keep));
  }

  undo(current) {
    if (!this.undoStack.length) return null;
    this.redoStack.push(current);
    return this.undoStack.pop();
  }

  redo(current) {
    if (!this.redoStack.length) return null;
    this.undoStack.push(current);
    return this.redoStack.pop();
  }

  get empty() {
    return !this.undoStack.length && !this.redoStack.length;
  }

  /** Take the steps kept from an earlier page (history_store.js). */
  restore({ undo, redo }) {
    this.undoStack = undo;
    this.redoStack = redo;
  }
}
