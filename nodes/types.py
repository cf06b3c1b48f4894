"""Socket types shared by the doodle nodes."""

from comfy_api.latest import io

from ..doodle import api
from ..doodle.limits import MAX_SEED

MasksSocket = io.Custom("DOODLE_MASKS")
"""A :class:`doodle.maps.regions.RegionMasks`: one-hot masks [B, R, H, W] and their palette [R, 3]."""

GeneratorSocket = io.Custom("DOODLE_GENERATOR")
"""A :class:`doodle.generator.file.GeneratorBundle`: a trained generator with its palette and history."""

CATEGORY = "doodle"
SEED_MAX = MAX_SEED


def loss_network_input(vgg_dirs: tuple[str, ...]) -> io.Combo.Input:
    """The loss-network choice, its tooltip saying what auto picks on this machine and what a missing network
    means (read afresh each time the page asks for the node definitions)."""
    return io.Combo.Input(
        "loss_network",
        options=api.available_networks(vgg_dirs),
        tooltip="vgg19: torchvision's ImageNet VGG-19; vgg16-hed: offline. " + api.network_status(vgg_dirs),
    )
