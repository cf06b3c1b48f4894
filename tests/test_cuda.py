"""The core on a CUDA GPU gives what it gives on the CPU (skipped on machines without one, CI included).

Run on a lent GPU machine with ``bash scripts/gpu_check.sh``. Tolerances allow for TF32 convolutions, which
PyTorch uses by default on recent GPUs; a wrong device, dtype or noise stream would miss them by far.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from doodle.generator.file import GeneratorBundle, load_generator
from doodle.generator.render import RenderSettings, render
from doodle.maps.random_masks import random_masks
from doodle.neural.networks import find_network_file, load_network
from doodle.neural.objective import DoodleObjective
from doodle.segmentation import SegmentationSettings, segment_painting
from doodle.synthesis import SynthesisSettings, synthesize
from doodle.training import TrainSettings, train_generator
from tests.helpers import region_overlaps, texture_painting, tiny_network
from tests.test_generator import small_bundle
from tests.test_train import style_pair

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GPU = torch.device("cuda")


def on_gpu(bundle: GeneratorBundle) -> GeneratorBundle:
    return GeneratorBundle(copy.deepcopy(bundle.model).to(GPU), bundle.palette, bundle.loss_network)


def test_gpu_render_matches_the_cpu_render() -> None:
    bundle, masks = small_bundle(), random_masks(96, 80, 3, seed=1).masks
    cpu = render(bundle, masks, seed=4)
    gpu = render(on_gpu(bundle), masks, seed=4)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=5e-3, rtol=0)


def test_half_precision_render_stays_close_to_full_precision() -> None:
    bundle, masks = on_gpu(small_bundle()), random_masks(128, 96, 3, seed=2).masks
    full = render(bundle, masks, seed=0)
    half = render(bundle, masks, seed=0, settings=RenderSettings(half_precision=True))
    assert half.dtype == torch.float32
    assert (half - full).abs().max() < 0.02
    assert (half - full).abs().mean() < 0.002


def test_tiled_gpu_render_equals_the_whole_gpu_render() -> None:
    bundle, masks = on_gpu(small_bundle()), random_masks(300, 170, 3, seed=2).masks
    whole = render(bundle, masks, seed=3, settings=RenderSettings(tile_size=0))
    tiled = render(bundle, masks, seed=3, settings=RenderSettings(tile_size=64))
    torch.testing.assert_close(tiled, whole, atol=1e-3, rtol=0)


def test_style_loss_and_its_gradient_match_the_cpu() -> None:
    style, style_masks = style_pair()
    target = random_masks(40, 36, 3, seed=3).masks
    image = torch.rand(1, 3, 36, 40)
    results = []
    for device in ("cpu", GPU):
        objective = DoodleObjective(tiny_network().to(device), style.to(device), style_masks.masks.to(device))
        objective.set_target_masks(target.to(device))
        pixels = image.to(device, copy=True).requires_grad_()  # on the CPU a plain .to() is image itself
        loss = objective(pixels)
        loss.backward()
        results.append((loss.detach().cpu(), pixels.grad.cpu()))
    (cpu_loss, cpu_grad), (gpu_loss, gpu_grad) = results
    torch.testing.assert_close(gpu_loss, cpu_loss, rtol=1e-3, atol=0)
    torch.testing.assert_close(gpu_grad, cpu_grad, rtol=1e-2, atol=1e-3 * float(cpu_grad.abs().max()))


def test_training_on_the_gpu_saves_a_file_that_renders_on_the_cpu(tmp_path: Path) -> None:
    style, style_masks = style_pair()
    settings = TrainSettings(steps=3, batch_size=2, size=32, seed=1, checkpoint_every=100)
    bundle = train_generator(
        tiny_network().to(GPU), "tiny", style, style_masks, settings, checkpoint_path=tmp_path / "g.safetensors"
    )
    assert next(bundle.model.parameters()).device.type == "cuda"
    loaded = load_generator(tmp_path / "g.safetensors")
    assert loaded.training["steps_done"] == 3 and torch.isfinite(torch.tensor(loaded.training["final_loss"]))
    masks = random_masks(48, 40, 3, seed=0).masks
    torch.testing.assert_close(render(loaded, masks, seed=2), render(bundle, masks, seed=2).cpu(), atol=5e-3, rtol=0)


def test_synthesis_runs_the_same_code_on_the_gpu_and_keeps_each_region_its_own() -> None:
    """Random streams differ between devices, so the pictures do too; what must hold holds on both."""
    from tests.test_synthesis import disc_doodle, striped_painting

    painting, labels = striped_painting()
    doodle = disc_doodle()
    settings = SynthesisSettings(preset="fast", seed=2)
    first = synthesize(painting.to(GPU), labels.to(GPU), doodle.to(GPU), 2, settings)
    again = synthesize(painting.to(GPU), labels.to(GPU), doodle.to(GPU), 2, settings)
    assert first.device.type == "cuda" and torch.equal(first, again)
    reds = (doodle == 0).to(GPU)
    assert (first[0][reds] > first[2][reds]).all() and (first[2][~reds] > first[0][~reds]).all()


@pytest.mark.skipif(find_network_file("vgg16-hed") is None, reason="the offline network is not on disk")
def test_segmentation_with_network_features_on_the_gpu_finds_the_cpus_regions() -> None:
    painting, truth = texture_painting(384, 512, seed=0)
    settings = SegmentationSettings(regions=3)
    cpu = segment_painting(painting, settings, load_network("vgg16-hed"))
    gpu = segment_painting(painting, settings, load_network("vgg16-hed", GPU))
    assert region_overlaps(cpu, gpu).mean() > 0.97  # TF32 may move a few border cells between regions
    assert region_overlaps(truth, gpu).mean() > 0.8
