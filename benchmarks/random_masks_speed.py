"""Random masks: seconds for a batch of 16 at 256x256 (the issue's "well under a second"), and more sizes.

python benchmarks/random_masks_speed.py
"""

from __future__ import annotations

import time

from doodle.maps.random_masks import random_masks


def main() -> None:
    print(f"{'batch x size':>14} {'regions':>8} {'seconds':>8}")
    for batch, size, regions in ((16, 256, 5), (16, 256, 8), (4, 512, 5), (1, 1024, 5)):
        random_masks(size, size, regions, seed=0, batch_size=1)
        start = time.perf_counter()
        random_masks(size, size, regions, seed=1, batch_size=batch)
        print(f"{f'{batch} x {size}²':>14} {regions:>8} {time.perf_counter() - start:8.3f}")


if __name__ == "__main__":
    main()
