"""Generator files: safetensors with metadata, checked on load, written atomically. Never unpickled.

A file holds the generator's weights (``model.*``), optionally its colour calibration (``calibration``,
``[R, 3, 4]``: :mod:`doodle.generator.calibration`), and for a training checkpoint the optimiser's moments
(``optimizer.*``), plus string metadata: ``doodle_format`` = "generator", ``format_version``,
``architecture`` (JSON), ``palette`` (JSON RGB 0..1), ``n_regions``, ``loss_network``, ``training``
(JSON: settings, steps done, seconds, final loss) and optionally ``region_names`` (JSON, one per region).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from ..errors import DoodleError
from ..files.atomic import check_readable, write_atomically
from ..files.state_dicts import fitted_state
from ..maps.palettes import Palette
from ..runtime.devices import checked_device
from .calibration import check_calibration
from .model import MAX_LEVELS, DoodleGenerator, GeneratorConfig

FORMAT = "generator"
CALIBRATION = "calibration"
FORMAT_VERSION = 1
MAX_REGION_NAME = 40
MAX_HEADER_BYTES = 100_000_000
"""safetensors' own limit on a header: a larger length field means a damaged or foreign file."""


@dataclass
class GeneratorBundle:
    """A generator with what it needs to be used and trained further; the DOODLE_GENERATOR value."""

    model: DoodleGenerator
    palette: torch.Tensor
    loss_network: str
    training: dict = field(default_factory=dict)
    optimizer_state: dict[str, torch.Tensor] = field(default_factory=dict)
    name: str = ""
    region_names: tuple[str, ...] = ()
    """What each region depicts ("sky", "rocks"...), shown on a canvas's swatches; empty when unnamed."""
    calibration: torch.Tensor | None = None
    """Each region's affine colour map ``[R, 3, 4]``, applied after the network; None renders as trained."""

    @property
    def n_regions(self) -> int:
        return self.model.config.n_regions

    @property
    def owner(self) -> str:
        """How messages name it: by its file where it has one."""
        return f"generator {self.name}" if self.name else "the generator"


def check_bundle(value: object, name: str) -> None:
    """Refuse what is not a generator where one is needed: a host may pass a file name, or anything, instead."""
    if not isinstance(value, GeneratorBundle):
        raise DoodleError(
            f"{name} must be a loaded generator (LoadDoodleGenerator's output, or load_generator's), got "
            f"{type(value).__name__} {str(value)[:60]!r}"
        )


def save_generator(bundle: GeneratorBundle, path: Path) -> Path:
    """Write ``bundle`` to ``path`` atomically: a crash or a full disk leaves the previous file as it was."""
    tensors = {f"model.{key}": value.detach().cpu().contiguous() for key, value in bundle.model.state_dict().items()}
    tensors |= {f"optimizer.{key}": value.detach().cpu().contiguous() for key, value in bundle.optimizer_state.items()}
    if bundle.calibration is not None:
        tensors[CALIBRATION] = bundle.calibration.detach().cpu().float().contiguous()
    metadata = {
        "doodle_format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(bundle.model.config.to_dict()),
        "palette": json.dumps([[round(float(c), 6) for c in color] for color in bundle.palette]),
        "n_regions": str(bundle.n_regions),
        "loss_network": bundle.loss_network,
        "training": json.dumps(bundle.training),
    } | ({"region_names": json.dumps(list(bundle.region_names))} if bundle.region_names else {})
    damaged = sorted(key for key, value in tensors.items() if value.is_floating_point() and not value.isfinite().all())
    if damaged:
        raise DoodleError(f"not saved: {damaged[0]} holds NaN or infinite values; any earlier file at {path} is intact")
    data = save(tensors, metadata=metadata)
    return write_atomically(path, lambda handle: handle.write(data), "the generator")


def load_generator(path: Path, device: torch.device | str = "cpu") -> GeneratorBundle:
    """Read and check a generator file; every problem becomes a DoodleError that says what is wrong."""
    path = Path(path)
    try:
        check_readable(path, "generator file")
        data = path.read_bytes()
    except OSError as error:
        raise DoodleError(f"could not read generator file {path}: {error.strerror or error}") from error
    return parse_generator(data, path.name, device)


def parse_generator(data: bytes, name: str, device: torch.device | str = "cpu") -> GeneratorBundle:
    try:
        tensors = load(data)
        metadata = _metadata(data)
    except (SafetensorError, ValueError, KeyError, OverflowError, UnicodeDecodeError) as error:
        raise DoodleError(
            f"{name} is not a readable safetensors file (truncated, damaged or another format): {error}"
        ) from error
    if metadata.get("doodle_format") != FORMAT:
        raise DoodleError(
            f"{name} is a safetensors file but not a doodle generator (no doodle_format=generator metadata)"
        )
    try:
        version = int(metadata["format_version"])
        if version > FORMAT_VERSION:
            raise DoodleError(
                f"{name} has format version {version}, newer than this doodle reads ({FORMAT_VERSION}): update doodle"
            )
        config = GeneratorConfig.from_dict(json.loads(metadata["architecture"]))
        _check_region_count(metadata, config.n_regions, name)
        palette = _palette(metadata, config.n_regions, name)
        region_names = _region_names(metadata, config.n_regions, name)
        training = json.loads(metadata.get("training", "{}"))
        loss_network = metadata["loss_network"]
        if not isinstance(training, dict):
            raise TypeError(f"training is {type(training).__name__}, not an object")
    except DoodleError:
        raise
    except (KeyError, ValueError, TypeError) as error:
        raise DoodleError(f"{name} has missing or damaged metadata ({error!r})") from error
    if (
        not 1 <= config.n_regions <= 256
        or not 1 <= config.levels <= MAX_LEVELS
        or not all(1 <= w <= 1024 for w in config.widths)
        or not 1 <= config.noise_channels <= 1024
    ):
        raise DoodleError(f"{name}: implausible architecture {config}")
    foreign = sorted(key for key in tensors if key != CALIBRATION and not key.startswith(("model.", "optimizer.")))
    if foreign:
        raise DoodleError(f"{name} holds a tensor a doodle generator has not ({foreign[0]}): a damaged or foreign file")
    device = checked_device(device)
    with torch.inference_mode(False):
        model = DoodleGenerator(config)
        _load_weights(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, name)
        model = model.to(device).eval()
    optimizer_state = {k[10:]: v for k, v in tensors.items() if k.startswith("optimizer.")}
    calibration = tensors.get(CALIBRATION)
    if calibration is not None:
        check_calibration(calibration, config.n_regions, name)
    return GeneratorBundle(model, palette, loss_network, training, optimizer_state, name, region_names, calibration)


def read_palette(path: Path) -> tuple[torch.Tensor, tuple[str, ...]]:
    """A generator file's palette ``[R, 3]`` and region names from its header alone: listing palettes never
    reads weights."""
    path = Path(path)
    try:
        check_readable(path, "generator file")
        with path.open("rb") as handle:
            prefix = handle.read(8)
            length = int.from_bytes(prefix, "little")
            data = prefix + handle.read(min(length, MAX_HEADER_BYTES))
    except OSError as error:
        raise DoodleError(f"could not read generator file {path.name}: {error.strerror or error}") from error
    try:
        metadata = _metadata(data)
        if metadata.get("doodle_format") != FORMAT:
            raise ValueError("no doodle_format=generator metadata")
        n_regions = int(metadata["n_regions"])
        _check_region_count(metadata, json.loads(metadata["architecture"])["n_regions"], path.name)
        palette = _palette(metadata, n_regions, path.name)
    except DoodleError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise DoodleError(f"{path.name} is not a readable doodle generator ({error})") from error
    return palette, _region_names(metadata, n_regions, path.name)


def generator_palette(path: Path) -> Palette:
    """A generator file's palette to paint with, its regions named as the file names them."""
    colors, names = read_palette(path)
    return Palette(colors, Path(path).name, names)


def checked_region_names(names: Sequence[str], n_regions: int, owner: str) -> tuple[str, ...]:
    """Names for ``n_regions`` regions: one each, short, printable (empty: unnamed)."""
    names = tuple(str(name).strip() for name in names)
    if names and len(names) != n_regions:
        raise DoodleError(f"{owner} has {n_regions} regions but {len(names)} region names were given")
    for name in names:
        if not name or len(name) > MAX_REGION_NAME or not name.isprintable():
            raise DoodleError(f"{owner}: region name {name!r} must be 1-{MAX_REGION_NAME} printable characters")
    return names


def _region_names(metadata: dict[str, str], n_regions: int, owner: str) -> tuple[str, ...]:
    names = json.loads(metadata.get("region_names", "[]"))
    if not isinstance(names, list):
        raise DoodleError(f"{owner}: region_names is not a list")
    return checked_region_names(names, n_regions, owner)


def _check_region_count(metadata: dict[str, str], n_regions: int, owner: str) -> None:
    """Refuse a file whose ``n_regions`` entry disagrees with the architecture it describes: a palette read from
    the header alone (:func:`read_palette`) must be the one the weights were trained for."""
    if metadata["n_regions"] != str(n_regions):
        raise DoodleError(
            f"{owner} says it has {metadata['n_regions']!r} regions but its architecture has {n_regions} "
            "(a damaged file)"
        )


def _palette(metadata: dict[str, str], n_regions: int, owner: str) -> torch.Tensor:
    """The metadata's palette, refused unless it is one RGB colour in 0..1 per region, each its own: a doodle
    tells regions apart by colour alone."""
    palette = torch.tensor(json.loads(metadata["palette"]), dtype=torch.float32)
    if palette.ndim != 2 or palette.shape != (n_regions, 3) or not torch.isfinite(palette).all():
        raise DoodleError(f"{owner}: the palette does not match its {n_regions} regions")
    if not ((palette >= 0) & (palette <= 1)).all():
        raise DoodleError(f"{owner}: the palette has colours outside 0..1 (a damaged file)")
    colors = [tuple(color) for color in (palette * 255).round().int().tolist()]
    twins = [(first, index) for index, color in enumerate(colors) if (first := colors.index(color)) != index]
    if twins:
        first, second = twins[0]
        raise DoodleError(
            f"{owner}: regions {first} and {second} have the same palette colour {colors[first]}, so no doodle "
            "can tell them apart (a damaged file)"
        )
    return palette


def _metadata(data: bytes) -> dict[str, str]:
    header_length = int.from_bytes(data[:8], "little")
    if header_length > len(data) - 8:
        raise ValueError("header longer than the file")
    return json.loads(data[8 : 8 + header_length]).get("__metadata__", {}) or {}


def _load_weights(model: DoodleGenerator, state: dict[str, torch.Tensor], name: str) -> None:
    expected = model.state_dict()
    unexpected = set(state) - set(expected)
    if unexpected:
        raise DoodleError(f"{name}: unexpected weights {sorted(unexpected)[:3]} (a different architecture)")
    model.load_state_dict(fitted_state(expected, state, name))
