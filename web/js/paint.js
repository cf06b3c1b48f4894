// Pixel operations on ImageData-like objects ({width, height, data: RGBA bytes}); no anti-aliasing ever:
// every pixel written is exactly the colour given, so a painting holds palette colours only.

export function pixelAt(image, x, y) {
  const i = (y * image.width + x) * 4;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
}

function put(image, x, y, rgb) {
  const i = (y * image.width + x) * 4;
  image.data[i] = rgb[0];
  image.data[i + 1] = rgb[1];
  image.data[i + 2] = rgb[2];
  image.data[i + 3] = 255;
}

export function fillAll(image, rgb) {
  for (let y = 0; y < image.height; y++) for (let x = 0; x < image.width; x++) put(image, x, y, rgb);
}

/** A filled disc of pixels whose centres lie within `radius` of (cx, cy). */
export function paintDisc(image, cx, cy, radius, rgb) {
  const r = Math.max(0.5, radius);
  const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(image.width - 1, Math.ceil(cx + r));
  const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(image.height - 1, Math.ceil(cy + r));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      if (dx * dx + dy * dy <= r * r) put(image, x, y, rgb);
    }
  }
}

/** Discs along the segment, close enough that the stroke has no gaps. */
export function paintLine(image, from, to, radius, rgb) {
  const length = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const steps = Math.max(1, Math.ceil(length / Math.max(0.5, radius / 2)));
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    paintDisc(image, from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t, radius, rgb);
  }
}

/** 4-connected fill of the region of (x, y)'s exact colour; false when it already has that colour. */
export function floodFill(image, x, y, rgb) {
  const { width, height, data } = image;
  const start = (y * width + x) * 4;
  const target = [data[start], data[start + 1], data[start + 2]];
  if (target.every((c, k) => c === rgb[k])) return false;
  const same = (p) => data[p * 4] === target[0] && data[p * 4 + 1] === target[1] && data[p * 4 + 2] === target[2];
  const stack = [y * width + x];
  while (stack.length) {
    const p = stack.pop();
    if (!same(p)) continue;
    put(image, p % width, Math.floor(p / width), rgb);
    const px = p % width;
    if (px > 0) stack.push(p - 1);
    if (px < width - 1) stack.push(p + 1);
    if (p >= width) stack.push(p - width);
    if (p < width * (height - 1)) stack.push(p + width);
  }
  return true;
}

function nearest(rgb, palette) {
  let best = 0, bestDistance = Infinity;
  palette.forEach((c, k) => {
    const d = (c[0] - rgb[0]) ** 2 + (c[1] - rgb[1]) ** 2 + (c[2] - rgb[2]) ** 2;
    if (d < bestDistance) [best, bestDistance] = [k, d];
  });
  return best;
}

/** Every pixel to its nearest palette colour (transparent pixels count as black), for loaded doodles. */
export function snapToPalette(image, palette) {
  const cache = new Map();
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 4, a = image.data[i + 3] / 255;
      const rgb = [0, 1, 2].map((k) => Math.round(image.data[i + k] * a));
      const key = (rgb[0] << 16) | (rgb[1] << 8) | rgb[2];
      if (!cache.has(key)) cache.set(key, palette[nearest(rgb, palette)]);
      put(image, x, y, cache.get(key));
    }
  }
}

/** Region k of the old palette becomes region k of the new one; other colours snap to the nearest. */
export function recolor(image, oldPalette, newPalette) {
  const byKey = new Map(oldPalette.slice(0, newPalette.length).map((c, k) => [(c[0] << 16) | (c[1] << 8) | c[2], k]));
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const rgb = pixelAt(image, x, y), k = byKey.get((rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
      put(image, x, y, newPalette[k ?? nearest(rgb, newPalette)]);
    }
  }
}
