"""Run a real ComfyUI server in a subprocess and drive it over HTTP, for integration tests.

Why a real server: our nodes must load through ComfyUI's own custom-node loader and run through its
validation and executor (inference mode, caching, V3 schema handling); unit tests that call our
functions directly cannot catch breakage there. Only the standard library talks to the server
(urllib + json, polling /history instead of a websocket), so the harness adds no dependency.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR_NAME = "doodle"  # the folder name under custom_nodes (ComfyUI names the module after it)
HELPER_NODES_FILE = Path(__file__).resolve().parent / "comfyui_harness_nodes.py"

ENV_COMFYUI_DIR = "DOODLE_COMFYUI_DIR"
ENV_REQUIRE = "DOODLE_REQUIRE_COMFYUI"
ENV_PYTHON = "DOODLE_COMFYUI_PYTHON"

STARTUP_TIMEOUT_S = 120.0
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

# Lines of ComfyUI's log that tell a custom node failed to load (nodes.py, load_custom_node and
# init_external_custom_nodes).
IMPORT_FAILURE_MARKERS = (
    "IMPORT FAILED",
    "Cannot import",
    "Error while calling comfy_entrypoint",
    "did not return a ComfyExtension",
    "did not return a list of nodes",
    "is not callable, skipping",
    "due to the lack of NODE_CLASS_MAPPINGS",
    "Traceback (most recent call last)",
)


class ComfyUIError(AssertionError):
    """Base of the harness's failures: AssertionError so pytest reports them as test failures."""


class PromptValidationError(ComfyUIError):
    """POST /prompt answered 400: the prompt does not match the node signatures."""

    def __init__(self, error: dict[str, Any], node_errors: dict[str, Any]):
        self.error = error
        self.node_errors = node_errors
        super().__init__(
            "ComfyUI rejected the prompt: "
            f"{error.get('message', error)} {error.get('details', '')}\n"
            f"node_errors: {json.dumps(node_errors, indent=2, default=str)}"
        )


class PromptExecutionError(ComfyUIError):
    """The prompt was accepted but a node raised while it ran (history has an execution_error)."""

    def __init__(self, info: dict[str, Any], log_tail: str = ""):
        self.info = info
        self.node_id: str | None = info.get("node_id")
        self.node_type: str | None = info.get("node_type")
        self.exception_type: str = info.get("exception_type", "")
        # ComfyUI appends a newline to the message.
        self.exception_message: str = (info.get("exception_message") or "").strip()
        trace = "".join(info.get("traceback") or [])
        super().__init__(
            f"node {self.node_id} ({self.node_type}) raised {self.exception_type}: "
            f"{self.exception_message}\n{trace}" + (f"\n--- server log (tail) ---\n{log_tail}" if log_tail else "")
        )


class PromptInterrupted(ComfyUIError):
    """The prompt was interrupted (POST /interrupt or a timeout)."""

    def __init__(self, info: dict[str, Any]):
        self.info = info
        super().__init__(f"prompt interrupted at node {info.get('node_id')} ({info.get('node_type')})")


def find_comfyui_dir() -> Path | None:
    """The ComfyUI checkout to test against: $DOODLE_COMFYUI_DIR, else <repo>/.comfyui if present."""
    env = os.environ.get(ENV_COMFYUI_DIR)
    candidate = Path(env).expanduser() if env else REPO_ROOT / ".comfyui"
    if (candidate / "main.py").is_file():
        return candidate.resolve()
    return None


def comfyui_required() -> bool:
    """CI sets DOODLE_REQUIRE_COMFYUI=1 so a missing ComfyUI fails instead of skipping."""
    return os.environ.get(ENV_REQUIRE, "").strip().lower() in {"1", "true", "yes", "on"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class FileRef:
    """A file a node reported in its ui output (images, audio, ...), as /view addresses it."""

    filename: str
    subfolder: str = ""
    type: str = "output"

    @classmethod
    def from_ui(cls, item: dict[str, Any]) -> FileRef:
        return cls(
            item["filename"],
            item.get("subfolder", "") or "",
            item.get("type", "output") or "output",
        )


class RunResult:
    """One finished prompt: its history entry and access to the nodes' ui outputs."""

    def __init__(self, client: ComfyUIClient, prompt_id: str, history: dict[str, Any]):
        self.client = client
        self.prompt_id = prompt_id
        self.history = history

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """node id -> that node's ui dict (e.g. {"images": [...]}), for output nodes that ran."""
        return self.history.get("outputs", {})

    @property
    def status(self) -> dict[str, Any]:
        return self.history.get("status") or {}

    @property
    def messages(self) -> list[tuple[str, dict[str, Any]]]:
        return [(m[0], m[1]) for m in self.status.get("messages", [])]

    @property
    def cached_nodes(self) -> list[str]:
        """Node ids ComfyUI took from its cache instead of running (execution_cached)."""
        return [n for kind, data in self.messages if kind == "execution_cached" for n in data.get("nodes", [])]

    def ui(self, node_id: str | int) -> dict[str, Any]:
        """The ui dict of one node; fails listing the nodes that have one."""
        key = str(node_id)
        if key not in self.outputs:
            raise ComfyUIError(f"node {key} has no ui output; nodes with outputs: {sorted(self.outputs)}")
        return self.outputs[key]

    def files(self, node_id: str | int, key: str = "images") -> list[FileRef]:
        return [FileRef.from_ui(item) for item in self.ui(node_id).get(key, [])]

    def image_paths(self, node_id: str | int, key: str = "images") -> list[Path]:
        """Where the images lie on disk (the base directory's output/ or temp/ folder)."""
        return [self.client.path_of(ref) for ref in self.files(node_id, key)]

    def images(self, node_id: str | int, key: str = "images") -> list[Any]:
        """The node's images fetched through /view, as numpy arrays (H, W, C) uint8, as saved."""
        return [self.client.load_image(ref) for ref in self.files(node_id, key)]

    def image(self, node_id: str | int, index: int = 0, key: str = "images") -> Any:
        return self.images(node_id, key)[index]


class ComfyUIClient:
    """HTTP client of one running server, plus access to its base directory and log."""

    def __init__(
        self,
        base_url: str,
        base_dir: Path,
        log_path: Path,
        process: subprocess.Popen | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.base_dir = base_dir
        self.log_path = log_path
        self.process = process
        self._object_info: dict[str, Any] | None = None

    # -- folders ----------------------------------------------------------------------------
    @property
    def input_dir(self) -> Path:
        return self.base_dir / "input"

    @property
    def output_dir(self) -> Path:
        return self.base_dir / "output"

    @property
    def temp_dir(self) -> Path:
        return self.base_dir / "temp"

    @property
    def models_dir(self) -> Path:
        return self.base_dir / "models"

    def path_of(self, ref: FileRef) -> Path:
        root = {
            "output": self.output_dir,
            "temp": self.temp_dir,
            "input": self.input_dir,
        }[ref.type]
        return root / ref.subfolder / ref.filename

    def copy_input(self, src: str | os.PathLike[str], name: str | None = None, subfolder: str = "") -> str:
        """Copy a file into the server's input folder; returns the value LoadImage expects."""
        src_path = Path(src)
        dest_dir = self.input_dir / subfolder
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest_name = name or src_path.name
        shutil.copyfile(src_path, dest_dir / dest_name)
        return f"{subfolder}/{dest_name}" if subfolder else dest_name

    def save_input_image(self, array: Any, name: str, subfolder: str = "") -> str:
        """Write a numpy array (H, W[, C]) uint8 as a PNG in the input folder; returns its name."""
        import numpy as np
        from PIL import Image

        dest_dir = self.input_dir / subfolder
        dest_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(array)).save(dest_dir / name)
        return f"{subfolder}/{name}" if subfolder else name

    # -- HTTP -------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path: str, timeout: float = 30.0) -> Any:
        status, body = self._request("GET", path, timeout=timeout)
        if status != 200:
            raise ComfyUIError(f"GET {path}: HTTP {status}: {body[:2000]!r}")
        return json.loads(body)

    def post_json(self, path: str, payload: Any, timeout: float = 30.0) -> tuple[int, Any]:
        status, body = self._request("POST", path, payload, timeout=timeout)
        try:
            return status, json.loads(body) if body else None
        except json.JSONDecodeError:
            return status, body.decode(errors="replace")

    def object_info(self, refresh: bool = False) -> dict[str, Any]:
        """GET /object_info (all node definitions), cached after the first call."""
        if self._object_info is None or refresh:
            self._object_info = self.get_json("/object_info", timeout=60.0)
        return self._object_info

    def require_nodes(self, *node_ids: str) -> None:
        """Fail with the log's import errors if the server lacks any of these node ids.

        Why separate from start-up: the harness must work before (and without) our nodes; tests of
        our nodes call this first, so a package that failed to import shows its traceback instead
        of a bare "node not found".
        """
        info = self.object_info(refresh=True)
        missing = [n for n in node_ids if n not in info]
        if missing:
            raise ComfyUIError(
                f"ComfyUI has no node(s) {missing}; did custom_nodes/{PACKAGE_DIR_NAME} fail to load?\n"
                + (import_failure_excerpt(self.log()) or "(no import failure in the log)\n" + tail(self.log(), 60))
            )

    def submit(self, prompt: dict[str, Any], client_id: str | None = None) -> str:
        """POST /prompt; returns the prompt id. Raises PromptValidationError on HTTP 400."""
        payload: dict[str, Any] = {
            "prompt": prompt,
            "client_id": client_id or f"doodle-tests-{uuid.uuid4().hex[:8]}",
        }
        status, body = self.post_json("/prompt", payload)
        if status == 400 and isinstance(body, dict):
            raise PromptValidationError(body.get("error", {}), body.get("node_errors", {}))
        if status != 200 or not isinstance(body, dict) or "prompt_id" not in body:
            raise ComfyUIError(f"POST /prompt: HTTP {status}: {body!r}\n{tail(self.log(), 40)}")
        return str(body["prompt_id"])

    def queue(self) -> dict[str, Any]:
        """GET /queue: {"queue_running": [...], "queue_pending": [...]} (items: [number, id, ...])."""
        return self.get_json("/queue")

    def is_running(self, prompt_id: str) -> bool:
        return any(item[1] == prompt_id for item in self.queue().get("queue_running", []))

    def wait_until_running(self, prompt_id: str, timeout: float = 30.0) -> None:
        """Block until the prompt is executing (e.g. before interrupting exactly it)."""
        deadline = time.monotonic() + timeout
        while not self.is_running(prompt_id):
            if self.history(prompt_id) is not None:
                raise ComfyUIError(f"prompt {prompt_id} finished before it was seen running")
            self._check_alive()
            if time.monotonic() > deadline:
                raise ComfyUIError(f"prompt {prompt_id} not running after {timeout:.0f} s")
            time.sleep(0.05)

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The history entry of a finished prompt, or None while it is queued or running."""
        data = self.get_json(f"/history/{urllib.parse.quote(prompt_id)}")
        return data.get(prompt_id)

    def wait(self, prompt_id: str, timeout: float = 120.0, check: bool = True) -> RunResult:
        """Poll /history until the prompt is done; with check, raise on an error or interruption."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            entry = self.history(prompt_id)
            if entry is not None and (entry.get("status") or {}).get("status_str") in {
                "success",
                "error",
            }:
                break
            self._check_alive()
            if time.monotonic() > deadline:
                # Free the queue for the next test before failing this one.
                self.interrupt(prompt_id)
                self.post_json("/queue", {"delete": [prompt_id]})
                raise ComfyUIError(f"prompt {prompt_id} not done after {timeout:.0f} s\n{tail(self.log(), 40)}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        result = RunResult(self, prompt_id, entry)
        if check:
            for kind, data in result.messages:
                if kind == "execution_error":
                    raise PromptExecutionError(data, tail(self.log(), 30))
                if kind == "execution_interrupted":
                    raise PromptInterrupted(data)
            if result.status.get("status_str") != "success":
                raise ComfyUIError(f"prompt {prompt_id} ended with status {result.status}")
        return result

    def run(self, prompt: dict[str, Any], timeout: float = 120.0, check: bool = True) -> RunResult:
        """Queue an API-format prompt and wait for it.

        Raises PromptValidationError (with node_errors) when ComfyUI rejects it, and
        PromptExecutionError (with the node's exception) when a node fails while running.
        """
        return self.wait(self.submit(prompt), timeout=timeout, check=check)

    def run_workflow(
        self, workflow: dict[str, Any] | str | os.PathLike[str], timeout: float = 120.0, check: bool = True
    ) -> RunResult:
        """Run a UI-format workflow (a dict or a .json file), converted as the frontend would."""
        from tests.workflow_convert import ui_to_api

        if not isinstance(workflow, dict):
            workflow = json.loads(Path(workflow).read_text(encoding="utf-8"))
        return self.run(ui_to_api(workflow, self.object_info()), timeout=timeout, check=check)

    def interrupt(self, prompt_id: str | None = None) -> None:
        """POST /interrupt: the running prompt (or only prompt_id, if it is the one running) stops."""
        status, body = self.post_json("/interrupt", {"prompt_id": prompt_id} if prompt_id else {})
        if status != 200:
            raise ComfyUIError(f"POST /interrupt: HTTP {status}: {body!r}")

    def cancel(self, prompt_id: str, timeout: float = 30.0) -> RunResult:
        """Interrupt a submitted prompt once it runs, and wait until it has stopped.

        Why repeat the interrupt: the executor clears the interrupt flag when it starts a prompt,
        so a single POST /interrupt that lands between "running" and that reset is lost.
        """
        self.wait_until_running(prompt_id, timeout=timeout)
        deadline = time.monotonic() + timeout
        while self.history(prompt_id) is None:
            self.interrupt(prompt_id)
            if time.monotonic() > deadline:
                raise ComfyUIError(f"prompt {prompt_id} still running {timeout:.0f} s after interrupts")
            time.sleep(0.2)
        return self.wait(prompt_id, timeout=timeout, check=False)

    def view(self, ref: FileRef) -> bytes:
        """The bytes of an output/temp/input file as the frontend gets them (GET /view)."""
        query = urllib.parse.urlencode({"filename": ref.filename, "subfolder": ref.subfolder, "type": ref.type})
        status, body = self._request("GET", f"/view?{query}")
        if status != 200:
            raise ComfyUIError(f"GET /view?{query}: HTTP {status}")
        return body

    def load_image(self, ref: FileRef) -> Any:
        """A /view image as a numpy array (H, W, C) uint8; C is 3 (RGB) or 4 (RGBA) as saved."""
        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(self.view(ref))) as img:
            img.load()
            if img.mode not in ("RGB", "RGBA"):
                img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            return np.array(img)

    # -- process ----------------------------------------------------------------------------
    def log(self) -> str:
        """Everything the server wrote to stdout/stderr so far."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return ANSI_ESCAPE.sub("", text)  # ComfyUI colours its log lines

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ComfyUIError(
                f"ComfyUI exited with code {self.process.returncode}\n--- server log ---\n{tail(self.log(), 80)}"
            )


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def import_failure_excerpt(log: str, context: int = 25) -> str:
    """The parts of a ComfyUI log around custom-node import failures ('' if none).

    Only the start-up part (before "Starting server") is searched: custom nodes load there, and
    later tracebacks belong to prompts that failed.
    """
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if "Starting server" in line:
            lines = lines[:i]
            break
    keep: set[int] = set()
    for i, line in enumerate(lines):
        if any(marker in line for marker in IMPORT_FAILURE_MARKERS):
            keep.update(range(max(0, i - 2), min(len(lines), i + context)))
    if not keep:
        return ""
    out: list[str] = []
    last = -2
    for i in sorted(keep):
        if i != last + 1:
            out.append("...")
        out.append(lines[i])
        last = i
    return "\n".join(out)


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when pytest dies, so no server is orphaned."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


class ComfyUIServer:
    """One `python main.py` subprocess with a throwaway base directory.

    Why a base directory: ComfyUI writes input/output/temp/user/models there, so tests neither
    touch the checkout nor see each other's runs; the in-memory database keeps it from writing a
    sqlite file into the checkout.
    """

    def __init__(
        self,
        comfyui_dir: Path,
        base_dir: Path,
        python: str | None = None,
        package_dir: Path | None = REPO_ROOT,
        helper_nodes: bool = True,
        extra_args: Iterable[str] = (),
        port: int | None = None,
    ):
        self.comfyui_dir = Path(comfyui_dir)
        self.base_dir = Path(base_dir)
        self.python = python or os.environ.get(ENV_PYTHON) or sys.executable
        self.package_dir = package_dir
        self.helper_nodes = helper_nodes
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.log_path = self.base_dir / "comfyui-server.log"
        self.process: subprocess.Popen | None = None
        self._log_file: Any = None
        self.client = ComfyUIClient(f"http://127.0.0.1:{self.port}", self.base_dir, self.log_path)
        self.startup_seconds: float | None = None

    def prepare_base_dir(self) -> None:
        """Lay out the base directory; ComfyUI crashes at start when custom_nodes/ is missing."""
        for sub in ("custom_nodes", "input", "output", "temp", "user", "models"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        custom_nodes = self.base_dir / "custom_nodes"
        if self.package_dir is not None:
            link = custom_nodes / PACKAGE_DIR_NAME
            if not link.exists():
                link.symlink_to(Path(self.package_dir).resolve(), target_is_directory=True)
        if self.helper_nodes:
            shutil.copyfile(HELPER_NODES_FILE, custom_nodes / HELPER_NODES_FILE.name)

    def command(self) -> list[str]:
        return [
            self.python,
            "main.py",
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--base-directory",
            str(self.base_dir),
            "--database-url",
            "sqlite:///:memory:",
            "--disable-api-nodes",
            *self.extra_args,
        ]

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> ComfyUIClient:
        """Start the server and wait until /object_info answers."""
        self.prepare_base_dir()
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # so log() sees lines as they are written
        env.pop("PYTHONPATH", None)  # ComfyUI must not import our repo's modules as top-level ones
        self._log_file = open(self.log_path, "wb")  # closed in stop()
        t0 = time.monotonic()
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.comfyui_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C in pytest doesn't hit the server first
            preexec_fn=_die_with_parent,
        )
        self.client.process = self.process
        deadline = t0 + timeout
        while True:
            if self.process.poll() is not None:
                self.stop()
                raise ComfyUIError(
                    f"ComfyUI exited with code {self.process.returncode} during start-up\n"
                    f"command: {' '.join(self.command())}\n--- server log ---\n{tail(self.client.log(), 80)}"
                )
            try:
                self.client.object_info(refresh=True)
                break
            except (OSError, ValueError, ComfyUIError):  # not listening yet (URLError is an OSError)
                pass
            if time.monotonic() > deadline:
                log = self.client.log()
                self.stop()
                raise ComfyUIError(
                    f"ComfyUI did not answer /object_info within {timeout:.0f} s\n--- server log ---\n{tail(log, 80)}"
                )
            time.sleep(0.25)
        self.startup_seconds = time.monotonic() - t0
        return self.client

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL) and close its log."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> ComfyUIClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
