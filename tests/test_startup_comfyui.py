"""Start-up that cannot take the pack down: a ComfyUI whose input folder refuses the example copies."""

from __future__ import annotations

import pytest

from tests.comfyui_harness import ComfyUIServer, comfyui_required, find_comfyui_dir


def test_an_example_that_cannot_be_copied_into_input_is_logged_and_every_node_loads(tmp_path) -> None:
    comfyui_dir = find_comfyui_dir()
    if comfyui_dir is None:
        if comfyui_required():
            pytest.fail("no ComfyUI (DOODLE_REQUIRE_COMFYUI is set)")
        pytest.skip("no ComfyUI")
    blocked = tmp_path / "input" / "doodle_monet_style.png"
    blocked.parent.mkdir(parents=True)
    blocked.symlink_to("/proc/no-such-folder/style.png")  # dangling: "absent", yet no copy can land there
    server = ComfyUIServer(comfyui_dir, tmp_path)
    try:
        client = server.start()
        client.require_nodes("RenderDoodle", "DoodleCanvas")
        log = client.log()
        assert "doodle: could not copy the example style.png" in log
        assert (tmp_path / "input" / "doodle_renoir_style.png").is_file()  # the others still arrive
    finally:
        server.stop()
