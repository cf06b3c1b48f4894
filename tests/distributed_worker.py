"""A rank of a 2-process gloo training run, started by tests/test_distributed.py (spawned processes import it)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import distributed as dist

from doodle.generator.file import load_generator
from doodle.training import TrainSettings, train_generator
from tests.helpers import tiny_network


def style_pair() -> tuple[torch.Tensor, object]:
    from doodle.maps.regions import RegionMasks

    torch.manual_seed(3)
    image = torch.rand(1, 3, 48, 48)
    labels = torch.zeros(1, 48, 48, dtype=torch.long)
    labels[:, :, 16:32] = 1
    labels[:, :, 32:] = 2
    return image, RegionMasks.from_labels(labels, torch.eye(3))


def settings(steps: int, batch_size: int) -> TrainSettings:
    return TrainSettings(steps=steps, batch_size=batch_size, size=32, seed=5, checkpoint_every=2, weight_average=0.5)


def run_rank(
    rank: int, world_size: int, rendezvous: str, folder: str, disagree: bool = False, resume_to: int = 0
) -> None:
    """Train 3 steps as one rank; with ``disagree`` rank 1 is given another style image; with ``resume_to``
    continue ``rank0.safetensors`` to that many steps instead."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world_size)
    try:
        image, masks = style_pair()
        if disagree and rank == 1:
            image = 1 - image
        path = Path(folder) / f"rank{rank}.safetensors"  # every rank is given a path; only rank 0 may write
        if resume_to:
            resume = load_generator(Path(folder) / "rank0.safetensors")
            train_generator(
                tiny_network(), "tiny", image, masks, settings(resume_to, 1), resume=resume, checkpoint_path=path
            )
        else:
            train_generator(tiny_network(), "tiny", image, masks, settings(3, 1), checkpoint_path=path)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def resume_single(folder: str) -> dict:
    image, masks = style_pair()
    bundle = load_generator(Path(folder) / "rank0.safetensors")
    return train_generator(tiny_network(), "tiny", image, masks, settings(4, 1), resume=bundle).training
