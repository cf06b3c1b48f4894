"""Command-line flags built from declared settings (:mod:`doodle.declared`): ``patch_size`` is
``--patch-size``, with the declaration's default, choices and help."""

from __future__ import annotations

import argparse
from typing import Any

from .api import declared_fields


def add_declared_arguments(parser: argparse.ArgumentParser, settings_type: type) -> None:
    """One flag per declared field of ``settings_type`` (a bool's with its ``--no-`` form)."""
    for field in declared_fields(settings_type):
        declaration = field.declaration
        options: dict[str, Any] = {"default": field.default, "help": declaration.help}
        if declaration.choices:
            options["choices"] = declaration.choices
        elif field.kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = field.kind
        action = parser.add_argument("--" + field.name.replace("_", "-"), **options)
        if field.default is not None and "%(default)" not in action.help:  # 3.10's BooleanOptionalAction adds it
            action.help += " (default: %(default)s)"


def declared_values(settings_type: type, args: argparse.Namespace) -> dict[str, Any]:
    """The parsed values of ``settings_type``'s declared fields, to make the settings with."""
    return {field.name: getattr(args, field.name) for field in declared_fields(settings_type)}
