"""Old public names kept for one release after a rename: each use works and warns with the new name."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

REMOVED_IN = "0.2"
"""The release that drops the names below."""


def warn_renamed(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated (removed in {REMOVED_IN}): use {new}", DeprecationWarning, stacklevel=3)


def renamed_keyword(old: str, new: str) -> Callable:
    """A function decorator that takes keyword ``old`` as ``new``."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{function.__name__}() got both {old}= and {new}=; pass only {new}=")
                warn_renamed(f"{function.__name__}({old}=...)", f"{new}=...")
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return call

    return decorate


class RenamedAttribute:
    """A read-only class attribute under an old name that reads the attribute ``new``."""

    def __init__(self, new: str) -> None:
        self.new = new

    def __set_name__(self, owner: type, name: str) -> None:
        self.old_path, self.new_path = f"{owner.__name__}.{name}", f"{owner.__name__}.{self.new}"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        warn_renamed(self.old_path, self.new_path)
        return getattr(instance, self.new)


def module_aliases(module: str, renamed: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves each old name in ``renamed`` (old -> new) from ``namespace``."""

    def __getattr__(name: str) -> Any:
        if name in renamed:
            warn_renamed(f"{module}.{name}", f"{module}.{renamed[name]}")
            return namespace[renamed[name]]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
