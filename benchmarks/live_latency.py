"""Live painting in the real page: from a stroke's mouse-up to the new picture, against the bare core call that
makes the same picture.

    DOODLE_COMFYUI_DIR=.comfyui PYTHONPATH=. python benchmarks/live_latency.py [--strokes 5]

Starts a real ComfyUI (the tests' harness, a throwaway base folder) and headless Chromium, opens template
``0_paint_a_doodle`` (DoodleCanvas -> RenderDoodle, monet) and ``7_instant_painting`` (DoodleCanvas ->
SynthesizeDoodle, fast), ticks Live and paints strokes with the real mouse, one at a time. Per stroke, in the
page's clock: ``upload`` from mouse-up to the queued prompt (the canvas's PNG saved into input/), ``run`` from
there to ComfyUI's message that the prompt has run (validation, the graph, the node, the preview PNGs), and
``total`` = mouse-up to that message. ``core`` is the core call alone on the same final doodle in this process
(``api.render_image``, ``api.synthesize_image`` fast) once the browser and the server have closed. Medians;
run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from doodle import api
from doodle.files.image_io import load_image
from tests.browser import browser_page, workflow_json
from tests.comfyui_harness import ComfyUIServer
from tests.test_browser import CANVAS, drag

TEMPLATES = {"render": "0_paint_a_doodle", "synthesis (fast)": "7_instant_painting"}
WATCH = """() => { window.liveTimes = []; const mark = (what) => window.liveTimes.push([what, performance.now()]);
    document.addEventListener('pointerup', () => mark('up'), true);
    const queue = app.queuePrompt.bind(app);
    app.queuePrompt = async (...args) => { mark('queued'); return queue(...args); };
    (window.comfyAPI?.api?.api ?? app.api).addEventListener('execution_success', () => mark('done')); }"""


def stroke(page, row: int) -> dict[str, float]:
    """One horizontal stroke at ``row``; the page's marks for it once its picture has come."""
    page.run("() => { window.liveTimes = []; }")
    drag(page, [(60, row), (420, row)])
    page.wait_for("() => window.liveTimes.some(([what]) => what === 'done')", timeout_ms=120_000)
    marks = {what: at for what, at in reversed(page.run("() => window.liveTimes"))}  # the first of each
    return {
        "upload": (marks["queued"] - marks["up"]) / 1000,
        "run": (marks["done"] - marks["queued"]) / 1000,
        "total": (marks["done"] - marks["up"]) / 1000,
    }


def core_seconds(kind: str, painting: Path, repeats: int) -> float:
    doodle = load_image(painting)
    if kind == "render":
        bundle = api.load_generator("weights/monet.safetensors")
        call = lambda: api.render_image(bundle, 0, doodle=doodle)  # noqa: E731
    else:
        style = api.Style(
            load_image("samples/monet/style.png"), api.masks_from_colors(load_image("samples/monet/style_mask.png"))
        )
        masks = api.masks_from_colors(doodle, palette_from=style.masks)
        call = lambda: api.synthesize_image(style, masks, api.SynthesisSettings(preset="fast"))  # noqa: E731
    with torch.no_grad():
        call()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as base:
        server = ComfyUIServer(Path(os.environ["DOODLE_COMFYUI_DIR"]), Path(base))
        client = server.start()
        try:
            with browser_page(client) as page:
                for kind, template in TEMPLATES.items():
                    page.load(workflow_json(Path("example_workflows") / f"{template}.json"))
                    page.wait_for(f"() => {CANVAS}.palette.length > 0")
                    page.run(WATCH)
                    page.page.locator(".doodle-canvas input[type=checkbox]").first.check()
                    stroke(page, 40)  # the first run loads the generator or the painting
                    measured = [stroke(page, 80 + 50 * k) for k in range(args.strokes)]
                    painting = client.input_dir / page.run(f"() => {CANVAS}.value").removesuffix(" [input]")
                    page.page.locator(".doodle-canvas input[type=checkbox]").first.uncheck()
                    kept = Path(base) / f"{template}.png"
                    kept.write_bytes(painting.read_bytes())
                    rows.append((kind, {key: statistics.median(m[key] for m in measured) for key in measured[0]}, kept))
        finally:
            server.stop()
        rows = [(kind, times, core_seconds(kind, kept, args.strokes)) for kind, times, kept in rows]  # all quiet
    print(f"{'512x384, medians (s)':>22} {'upload':>7} {'run':>7} {'total':>7} {'core':>7} {'total/core':>10}")
    for kind, times, core in rows:
        print(
            f"{kind:>22} {times['upload']:7.3f} {times['run']:7.3f} {times['total']:7.3f} {core:7.3f} "
            f"{times['total'] / core:10.2f}"
        )


if __name__ == "__main__":
    main()
