"""Shared pytest fixtures. The ComfyUI server fixture starts one real server for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.comfyui_harness import (
    ComfyUIClient,
    ComfyUIServer,
    comfyui_required,
    find_comfyui_dir,
)


@pytest.fixture(scope="session")
def comfyui_dir() -> Path:
    """The ComfyUI checkout the tests run ($DOODLE_COMFYUI_DIR or <repo>/.comfyui; get one with
    scripts/get_comfyui.sh). Skips without one, unless DOODLE_REQUIRE_COMFYUI=1, as in CI, where that fails."""
    found = find_comfyui_dir()
    if found is None:
        msg = "no ComfyUI: set DOODLE_COMFYUI_DIR or run scripts/get_comfyui.sh .venv/bin/python .comfyui"
        if comfyui_required():
            pytest.fail(msg + " (DOODLE_REQUIRE_COMFYUI is set)")
        pytest.skip(msg)
    return found


@pytest.fixture(scope="session")
def comfyui(comfyui_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComfyUIClient]:
    """A client of one real ComfyUI server (started once per session) with doodle installed."""
    server = ComfyUIServer(comfyui_dir, tmp_path_factory.mktemp("comfyui-base"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Keep each phase's report on the test item, so fixtures can act on failure (browser screenshots)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
