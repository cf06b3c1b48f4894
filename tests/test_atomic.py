"""Files are written whole or not at all, whatever stops the writing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from doodle.atomic import write_atomically
from doodle.errors import DoodleError
from doodle.image_io import save_image


def test_a_write_that_fails_or_is_stopped_leaves_the_earlier_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    write_atomically(path, lambda handle: handle.write(b"trained"), "the generator")

    def stopped(handle) -> None:
        handle.write(b"half")
        raise KeyboardInterrupt

    def disk_full(handle) -> None:
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, stopped, "the generator")
    with pytest.raises(DoodleError, match=r"could not save the generator to .*No space left.* earlier file .* intact"):
        write_atomically(path, disk_full, "the generator")
    assert path.read_bytes() == b"trained"
    assert [item.name for item in tmp_path.iterdir()] == ["g.safetensors"]
    write_atomically(path, lambda handle: handle.write(b"better"), "the generator")
    assert path.read_bytes() == b"better"


def test_a_writer_that_cannot_write_the_format_is_not_reported_as_a_disk_problem(tmp_path: Path) -> None:
    with pytest.raises(DoodleError, match="cannot write mode RGB as XBM") as refused:
        save_image(torch.zeros(8, 8, 3), tmp_path / "render.xbm")
    assert "disk space" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []
