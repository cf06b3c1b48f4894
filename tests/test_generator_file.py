"""Generator files: round trip, every kind of damage gives a DoodleError, saves are atomic, no unpickling."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load, save, save_file

from doodle.errors import DoodleError
from doodle.generator.file import load_generator, parse_generator, read_palette, save_generator
from doodle.generator.render import RenderSettings, render
from doodle.maps.random_masks import random_masks
from tests.helpers import Outcomes
from tests.test_generator import small_bundle


@pytest.mark.parametrize("normalization", ["none", "batch"])
def test_round_trip_keeps_weights_metadata_and_output(tmp_path: Path, normalization: str) -> None:
    """A batch-normalised generator's running statistics travel with it (the render depends on them)."""
    bundle = small_bundle(normalization=normalization)
    bundle.training = {"steps_done": 7, "final_loss": 0.5}
    bundle.optimizer_state = {"0.exp_avg": torch.ones(3)}
    path = save_generator(bundle, tmp_path / "g.safetensors")
    loaded = load_generator(path)
    masks = random_masks(40, 30, 3, seed=0).masks
    assert torch.equal(render(loaded, masks, seed=1), render(bundle, masks, seed=1))
    torch.testing.assert_close(loaded.palette, bundle.palette, atol=1e-6, rtol=0)
    assert loaded.training == bundle.training and loaded.loss_network == "vgg16-hed"
    assert torch.equal(loaded.optimizer_state["0.exp_avg"], torch.ones(3))
    assert loaded.model.config == bundle.model.config


def saved_bytes(tmp_path: Path) -> bytes:
    return save_generator(small_bundle(), tmp_path / "g.safetensors").read_bytes()


def edited_metadata(data: bytes, edit) -> bytes:
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + length])
    edit(header["__metadata__"])
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + data[8 + length :]


def edited_tensors(data: bytes, edit) -> bytes:
    """``data`` saved again with ``edit`` applied to its tensors (a dict), the metadata as it was."""
    length = struct.unpack("<Q", data[:8])[0]
    tensors = load(data)
    edit(tensors)
    return save(tensors, metadata=json.loads(data[8 : 8 + length])["__metadata__"])


def _as_int8(tensors: dict) -> None:
    key = next(key for key in tensors if key.startswith("model.") and tensors[key].is_floating_point())
    tensors[key] = tensors[key].round().to(torch.int8)


def _architecture(data: bytes, **changes) -> str:
    length = struct.unpack("<Q", data[:8])[0]
    return json.dumps(json.loads(json.loads(data[8 : 8 + length])["__metadata__"]["architecture"]) | changes)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[: len(d) // 2], "not a readable safetensors"),
        (lambda d: b"\x00" * 3, "not a readable safetensors"),
        (lambda d: pickle.dumps({"a": 1}), "not a readable safetensors"),
        (lambda d: edited_metadata(d, lambda m: m.update(doodle_format="lora")), "not a doodle generator"),
        (lambda d: edited_metadata(d, lambda m: m.update(format_version="99")), "newer than this doodle reads"),
        (lambda d: edited_metadata(d, lambda m: m.pop("architecture")), "missing or damaged metadata"),
        (lambda d: edited_metadata(d, lambda m: m.update(training="null")), "missing or damaged metadata"),
        (lambda d: edited_metadata(d, lambda m: m.update(palette="[[1, 2, 3]]")), "palette does not match"),
        (
            lambda d: edited_metadata(
                d,
                lambda m: m.update(architecture='{"n_regions": 3, "levels": 2, "widths": [8, 8], "noise_channels": 4}'),
            ),
            "weight",
        ),
        (  # would allocate a first convolution of 10^12 weights
            lambda d: edited_metadata(d, lambda m: m.update(architecture=_architecture(d, noise_channels=10**9))),
            "implausible architecture",
        ),
        (
            lambda d: edited_metadata(d, lambda m: m.update(architecture=_architecture(d, normalization="instance"))),
            "missing or damaged metadata",
        ),
        (lambda d: edited_tensors(d, _as_int8), "holds int8 values where the model has float32"),
        (lambda d: edited_tensors(d, lambda t: t.update(extra=torch.zeros(2))), r"has not \(extra\)"),
        (
            lambda d: edited_tensors(d, lambda t: t.update(calibration=torch.ones(3, 3, 4, dtype=torch.int8))),
            "calibration is not one finite 3x4 map of floats",
        ),
        (
            lambda d: edited_metadata(d, lambda m: m.update(palette="[[1, 0, 0], [0, 0, 1], [1, 0, 0]]")),
            r"regions 0 and 2 have the same palette colour \(255, 0, 0\)",
        ),
        (
            lambda d: edited_metadata(d, lambda m: m.update(palette="[[1, 0, 0], [0, 0, 1], [0, 2, 0]]")),
            "colours outside 0..1",
        ),
        (
            lambda d: edited_metadata(d, lambda m: m.update(n_regions="4")),
            "says it has '4' regions but its architecture has 3",
        ),
    ],
)
def test_damaged_or_foreign_files_give_clear_errors(tmp_path: Path, damage, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        parse_generator(damage(saved_bytes(tmp_path)), "g.safetensors")


def test_a_header_whose_region_count_disagrees_with_its_architecture_gives_no_palette(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    two = {"n_regions": "2", "palette": "[[1, 0, 0], [0, 0, 1]]"}
    path.write_bytes(edited_metadata(saved_bytes(tmp_path), lambda m: m.update(two)))
    with pytest.raises(DoodleError, match="says it has '2' regions but its architecture has 3"):
        read_palette(path)


def test_foreign_safetensors_without_metadata_is_refused(tmp_path: Path) -> None:
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(DoodleError, match="not a doodle generator"):
        load_generator(tmp_path / "other.safetensors")


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/doodle-exploit-ran",))


def test_a_pickle_is_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "evil.safetensors"
    torch.save({"x": Exploit()}, path)
    with pytest.raises(DoodleError):
        load_generator(path)
    assert not Path("/tmp/doodle-exploit-ran").exists()


def test_failed_save_leaves_the_previous_file_intact(tmp_path: Path) -> None:
    path = save_generator(small_bundle(), tmp_path / "g.safetensors")
    before = path.read_bytes()
    os.chmod(tmp_path, 0o500)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("running as a user who can write anywhere; covered by the disk-full test")
        with pytest.raises(DoodleError, match="could not save"):
            save_generator(small_bundle(2), path)
    finally:
        os.chmod(tmp_path, 0o700)
    assert path.read_bytes() == before


def test_disk_full_during_save_leaves_the_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_generator(small_bundle(), tmp_path / "g.safetensors")
    before = path.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(DoodleError, match="No space left"):
        save_generator(small_bundle(2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.safetensors"], "no temporary file is left behind"


def test_mutated_files_never_crash_or_run_code(tmp_path: Path) -> None:
    outcomes, original_bytes = Outcomes(), saved_bytes(tmp_path)

    @settings(max_examples=60, deadline=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        original = bytearray(original_bytes)
        kind = data.draw(st.sampled_from(["truncate", "flip header", "flip weights", "splice"]))
        weights_start = 8 + struct.unpack("<Q", original_bytes[:8])[0]
        if kind == "truncate":
            mutated = bytes(original[: data.draw(st.integers(0, len(original) - 1))])
        elif kind.startswith("flip"):
            start, end = (0, weights_start) if kind == "flip header" else (weights_start, len(original))
            for _ in range(data.draw(st.integers(1, 8))):
                original[data.draw(st.integers(start, end - 1))] ^= 1 << data.draw(st.integers(0, 7))
            mutated = bytes(original)
        else:
            start = data.draw(st.integers(0, 600))
            mutated = bytes(original[:start]) + data.draw(st.binary(max_size=64)) + bytes(original[start + 8 :])
        try:
            bundle = parse_generator(mutated, "fuzzed.safetensors")
            masks = random_masks(24, 24, bundle.n_regions, seed=0).masks
            output = render(bundle, masks, settings=RenderSettings(tile_size=0))
        except DoodleError:
            return outcomes.refuse()
        outcomes.check()
        assert torch.isfinite(output).all()

    check()
    outcomes.require(0.1)  # truncations and header damage are refused; flipped weights load and render or refuse


@pytest.mark.parametrize("part", ["model", "optimizer"])
def test_weights_or_moments_that_are_not_finite_are_never_saved(tmp_path: Path, part: str) -> None:
    path = tmp_path / "g.safetensors"
    saved = save_generator(small_bundle(), path).read_bytes()
    bundle = small_bundle()
    if part == "model":
        next(bundle.model.parameters()).data[0] = float("nan")
    else:
        bundle.optimizer_state = {"0.exp_avg": torch.tensor([1.0, float("inf")])}
    with pytest.raises(DoodleError, match="not saved: .* holds NaN or infinite values; any earlier file .* is intact"):
        save_generator(bundle, path)
    assert path.read_bytes() == saved
