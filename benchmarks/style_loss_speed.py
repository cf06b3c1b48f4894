"""Seconds per loss evaluation (forward + backward) of the masked style loss, against two baselines.

    python benchmarks/style_loss_speed.py [--network vgg16-hed] [--sizes 256 512] [--repeats 3]

Rows, all on the same network, image and masks (Monet's map, 5 regions):
  ours       region_grams over each region's precomputed support (doodle.neural.style_loss)
  obvious    a Python loop over regions, a masked copy of the features per region, one Gram each
  unmasked   one Gram per layer, no regions: the cost of style transfer without semantics
  network    the VGG forward and backward alone (no loss)
  floor      the network's FLOPs (forward + input gradient) at this machine's measured matmul speed
Each variant runs in its own process, so the peak memory column is that variant's alone. One L-BFGS
iteration with the strong-Wolfe line search costs about two evaluations.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time

import torch
from torch.nn import functional as F

from doodle.files.image_io import load_image
from doodle.maps.colormap import masks_from_colors
from doodle.neural.networks import load_network
from doodle.neural.objective import DoodleObjective
from doodle.neural.optimize_settings import long_side_size
from doodle.neural.style_loss import AREA_EPSILON, mask_pyramid
from doodle.neural.vgg import STYLE_LAYERS, VGGFeatures

MAP = "samples/monet/style_mask.png"
STYLE = "samples/monet/style.png"


def obvious_loss(network: VGGFeatures, image: torch.Tensor, masks: torch.Tensor, targets) -> torch.Tensor:
    """The masked-Gram loop written the obvious way: per region, mask the features, take the Gram."""
    features = network(image, STYLE_LAYERS)
    pyramid = mask_pyramid(masks, network.ops, STYLE_LAYERS)
    total = 0.0
    for layer in STYLE_LAYERS:
        channels = features[layer].shape[1]
        error, norm = 0.0, 0.0
        for region in range(masks.shape[1]):
            mask = pyramid[layer][:, region : region + 1]
            area = mask.sum()
            if area <= AREA_EPSILON:
                continue
            masked = (features[layer] * mask).reshape(channels, -1)
            gram = masked @ features[layer].reshape(channels, -1).T / (channels * area)
            style = targets.grams[layer][region]
            error = error + ((gram - style) ** 2).sum()
            norm = norm + (style**2).sum()
        total = total + error / norm
    return total / len(STYLE_LAYERS)


def unmasked_loss(network: VGGFeatures, image: torch.Tensor, targets: dict) -> torch.Tensor:
    features = network(image, STYLE_LAYERS)
    total = 0.0
    for layer in STYLE_LAYERS:
        flat = features[layer].reshape(features[layer].shape[1], -1)
        gram = flat @ flat.T / flat.numel()
        total = total + ((gram - targets[layer]) ** 2).sum() / (targets[layer] ** 2).sum()
    return total / len(STYLE_LAYERS)


def conv_flops(network: VGGFeatures, height: int, width: int) -> float:
    """Multiply-adds x 2 of every conv up to conv5_1, forward plus the input-gradient backward."""
    flops = 0.0
    for kind, name in network.ops:
        if kind == "pool":
            height, width = height // 2, width // 2
            continue
        conv = network.convs[name]
        flops += 2 * conv.in_channels * conv.out_channels * 9 * height * width
    return 2 * flops


def matmul_gflops() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    start = time.perf_counter()
    for _ in range(5):
        a @ b
    return 5 * 2 * 2048**3 / (time.perf_counter() - start) / 1e9


def measure(variant: str, network_name: str, size: int, repeats: int, queue) -> None:
    torch.set_num_threads(torch.get_num_threads())
    network = load_network(network_name, allow_download=False)
    style_masks = masks_from_colors(load_image(MAP)).masks
    style = load_image(STYLE)[..., :3].permute(0, 3, 1, 2)
    shape = long_side_size(style.shape[-2:], size)
    style = F.interpolate(style, size=shape, mode="area")
    masks = F.interpolate(style_masks, size=shape, mode="area")
    objective = DoodleObjective(network, style, masks)
    objective.set_target_masks(masks)
    with torch.no_grad():
        whole = {k: v.reshape(v.shape[1], -1) for k, v in network(style, STYLE_LAYERS).items()}
        unmasked_targets = {k: v @ v.T / v.numel() for k, v in whole.items()}
    losses = {
        "ours": lambda x: objective(x),
        "obvious": lambda x: obvious_loss(network, x, masks, objective.targets),
        "unmasked": lambda x: unmasked_loss(network, x, unmasked_targets),
        "network": lambda x: sum(f.sum() for f in network(x, STYLE_LAYERS).values()),
    }
    image = torch.rand(1, 3, *shape, requires_grad=True)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        losses[variant](image).backward()
        times.append(time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((min(times[1:]), peak_mib, conv_flops(network, *shape), shape))


def run_variant(variant: str, network: str, size: int, repeats: int) -> tuple:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=measure, args=(variant, network, size, repeats, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gflops = matmul_gflops()
    print(f"network {args.network}, {torch.get_num_threads()} threads, matmul {gflops:.0f} GFLOP/s")
    print(f"{'size':>9} {'variant':>9} {'s/eval':>8} {'x unmasked':>10} {'peak MiB':>9}")
    for size in args.sizes:
        results = {
            v: run_variant(v, args.network, size, args.repeats) for v in ("ours", "obvious", "unmasked", "network")
        }
        base = results["unmasked"][0]
        height, width = results["ours"][3]
        for variant, (seconds, peak, _, _) in results.items():
            print(f"{width:>4}x{height:<4} {variant:>9} {seconds:8.3f} {seconds / base:10.2f} {peak:9.0f}")
        floor = results["ours"][2] / (gflops * 1e9)
        print(f"{width:>4}x{height:<4} {'floor':>9} {floor:8.3f} {floor / base:10.2f} {'':>9}")


if __name__ == "__main__":
    main()
