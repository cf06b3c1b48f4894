"""The pack as the Comfy Registry and ComfyUI-Manager see it: pyproject fields, what ships, help pages."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import setuptools
import tomllib
from PIL import Image

from tests.helpers import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
RAW_PREFIX = "https://raw.githubusercontent.com/doodle-team/doodle/main/"


def load_node_docs():
    spec = importlib.util.spec_from_file_location("node_docs", REPO / "scripts" / "node_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def comfyignored() -> set[str]:
    """The top-level folders `.comfyignore` keeps out of the Registry package."""
    lines = (REPO / ".comfyignore").read_text().splitlines()
    return {line.strip().rstrip("/") for line in lines if line.strip() and not line.strip().startswith("#")}


def test_registry_fields_name_a_specific_pack_and_the_lowest_tested_comfyui() -> None:
    project, comfy = PYPROJECT["project"], PYPROJECT["tool"]["comfy"]
    assert project["name"] not in ("doodle", "") and "comfyui" not in project["name"].lower()
    assert "Operating System :: OS Independent" in project["classifiers"]
    assert project["urls"]["Repository"].startswith("https://github.com/")
    tested = re.search(r"ComfyUI v(\d+\.\d+\.\d+)", (REPO / "scripts" / "get_comfyui.sh").read_text())[1]
    assert comfy["requires-comfyui"] == f">={tested}"
    assert comfy["PublisherId"] and comfy["DisplayName"]
    assert "includes" not in comfy  # only for git-ignored folders, and every shipped folder is tracked


def test_icon_and_banner_ship_in_the_repository_at_the_registrys_sizes() -> None:
    comfy = PYPROJECT["tool"]["comfy"]
    icon, banner = (Image.open(REPO / comfy[key].removeprefix(RAW_PREFIX)) for key in ("Icon", "Banner"))
    assert icon.width == icon.height <= 400
    assert abs(banner.width / banner.height - 21 / 9) < 0.01


def test_development_folders_do_not_ship_and_the_pack_does() -> None:
    ignored = comfyignored()
    assert {"tests", "benchmarks", "scripts", ".ci"} <= ignored
    shipped = {"doodle", "nodes", "web", "weights", "samples", "example_workflows", "__init__.py", "README.md"}
    assert not shipped & ignored


def test_an_installed_build_holds_every_folder_of_the_core() -> None:
    """A wheel (``pip install .``, not editable) ships the packages setuptools finds with the pyproject's
    configuration: every folder of ``doodle/`` with Python code in it, and nothing else."""
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(setuptools.find_packages(str(REPO), include=include))
    folders = {
        path.parent.relative_to(REPO) for path in (REPO / "doodle").rglob("*.py") if "__pycache__" not in str(path)
    }
    assert {".".join(folder.parts) for folder in folders} == found
    assert all((REPO / folder / "__init__.py").is_file() for folder in folders)


def test_help_pages_are_the_readme_node_table_and_cover_every_node() -> None:
    node_docs = load_node_docs()
    expected = node_docs.pages((REPO / "README.md").read_text())
    found = {path.name: path.read_text() for path in (REPO / "web" / "docs").glob("*.md")}
    assert found == expected, "run python scripts/node_docs.py after editing the README's node table"
    registered = set(re.findall(r'node_id="([\w-]+)"', "".join(p.read_text() for p in (REPO / "nodes").glob("*.py"))))
    assert {name.removesuffix(".md") for name in found} == registered


def test_comfyuis_own_parser_reads_the_pack_s_configuration(monkeypatch, comfyui_dir) -> None:
    monkeypatch.syspath_prepend(str(comfyui_dir))
    from comfy_config import config_parser

    config = config_parser.extract_node_configuration(str(REPO))
    assert config.project.name == PYPROJECT["project"]["name"]
    assert config.project.supported_comfyui_version == ">=0.30.0"
    assert config.project.supported_os == ["OS Independent"]
    assert config.tool_comfy.publisher_id == "doodle-team" and config.tool_comfy.icon.endswith("icon.png")


def test_shipped_code_meets_the_registrys_security_standards() -> None:
    """No eval or exec (ruff's S307 and S102, which the Registry's lint runs) and no pip run from the pack, in
    everything `.comfyignore` lets ship."""
    ignored = comfyignored()
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    shipped = [REPO / name for name in tracked.stdout.split() if Path(name).parts[0] not in ignored]
    assert REPO / "nodes" / "host.py" in shipped and not any("tests" in path.parts for path in shipped)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "S102,S307", *map(str, shipped)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for path in shipped:
        assert not re.search(r"pip[\"', ]+install", path.read_text()), f"{path} installs packages at run time"
