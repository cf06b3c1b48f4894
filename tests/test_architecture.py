"""The house as the README's Architecture section draws it: one door into the core, folders without cycles."""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

from tests.helpers import REPO

DOOR = {"doodle.api", "doodle.limits"}
CLI = sorted((REPO / "doodle").glob("cli*.py"))
"""The command line: ``cli.py`` and its siblings (``cli_flags.py``, ``cli_commands.py``, ...)."""
HOSTS = [*sorted((REPO / "nodes").glob("*.py")), *CLI]
HOST_ROOMS = {*(f"doodle.{path.stem}" for path in CLI), "doodle.train"}
"""The command line and the deprecated alias: not in the table, above it."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """The modules ``path`` imports, absolute (``from . import api`` is ``doodle.api``)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join([*package[: len(package) - node.level + 1], *([node.module] if node.module else [])])
            base = base if node.level else node.module
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def core_modules() -> dict[str, Path]:
    return {module_name(path): path for path in (REPO / "doodle").rglob("*.py")}


def test_nodes_and_the_command_line_reach_the_core_only_through_the_api_and_the_limits() -> None:
    core = core_modules()
    for host in HOSTS:
        reached = (imported(host) & core.keys()) - {"doodle"} - {module_name(other) for other in HOSTS}
        assert reached <= DOOR, (
            f"{host.relative_to(REPO)} imports {sorted(reached - DOOR)}: re-export it from doodle.api"
        )


def room(name: str) -> str:
    """A module's room: its folder of ``doodle/`` (``doodle.maps``), or itself for a file on top."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (REPO / "/".join(parts)).is_dir() else name


def room_arrows() -> dict[str, set[str]]:
    """Which rooms each room of the core imports (a folder counts as one room)."""
    core = core_modules()
    arrows: dict[str, set[str]] = {}
    for name, path in core.items():
        for target in imported(path) & core.keys():
            if room(target) != room(name) and target != "doodle":
                arrows.setdefault(room(name), set()).add(room(target))
    return arrows


def test_the_core_s_folders_import_each_other_without_a_cycle() -> None:
    """Files and folders (a folder of ``doodle/`` counts as one) import one another in one direction only."""
    graphlib.TopologicalSorter(room_arrows()).prepare()  # raises CycleError, naming the rooms of a cycle


def test_each_row_of_the_readme_s_architecture_table_imports_only_rows_below_it() -> None:
    section = (REPO / "README.md").read_text().split("## Architecture", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `doodle/")]
    level = {}
    for index, row in enumerate(rows):
        for path in re.findall(r"`([\w/.]+)`", row):
            level[room("doodle." + path.removeprefix("doodle/").removesuffix("/").removesuffix(".py"))] = index
    assert {room(name) for name in core_modules()} - level.keys() <= {"doodle", "doodle.__main__", *HOST_ROOMS}
    for source, targets in room_arrows().items():
        for target in targets:
            assert source not in level or level[source] <= level[target], f"{source} imports {target}, a row above it"
