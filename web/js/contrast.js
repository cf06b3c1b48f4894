// Readable text on a coloured swatch: black or white, whichever contrasts more (WCAG 2 contrast ratio).

function luminance(rgb) {
  const [r, g, b] = rgb.map((value) => {
    const c = value / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The text colour ("#000" or "#fff") with the higher contrast on `rgb` (0..255): at least 4.58:1 on any colour. */
export function readableText(rgb) {
  const light = luminance(rgb);
  return (light + 0.05) / 0.05 >= 1.05 / (light + 0.05) ? "#000" : "#fff";
}
