"""Settings that declare themselves: each field's default, limits and help are written once, in the settings
dataclass, and the checks, the CLI's flags (:func:`doodle.cli_flags.add_declared_arguments`) and the nodes'
inputs (``nodes/declared_inputs.py``) are all built from that one declaration.

Adding a setting is one line in its dataclass plus its use::

    patch_size: int = declared(5, "side of the pieces, in pixels", low=3, high=15)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .errors import DoodleError
from .limits import MAX_SEED

METADATA_KEY = "doodle.declared"


@dataclass(frozen=True)
class Declaration:
    """What hosts need to offer one setting: its help, range or choices, and a widget step."""

    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    step: float | None = None
    """The node widget's step (without one, ints step by 1)."""
    kind: type | None = None
    """The value's type where the default, None (unset, always allowed), does not tell it."""


def declared(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    step: float | None = None,
    kind: type | None = None,
) -> Any:
    """A dataclass field with its default and its :class:`Declaration`."""
    declaration = Declaration(help, low, high, choices, step, kind)
    return dataclasses.field(default=default, metadata={METADATA_KEY: declaration})


@dataclass(frozen=True)
class DeclaredField:
    name: str
    default: Any
    declaration: Declaration

    @property
    def kind(self) -> type:
        """bool, int, float or str: the declared kind, else the default's (annotations are strings under postponed
        evaluation)."""
        return self.declaration.kind or type(self.default)


def declared_fields(settings_type: type) -> list[DeclaredField]:
    """The declared fields of a settings dataclass, in declaration order."""
    return [
        DeclaredField(field.name, field.default, field.metadata[METADATA_KEY])
        for field in dataclasses.fields(settings_type)
        if METADATA_KEY in field.metadata
    ]


def check_declared(settings: object) -> None:
    """Refuse any declared field of ``settings`` outside its range or choices (call from ``__post_init__``)."""
    for field in declared_fields(type(settings)):
        value = getattr(settings, field.name)
        declaration = field.declaration
        if value is None and field.default is None:
            continue
        if declaration.choices:
            if value not in declaration.choices:
                raise DoodleError(f"{field.name} must be one of {', '.join(declaration.choices)}; got {value!r}")
        elif field.kind is bool:
            if not isinstance(value, bool):
                raise DoodleError(f"{field.name} must be True or False, got {value!r}")
        else:
            check_range(field.name, value, declaration.low, declaration.high, whole=field.kind is int)


def check_range(name: str, value: object, low: float | None, high: float | None, *, whole: bool = False) -> None:
    """The one range check: ``value`` is a (whole, if ``whole``) finite number within ``low``..``high``; a refusal
    names both, as in "seed must be a whole number between 0 and 18446744073709551615, got -1"."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if (
        not number
        or (whole and not isinstance(value, int))
        or (isinstance(value, float) and not math.isfinite(value))
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        raise DoodleError(f"{name} must be a {'whole ' if whole else ''}number{_bounds(low, high)}, got {value!r}")


def check_seed(seed: int) -> None:
    """Seeds: one range everywhere, ComfyUI's seed widget's, and never reduced onto another seed."""
    check_range("seed", seed, 0, MAX_SEED, whole=True)


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" between {_number(low)} and {_number(high)}"
    if low is not None:
        return f" of at least {_number(low)}"
    return "" if high is None else f" of at most {_number(high)}"


def _number(bound: float) -> str:
    """A bound as a user writes it: 0, 0.25, 18446744073709551615."""
    return f"{bound:g}" if isinstance(bound, float) else str(bound)
