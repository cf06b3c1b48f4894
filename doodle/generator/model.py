"""The feed-forward doodle generator g(masks, noise): a multi-scale texture network with reflection padding.

Level k (0 = full resolution) sees the masks averaged down by 2^k and its own noise. The coarsest level's
features are upsampled and joined with the next finer level's, down to full resolution, then mapped to RGB.
In a modulated generator every convolution's output is also scaled and shifted per region (a 1x1 map of the
level's masks, as SPADE does with a normalisation's), so the layout reaches every block, joins included,
instead of washing out after the inputs.
Reflection padding avoids the lines that zero and replicate padding drew; inputs of any size are padded (by
repeating their edge) to a multiple of 2^(levels-1), at least twice that so the coarsest level can reflect,
and cropped back. Noise is a hash of (seed, image, level, channel, y, x) rather than
a random stream, so any tile of a large image gets exactly the noise the whole image would: tiled rendering
reproduces the full render (to float rounding: the same pixels computed in a different order).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

DEFAULT_WIDTHS = (24, 32, 32, 48, 64)
"""Widths of levels 0 (full resolution) to 4: a new generator's five levels (``--levels`` grows more)."""
MAX_LEVELS = 8
BATCH_NORM = "batch"
NORMALIZATIONS = ("none", BATCH_NORM)
"""What follows each convolution (but the one reading the noise) before its modulation: nothing, or batch
normalisation (texture_nets' design, trained at a high learning rate); renders use its running statistics, so
tiles still equal whole renders."""
NORMALIZATION_HELP = (
    "a new generator's normalisation of its convolutions: none, or batch (train it at a higher learning "
    "rate, e.g. 0.01; one process only); a resumed generator keeps its own"
)


def widths_for(widths: tuple[int, ...], levels: int) -> tuple[int, ...]:
    """The first ``levels`` of ``widths``, the last repeated for levels beyond them (coarse levels are cheap)."""
    return widths[:levels] + widths[-1:] * (levels - len(widths))


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that defines the architecture; stored in the weights file."""

    n_regions: int
    levels: int = len(DEFAULT_WIDTHS)
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    noise_channels: int = 8
    modulated: bool = False
    """Region modulation after every convolution (:class:`RegionModulation`); files made before it have none."""
    normalization: str = NORMALIZATIONS[0]
    """One of ``NORMALIZATIONS``; files made before it have none."""

    @classmethod
    def with_levels(
        cls, n_regions: int, levels: int | None = None, normalization: str = NORMALIZATIONS[0]
    ) -> GeneratorConfig:
        """The default architecture with ``levels`` levels (None: five): each level more nearly doubles the
        generator's reach (a mask pixel sways about 140 px across with five, 250 with six); levels beyond the
        fifth are as wide as the fifth, at almost no cost (they run at 1/32 of the resolution and below)."""
        levels = len(DEFAULT_WIDTHS) if levels is None else levels
        return cls(n_regions, levels, widths_for(DEFAULT_WIDTHS, levels), modulated=True, normalization=normalization)

    def __post_init__(self) -> None:
        if len(self.widths) != self.levels:
            raise ValueError(f"widths needs one entry per level ({self.levels}), got {self.widths}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")

    @property
    def multiple(self) -> int:
        """Input sides are padded to a multiple of this."""
        return 2 ** (self.levels - 1)

    def to_dict(self) -> dict:
        return asdict(self) | {"widths": list(self.widths), "name": "multiscale-texture-net"}

    @classmethod
    def from_dict(cls, data: dict) -> GeneratorConfig:
        return cls(
            int(data["n_regions"]),
            int(data["levels"]),
            tuple(int(w) for w in data["widths"]),
            int(data["noise_channels"]),
            bool(data.get("modulated", False)),
            str(data.get("normalization", NORMALIZATIONS[0])),
        )


def conv_block(
    channels_in: int, channels_out: int, normalized: bool = False, reads_noise: bool = False
) -> nn.Sequential:
    """3x3, 3x3, 1x1 convolutions (batch-normalised if ``normalized``) with LeakyReLU; reflection padding (no
    border artefacts). The activations work in place: nothing reads what precedes them but them.

    A block that ``reads_noise`` leaves its first convolution unnormalised: normalised, the noise's share of
    its output is fixed at unit variance whatever the weights learn, and renders came out hatched."""
    convs = (
        nn.Conv2d(channels_in, channels_out, 3, padding=1, padding_mode="reflect"),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, padding_mode="reflect"),
        nn.Conv2d(channels_out, channels_out, 1),
    )
    layers: list[nn.Module] = []
    for index, conv in enumerate(convs):
        layers += [conv, nn.BatchNorm2d(channels_out)] if normalized and (index or not reads_noise) else [conv]
        layers.append(nn.LeakyReLU(0.1, inplace=True))
    return nn.Sequential(*layers)


BLOCK_CONVS = 3


class RegionModulation(nn.Module):
    """Per-region scale and shift of each of a block's convolutions: ``x * (1 + scale) + shift``, both a 1x1
    map of the level's masks. Zero at first, so a generator that gains it renders as before."""

    def __init__(self, n_regions: int, width: int) -> None:
        super().__init__()
        self.map = nn.Conv2d(n_regions, 2 * BLOCK_CONVS * width, 1, bias=False)  # masks sum to 1: no bias needed
        nn.init.zeros_(self.map.weight)
        unit = torch.zeros_like(self.map.weight).unflatten(0, (BLOCK_CONVS, 2, width))
        unit[:, 0] = 1  # the scales' rows
        self.register_buffer("unit_scale", unit.flatten(0, 2), persistent=False)

    def forward(self, masks: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per convolution, ``(1 + scale, shift)``: the 1 is added to the map's weights, which adds it to the
        scale because masks sum to 1, so applying it is one pass over the features (``addcmul``), not two."""
        pieces = F.conv2d(masks, self.map.weight + self.unit_scale).chunk(2 * BLOCK_CONVS, dim=1)
        return [(pieces[2 * index], pieces[2 * index + 1]) for index in range(BLOCK_CONVS)]


def run_block(block: nn.Sequential, x: torch.Tensor, modulation: list[tuple[torch.Tensor, torch.Tensor]] | None):
    """``block`` on ``x``, each convolution's output (normalised, if the block normalises) modulated by
    ``modulation`` (:class:`RegionModulation`) before its activation."""
    convs = 0
    for layer in block:
        if modulation is not None and isinstance(layer, nn.LeakyReLU):
            unit_scale, shift = modulation[convs]
            x = torch.addcmul(shift, x, unit_scale)
            convs += 1
        x = layer(x)
    return x


class DoodleGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        inputs = config.n_regions + config.noise_channels
        normalized = config.normalization == BATCH_NORM
        self.inputs = nn.ModuleList(conv_block(inputs, width, normalized, reads_noise=True) for width in config.widths)
        self.joins = nn.ModuleList(
            conv_block(config.widths[level] + config.widths[level + 1], config.widths[level], normalized)
            for level in range(config.levels - 1)
        )
        self.to_rgb = nn.Conv2d(config.widths[0], 3, 1)
        modulated_widths = config.widths if config.modulated else ()  # empty lists hold no weights
        self.input_modulations = nn.ModuleList(RegionModulation(config.n_regions, w) for w in modulated_widths)
        self.join_modulations = nn.ModuleList(RegionModulation(config.n_regions, w) for w in modulated_widths[:-1])

    @staticmethod
    def _modulation(modulations: nn.ModuleList, level: int, masks: torch.Tensor) -> list | None:
        return modulations[level](masks) if len(modulations) else None

    def forward(
        self, masks: torch.Tensor, seed: int, offset: tuple[int, int] = (0, 0), first_image: int = 0
    ) -> torch.Tensor:
        """RGB ``[B, 3, H, W]`` for one-hot masks ``[B, R, H, W]``, unclamped: callers clamp to 0..1.

        The output is linear (no sigmoid): a saturated sigmoid has no gradient, and training got stuck in
        flat black or white images; training instead penalises values outside 0..1.

        ``offset`` (multiples of ``config.multiple``) places this input inside a larger image, so a tile's
        noise matches the whole image's; ``first_image`` is the batch index of the first mask, likewise.
        """
        height, width = masks.shape[-2:]
        multiple = self.config.multiple
        if offset[0] % multiple or offset[1] % multiple:
            raise ValueError(f"tile offsets must be multiples of {multiple}, got {offset}")
        pad_h, pad_w = (max(2, -(-side // multiple)) * multiple - side for side in (height, width))
        masks = F.pad(masks, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else masks
        features = None
        for level in reversed(range(self.config.levels)):
            factor = 2**level
            level_masks = F.avg_pool2d(masks, factor) if factor > 1 else masks
            noise = hashed_noise(
                seed,
                (masks.shape[0], self.config.noise_channels, *level_masks.shape[-2:]),
                level,
                (offset[0] // factor, offset[1] // factor),
                first_image,
                masks.device,
            ).to(masks.dtype)
            inputs = torch.cat([level_masks, noise], dim=1)
            local = run_block(self.inputs[level], inputs, self._modulation(self.input_modulations, level, level_masks))
            if features is None:
                features = local
            else:
                features = run_block(
                    self.joins[level],
                    torch.cat([local, F.interpolate(features, scale_factor=2.0, mode="nearest")], dim=1),
                    self._modulation(self.join_modulations, level, level_masks),
                )
        rgb = 0.5 + self.to_rgb(features)
        return rgb[..., :height, :width]


PASS_THROUGH_SHIFT = 1.0
"""How far a grown generator's new join lifts the features it passes on, so that its LeakyReLUs see positive
values only and pass them unchanged (the features are LeakyReLU outputs, only a little below zero). Small,
because the next layer's weights then see it as a constant input."""


@torch.no_grad()
def grown(model: DoodleGenerator, levels: int, seed: int, modulated: bool = False) -> DoodleGenerator:
    """``model`` with coarser levels added until it has ``levels`` (and region modulation if ``modulated``),
    rendering the same images at first.

    The new levels start at random (from ``seed``). The join that now meets them starts as a pass-through of
    the old coarsest features, shifted up by ``PASS_THROUGH_SHIFT``, with zero weights on the new levels'
    features; the layer after it takes the shift back. Training then lets the new levels in: each reaches
    twice as far, and what the trained levels learned is kept. Modulation starts at zero (no change).
    """
    config = model.config
    if levels < config.levels:
        raise ValueError(f"a generator cannot shrink from {config.levels} to {levels} levels")
    if levels > config.levels and config.normalization == BATCH_NORM:
        raise ValueError("a normalised generator cannot grow levels (its new join cannot start as a pass-through)")
    widths = widths_for(config.widths, levels)
    modulated = modulated or config.modulated
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's random state
        torch.manual_seed(seed)
        bigger = DoodleGenerator(
            GeneratorConfig(config.n_regions, levels, widths, config.noise_channels, modulated, config.normalization)
        )
    bigger.load_state_dict(model.state_dict(), strict=False)
    if levels > config.levels:
        old_coarsest = config.levels - 1
        _make_pass_through(bigger.joins[old_coarsest], widths[old_coarsest])
        after = bigger.joins[old_coarsest - 1][0] if old_coarsest else bigger.to_rgb
        after.bias -= PASS_THROUGH_SHIFT * after.weight[:, -widths[old_coarsest] :].sum(dim=(1, 2, 3))
    return bigger.to(next(model.parameters()).device)


def _make_pass_through(join: nn.Sequential, width: int) -> None:
    """Set a join block to output its first ``width`` input channels plus ``PASS_THROUGH_SHIFT``."""
    for index, conv in enumerate(module for module in join if isinstance(module, nn.Conv2d)):
        conv.weight.zero_()
        centre = conv.kernel_size[0] // 2
        conv.weight[range(width), range(width), centre, centre] = 1.0
        conv.bias.fill_(PASS_THROUGH_SHIFT if index == 0 else 0.0)


_MASK32 = 0xFFFFFFFF


def _mix(values: torch.Tensor) -> torch.Tensor:
    """murmur3's 32-bit finaliser on int64 tensors holding 32-bit values (products wrap; low bits stay exact)."""
    values = values ^ (values >> 16)
    values = (values * 0x85EBCA6B) & _MASK32
    values = values ^ (values >> 13)
    values = (values * 0xC2B2AE35) & _MASK32
    return values ^ (values >> 16)


def hashed_noise(
    seed: int,
    shape: tuple[int, int, int, int],
    level: int,
    offset: tuple[int, int],
    first_image: int,
    device: torch.device | str,
) -> torch.Tensor:
    """Uniform noise in [-1, 1) that is a pure function of (seed, image, level, channel, y, x)."""
    batch, channels, height, width = shape
    coordinates = (
        torch.arange(batch, device=device).view(-1, 1, 1, 1) + first_image,
        torch.arange(channels, device=device).view(1, -1, 1, 1) + 64 * level,
        torch.arange(height, device=device).view(1, 1, -1, 1) + offset[0],
        torch.arange(width, device=device).view(1, 1, 1, -1) + offset[1],
    )
    state = _mix(
        torch.tensor(seed & _MASK32, device=device) ^ _mix(torch.tensor((seed >> 32) & _MASK32, device=device))
    )
    for coordinate in coordinates:
        state = _mix(state ^ ((coordinate * 0x9E3779B1) & _MASK32))
    return (state >> 8).to(torch.float32) / 2.0**23 - 1.0
