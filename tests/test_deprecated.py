"""Old public names, renamed to one spelling and one meaning per word, still work for a release, with a warning."""

import pytest
import torch

from doodle import api
from doodle.generator.render import RenderSettings


def test_old_api_names_are_the_new_objects_and_warn_with_the_new_name() -> None:
    with pytest.warns(DeprecationWarning, match="use doodle.api.NetworkChoice"):
        assert api.LossNetwork is api.NetworkChoice
    with pytest.warns(DeprecationWarning, match="use doodle.api.is_color_map"):
        assert api.is_colour_map is api.is_color_map
    with pytest.raises(AttributeError, match="no attribute 'is_colour_mapp'"):
        api.is_colour_mapp  # noqa: B018 (an unknown name still fails)


def test_old_keyword_and_attribute_names_reach_the_new_ones() -> None:
    with pytest.warns(DeprecationWarning, match="use color_calibration"):
        settings = RenderSettings(colour_calibration=False)
    assert settings.color_calibration is False and RenderSettings().color_calibration is True
    palette = api.Palette(torch.tensor([[1.0, 0.0, 0.0]]), "red")
    with pytest.warns(DeprecationWarning, match="use Palette.colors"):
        assert palette.colours is palette.colors


def test_the_old_network_keyword_is_taken_as_network_choice_and_both_at_once_are_refused() -> None:
    painting = torch.rand(1, 64, 64, 3)
    choice = api.NetworkChoice(extra_dirs=("/nonexistent",))
    settings = api.SegmentationSettings(regions=2, network_features=False)
    with pytest.warns(DeprecationWarning, match=r"style_map_from_painting\(network=...\)"):
        old = api.style_map_from_painting(painting, settings, network=choice)
    new = api.style_map_from_painting(painting, settings, network_choice=choice)
    assert torch.equal(old.masks, new.masks)
    with pytest.raises(TypeError, match="both network= and network_choice="):
        api.style_map_from_painting(painting, settings, network=choice, network_choice=choice)
