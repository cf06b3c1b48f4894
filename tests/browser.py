"""A real ComfyUI page in headless Chromium (Debian's, driven by playwright; never a downloaded browser).

Why a browser: the canvas widget, the templates' widget values and queueing from the page live in the
frontend, which no HTTP test sees.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.comfyui_harness import ComfyUIClient, comfyui_required

ENV_CHROMIUM = "DOODLE_CHROMIUM"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PAGE_TIMEOUT_MS = 60_000
# The page's own noise, whatever the graph: files a fresh user does not have yet.
FRONTEND_NOISE = ("/api/userdata", "/user.css", "Failed to load resource: the server responded with a status of 404")


def chromium_path() -> str:
    """Debian's Chromium; CI (DOODLE_REQUIRE_COMFYUI=1) fails rather than skips without it."""
    path = os.environ.get(ENV_CHROMIUM) or shutil.which("chromium")
    if path is None:
        message = "no Chromium: apt-get install chromium (scripts/test.sh does), or set DOODLE_CHROMIUM"
        if comfyui_required():
            pytest.fail(message)
        pytest.skip(message)
    return path


class ComfyPage:
    """One browser tab on the server, with the console's errors collected."""

    def __init__(self, page: Any, client: ComfyUIClient) -> None:
        self.page = page
        self.client = client
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("response", lambda r: r.status >= 400 and self.errors.append(f"HTTP {r.status} {r.url}"))

    def open(self) -> None:
        self.page.goto(self.client.base_url)
        self.page.wait_for_function("window.app && window.app.graph && window.LiteGraph", timeout=PAGE_TIMEOUT_MS)
        self.page.wait_for_function("app.extensionManager !== undefined", timeout=PAGE_TIMEOUT_MS)
        # The start page's default graph checks its models online (refused here): let that settle first.
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(1000)
        self.new_errors()

    def new_errors(self) -> list[str]:
        """Errors since the last call, less the page's own noise."""
        errors, self.errors = self.errors, []
        return [e for e in errors if not any(noise in e for noise in FRONTEND_NOISE)]

    def load(self, workflow: dict) -> None:
        self.page.evaluate("async (w) => { await app.loadGraphData(w, true, false); }", workflow)
        self.page.wait_for_timeout(500)

    def run(self, script: str, argument: Any = None) -> Any:
        return self.page.evaluate(script, argument)

    def wait_for(self, script: str, argument: Any = None, timeout_ms: int = PAGE_TIMEOUT_MS) -> Any:
        return self.page.wait_for_function(script, arg=argument, timeout=timeout_ms).json_value()

    def queue_and_wait(self, timeout_s: float = 300) -> dict[str, Any]:
        """Queue the graph as the Run button does; return the finished prompt's history entry."""
        before = set(self.client.get_json("/history"))
        self.run("async () => { await app.queuePrompt(0, 1); }")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            history = self.client.get_json("/history")
            for prompt_id in set(history) - before:
                entry = history[prompt_id]
                if entry.get("status", {}).get("completed") or entry.get("status", {}).get("status_str") == "error":
                    return entry
            time.sleep(0.5)
        raise AssertionError(f"the queued graph did not finish in {timeout_s} s")


@contextmanager
def browser_page(client: ComfyUIClient) -> Iterator[ComfyPage]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    # A first-time user's welcome dialog would cover the graph.
    client.post_json("/settings/Comfy.TutorialCompleted", True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            comfy_page = ComfyPage(page, client)
            comfy_page.open()
            yield comfy_page
        finally:
            browser.close()


def screenshot(page: ComfyPage, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.page.screenshot(path=str(path))
    return path


def workflow_json(path: Path) -> dict:
    return json.loads(path.read_text())
