"""Node inputs built from declared settings (:mod:`doodle.declared`): one widget per field, named as the field,
with its default, range or choices, and its help as the tooltip."""

from __future__ import annotations

from typing import Any

from comfy_api.latest import io

from ..doodle.declared import DeclaredField, declared_fields

SEED_NAMES = frozenset({"seed"})
"""Fields that get ComfyUI's control-after-generate widget (randomize, increment...)."""


def declared_inputs(settings_type: type) -> list[io.Input]:
    return [_input(field) for field in declared_fields(settings_type)]


def declared_settings(settings_type: type, values: dict[str, Any]) -> Any:
    """``settings_type`` made from a node's inputs: its declared fields, each the page's value or its default
    (an input a saved workflow predates arrives missing)."""
    return settings_type(
        **{field.name: values.get(field.name, field.default) for field in declared_fields(settings_type)}
    )


def _input(field: DeclaredField) -> io.Input:
    declaration = field.declaration
    tooltip = declaration.help[:1].upper() + declaration.help[1:] + "."
    if declaration.choices:
        return io.Combo.Input(field.name, options=list(declaration.choices), default=field.default, tooltip=tooltip)
    if field.kind is bool:
        return io.Boolean.Input(field.name, default=field.default, tooltip=tooltip)
    if field.kind is int:
        return io.Int.Input(
            field.name,
            default=field.default,
            min=declaration.low,
            max=declaration.high,
            tooltip=tooltip,
            control_after_generate=field.name in SEED_NAMES,
        )
    return io.Float.Input(
        field.name,
        default=field.default,
        min=declaration.low,
        max=declaration.high,
        step=declaration.step,
        tooltip=tooltip,
    )
