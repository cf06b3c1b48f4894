"""Files are written whole or not at all, whatever stops the writing."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import torch

from doodle.errors import DoodleError
from doodle.files.atomic import check_writable, write_atomically
from doodle.files.image_io import save_image


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


def special_file(kind: str, path: Path) -> Path:
    """A named pipe, or a device node (never opened) made inside the test's own folder."""
    if kind == "fifo":
        os.mkfifo(path)
    else:
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(240, 0))
        except PermissionError:
            pytest.skip("making a device node needs root")
    return path


@pytest.mark.parametrize(("kind", "described"), [("fifo", "a named pipe"), ("device", "a character device")])
def test_a_special_file_is_never_replaced(tmp_path: Path, kind: str, described: str) -> None:
    path = special_file(kind, tmp_path / "out.png")
    mode = path.stat().st_mode
    for attempt in (
        lambda: write_atomically(path, lambda handle: handle.write(b"png"), "the image"),
        lambda: check_writable(path, "the image"),
        lambda: save_image(torch.zeros(8, 8, 3), tmp_path / "link.png"),
    ):
        (tmp_path / "link.png").unlink(missing_ok=True)
        (tmp_path / "link.png").symlink_to(path)  # through a link too
        with pytest.raises(DoodleError, match=f"that is {described}.*, not a file"):
            attempt()
    assert path.stat().st_mode == mode
    assert sorted(item.name for item in tmp_path.iterdir()) == ["link.png", "out.png"]


def test_a_second_writer_of_one_file_is_refused_while_the_first_writes(tmp_path: Path) -> None:
    path = tmp_path / "g.safetensors"
    writing, refused = threading.Event(), threading.Event()

    def slow(handle) -> None:
        handle.write(b"first ")
        writing.set()
        assert refused.wait(10)
        handle.write(b"whole")

    first = threading.Thread(target=write_atomically, args=(path, slow, "the generator"))
    first.start()
    assert writing.wait(10)
    try:
        with pytest.raises(DoodleError, match="another run is writing the generator to .*g.safetensors"):
            write_atomically(path, lambda handle: handle.write(b"second"), "the generator")
    finally:
        refused.set()
        first.join()
    assert path.read_bytes() == b"first whole"
    assert [item.name for item in tmp_path.iterdir()] == ["g.safetensors"]
    write_atomically(path, lambda handle: handle.write(b"second"), "the generator")  # free once the first is done
    assert path.read_bytes() == b"second"


def test_a_write_through_a_link_updates_the_file_it_names_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "g.safetensors"
    target.write_bytes(b"old")
    link = tmp_path / "g.safetensors"
    link.symlink_to(target)
    write_atomically(link, lambda handle: handle.write(b"new"), "the generator")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["g.safetensors", "g.safetensors", "real"]
