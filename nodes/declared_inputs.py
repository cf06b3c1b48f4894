"""Node inputs built from declared settings (:mod:`doodle.declared`): one widget per field, named as the field,
with its default, range or choices, and its help as the tooltip."""

from __future__ import annotations

from typing import Any

from comfy_api.latest import io

from ..doodle import api

SEED_NAMES = frozenset({"seed"})
"""Fields that get ComfyUI's control-after-generate widget (randomize, increment...)."""


def declared_inputs(settings_type: type, *names: str, **options: Any) -> list[io.Input]:
    """The widgets of ``settings_type``'s declared fields ``names``, in that order (without names: all of them,
    in declaration order), each with ``options`` (:func:`declared_input`)."""
    names = names or tuple(field.name for field in api.declared_fields(settings_type))
    return [declared_input(settings_type, name, **options) for name in names]


def declared_input(settings_type: type, name: str, **options: Any) -> io.Input:
    """The widget of ``settings_type``'s declared field ``name``. ``options`` are ComfyUI's, over the
    declaration's: ``optional=True``, or a node's own default or limit where it offers less than the core takes
    (``max=MAX_LOSS_WEIGHT``)."""
    return _input({field.name: field for field in api.declared_fields(settings_type)}[name], options)


def declared_settings(settings_type: type, values: dict[str, Any]) -> Any:
    """``settings_type`` made from a node's inputs: its declared fields, each the page's value or its default
    (an input a saved workflow predates, or one the node does not offer, arrives missing)."""
    return settings_type(
        **{field.name: values.get(field.name, field.default) for field in api.declared_fields(settings_type)}
    )


def _input(field: api.DeclaredField, options: dict[str, Any]) -> io.Input:
    declaration = field.declaration
    shown = {"default": field.default, "tooltip": declaration.help[:1].upper() + declaration.help[1:] + "."}
    if declaration.choices:
        return io.Combo.Input(field.name, options=list(declaration.choices), **(shown | options))
    if field.kind is bool:
        return io.Boolean.Input(field.name, **(shown | options))
    limits = shown | {"min": declaration.low, "max": declaration.high, "step": declaration.step}
    if field.kind is int:
        seed = {"control_after_generate": field.name in SEED_NAMES}
        return io.Int.Input(field.name, **(limits | seed | options))
    return io.Float.Input(field.name, **(limits | options))
