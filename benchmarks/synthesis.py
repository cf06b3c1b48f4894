"""Region-guided patch synthesis: speed and memory by size, what the eye sees beside the other paths, how evenly
it uses the painting, and how visible its seams are.

    PYTHONPATH=. python benchmarks/synthesis.py [--also "L-BFGS=out/512/{style}_lbfgs.png"] [--repeats 3]

Run it on a quiet machine (another busy process slows torch's threads many times over). Tables:

* ``speed``: seconds (median of ``--repeats``, inputs loaded, Python started) and peak memory above the
  process's before the call (on ``--device cuda``: the GPU's peak allocation), each case in a fresh process,
  for both examples and the Monet doodle scaled (nearest) to 1024x768 and 2048x2048; ``bytes/px`` is
  peak memory over the doodle's pixels: flat when memory grows with the doodle alone, not with doodle x painting.
* ``look``: the appearance measures of ``benchmarks/appearance.py`` (worst region's colour distance, spread,
  gradient energy as ratios to the original project's result) for the synthesis, the shipped generator's
  render (seed 0), the original, and any ``--also LABEL=PATTERN`` images at the doodle's size (``{style}`` in
  the pattern is the style's name: L-BFGS results, L-BFGS started from a synthesis).
* ``use``: per painting region, the share of its pixels that some chosen patch covers (1 = every pixel used),
  and the most-covered pixel's coverage over its fair share (1 = perfectly even).
* ``seams``: mean squared colour step between neighbouring doodle pixels whose patches come from
  non-neighbouring painting pixels, over the same step between neighbouring pixels inside the painting's
  region (1 = a seam looks like the painting's own texture; higher = visible), and the share of neighbour
  pairs that are coherent (copied together).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time
from pathlib import Path

import torch
from PIL import Image
from torch.nn import functional as F

from benchmarks.appearance import gradient_energy, look, ratios
from benchmarks.scoring import Example
from doodle import api
from doodle.files.image_io import load_image, save_image, to_channels_first, to_channels_last
from doodle.maps.colormap import labels_in_palette
from doodle.synthesis import SynthesisSettings, synthesize_traced
from doodle.synthesis.matching import patch_coverage

PRESETS = ("fast", "balanced", "best")
CASES = (
    ("monet", None, PRESETS),
    ("renoir", None, PRESETS),
    ("monet", (768, 1024), PRESETS[:2]),
    ("monet", (2048, 2048), PRESETS[:2]),
)
"""(style, doodle size or None for the example's own, presets) of the speed table."""


def inputs(name: str, size: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Painting ``[3, H, W]``, its labels, the doodle's labels (scaled to ``size``), the region count."""
    example = Example.load(name)
    labels = labels_in_palette(api.masks_from_colors(example.doodle), example.style_masks.palette, "the style map")[0]
    if size is not None:
        labels = F.interpolate(labels[None, None].float(), size=size, mode="nearest")[0, 0].long()
    return example.style[0], example.style_masks.labels()[0], labels, example.style_masks.n_regions


def _timed(
    name: str, size: tuple[int, int], preset: str, repeats: int, device: str, queue: multiprocessing.Queue
) -> None:
    painting, source_labels, target_labels, n_regions = (
        item.to(device) if isinstance(item, torch.Tensor) else item for item in inputs(name, size)
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(repeats + (device != "cpu")):  # on a GPU the first call warms it up, untimed
        started = time.perf_counter()
        synthesize_traced(painting, source_labels, target_labels, n_regions, SynthesisSettings(preset=preset))
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    if device != "cpu":
        times, peak, before = times[1:], torch.cuda.max_memory_allocated(), 0
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put((statistics.median(times), max(peak - before, 0)))


def speed_table(repeats: int, device: str) -> None:
    header = f"{'speed':<8} {'style':>7} {'doodle':>10} {'preset':>9} {'seconds':>8} {'peak MB':>8} {'bytes/px':>9}"
    print(f"{header}  ({device})")
    context = multiprocessing.get_context("spawn")
    for name, size, presets in CASES:
        height, width = size or inputs(name)[2].shape
        for preset in presets:
            queue = context.Queue()
            worker = context.Process(target=_timed, args=(name, size, preset, repeats, device, queue))
            worker.start()
            seconds, peak = queue.get()
            worker.join()
            line = f"{'':<8} {name:>7} {width:>5}x{height:<4} {preset:>9} {seconds:8.2f} {peak / 2**20:8.0f}"
            print(f"{line} {peak / (height * width):9.0f}")


def use_and_seams(synthesis, painting: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor):
    """Per region: (share of its pixels covered, largest coverage over fair share, seam ratio, coherent share)."""
    source_height, source_width = synthesis.source_size
    patch = SynthesisSettings().patch_size
    coverage = patch_coverage(synthesis.source_index, synthesis.source_size, patch)
    rows = synthesis.source_index // source_width
    cols = synthesis.source_index % source_width
    height, width = target_labels.shape
    rows, cols = rows.view(height, width), cols.view(height, width)
    image = synthesis.image
    results = {}
    for region in target_labels.unique().tolist():
        in_source = source_labels.flatten() == region
        fair = (target_labels == region).sum() * patch**2 / in_source.sum()
        used = float((coverage[in_source] > 0).float().mean())
        largest = float(coverage[in_source].max() / fair)
        steps, coherent, total = [], 0, 0
        for axis in (0, 1):
            a = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
            b = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
            both = (target_labels[a] == region) & (target_labels[b] == region)
            together = (rows[b] - rows[a] == (1 - axis)) & (cols[b] - cols[a] == axis)
            step = (image[:, b[0], b[1]] - image[:, a[0], a[1]]).pow(2).sum(0)
            steps.append(step[both & ~together])
            coherent += int((both & together).sum())
            total += int(both.sum())
        own = gradient_energy(painting[None], source_labels == region)
        seam = float(torch.cat(steps).mean() / own) if sum(len(s) for s in steps) else 0.0
        results[region] = (used, largest, seam, coherent / max(total, 1))
    return results


def look_tables(also: list[str], save_dir: Path) -> None:
    save_dir.mkdir(parents=True, exist_ok=True)
    print(f"\n{'look':<8} {'style':>7} {'image':>10} {'distance':>8} {'worst /original: dist spr grad':>31}")
    usage_lines = []
    for name in ("monet", "renoir"):
        example = Example.load(name)
        painting, source_labels, target_labels, n_regions = inputs(name)
        synthesis = synthesize_traced(painting, source_labels, target_labels, n_regions, SynthesisSettings())
        save_image(to_channels_last(synthesis.image[None]), save_dir / f"{name}_synthesis.png")
        images = {
            "original": to_channels_first(load_image(f"benchmarks/data/{name}_original.png")),
            "synthesis": synthesis.image[None],
            "render": to_channels_first(
                api.render_image(api.load_generator(f"weights/{name}.safetensors"), 0, doodle=example.doodle)
            ),
        }
        for label, pattern in (entry.split("=", 1) for entry in also):
            images[label] = to_channels_first(load_image(pattern.format(style=name)))[:, :3]
        measured = {
            kind: look(image, example.target, example.style, example.style_masks.masks)
            for kind, image in images.items()
        }
        for kind, looks in measured.items():
            to_original = ratios(looks, measured["original"])
            mean = sum(one.distance for one in looks.values()) / len(looks)
            worst = (max(to_original["distance"]), min(to_original["spread"]), min(to_original["gradient"]))
            print(f"{'':<8} {name:>7} {kind:>10} {mean:8.3f} {' '.join(f'{v:9.2f}' for v in worst):>31}")
        side_by_side(name, images, save_dir / f"{name}_side_by_side.png")
        for region, (used, largest, seam, coherent) in use_and_seams(
            synthesis, painting, source_labels, target_labels
        ).items():
            usage_lines.append(f"{'':<8} {name:>7} {region:>6} {used:6.2f} {largest:8.1f} {seam:6.2f} {coherent:9.2f}")
    print(f"\n{'use':<8} {'style':>7} {'region':>6} {'used':>6} {'largest':>8} {'seams':>6} {'coherent':>9}")
    print("\n".join(usage_lines))


def side_by_side(name: str, images: dict[str, torch.Tensor], path: Path) -> None:
    """Painting, doodle, then each image, at one height, left to right."""
    pictures = [Image.open(f"samples/{name}/style.png").convert("RGB"), Image.open(f"samples/{name}/target_mask.png")]
    order = ["synthesis", "render", *(k for k in images if k not in ("synthesis", "render", "original")), "original"]
    for kind in order:
        array = (images[kind][0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
        pictures.append(Image.fromarray(array))
    height = 384
    pictures = [p.convert("RGB").resize((round(p.width * height / p.height), height)) for p in pictures]
    sheet = Image.new("RGB", (sum(p.width for p in pictures), height))
    left = 0
    for picture in pictures:
        sheet.paste(picture, (left, 0))
        left += picture.width
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--also", action="append", default=[], help="LABEL=PATTERN: also measure this image ({style} = the style)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--save-dir", type=Path, default=Path("out/synthesis"))
    parser.add_argument("--device", default="cpu", help="where the speed table runs (cuda: GPU memory is counted)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-look", action="store_true")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    if not args.skip_speed:
        speed_table(args.repeats, args.device)
    if not args.skip_look:
        look_tables(args.also, args.save_dir)


if __name__ == "__main__":
    main()
