"""What a render costs inside ComfyUI beyond the core's own time: the reply to a canvas stroke.

    DOODLE_COMFYUI_DIR=.comfyui PYTHONPATH=. python benchmarks/comfyui_overhead.py [--runs 5]

Starts a real ComfyUI (the tests' harness, a throwaway base folder) and queues LoadImage (the Monet doodle) ->
LoadDoodleGenerator (monet) -> RenderDoodle -> PreviewImage with a new seed each time, so only the render and
the preview run again (the loaders are cached, as between strokes). ``server`` is the prompt's execution time
as ComfyUI records it (execution_start to execution_success), ``round trip`` from the POST to the history
entry; ``core`` is ``api.render_image`` of the same doodle in this process. Medians; the server and this
process each have all the CPU's threads, run one after the other.
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
from tests.comfyui_harness import ComfyUIServer


def prompt(seed: int) -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_monet_target_mask.png"}},
        "2": {"class_type": "LoadDoodleGenerator", "inputs": {"generator_name": "monet.safetensors"}},
        "3": {"class_type": "RenderDoodle", "inputs": {"generator": ["2", 0], "seed": seed, "doodle": ["1", 0]}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }


def server_seconds(messages: list[tuple[str, dict]]) -> float:
    stamps = {kind: data["timestamp"] for kind, data in messages if "timestamp" in data}
    return (stamps["execution_success"] - stamps["execution_start"]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        server = ComfyUIServer(Path(os.environ["DOODLE_COMFYUI_DIR"]), Path(base))
        client = server.start()
        try:
            client.run(prompt(0), timeout=300)  # loads the generator and warms the caches
            served, round_trips = [], []
            for seed in range(1, args.runs + 1):
                start = time.perf_counter()
                result = client.run(prompt(seed), timeout=300)
                round_trips.append(time.perf_counter() - start)
                served.append(server_seconds(result.messages))
        finally:
            server.stop()
    bundle, doodle = api.load_generator("weights/monet.safetensors"), load_image("samples/monet/target_mask.png")
    with torch.no_grad():
        api.render_image(bundle, 0, doodle=doodle)
        core = []
        for seed in range(1, args.runs + 1):
            start = time.perf_counter()
            api.render_image(bundle, seed, doodle=doodle)
            core.append(time.perf_counter() - start)
    rows = {"core": core, "server": served, "round trip": round_trips}
    print(f"{'512x384 Monet doodle':>22} {'median s':>9} {'/core':>6}")
    for name, seconds in rows.items():
        print(
            f"{name:>22} {statistics.median(seconds):9.3f} {statistics.median(seconds) / statistics.median(core):6.2f}"
        )


if __name__ == "__main__":
    main()
