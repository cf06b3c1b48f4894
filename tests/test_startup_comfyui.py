"""Start-up that cannot take the pack down: a ComfyUI whose input folder refuses the example copies."""

from __future__ import annotations

from tests.comfyui_harness import ComfyUIServer


def test_an_example_that_cannot_be_copied_into_input_is_logged_and_every_node_loads(tmp_path, comfyui_dir) -> None:
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
