"""Weights from a file are checked against their model: missing, misshapen and non-finite ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from doodle.errors import DoodleError
from doodle.files.state_dicts import fitted_state
from doodle.generator.file import load_generator, save_generator
from tests.test_generator import small_bundle

EXPECTED = {"a.weight": torch.zeros(2, 3), "a.bias": torch.zeros(2)}


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"a.weight": torch.ones(2, 3)}, r"a\.bias should have shape \(2,\), missing"),
        (
            {"a.weight": torch.ones(3, 2), "a.bias": torch.ones(2)},
            r"a\.weight should have shape \(2, 3\), shape \(3, 2\)",
        ),
        ({"a.weight": torch.ones(2, 3), "a.bias": torch.tensor([1.0, float("nan")])}, "a.bias contains NaN"),
    ],
)
def test_a_state_that_does_not_fit_is_named(state: dict, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        fitted_state(EXPECTED, state, "the file")


def test_a_fitting_state_comes_back_as_float32_without_extra_keys() -> None:
    state = {"a.weight": torch.ones(2, 3, dtype=torch.float16), "a.bias": torch.ones(2), "head.weight": torch.ones(1)}
    fitted = fitted_state(EXPECTED, state, "the file")
    assert set(fitted) == set(EXPECTED) and all(value.dtype == torch.float32 for value in fitted.values())


def test_a_generator_file_with_a_nan_weight_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = small_bundle()
    with torch.no_grad():
        next(bundle.model.parameters()).view(-1)[0] = float("nan")
    monkeypatch.setattr(torch.Tensor, "isfinite", lambda self: torch.ones_like(self, dtype=torch.bool))
    path = save_generator(bundle, tmp_path / "g.safetensors")  # as a version of doodle that saved anything did
    monkeypatch.undo()
    with pytest.raises(DoodleError, match="contains NaN or infinite values"):
        load_generator(path)
