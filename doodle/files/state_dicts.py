"""Weights read from a file, checked against the model they are for before any of them is loaded."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import DoodleError


def fitted_state(
    expected: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], source: str
) -> dict[str, torch.Tensor]:
    """``state``'s tensors for ``expected``'s keys, in the model's dtypes; a DoodleError naming the first one that
    is missing, of the wrong shape, integer where the model has floats (or the reverse) or not finite, instead of
    a raw traceback (or NaN or rounded renders) from a foreign or damaged file."""
    for key, reference in expected.items():
        value = state.get(key)
        if value is None or tuple(value.shape) != tuple(reference.shape):
            found = "missing" if value is None else f"shape {tuple(value.shape)}"
            raise DoodleError(
                f"{source} does not fit: {key} should have shape {tuple(reference.shape)}, {found} "
                "(wrong architecture or a damaged file)"
            )
        if value.is_floating_point() != reference.is_floating_point():
            raise DoodleError(
                f"{source}: {key} holds {str(value.dtype).removeprefix('torch.')} values where the model has "
                f"{str(reference.dtype).removeprefix('torch.')} (a damaged or foreign file)"
            )
        if not torch.isfinite(value).all():
            raise DoodleError(f"{source}: {key} contains NaN or infinite values (damaged file)")
    return {key: state[key].to(reference.dtype) for key in expected}
