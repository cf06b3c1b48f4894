"""Data-parallel training: 2 CPU processes over gloo train what one process trains with their world batch."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from doodle.generator.file import load_generator
from doodle.neural.networks import find_network_file
from doodle.training import train_generator
from tests import distributed_worker as worker
from tests.helpers import REPO, tiny_network

WORLD = 2
TIMEOUT_S = 240


def spawn_ranks(folder, disagree: bool = False, resume_to: int = 0) -> list[int]:
    """Start both ranks and wait, bounded: none is left behind, even if one hangs. Returns their exit codes."""
    context = multiprocessing.get_context("spawn")
    rendezvous = f"file://{folder}/rendezvous"
    ranks = [
        context.Process(target=worker.run_rank, args=(rank, WORLD, rendezvous, str(folder), disagree, resume_to))
        for rank in range(WORLD)
    ]
    for process in ranks:
        process.start()
    try:
        for process in ranks:
            process.join(TIMEOUT_S)
    finally:
        for process in ranks:
            if process.is_alive():
                process.kill()
                process.join()
    return [process.exitcode for process in ranks]


@pytest.fixture(scope="module")
def trained_by_two(tmp_path_factory) -> object:
    folder = tmp_path_factory.mktemp("ddp")
    assert spawn_ranks(folder) == [0] * WORLD
    return folder


def test_two_ranks_train_the_weights_one_process_trains_with_their_doubled_batch(trained_by_two) -> None:
    image, masks = worker.style_pair()
    alone = train_generator(tiny_network(), "tiny", image, masks, worker.settings(3, WORLD))
    together = load_generator(trained_by_two / "rank0.safetensors")
    for name, weight in alone.model.state_dict().items():  # within float rounding: one image or two per
        # convolution round differently (the first step's gradients agree to about 2e-5 relative), and Adam's
        # normalised steps carry that on weights whose gradients are near 0; half the batch moves them 1e-2
        torch.testing.assert_close(together.model.state_dict()[name], weight, rtol=1e-4, atol=1e-4, msg=name)
    assert together.training["final_loss"] == pytest.approx(alone.training["final_loss"], rel=1e-4)


def test_only_rank_0_writes_and_the_record_says_how_the_phase_ran(trained_by_two) -> None:
    assert not (trained_by_two / "rank1.safetensors").exists()
    phase = load_generator(trained_by_two / "rank0.safetensors").training["phases"][-1]
    assert phase["world_size"] == WORLD and phase["batch_size"] == 1 and phase["steps"] == [0, 3]


def test_a_checkpoint_of_two_ranks_resumes_on_one(trained_by_two) -> None:
    training = worker.resume_single(str(trained_by_two))
    assert training["steps_done"] == 4
    assert [(p["steps"], p["world_size"]) for p in training["phases"]] == [([0, 3], WORLD), ([3, 4], 1)]


def test_a_checkpoint_of_two_ranks_resumes_on_two(trained_by_two, tmp_path) -> None:
    (tmp_path / "rank0.safetensors").write_bytes((trained_by_two / "rank0.safetensors").read_bytes())
    assert spawn_ranks(tmp_path, resume_to=5) == [0] * WORLD
    training = load_generator(tmp_path / "rank0.safetensors").training
    assert training["steps_done"] == 5
    assert [(p["steps"], p["world_size"]) for p in training["phases"]] == [([0, 3], WORLD), ([3, 5], WORLD)]


def test_ranks_given_different_styles_all_stop_with_a_message_and_nothing_is_written(tmp_path, capfd) -> None:
    assert spawn_ranks(tmp_path, disagree=True) == [1] * WORLD  # both stop, neither hangs
    assert "ranks [1] were given another style" in capfd.readouterr().err
    assert not list(tmp_path.glob("*.safetensors"))


def test_torchrun_trains_from_the_command_line_on_two_cpu_processes(tmp_path) -> None:
    if find_network_file("vgg16-hed") is None:
        pytest.skip("no vgg16-hed (scripts/get_offline_network.sh)")
    output = tmp_path / "two.safetensors"
    command = [
        str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node=2", "-m", "doodle",
        "--device", "cpu", "train", "--style", "samples/renoir/style.png", "--style-map",
        "samples/renoir/style_mask.png", "--network", "vgg16-hed", "--steps", "2", "--batch-size", "1",
        "--size", "32", "-o", str(output),
    ]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    phase = load_generator(output).training["phases"][-1]
    assert phase["world_size"] == 2 and phase["steps"] == [0, 2]
