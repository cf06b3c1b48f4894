"""The doodle nodes in a real ComfyUI page: templates load clean, workflow 1 runs from the page, and the
DoodleCanvas paints, queues, survives a reload and undoes, driven by real mouse events."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from doodle.generator.file import read_palette
from doodle.maps.palettes import map_palette
from tests.browser import ARTIFACTS, ComfyPage, browser_page, screenshot, workflow_json
from tests.comfyui_harness import ComfyUIClient, FileRef
from tests.helpers import EXAMPLES, REPO, region_colors_differ

WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))
SAVED_BEFORE = sorted((REPO / "tests" / "data" / "saved_before_declarations").glob("*.json"))
"""Templates as saved before the settings declared their own widgets (commit 30d40c3^): they must load the same."""
PAINT_TEMPLATE = REPO / "example_workflows" / "0_paint_a_doodle.json"
INSTANT_TEMPLATE = REPO / "example_workflows" / "7_instant_painting.json"
NEW_STYLE_TEMPLATE = REPO / "example_workflows" / "9_new_style_from_any_painting.json"


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


@pytest.mark.parametrize(
    "path", WORKFLOWS + SAVED_BEFORE, ids=[w.stem for w in WORKFLOWS] + [f"old {w.stem}" for w in SAVED_BEFORE]
)
def test_every_template_and_an_old_saved_workflow_load_with_their_nodes_and_widget_values_and_no_errors(
    page: ComfyPage, path
) -> None:
    workflow = workflow_json(path)
    page.load(workflow)
    nodes = {node["id"]: node for node in page.run(GRAPH_STATE)}
    assert set(nodes) == {str(node["id"]) for node in workflow["nodes"]}
    for saved in workflow["nodes"]:
        loaded = nodes[str(saved["id"])]
        assert loaded["registered"], f"{saved['type']} is not a known node in the page"
        assert loaded["values"] == saved.get("widgets_values", []), f"{saved['type']} #{saved['id']}"
    assert page.new_errors() == []


PREVIEWING = (
    "TrainDoodleStyle",
    "RenderDoodle",
    "OptimizeDoodle-LBFGS",
    "SynthesizeDoodle",
    "StyleMapFromPainting",
    "RandomDoodleMask",
    "MaskFromColors",
    "SaveImage",
    "PreviewImage",
)
GROWN_BOXES = """async ([types, width, height]) => {
    const paper = document.createElement('canvas'); paper.width = width; paper.height = height;
    const picture = new Image(); picture.src = paper.toDataURL(); await picture.decode();
    for (const node of app.graph.nodes) if (types.includes(node.type)) node.imgs = [picture];
    for (let frame = 0; frame < 3; frame++) {
        app.canvas.draw(true, true);
        await new Promise((r) => setTimeout(r, 100));
    }
    const top = (n) => LiteGraph.NODE_TITLE_HEIGHT + (n.constructor.nodeData?.category === 'doodle' ? 24 : 0);
    return app.graph.nodes.map((n) => ({ id: `${n.type} #${n.id}`,
        box: [n.pos[0], n.pos[1] - top(n), n.size[0], n.size[1] + top(n)] }));
}"""
"""Every node's rectangle, title bar included, once the page has grown each previewing node for its picture; the
pack's nodes also with the source badge ("doodle") the page draws above their title bar."""


def overlapping(boxes: list[dict]) -> list[tuple[str, str]]:
    def meet(a: list[float], b: list[float]) -> bool:
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    return [(a["id"], b["id"]) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if meet(a["box"], b["box"])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
def test_no_node_covers_another_once_a_run_has_grown_the_previews(page: ComfyPage, path) -> None:
    workflow = workflow_json(path)
    page.load(workflow)
    if any(node["type"] == "LoadDoodleGenerator" for node in workflow["nodes"]):  # it grows for its palette's rows
        page.wait_for("() => document.querySelectorAll('.doodle-palette .doodle-palette-swatch').length > 0")
    assert overlapping(page.run(GROWN_BOXES, [list(PREVIEWING), 512, 384])) == []


def test_workflow_1_queued_from_the_page_shows_its_images(page: ComfyPage) -> None:
    workflow = workflow_json(REPO / "example_workflows" / "1_doodle_to_painting.json")
    page.load(workflow)
    entry = page.queue_and_wait()
    assert entry["status"]["status_str"] == "success", entry["status"]
    saves = [str(n["id"]) for n in workflow["nodes"] if n["type"] == "SaveImage"]
    page.wait_for("(ids) => ids.every((id) => app.nodeOutputs[id]?.images?.length)", saves)
    # The page loads each image after the output arrives: shown means the node holds a loaded picture.
    page.wait_for("(ids) => ids.every((id) => app.graph.getNodeById(id).imgs?.[0]?.naturalWidth > 0)", saves)
    assert page.new_errors() == []


SET_WIDGETS = """([type, values]) => { const node = app.graph.nodes.find((n) => n.type === type);
    for (const [name, value] of Object.entries(values)) node.widgets.find((w) => w.name === name).value = value;
    return String(node.id); }"""
SHOWN_SIZE = """(id) => { const shown = app.graph.getNodeById(id).imgs?.[0];
    return shown?.naturalWidth ? [shown.naturalWidth, shown.naturalHeight] : null; }"""

SHOWN_PIXELS = """(id) => { const shown = app.graph.getNodeById(id).imgs[0], paper = document.createElement('canvas');
    paper.width = shown.naturalWidth; paper.height = shown.naturalHeight;
    const context = paper.getContext('2d'); context.drawImage(shown, 0, 0);
    return Array.from(context.getImageData(0, 0, paper.width, paper.height).data); }"""


def test_an_optimisation_ends_showing_its_result_at_its_own_size(page: ComfyPage) -> None:
    """The page shows a node's newest live preview over its output: the last one sent must be the result."""
    page.load(workflow_json(REPO / "example_workflows" / "3_optimize_doodle.json"))
    node = page.run(SET_WIDGETS, ["OptimizeDoodle-LBFGS", {"iterations": 4, "size": 64, "scales": 1}])
    entry = page.queue_and_wait()
    assert entry["status"]["status_str"] == "success", entry["status"]
    page.wait_for(f"(id) => ({SHOWN_SIZE})(id) !== null", node)
    page.page.wait_for_timeout(500)  # any later preview would have replaced it by now
    assert page.run(SHOWN_SIZE, node) == [64, 48]  # the 512x384 doodle at long side 64, not enlarged
    shown = np.array(page.run(SHOWN_PIXELS, node), dtype=np.uint8).reshape(48, 64, 4)[..., :3]
    save = next(n["id"] for n in page.run(GRAPH_STATE) if n["type"] == "SaveImage")
    saved = np.asarray(Image.open(page.client.path_of(FileRef.from_ui(entry["outputs"][save]["images"][0]))))
    # The result itself (SaveImage truncates where the preview rounds), not the last step's live preview.
    assert np.abs(shown.astype(int) - saved[..., :3]).max() <= 1
    assert page.new_errors() == []


CANVAS = "app.graph.nodes.find((n) => n.type === 'DoodleCanvas').widgets.find((w) => w.doodle).doodle"
PIXELS = f"""() => {{ const c = {CANVAS}; const d = c.context.getImageData(0, 0, c.canvas.width, c.canvas.height);
    return {{ width: d.width, height: d.height, data: Array.from(d.data) }}; }}"""
TO_PAGE = f"""([x, y]) => {{ const c = {CANVAS}; const box = c.canvas.getBoundingClientRect();
    const scale = Math.min(box.width / c.canvas.width, box.height / c.canvas.height);
    return [box.left + (box.width - c.canvas.width * scale) / 2 + (x + 0.5) * scale,
            box.top + (box.height - c.canvas.height * scale) / 2 + (y + 0.5) * scale]; }}"""
SAVED = f"async () => {{ const c = {CANVAS}; await c.saving; return c.value; }}"


def canvas_pixels(page: ComfyPage, canvas: str = CANVAS) -> np.ndarray:
    """The pixels of the page's first canvas, or of the one the JavaScript expression ``canvas`` names."""
    found = page.run(PIXELS.replace(CANVAS, canvas))
    return np.array(found["data"], dtype=np.uint8).reshape(found["height"], found["width"], 4)[..., :3]


def drag(page: ComfyPage, points: list[tuple[int, int]], canvas: str = CANVAS) -> None:
    """A stroke with the real mouse on the page's first canvas (or ``canvas``): press, move through the
    canvas pixels ``points`` (x, y), release."""
    to_page = TO_PAGE.replace(CANVAS, canvas)
    mouse = page.page.mouse
    mouse.move(*page.run(to_page, points[0]))
    mouse.down()
    for point in points[1:]:
        mouse.move(*page.run(to_page, point), steps=8)
    mouse.up()


def click(page: ComfyPage, selector: str) -> None:
    page.page.locator(selector).first.click()


def test_canvas_paints_palette_colors_queues_undoes_and_survives_a_reload_undo_history_too(page: ComfyPage) -> None:
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
    renoir = palette_of("renoir")
    page.wait_for(f"(want) => JSON.stringify({CANVAS}.palette) === JSON.stringify(want)", renoir)
    swatches = page.run("() => [...document.querySelectorAll('.doodle-canvas-swatch')].map((s) => s.dataset.rgb)")
    assert swatches == [",".join(map(str, c)) for c in renoir]
    titles = page.run("() => [...document.querySelectorAll('.doodle-canvas-swatch')].map((s) => s.title)")
    assert titles[2].startswith("region 2 river:")  # named where the file says so

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
    assert render.shape == painted.shape and region_colors_differ(render.astype(float), painted)

    steps = page.run(f"() => {CANVAS}.history.undoStack.length")
    assert steps >= 4  # clear, two strokes, the fill
    page.page.reload()
    page.open()
    page.wait_for(f"() => {{ try {{ return {CANVAS}.painted; }} catch {{ return false; }} }}")
    assert page.run(f"() => {CANVAS}.value") == value
    assert (canvas_pixels(page) == painted).all()
    page.wait_for(f"() => {CANVAS}.history.undoStack.length === {steps}")  # the steps of before the reload
    click(page, ".doodle-canvas-tools button[title^='Undo']")  # the history of before the reload: the fill
    assert tuple(canvas_pixels(page)[20, 20]) == tuple(renoir[0])
    click(page, ".doodle-canvas-tools button[title^='Undo']")  # and the second stroke
    assert tuple(canvas_pixels(page)[60, 250]) == tuple(renoir[0])
    click(page, ".doodle-canvas-tools button[title^='Redo']")
    click(page, ".doodle-canvas-tools button[title^='Redo']")
    assert (canvas_pixels(page) == painted).all()
    assert page.new_errors() == []


def test_ctrl_z_and_ctrl_y_in_the_canvas_change_only_the_canvas(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    live = page.page.locator(".doodle-canvas input[type=checkbox]").first
    live.check()
    page.run(f"() => {{ {CANVAS}.marker = 'same widget'; }}")  # gone if ComfyUI's undo rebuilt the node
    before = canvas_pixels(page)
    click(page, ".doodle-canvas-swatch >> nth=2")
    drag(page, [(60, 60), (300, 200)])
    painted = canvas_pixels(page)
    assert (painted != before).any()
    page.page.keyboard.press("Control+z")
    page.wait_for(f"() => {CANVAS}.history.redoStack.length === 1")
    assert (canvas_pixels(page) == before).all()
    page.page.keyboard.press("Control+y")
    page.wait_for(f"() => {CANVAS}.history.redoStack.length === 0")
    assert (canvas_pixels(page) == painted).all()
    assert page.run(f"() => {CANVAS}.marker") == "same widget" and live.is_checked()
    assert page.run(f"() => {CANVAS}.history.undoStack.length") == 1
    page.page.mouse.click(5, 500)  # the focus leaves the canvas: ComfyUI's own keys are its own again
    assert page.run("() => document.activeElement?.className") != "doodle-canvas-keys"
    assert page.new_errors() == []


def test_the_underlay_shows_through_the_paint_and_painting_still_works(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    stage = page.page.locator(".doodle-canvas-stage").first
    colors = np.array(palette_of("monet"))

    def off_palette_share() -> float:
        shot = np.asarray(Image.open(io.BytesIO(stage.screenshot())).convert("RGB")).astype(int)
        inner = shot[10:-10, 10:-10].reshape(-1, 3)
        nearest = np.abs(inner[:, None, :] - colors[None]).sum(-1).min(1)
        return float((nearest > 30).mean())

    before = off_palette_share()
    page.page.locator(".doodle-canvas input[type=file]").nth(1).set_input_files(str(EXAMPLES / "monet" / "style.png"))
    page.wait_for("() => document.querySelector('.doodle-canvas-underlay')?.naturalWidth > 0")
    page.page.wait_for_timeout(300)
    after = off_palette_share()
    assert after > before + 0.3, f"the underlay is not visible: {before:.2f} -> {after:.2f} of pixels off the palette"
    click(page, ".doodle-canvas-swatch >> nth=2")
    drag(page, [(60, 60), (200, 100)])  # the mouse reaches the paint through the picture
    assert page.run(f"() => {CANVAS}.history.undoStack.length") == 1
    assert page.new_errors() == []


def test_live_the_random_seed_and_the_underlay_survive_a_reload(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    page.page.locator(".doodle-canvas input[type=file]").nth(1).set_input_files(str(EXAMPLES / "monet" / "style.png"))
    page.wait_for("() => app.graph.nodes.find((n) => n.type === 'DoodleCanvas').properties.doodle_underlay")
    page.page.locator(".doodle-canvas input[type=checkbox]").first.check()
    page.page.locator(".doodle-canvas label.doodle-canvas-seed input[type=number]").first.fill("7")
    page.page.keyboard.press("Tab")  # the seed box's change event
    page.wait_for("() => app.graph.nodes.find((n) => n.type === 'DoodleCanvas').properties.doodle_seed === 7")
    page.page.wait_for_timeout(1500)  # the workflow's autosave
    page.page.reload()
    page.open()
    page.wait_for(f"() => {{ try {{ return {CANVAS}.painted; }} catch {{ return false; }} }}")
    assert page.page.locator(".doodle-canvas input[type=checkbox]").first.is_checked()
    assert page.page.locator(".doodle-canvas label.doodle-canvas-seed input[type=number]").first.input_value() == "7"
    page.wait_for("() => document.querySelector('.doodle-canvas-underlay')?.naturalWidth === 512")  # the painting again
    page.page.locator(".doodle-canvas input[type=checkbox]").first.uncheck()  # leave Live off for later tests
    assert page.new_errors() == []


def palette_of(name: str) -> list[list[int]]:
    return (read_palette(REPO / "weights" / f"{name}.safetensors")[0] * 255).round().int().tolist()


def wait_until_saved(page: ComfyPage) -> str:
    return page.run(SAVED)


@pytest.mark.parametrize("template", [PAINT_TEMPLATE, INSTANT_TEMPLATE], ids=["render", "synthesis"])
def test_live_mode_queues_one_run_when_a_stroke_ends_and_shows_its_picture(page: ComfyPage, template) -> None:
    page.load(workflow_json(template))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    page.page.locator(".doodle-canvas input[type=checkbox]").first.check()
    before = set(page.client.get_json("/history"))
    click(page, ".doodle-canvas-swatch >> nth=2")
    drag(page, [(60, 60), (200, 100)])
    value = wait_until_saved(page)
    deadline = page.page.wait_for_timeout
    for _ in range(120):
        runs = {k: v for k, v in page.client.get_json("/history").items() if k not in before}
        if runs and all(v["status"].get("completed") for v in runs.values()):
            break
        deadline(500)
    deadline(1500)  # a second run would have been queued by now
    runs = {k: v for k, v in page.client.get_json("/history").items() if k not in before}
    assert len(runs) == 1
    (run,) = runs.values()
    canvas_inputs = [n["inputs"] for n in run["prompt"][2].values() if n["class_type"] == "DoodleCanvas"]
    assert canvas_inputs[0]["painting"] == value and run["status"]["status_str"] == "success"
    previews = [k for k, n in run["prompt"][2].items() if n["class_type"] == "PreviewImage"]
    assert len(run["outputs"][previews[0]]["images"]) == 1  # one new picture for the stroke


def test_a_copied_canvas_paints_into_its_own_file(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    values = page.run(
        """async () => {
        const original = app.graph.nodes.find((n) => n.type === 'DoodleCanvas');
        const copy = original.clone(); copy.pos = [0, 700]; app.graph.add(copy);
        const canvases = [original, copy].map((n) => n.widgets.find((w) => w.doodle).doodle);
        await new Promise((r) => setTimeout(r, 500));
        canvases.forEach((c, k) => c.change((image) => {
            for (let i = 0; i < image.data.length; i += 4) image.data.set(c.palette[k], i);
        }));
        await Promise.all(canvases.map((c) => c.saving));
        return canvases.map((c) => c.value);
    }"""
    )
    assert len(set(values)) == 2 and all(v.startswith("doodle_canvas/canvas-") for v in values)
    files = [page.client.input_dir / v.removesuffix(" [input]") for v in values]
    assert files[0].read_bytes() != files[1].read_bytes()


def test_loading_a_doodle_snaps_each_pixel_to_the_nearest_palette_color(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    source = REPO / "samples" / "monet" / "target_mask.png"
    page.page.locator(".doodle-canvas input[type=file]").first.set_input_files(str(source))
    page.wait_for(f"() => {CANVAS}.message.textContent.startsWith('loaded')")
    palette = np.array(palette_of("monet"))
    rgb = np.asarray(Image.open(source).convert("RGB")).astype(int)
    nearest = ((rgb[:, :, None, :] - palette[None, None]) ** 2).sum(-1).argmin(-1)
    assert (canvas_pixels(page) == palette[nearest]).all()


def test_the_size_widgets_show_a_loaded_doodles_size_without_a_mouse_move(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    page.run(
        """() => { window.doodleDrawn = 0; const draw = app.canvas.drawNode.bind(app.canvas);
        app.canvas.drawNode = (node, ctx) => {
            if (node.type === 'DoodleCanvas') window.doodleDrawn = performance.now();
            return draw(node, ctx); }; }"""
    )
    page.page.wait_for_timeout(500)  # the page settles: nothing more to draw
    loaded_at = page.run("() => performance.now()")
    renoir = REPO / "samples" / "renoir" / "target_mask.png"  # 512x320, where the canvas is 512x384
    page.page.locator(".doodle-canvas input[type=file]").first.set_input_files(str(renoir))
    page.wait_for(f"() => {CANVAS}.message.textContent.startsWith('loaded')")
    height = page.run(
        "() => app.graph.nodes.find((n) => n.type === 'DoodleCanvas').widgets.find((w) => w.name === 'height').value"
    )
    assert height == 320
    page.wait_for("(t) => window.doodleDrawn > t", loaded_at, timeout_ms=3000)  # drawn again, no mouse moved


def test_the_random_button_paints_the_routes_seeded_doodle(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    seed = page.page.locator(".doodle-canvas label.doodle-canvas-seed input[type=number]")  # labelled "seed"
    seed.fill("3")
    for expected, clicks in ((3, 1), (4, 2)):  # each click paints the next seed's doodle
        click(page, ".doodle-canvas-tools button[title^='Random']")
        page.wait_for(f"() => {CANVAS}.history.undoStack.length >= {clicks}")
        status, png = page.client._request(
            "GET", f"/doodle/random_doodle?source=generator%3A%20monet.safetensors&width=512&height=384&seed={expected}"
        )
        assert status == 200
        assert (canvas_pixels(page) == np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))).all()
        assert seed.input_value() == str(expected + 1)


def test_flood_fill_and_disc_in_the_page_match_an_independent_computation(page: ComfyPage) -> None:
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=(23, 31))
    colors = np.array([[10, 20, 30], [200, 0, 0], [0, 200, 0]])
    rgba = np.concatenate([colors[labels], np.full((23, 31, 1), 255)], axis=2).astype(np.uint8)
    found = page.run(
        """async ({ data, width, height }) => {
        const paint = await import('/extensions/doodle/js/paint.js');
        const filled = { width, height, data: Uint8ClampedArray.from(data) };
        paint.floodFill(filled, 7, 11, [1, 2, 3]);
        const disc = { width, height, data: new Uint8ClampedArray(width * height * 4) };
        paint.paintDisc(disc, 12.5, 9.25, 4.5, [9, 9, 9]);
        return { filled: Array.from(filled.data), disc: Array.from(disc.data) };
    }""",
        {"data": rgba.reshape(-1).tolist(), "width": 31, "height": 23},
    )
    regions, _ = ndimage.label(labels == labels[11, 7])  # 4-connected by default
    expected = colors[labels].copy()
    expected[regions == regions[11, 7]] = [1, 2, 3]
    assert (np.array(found["filled"]).reshape(23, 31, 4)[..., :3] == expected).all()
    ys, xs = np.mgrid[0:23, 0:31]
    inside = (xs + 0.5 - 12.5) ** 2 + (ys + 0.5 - 9.25) ** 2 <= 4.5**2
    assert ((np.array(found["disc"]).reshape(23, 31, 4)[..., 3] == 255) == inside).all()


def test_the_canvas_paints_in_the_vue_nodes_renderer_too(page: ComfyPage) -> None:
    page.run("async () => { await app.extensionManager.setting.set('Comfy.VueNodes.Enabled', true); }")
    try:
        page.load(workflow_json(PAINT_TEMPLATE))
        page.wait_for(f"() => {CANVAS}.palette.length > 0")
        assert page.run("() => document.querySelector('[data-node-id] .doodle-canvas') !== null")
        click(page, ".doodle-canvas-swatch >> nth=3")
        drag(page, [(30, 350), (480, 350)])
        assert tuple(canvas_pixels(page)[350, 250]) == tuple(palette_of("monet")[3])
        assert page.run(f"() => {CANVAS}.node.pos.join()") == "0,0"  # the stroke did not drag the node
    finally:
        page.run("async () => { await app.extensionManager.setting.set('Comfy.VueNodes.Enabled', false); }")
    assert page.new_errors() == []


def test_a_failed_upload_keeps_the_painting_and_says_so_and_the_next_stroke_saves_it(page: ComfyPage) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    page.page.route("**/upload/image", lambda route: route.fulfill(status=500, body="disk full"))
    try:
        click(page, ".doodle-canvas-swatch >> nth=2")
        drag(page, [(100, 100), (300, 100)])
        page.wait_for(f"() => {CANVAS}.message.textContent.startsWith('not saved')")
        assert tuple(canvas_pixels(page)[100, 200]) == tuple(palette_of("monet")[2])
        assert page.run(f"() => {CANVAS}.value") == "doodle_monet_canvas_doodle.png [input]"
    finally:
        page.page.unroute("**/upload/image")
    drag(page, [(100, 200), (300, 200)])
    value = page.run(SAVED)
    saved = np.asarray(Image.open(page.client.input_dir / value.removesuffix(" [input]")).convert("RGB"))
    assert (saved == canvas_pixels(page)).all() and tuple(saved[100, 200]) == tuple(palette_of("monet")[2])
    page.new_errors()  # the refused upload's own console line


def test_loading_a_file_that_is_not_an_image_leaves_the_painting_and_says_so(page: ComfyPage, tmp_path) -> None:
    page.load(workflow_json(PAINT_TEMPLATE))
    page.wait_for(f"() => {CANVAS}.palette.length > 0")
    before = canvas_pixels(page)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    page.page.locator(".doodle-canvas input[type=file]").first.set_input_files(str(text))
    page.wait_for(f"() => {CANVAS}.message.textContent.includes('not an image')")
    assert (canvas_pixels(page) == before).all()


SWATCHES_AND_THEIR_NODE = """async (shown) => {
    for (let frame = 0; frame < 3; frame++) {  // the node grows once its swatches are laid out, then the page redraws
        app.canvas.draw(true, true);
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)));
    }
    const node = app.graph.nodes.find((n) => n.type === 'LoadDoodleGenerator');
    const { scale, offset } = app.canvas.ds, origin = app.canvas.canvas.getBoundingClientRect();
    const x = (graphX) => (graphX + offset[0]) * scale + origin.left;
    const y = (graphY) => (graphY + offset[1]) * scale + origin.top;
    const [left, top] = node.pos, [width, height] = node.size;
    return {
        node: [x(left), y(top - LiteGraph.NODE_TITLE_HEIGHT), x(left + width), y(top + height)],
        swatches: [...document.querySelectorAll(shown)].map((s) => s.getBoundingClientRect())
            .map((r) => [r.left, r.top, r.right, r.bottom]),
    };
}"""
"""LoadDoodleGenerator's on-screen box, title bar included, and each palette swatch's, in client pixels."""


def test_train_doodle_style_shows_its_record_under_the_node(page: ComfyPage) -> None:
    page.load(workflow_json(REPO / "example_workflows" / "2_train_your_own_style.json"))
    page.run(
        """() => { const n = app.graph.nodes.find((n) => n.type === 'TrainDoodleStyle');
        for (const [name, value] of [['steps', 2], ['batch_size', 1], ['size', 64], ['save_name', 'record_test']])
            n.widgets.find((w) => w.name === name).value = value; }"""
    )
    entry = page.queue_and_wait(timeout_s=600)
    assert entry["status"]["status_str"] == "success", entry["status"]
    page.wait_for("() => document.querySelector('.doodle-train-record')?.textContent.includes('record_test')")
    shown = page.run("() => document.querySelector('.doodle-train-record').textContent")
    assert "2 steps" in shown and "doodle_generators" in shown, shown
    assert page.new_errors() == []


def test_load_doodle_generator_shows_its_palette(page: ComfyPage) -> None:
    page.load(workflow_json(REPO / "example_workflows" / "1_doodle_to_painting.json"))
    shown = ".doodle-palette .doodle-palette-swatch"
    page.wait_for(f"() => document.querySelectorAll('{shown}').length > 0")
    texts = page.run(f"() => [...document.querySelectorAll('{shown}')].map((s) => s.textContent)")
    names = read_palette(REPO / "weights" / "monet.safetensors")[1]  # sky, rocks, sea, grass, dark rock
    assert texts == [f"{name} {','.join(map(str, rgb))}" for name, rgb in zip(names, palette_of("monet"), strict=True)]
    # Named swatches wrap onto more than one row at the node's width: the node must be as tall as they are.
    shown_boxes = page.run(SWATCHES_AND_THEIR_NODE, shown)
    node, swatches = shown_boxes["node"], shown_boxes["swatches"]
    assert len({top for _, top, _, _ in swatches}) > 1, "the swatches fit one row: this test no longer tests wrapping"
    tolerance = 2  # pixels
    outside = [s for s in swatches if min(s[0] - node[0], s[1] - node[1], node[2] - s[2], node[3] - s[3]) < -tolerance]
    assert outside == [], f"swatches {outside} spill out of their node {node}"
    colors = page.run(
        f"() => [...document.querySelectorAll('{shown}')].map((s) => [getComputedStyle(s).color, s.style.background])"
    )
    for text, swatch in colors:
        ratio = contrast_ratio(rgb_of(text), rgb_of(swatch))
        assert ratio >= 4.5, f"text {text} on {swatch}: contrast {ratio:.2f}, WCAG AA asks 4.5"
    assert page.new_errors() == []


def rgb_of(css: str) -> list[int]:
    """``rgb(1, 2, 3)`` as numbers."""
    return [int(value) for value in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]


def contrast_ratio(first: list[int], second: list[int]) -> float:
    """WCAG 2's contrast ratio of two sRGB colours, written out from its definition."""

    def luminance(rgb: list[int]) -> float:
        linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def canvas_of(node_id: int) -> str:
    return f"app.graph.getNodeById({node_id}).widgets.find((w) => w.doodle).doodle"


def press(page: ComfyPage, node_id: int, selector: str) -> None:
    """A real click on an element of one canvas (template 9 has two, with the same buttons)."""
    box = page.run(
        f"(s) => {{ const r = {canvas_of(node_id)}.root.querySelector(s).getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; }",
        selector,
    )
    page.page.mouse.click(*box)


def show(page: ComfyPage, node_id: int) -> None:
    """Pan the graph so the node is in the middle of the window, as a user would drag it into view."""
    page.run(f"() => {{ app.canvas.centerOnNode(app.graph.getNodeById({node_id})); app.canvas.setDirty(true, true); }}")
    page.page.wait_for_timeout(300)


NODE_ERRORS = """() => Object.fromEntries([...document.querySelectorAll('.p-toast-message-error')]
    .map((toast, k) => [k, toast.textContent]).concat(Object.entries(app.lastNodeErrors ?? {})))"""
"""The page's error toasts and the nodes it marks with an error, after the last queue."""


def test_a_new_painting_becomes_a_map_an_edited_map_and_a_painted_doodle_in_the_page(page: ComfyPage) -> None:
    input_dir = page.client.input_dir
    for stale in (input_dir / "new_style_map.png", input_dir / "doodle_canvas" / "new_style_map_edited.png"):
        stale.unlink(missing_ok=True)  # a first-time user's input/
    page.client.post_json("/free", {"free_memory": True})  # nor a map node cached by other tests' runs
    page.page.reload()  # and the file lists of a page opened now
    page.open()
    page.load(workflow_json(NEW_STYLE_TEMPLATE))
    started = time.monotonic()
    first = page.queue_and_wait()  # 1. the map is made; the canvases wait for it
    seconds = [time.monotonic() - started]
    assert first["status"]["status_str"] == "success", first["status"]
    assert page.run(NODE_ERRORS) == {}  # no "Invalid input": the canvases wait for the map without an error
    automatic = map_palette(input_dir / "new_style_map.png").rgb8
    assert len(automatic) == 4

    map_canvas, doodle_canvas = 4, 5
    page.run(f"() => {{ {canvas_of(map_canvas)}.root.dataset.test = 'map'; }}")
    show(page, map_canvas)
    press(page, map_canvas, "button[title^='Start from the palette']")  # 2. From map, over the painting
    page.wait_for(f"() => {canvas_of(map_canvas)}.message.textContent.startsWith('loaded')")
    edited = canvas_pixels(page, canvas_of(map_canvas))
    expected = np.asarray(Image.open(input_dir / "new_style_map.png").convert("RGB"))
    assert (edited == expected).all()
    with page.page.expect_file_chooser() as chooser:
        press(page, map_canvas, "button[title='Underlay']")
    chooser.value.set_files(str(EXAMPLES / "renoir" / "style.png"))
    page.wait_for("() => document.querySelector('[data-test=map] .doodle-canvas-underlay')?.naturalWidth > 0")

    regions = {tuple(c): int((edited == c).all(-1).sum()) for c in automatic}
    smallest = min(regions, key=regions.get)  # merge the smallest region into the largest with one fill
    largest = max(regions, key=regions.get)
    ys, xs = np.nonzero((edited == smallest).all(-1))
    press(page, map_canvas, "button[title='Fill']")
    press(page, map_canvas, f".doodle-canvas-swatch[data-rgb='{','.join(map(str, largest))}']")
    drag(page, [(int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))], canvas_of(map_canvas))
    press(page, map_canvas, "button[title='Brush']")
    press(page, map_canvas, ".doodle-canvas-swatch:nth-child(5)")  # the first spare colour: a new region
    drag(page, [(40, 280), (200, 280), (200, 300)], canvas_of(map_canvas))
    edited = canvas_pixels(page, canvas_of(map_canvas))
    colors = {tuple(c) for c in edited.reshape(-1, 3)}
    spare = tuple(page.run(f"() => {canvas_of(map_canvas)}.palette[4]"))
    assert spare in colors and (edited == smallest).all(-1).sum() < regions[smallest]
    assert page.run(SAVED.replace(CANVAS, canvas_of(map_canvas))) == "doodle_canvas/new_style_map_edited.png [input]"

    # 3. The doodle canvas paints in the edited map's colours (its palette followed the map's file), then Random.
    page.wait_for(f"(n) => {canvas_of(doodle_canvas)}.palette.length === n", len(colors))
    show(page, doodle_canvas)
    press(page, doodle_canvas, "button[title^='Random doodle']")
    page.wait_for(f"() => {canvas_of(doodle_canvas)}.history.undoStack.length > 0")
    doodle = canvas_pixels(page, canvas_of(doodle_canvas))
    assert doodle.shape[:2] == (320, 512)  # the size the workflow saved, not a new canvas's
    assert {tuple(c) for c in doodle.reshape(-1, 3)} <= colors
    page.run(f"async () => {{ await {canvas_of(doodle_canvas)}.saving; }}")
    started = time.monotonic()
    entry = page.queue_and_wait()
    seconds.append(time.monotonic() - started)
    assert entry["status"]["status_str"] == "success", entry["status"]
    shown = page.client.path_of(FileRef.from_ui(entry["outputs"]["7"]["images"][0]))
    painted = np.asarray(Image.open(shown).convert("RGB")).astype(float)
    assert painted.shape == doodle.shape and region_colors_differ(painted, doodle)
    print(f"map {seconds[0]:.1f} s, synthesis {seconds[1]:.1f} s (queue to picture, this machine)")
    steps = [np.asarray(Image.open(input_dir / "new_style_map.png").convert("RGB")), edited, doodle, painted]
    ARTIFACTS.mkdir(exist_ok=True)  # each step's picture, for the README's figure
    Image.fromarray(np.concatenate(steps, axis=1).astype(np.uint8)).save(ARTIFACTS / "new_style_steps.png")
    assert sum(seconds) < 60
    assert page.new_errors() == []
