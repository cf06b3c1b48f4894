"""Training: resume ends where an uninterrupted run ends; a stop keeps its checkpoint; bad settings refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import doodle.training.loop
import doodle.training.settings
from doodle.errors import DoodleError
from doodle.generator.file import load_generator
from doodle.generator.model import DoodleGenerator, grown
from doodle.maps.regions import RegionMasks
from doodle.neural.objective import DoodleObjective, out_of_range
from doodle.runtime.distributed import SINGLE, World
from doodle.training import TrainSettings, train_generator, validate_training
from doodle.training.loop import drawn_inputs, multiscale_loss, scaled_objectives
from doodle.training.state import start_bundle
from tests.helpers import tiny_network


def style_pair() -> tuple[torch.Tensor, RegionMasks]:
    torch.manual_seed(0)
    image = torch.rand(1, 3, 48, 64)
    labels = torch.zeros(1, 48, 64, dtype=torch.long)
    labels[:, 20:] = 1
    labels[:, :, 40:] = 2
    return image, RegionMasks.from_labels(labels, torch.eye(3))


def run(
    steps: int,
    path: Path | None = None,
    resume=None,
    progress=None,
    weight_average: float = 0.0,
    normalization: str = "none",
):
    image, masks = style_pair()
    settings = TrainSettings(
        steps=steps,
        batch_size=2,
        learning_rate=0.003,
        size=32,
        seed=5,
        checkpoint_every=2,
        weight_average=weight_average,
        normalization=normalization,
    )
    options = {"progress": progress} if progress else {}
    return train_generator(
        tiny_network(), "tiny", image, masks, settings, resume=resume, checkpoint_path=path, **options
    )


@pytest.mark.parametrize("weight_average", [0.0, 0.9])
def test_interrupted_and_resumed_run_ends_like_an_uninterrupted_one(tmp_path: Path, weight_average: float) -> None:
    straight = run(6, weight_average=weight_average)

    def stop_at_four(done: int, total: int, preview=None) -> None:
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(6, tmp_path / "g.safetensors", progress=stop_at_four, weight_average=weight_average)
    checkpoint = load_generator(tmp_path / "g.safetensors")
    assert checkpoint.training["steps_done"] == 4
    resumed = run(6, tmp_path / "g.safetensors", resume=checkpoint, weight_average=weight_average)
    assert resumed.training["steps_done"] == 6
    assert [phase["steps"] for phase in resumed.training["phases"]] == [[0, 4], [4, 6]]
    assert resumed.training["phases"][1]["size"] == 32
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, atol=1e-5, rtol=1e-4)
    assert straight.optimizer_state.keys() == resumed.optimizer_state.keys()
    for key, value in straight.optimizer_state.items():  # Adam moments, and the trained weights if averaging
        torch.testing.assert_close(resumed.optimizer_state[key], value, atol=1e-5, rtol=1e-4)


def test_training_leaves_the_generator_it_resumes_from_as_it_was() -> None:
    """ComfyUI caches a loaded generator: two runs resumed from it must both start from what it holds."""
    start = run(2, weight_average=0.9)
    held = {key: value.clone() for key, value in start.optimizer_state.items()}
    first, second = run(4, resume=start, weight_average=0.9), run(4, resume=start, weight_average=0.9)
    for key, value in held.items():
        assert torch.equal(start.optimizer_state[key], value), key
    for key, value in first.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[key], value), key


def test_weight_average_is_the_moving_average_of_the_trained_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    trained = []  # the optimiser's weights before the first step and after each step
    original_step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        if not trained:
            trained.append([p.detach().clone() for p in self.param_groups[0]["params"]])
        result = original_step(self, *args, **kwargs)
        trained.append([p.detach().clone() for p in self.param_groups[0]["params"]])
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    averaged = run(5, weight_average=0.6)
    assert len(trained) == 6
    expected = trained[0]
    for step, weights in enumerate(trained[1:]):
        decay = min(0.6, (1 + step) / (10 + step))  # warm-up: early weights are not held on to
        expected = [decay * mean + (1 - decay) * now for mean, now in zip(expected, weights, strict=True)]
    for parameter, value in zip(averaged.model.parameters(), expected, strict=True):
        torch.testing.assert_close(parameter.detach(), value)
    # averaging changes what is saved, not how training goes: the trained weights are the plain run's
    monkeypatch.setattr(torch.optim.Adam, "step", original_step)
    plain = run(5)
    for key, value in plain.model.state_dict().items():
        torch.testing.assert_close(averaged.optimizer_state[f"live.{key}"], value)
        assert not torch.allclose(averaged.model.state_dict()[key], value)


def test_training_lowers_the_loss_and_records_how_it_was_trained(tmp_path: Path) -> None:
    losses = []
    image, masks = style_pair()
    network = tiny_network()

    original = DoodleObjective.__call__

    def recording(self, batch):
        value = original(self, batch)
        losses.append(float(value.detach()))
        return value

    DoodleObjective.__call__ = recording
    try:
        bundle = train_generator(
            network,
            "tiny",
            image,
            masks,
            TrainSettings(steps=30, batch_size=2, size=32, learning_rate=0.01, checkpoint_every=100),
        )
    finally:
        DoodleObjective.__call__ = original
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5])
    assert bundle.training["steps_done"] == 30 and bundle.training["size"] == 32
    assert bundle.training["final_loss"] > 0


def test_preview_is_an_image_of_the_style_maps_size() -> None:
    previews = []
    run(1, progress=lambda done, total, preview=None: previews.append(preview()))
    assert previews[0].shape == (1, 3, 48, 64)


@pytest.mark.parametrize("weight_average", [0.0, 0.9])
def test_batch_normalisation_trains_on_batch_statistics_and_saves_their_running_average(weight_average: float) -> None:
    """Previews render with the running statistics and leave training as it was; the saved file (the
    weights' average too) holds the live run's running statistics, which training moved."""
    plain = run(3, weight_average=weight_average, normalization="batch")
    previews = []
    watched = run(
        3,
        progress=lambda done, total, preview=None: previews.append(preview()),
        **{"weight_average": weight_average, "normalization": "batch"},
    )
    assert len(previews) == 3 and not watched.model.training
    for key, value in plain.model.state_dict().items():
        assert torch.equal(watched.model.state_dict()[key], value), key
    means = [layer.running_mean for layer in plain.model.modules() if isinstance(layer, torch.nn.BatchNorm2d)]
    assert means and all(mean.abs().sum() > 0 for mean in means)
    if weight_average:
        for key, value in plain.model.state_dict().items():
            if "running" in key:
                assert torch.equal(plain.optimizer_state[f"live.{key}"], value), key


def test_a_batch_normalised_generator_trains_in_one_process_and_grows_no_levels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image, masks = style_pair()
    normalised = run(2, normalization="batch")
    with pytest.raises(DoodleError, match="batch-normalised and cannot gain levels"):
        train_generator(
            tiny_network(), "tiny", image, masks, TrainSettings(steps=3, size=32, levels=6), resume=normalised
        )
    monkeypatch.setattr(doodle.training.settings, "current_world", lambda: World(rank=0, size=2))
    with pytest.raises(DoodleError, match="trains in one process only"):  # before any network is loaded
        validate_training(masks, "tiny", TrainSettings(steps=3, size=32), normalised)
    with pytest.raises(DoodleError, match="trains in one process only"):
        validate_training(masks, "tiny", TrainSettings(steps=3, size=32, normalization="batch"))


def test_a_new_generator_leaves_the_hosts_random_state_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    start_bundle(None, 2, torch.eye(2, 3), "tiny", TrainSettings(seed=9), torch.device("cpu"))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps", 0, "steps"),
        ("batch_size", -1, "batch_size"),
        ("learning_rate", 0.0, "learning_rate"),
        ("learning_rate", float("nan"), "learning_rate"),
        ("size", 8, "size"),
        ("mask_sampling", "balanced", "mask_sampling"),
        ("loss_scales", 0, "loss_scales"),
        ("loss_scales", 4, "loss_scales"),  # 128 px / 8 leaves 16 px, too small for the deepest layer
        ("weight_average", 1.0, "weight_average"),
        ("weight_average", -0.5, "weight_average"),
        ("normalization", "instance", "normalization"),
        ("levels", 0, "levels"),
        ("levels", 9, "levels"),
        ("seed", -1, "seed"),  # numpy's own error would name no input
        ("seed", 2**64, "seed"),  # would wrap onto seed 0
    ],
)
def test_bad_settings_are_refused_before_any_work(field: str, value, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        TrainSettings(**{field: value})


def test_resume_with_another_region_count_is_refused(tmp_path: Path) -> None:
    bundle = run(1)
    image = torch.rand(1, 3, 32, 32)
    labels = torch.zeros(1, 32, 32, dtype=torch.long)
    labels[:, 16:] = 1
    two = RegionMasks.from_labels(labels, torch.eye(3)[:2])
    with pytest.raises(DoodleError, match=r"the style masks have 2 regions but resume_from \(--resume\) has 3"):
        train_generator(tiny_network(), "tiny", image, two, TrainSettings(steps=2, size=32), resume=bundle)


def test_a_new_run_never_replaces_a_trained_file_and_a_stop_before_any_step_leaves_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "g.safetensors"
    run(2, path)
    saved = path.read_bytes()
    with pytest.raises(DoodleError, match="already exists"):
        run(4, path)
    assert path.read_bytes() == saved

    def stopped(self, image):
        raise KeyboardInterrupt

    monkeypatch.setattr(DoodleObjective, "__call__", stopped)
    with pytest.raises(KeyboardInterrupt):
        run(4, path, resume=load_generator(path))
    assert path.read_bytes() == saved


@pytest.mark.parametrize(
    ("steps", "network", "message"),
    [(2, "tiny", "has done 2 steps .* set steps above 2"), (3, "vgg19", "trained with the loss network tiny")],
)
def test_a_resume_that_cannot_continue_the_run_is_refused(steps: int, network: str, message: str) -> None:
    image, masks = style_pair()
    bundle = run(2)
    with pytest.raises(DoodleError, match=message):
        train_generator(tiny_network(), network, image, masks, TrainSettings(steps=steps, size=32), resume=bundle)


def test_a_style_map_without_one_of_the_regions_is_refused() -> None:
    image, masks = style_pair()
    without_last = RegionMasks(torch.cat([masks.masks[:, :2], torch.zeros_like(masks.masks[:, 2:])], 1), masks.palette)
    without_last.masks[:, 0] += masks.masks[:, 2]
    with pytest.raises(DoodleError, match=r"no pixels of region\(s\) \[2\] \(\(0,0,255\)\)"):
        train_generator(tiny_network(), "tiny", image, without_last, TrainSettings(steps=2, size=32))


def test_levels_make_a_new_generator_and_a_resume_keeps_its_own() -> None:
    image, masks = style_pair()
    six = train_generator(tiny_network(), "tiny", image, masks, TrainSettings(steps=1, size=32, levels=6))
    assert six.model.config.levels == 6 and six.training["levels"] == 6
    resumed = train_generator(tiny_network(), "tiny", image, masks, TrainSettings(steps=2, size=32), resume=six)
    assert resumed.model.config == six.model.config and resumed.training["levels"] == 6
    with pytest.raises(DoodleError, match=r"resume_from \(--resume\) has 6 levels, more than 5"):
        train_generator(tiny_network(), "tiny", image, masks, TrainSettings(steps=3, size=32, levels=5), resume=six)


def test_more_levels_on_resume_grow_the_generator_and_keep_adams_moments() -> None:
    image, masks = style_pair()
    settings = TrainSettings(steps=1, size=32, levels=3, weight_average=0.5)
    three = train_generator(tiny_network(), "tiny", image, masks, settings)
    state = start_bundle(three, 3, masks.palette, "tiny", replace(settings, levels=4), "cpu").optimizer_state
    old_names = [name for name, _ in three.model.named_parameters()]
    new_names = [name for name, _ in grown(three.model, 4, seed=0).named_parameters()]
    for old_index, name in enumerate(old_names):
        for moment in ("exp_avg", "exp_avg_sq", "step"):
            new_key, old_key = f"{new_names.index(name)}.{moment}", f"{old_index}.{moment}"
            torch.testing.assert_close(state[new_key], three.optimizer_state[old_key])
    assert sum(key.endswith(".exp_avg") for key in state) == len(old_names) < len(new_names)
    live = DoodleGenerator(three.model.config)  # the trained weights, kept apart from their average
    live.load_state_dict({key[5:]: value for key, value in three.optimizer_state.items() if key.startswith("live.")})
    for name, value in grown(live, 4, seed=0).state_dict().items():
        torch.testing.assert_close(state[f"live.{name}"], value)

    four = train_generator(tiny_network(), "tiny", image, masks, replace(settings, steps=2, levels=4), resume=three)
    assert four.model.config.levels == 4 and [phase["levels"] for phase in four.training["phases"]] == [3, 4]


@pytest.mark.parametrize(
    ("key", "value"),
    [("999.exp_avg", torch.zeros(1)), ("0", torch.zeros(1)), ("0.exp_avg", torch.zeros(2)), ("live.x", torch.zeros(1))],
)
def test_an_optimizer_state_that_does_not_fit_its_generator_is_refused(key: str, value: torch.Tensor) -> None:
    image, masks = style_pair()
    bundle = train_generator(tiny_network(), "tiny", image, masks, TrainSettings(steps=1, size=32))
    bundle.optimizer_state[key] = value
    with pytest.raises(DoodleError, match="damaged checkpoint"):
        train_generator(tiny_network(), "tiny", image, masks, TrainSettings(steps=2, size=32), resume=bundle)


def test_half_scale_term_scores_the_shrunk_render_against_the_shrunk_style() -> None:
    """A render whose 2x2 means are the style's own 2x2 means scores 0 at half scale: the loss is half the full one."""
    image, masks = style_pair()
    network = tiny_network()
    objectives = scaled_objectives(network, image, masks.masks, TrainSettings(size=64, loss_scales=2))
    blocky_style = F.interpolate(F.avg_pool2d(image, 2), scale_factor=2.0, mode="nearest")
    blocky_masks = F.interpolate(F.avg_pool2d(masks.masks, 2), scale_factor=2.0, mode="nearest")
    with torch.no_grad():
        both = multiscale_loss(objectives, blocky_style, blocky_masks)
        objectives[0].set_target_masks(blocky_masks)
        full = objectives[0](blocky_style)
    assert float(full) > 1e-3
    torch.testing.assert_close(both, full / 2, rtol=1e-4, atol=1e-7)


def test_masks_drawn_ahead_in_a_thread_are_the_masks_drawn_in_turn() -> None:
    settings = TrainSettings(steps=7, batch_size=2, size=32, seed=5)
    in_turn = list(drawn_inputs(3, 3, settings, SINGLE, ahead=False))
    ahead = list(drawn_inputs(3, 3, settings, SINGLE, ahead=True))
    assert len(in_turn) == len(ahead) == 4
    assert len({seed for _, seed in in_turn}) == 4  # every step draws its own noise
    for (masks, seed), (masks_ahead, seed_ahead) in zip(in_turn, ahead, strict=True):
        assert seed == seed_ahead
        assert torch.equal(masks, masks_ahead)
    assert not torch.equal(in_turn[0][0], in_turn[1][0])


def test_a_resume_reads_the_style_map_by_color_not_by_region_order() -> None:
    image, masks = style_pair()
    start = run(1)
    shuffled = RegionMasks(masks.masks[:, [2, 0, 1]], masks.palette[[2, 0, 1]])
    settings = TrainSettings(steps=2, batch_size=2, size=32, seed=5)
    one, two = (train_generator(tiny_network(), "tiny", image, m, settings, resume=start) for m in (masks, shuffled))
    for key, value in one.model.state_dict().items():  # the Grams' sums run in another order: rounding only
        torch.testing.assert_close(two.model.state_dict()[key], value, atol=1e-5, rtol=0)  # a step moves ~1e-3


def test_a_resume_from_moments_that_are_not_finite_is_refused_and_leaves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    bundle = run(2, path)
    key = next(key for key in bundle.optimizer_state if key.endswith(".exp_avg_sq"))
    bundle.optimizer_state[key] = torch.full_like(bundle.optimizer_state[key], float("nan"))
    saved = path.read_bytes()
    with pytest.raises(DoodleError, match="optimiser state holds NaN or infinite values"):
        run(4, path, resume=bundle)
    assert path.read_bytes() == saved


@pytest.mark.parametrize(("blown_call", "kept_step"), [(3, 2), (4, 4), (2, 2)])
def test_a_run_that_blows_up_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blown_call: int, kept_step: int
) -> None:
    """Checkpoints every 2 steps; the resumed run's render explodes at its ``blown_call``-th step. The checkpoint
    due after step 4 is saved only once step 4's loss (call 3) shows the weights of step 4 are sound."""
    path = tmp_path / "g.safetensors"
    run(2, path)
    calls = []

    def exploding(image):  # pixels 1e4 outside 0..1 from the blown-up call on
        calls.append(1)
        return out_of_range(image) + (1e8 if len(calls) >= blown_call else 0)

    monkeypatch.setattr(doodle.training.loop, "out_of_range", exploding)
    kept = f"keeps step {kept_step}" if kept_step > 2 else "is as it was before this run"
    with pytest.raises(DoodleError, match=rf"blew up at step {1 + blown_call} .* \({path} {kept}\)"):
        run(8, path, resume=load_generator(path))
    kept = load_generator(path)
    assert kept.training["steps_done"] == kept_step
    assert all(value.isfinite().all() for value in kept.model.state_dict().values())


def test_a_new_run_that_blows_up_before_a_checkpoint_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    score = DoodleObjective.__call__
    calls = []

    def not_finite(self, image):
        calls.append(1)
        return score(self, image) * (float("nan") if len(calls) == 2 else 1)

    monkeypatch.setattr(DoodleObjective, "__call__", not_finite)
    with pytest.raises(DoodleError, match=r"blew up at step 1 \(loss nan.* \(nothing was saved to "):
        run(4, tmp_path / "g.safetensors")
    assert not (tmp_path / "g.safetensors").exists()


def test_a_checkpoint_path_no_file_can_go_to_is_refused_before_training(tmp_path: Path) -> None:
    image, masks = style_pair()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DoodleError, match="cannot save the generator to .*file is a file, not a folder"):
        train_generator(
            tiny_network(),
            "tiny",
            image,
            masks,
            TrainSettings(steps=1, size=32),
            checkpoint_path=tmp_path / "file" / "g",
        )
