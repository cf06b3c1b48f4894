"""The doodle nodes in a real ComfyUI page: templates load clean, workflow 1 runs from the page, and the
DoodleCanvas paints, queues, survives a reload and undoes, driven by real mouse events."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from doodle.generator_file import read_palette
from tests.browser import ComfyPage, browser_page, screenshot, workflow_json
from tests.comfyui_harness import ComfyUIClient, FileRef
from tests.helpers import REPO, region_colours_differ

WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))
PAINT_TEMPLATE = REPO / "example_workflows" / "0_paint_a_doodle.json"


@pytest.fixture(scope="module")
def browser(comfyui: ComfyUIClient) -> Iterator[ComfyPage]:
    with browser_page(comfyui) as page:
        yield page


@pytest.fixture
def page(browser: ComfyPage, request: pytest.FixtureRequest) -> Iterator[ComfyPage]:
    browser.new_errors()
    yield browser
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"screenshot: {screenshot(browser, request.node.name)}")


GRAPH_STATE = """() => app.graph.serialize().nodes.map((n) => ({
    id: String(n.id), type: n.type, registered: !!LiteGraph.registered_node_types[n.type],
    values: n.widgets_values ?? [],
}))"""
"""The graph as the page would save it again: a widget that lost its value shows here."""


@pytest.mark.parametrize("path", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
def test_every_template_loads_with_its_nodes_and_widget_values_and_no_errors(page: ComfyPage, path) -> None:
    workflow = workflow_json(path)
    page.load(workflow)
    nodes = {node["id"]: node for node in page.run(GRAPH_STATE)}
    assert set(nodes) == {str(node["id"]) for node in workflow["nodes"]}
    for saved in workflow["nodes"]:
        loaded = nodes[str(saved["id"])]
        assert loaded["registered"], f"{saved['type']} is not a known node in the page"
        assert loaded["values"] == saved.get("widgets_values", []), f"{saved['type']} #{saved['id']}"
    assert page.new_errors() == []


def test_workflow_1_queued_from_the_page_shows_its_images(page: ComfyPage) -> None:
    workflow = workflow_json(REPO / "example_workflows" / "1_doodle_to_painting.json")
    page.load(workflow)
    entry = page.queue_and_wait()
    assert entry["status"]["status_str"] == "success", entry["status"]
    saves = [str(n["id"]) for n in workflow["nodes"] if n["type"] == "SaveImage"]
    page.wait_for("(ids) => ids.every((id) => app.nodeOutputs[id]?.images?.length)", saves)
    shown = page.run("(ids) => ids.map((id) => app.graph.getNodeById(id).imgs?.length ?? 0)", saves)
    assert all(count >= 1 for count in shown)
    assert page.new_errors() == []


CANVAS = "app.graph.nodes.find((n) => n.type === 'DoodleCanvas').widgets.find((w) => w.doodle).doodle"
PIXELS = f"""() => {{ const c = {CANVAS}; const d = c.context.getImageData(0, 0, c.canvas.width, c.canvas.height);
    return {{ width: d.width, height: d.height, data: Array.from(d.data) }}; }}"""
TO_PAGE = f"""([x, y]) => {{ const c = {CANVAS}; const box = c.canvas.getBoundingClientRect();
    const scale = Math.min(box.width / c.canvas.width, box.height / c.canvas.height);
    return [box.left + (box.width - c.canvas.width * scale) / 2 + (x + 0.5) * scale,
            box.top + (box.height - c.canvas.height * scale) / 2 + (y + 0.5) * scale]; }}"""
SAVED = f"async () => {{ const c = {CANVAS}; await c.saving; return c.value; }}"


def canvas_pixels(page: ComfyPage) -> np.ndarray:
    found = page.run(PIXELS)
    return np.array(found["data"], dtype=np.uint8).reshape(found["height"], found["width"], 4)[..., :3]


def drag(page: ComfyPage, points: list[tuple[int, int]]) -> None:
    """A stroke with the real mouse: press, move through the points, release."""
    mouse = page.page.mouse
    mouse.move(*page.run(TO_PAGE, points[0]))
    mouse.down()
    for point in points[1:]:
        mouse.move(*page.run(TO_PAGE, point), steps=8)
    mouse.up()


def click(page: ComfyPage, selector: str) -> None:
    page.page.locator(selector).first.click()


def test_canvas_paints_palette_colours_queues_undoes_and_survives_a_reload(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.run(
        """() => { const n = app.graph.nodes.find((n) => n.type === 'LoadDoodleGenerator');
        n.widgets[0].value = 'renoir.safetensors';
        const canvas = app.graph.nodes.find((n) => n.type === 'DoodleCanvas');
        const preview = LiteGraph.createNode('PreviewImage'); preview.pos = [600, 500]; app.graph.add(preview);
        canvas.connect(1, preview, 0);
        const palette = canvas.widgets.find((w) => w.name === 'palette');
        palette.value = 'generator: renoir.safetensors'; palette.callback(palette.value); }"""
    )
    renoir = (read_palette(REPO / "weights" / "renoir.safetensors") * 255).round().int().tolist()
    page.wait_for(f"(want) => JSON.stringify({CANVAS}.palette) === JSON.stringify(want)", renoir)
    swatches = page.run("() => [...document.querySelectorAll('.doodle-canvas-swatch')].map((s) => s.dataset.rgb)")
    assert swatches == [",".join(map(str, c)) for c in renoir]

    click(page, ".doodle-canvas-tools button[title^='Fill with the background']")  # Clear
    click(page, ".doodle-canvas-swatch >> nth=2")
    drag(page, [(100, 190), (400, 190)])
    click(page, ".doodle-canvas-swatch >> nth=3")
    drag(page, [(250, 40), (250, 340)])
    click(page, ".doodle-canvas-tools button[title='Fill']")
    click(page, ".doodle-canvas-swatch >> nth=1")
    page.page.mouse.click(*page.run(TO_PAGE, (20, 20)))
    painted = canvas_pixels(page)
    assert painted.shape == (384, 512, 3)
    assert {tuple(c) for c in painted.reshape(-1, 3)} == {tuple(renoir[k]) for k in (1, 2, 3)}
    assert tuple(painted[190, 120]) == tuple(renoir[2]) and tuple(painted[60, 250]) == tuple(renoir[3])
    assert tuple(painted[20, 20]) == tuple(renoir[1]) and tuple(painted[370, 500]) == tuple(renoir[1])

    click(page, ".doodle-canvas-tools button[title^='Undo']")
    assert tuple(canvas_pixels(page)[20, 20]) == tuple(renoir[0])  # the fill is undone: background again
    click(page, ".doodle-canvas-tools button[title^='Redo']")
    assert (canvas_pixels(page) == painted).all()

    value = page.run(SAVED)
    assert value.startswith("doodle_canvas/canvas-") and value.endswith(".png [input]")
    entry = page.queue_and_wait()
    assert entry["status"]["status_str"] == "success", entry["status"]
    outputs = [o for o in entry["outputs"].values() if o.get("images")]
    files = [page.client.path_of(FileRef.from_ui(o["images"][0])) for o in outputs]
    images = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    shown = next(i for i in images if len(np.unique(i.reshape(-1, 3), axis=0)) <= 4)
    assert (shown == painted).all()  # the node read exactly what was painted
    render = next(i for i in images if len(np.unique(i.reshape(-1, 3), axis=0)) > 4)
    assert render.shape == painted.shape and region_colours_differ(render.astype(float), painted)

    page.page.reload()
    page.open()
    page.wait_for(f"() => {{ try {{ return {CANVAS}.painted; }} catch {{ return false; }} }}")
    assert page.run(f"() => {CANVAS}.value") == value
    assert (canvas_pixels(page) == painted).all()
    assert page.new_errors() == []
