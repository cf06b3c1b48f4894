"""Files are written whole or not at all, whatever stops the writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from doodle.atomic import write_atomically
from doodle.errors import DoodleError


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
