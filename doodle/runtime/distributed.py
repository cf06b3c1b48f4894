"""Data-parallel training across the processes ``torchrun`` starts: PyTorch's own DistributedDataParallel, over
gloo on the CPU and NCCL on CUDA. Rank 0 writes checkpoints and reports; every rank trains its share.

Without torchrun (or with one process) nothing here changes a run: the world is one rank.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
from torch import distributed as dist

from ..errors import DoodleError

COLLECTIVE_TIMEOUT = timedelta(minutes=10)
"""How long a rank waits for the others at one step before the run fails (a crashed or hung peer)."""


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = World()


def current_world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return SINGLE


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launched_as_main() -> bool:
    """Whether this process is rank 0 of its launch (or alone), known before the process group is joined:
    only rank 0 writes a run's output."""
    return int(os.environ.get("RANK", "0")) == 0


@contextmanager
def torchrun_session(device: torch.device) -> Iterator[tuple[World, torch.device]]:
    """Join torchrun's process group for the body: gloo on the CPU, NCCL with one GPU per local rank.

    Yields the world and the device this rank trains on (``device`` itself without torchrun).
    """
    if not launched_by_torchrun():
        yield SINGLE, device
        return
    use_cuda = device.type == "cuda"
    backend = "nccl" if use_cuda else "gloo"
    if device.type not in ("cpu", "cuda"):
        raise DoodleError(f"torchrun trains on cpu (gloo) or cuda (NCCL), not {device.type}")
    if not dist.is_available() or not dist.is_backend_available(backend):
        raise DoodleError(f"this PyTorch has no {backend} backend for torchrun: use --device cpu (gloo)")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    rank_device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise DoodleError(
                f"local rank {local_rank} has no GPU (this machine has {torch.cuda.device_count()}): "
                "start at most one process per GPU (--nproc_per_node)"
            )
        torch.cuda.set_device(rank_device)
    dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    try:
        yield current_world(), rank_device
    finally:
        dist.destroy_process_group()


def check_same_on_every_rank(world: World, what: str, *parts: bytes | str) -> None:
    """Refuse a run whose ranks were given different ``what`` (a style, settings): they would train apart."""
    if world.size == 1:
        return
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    seen: list[str | None] = [None] * world.size
    dist.all_gather_object(seen, digest.hexdigest())
    if len(set(seen)) > 1:
        differing = [rank for rank, value in enumerate(seen) if value != seen[0]]
        raise DoodleError(f"ranks {differing} were given another {what} than rank 0: give every rank the same")


def mean_loss_and_max_distance(world: World, loss: float, distance: float, device: torch.device) -> tuple[float, float]:
    """The step's loss over the whole world batch (ranks' means averaged) and the worst rank's range distance,
    so every rank reports the same loss and stops together when one blows up."""
    if world.size == 1:
        return loss, distance
    values = torch.tensor([loss, distance], dtype=torch.float64, device=device)  # NCCL reduces on the GPU
    total, worst = values[:1].clone(), values[1:].clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    return float(total) / world.size, float(worst)
