"""The one seam between the nodes and ComfyUI: device, progress with previews, Cancel, model folders.

Everything ComfyUI-specific that the nodes need lives here, so the node modules stay thin adapters.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from pathlib import Path

import comfy.model_management
import comfy.utils
import folder_paths
import server
import torch
from aiohttp import web
from comfy.cli_args import args
from comfy_execution.graph_utils import ExecutionBlocker
from PIL import Image

from ..doodle import api

EXAMPLES = Path(__file__).resolve().parent.parent / "samples"
GENERATORS_FOLDER = "doodle_generators"
SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
PREVIEW_SECONDS = 2.0
"""A live preview at most this often, the first this long after the start: a short run (a live stroke's) sends
none, so its time goes to the picture."""
MAX_SHOWN = 2048
"""The longest side of a result sent as a node's last preview (a larger one is shown scaled down)."""
GENERATOR_SOURCE = "generator: "
MAP_SOURCE = "style map: "
EDIT_SOURCE = "edit style map: "
"""A map's colours and spare ones: the palette to edit a style map with (regions can be added)."""
CANVAS_FOLDER = "doodle_canvas"
"""Where the page's canvases save their paintings, inside ``input/`` (``web/js/server.js``'s SUBFOLDER)."""
log = logging.getLogger(__name__)


def register_model_folders() -> None:
    """Register ``models/doodle_generators`` (plus the package's ``weights/``) and ``models/vgg``.

    Paths that ``extra_model_paths.yaml`` (or another pack) already added under these names are kept, and so
    are the file extensions it lists; ours are added to them.
    """
    _register(GENERATORS_FOLDER, [Path(folder_paths.models_dir) / GENERATORS_FOLDER, SHIPPED_WEIGHTS], {".safetensors"})
    _register(api.VGG_FOLDER, [Path(folder_paths.models_dir) / api.VGG_FOLDER], {".safetensors", ".pth"})


def install_example_inputs() -> None:
    """Copy the example maps and paintings into ComfyUI's ``input/`` as ``doodle_<style>_<file>``.

    The example workflows load them by those names; a file already there (perhaps edited) is left alone. A
    copy that fails (a read-only or full folder) is logged, never raised: start-up must not take the pack down.
    """
    input_dir = Path(folder_paths.get_input_directory())
    for source in sorted(EXAMPLES.glob("*/*.png")):
        target = input_dir / f"doodle_{source.parent.name}_{source.name}"
        try:
            if not target.exists():
                input_dir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        except OSError as error:
            log.warning(
                "doodle: could not copy the example %s to %s (%s); workflows that use it need it",
                source.name,
                target,
                error.strerror or error,
            )


def _register(name: str, defaults: list[Path], extensions: set[str]) -> None:
    paths, known = folder_paths.folder_names_and_paths.get(name, ([], set()))
    merged = list(paths) + [str(p) for p in defaults if str(p) not in paths]
    folder_paths.folder_names_and_paths[name] = (merged, set(known) | extensions)


def generator_names() -> list[str]:
    return folder_paths.get_filename_list(GENERATORS_FOLDER)


def generator_path(name: str) -> Path:
    return Path(folder_paths.get_full_path_or_raise(GENERATORS_FOLDER, name))


def generator_save_dir() -> Path:
    """Where trained generators go: the first ``doodle_generators`` folder (``models/doodle_generators``)."""
    return Path(folder_paths.get_folder_paths(GENERATORS_FOLDER)[0])


def palette_sources() -> list[str]:
    """What a canvas can paint with: every generator, then every flat colour map in ``input/`` and among the
    canvases' paintings (paintings and photos are left out: their palette would be arbitrary greys), then the
    maps of ``input/`` again with room for new regions, to edit them."""
    input_dir = Path(folder_paths.get_input_directory())
    images = folder_paths.filter_files_content_types(_input_files() + _input_files(CANVAS_FOLDER), ["image"])
    maps = [name for name in images if api.is_color_map(input_dir / name)]
    top_level = [name for name in maps if "/" not in name]
    return (
        [GENERATOR_SOURCE + name for name in generator_names()]
        + [MAP_SOURCE + name for name in maps]
        + [EDIT_SOURCE + name for name in top_level]
    )


def palette_source_path(source: str) -> Path:
    """The file behind one of :func:`palette_sources` (only those: a name is never joined to a path)."""
    if source not in palette_sources():
        raise api.DoodleError(
            f"{source!r} is not a generator or a colour map in input/ (it may have been removed, or be a painting "
            "or photo, whose colours make no palette)"
        )
    if source.startswith(GENERATOR_SOURCE):
        return generator_path(source.removeprefix(GENERATOR_SOURCE))
    return Path(folder_paths.get_input_directory()) / _map_file(source)


def _map_file(source: str) -> str:
    """The file in ``input/`` a style map source names (``style map: x.png``, ``edit style map: x.png``), or ""."""
    for prefix in (MAP_SOURCE, EDIT_SOURCE):
        if source.startswith(prefix):
            return source.removeprefix(prefix)
    return ""


def awaited_map(source: str) -> str | None:
    """The file of a style map palette that is not in ``input/`` yet, or None: a map StyleMapFromPainting or a
    canvas will write (a plain PNG name, at the top or in the canvases' folder), maybe in this very run."""
    name = _map_file(source)
    folder, _, file = name.rpartition("/")
    if folder not in ("", CANVAS_FOLDER) or not file.lower().endswith(".png"):
        return None
    if plain_name_error("palette", file, ".png") is not None:
        return None
    return None if (Path(folder_paths.get_input_directory()) / name).exists() else name


def waiting(outputs: int) -> tuple[ExecutionBlocker, ...]:
    """Outputs that hold the nodes after this one back without an error (ComfyUI's silent execution block)."""
    return (ExecutionBlocker(None),) * outputs


def palette(source: str) -> api.Palette:
    path = palette_source_path(source)
    if source.startswith(GENERATOR_SOURCE):
        return api.generator_palette(path)
    return api.editing_palette(path) if source.startswith(EDIT_SOURCE) else api.map_palette(path)


def palette_fingerprint(source: str) -> str:
    try:
        return str(palette_source_path(source).stat().st_mtime_ns)
    except (api.DoodleError, OSError):
        return "missing"


def painting_path(painting: str) -> Path | None:
    """The canvas file a ``painting`` value names (``sub/name.png [input]``), if it is a file inside ``input/``."""
    if not painting.strip():
        return None
    input_dir = Path(folder_paths.get_input_directory()).resolve()
    try:
        path = Path(folder_paths.get_annotated_filepath(painting.strip(), str(input_dir))).resolve()
    except ValueError:  # a path that climbs out of its folder
        return None
    return path if path.is_relative_to(input_dir) and path.is_file() else None


def file_fingerprint(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else "blank"


def _input_files(subfolder: str = "") -> list[str]:
    """Files directly in ``input/`` (or its ``subfolder``), named relative to ``input/``."""
    folder = Path(folder_paths.get_input_directory()) / subfolder
    prefix = subfolder + "/" if subfolder else ""
    return sorted(prefix + p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$")
"""A file name a node writes under: no folders, nothing hidden, nothing a file system could misread."""


def plain_name_error(input_name: str, value: str, suffix: str) -> str | None:
    """Why ``value`` (without spaces around it or ``suffix``) is not a plain file name, or None when it is."""
    if PLAIN_NAME.match(value.strip().removesuffix(suffix)):
        return None
    return f"{input_name} {value!r} must be a plain file name (letters, digits, space, _ . -)"


def check_input_name(name: str) -> str:
    """The PNG file name ``save_as`` gives in ``input/`` (empty: none)."""
    name = name.strip()
    if not name:
        return ""
    error = plain_name_error("save_as", name, ".png")
    if error:
        raise api.DoodleError(error)
    return name if name.lower().endswith(".png") else name + ".png"


def save_input_image(image: torch.Tensor, name: str) -> str:
    """Save ``image`` whole (or not at all) as ``input/NAME.png``, where every node's file list finds it."""
    file_name = check_input_name(name)
    api.save_image(image, Path(folder_paths.get_input_directory()) / file_name)
    return file_name


def server_routes() -> web.RouteTableDef:
    """ComfyUI's server's route table: routes added before the server starts are served under its address."""
    return server.PromptServer.instance.routes


def vgg_dirs() -> tuple[str, ...]:
    return tuple(folder_paths.get_folder_paths(api.VGG_FOLDER))


def device() -> torch.device:
    return comfy.model_management.get_torch_device()


def network_choice(name: str) -> api.NetworkChoice:
    """The loss network ``name`` on ComfyUI's device, its weights looked for in ComfyUI's ``models/vgg`` too."""
    return api.NetworkChoice(name, device(), vgg_dirs())


def output_device() -> torch.device:
    return comfy.model_management.intermediate_device()


def free_memory() -> None:
    comfy.model_management.soft_empty_cache()


def to_pil(image: torch.Tensor) -> Image.Image:
    """``[1, 3, H, W]`` or ``[H, W, 3]`` in 0..1 to a PIL image for previews."""
    if image.ndim == 4:
        image = image[0].permute(1, 2, 0)
    return Image.fromarray(api.to_uint8(image))


class ComfyProgress:
    """ComfyUI's progress bar, with a preview at most every ``PREVIEW_SECONDS``; raises on Cancel."""

    def __init__(self, total: int) -> None:
        self.bar = comfy.utils.ProgressBar(total)
        self.last_preview = time.monotonic()
        self.previewed = False

    def __call__(self, done: int, total: int, preview: api.Preview | None = None) -> None:
        comfy.model_management.throw_exception_if_processing_interrupted()
        payload = None
        now = time.monotonic()
        if preview is not None and now - self.last_preview >= PREVIEW_SECONDS:
            image = to_pil(preview())
            payload = ("JPEG", image, min(args.preview_size, max(image.size)))  # ComfyUI's --preview-size
            self.last_preview = now
            self.previewed = True
        self.bar.update_absolute(done, total, payload)

    def show_result(self, image: torch.Tensor) -> None:
        """Make ``image`` (IMAGE) the node's last preview, at its own size: the page shows a node's newest
        preview over its output images, so a run would otherwise end showing its last live preview."""
        if not self.previewed:
            return
        picture = to_pil(image[0])
        self.bar.update_absolute(self.bar.total, self.bar.total, ("PNG", picture, min(max(picture.size), MAX_SHOWN)))
