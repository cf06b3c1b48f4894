"""Read-only routes the canvas widget asks: a source's palette, and a random doodle in it.

Sources are only ever the names :func:`host.palette_sources` lists, so no request names a path.
"""

from __future__ import annotations

import asyncio
import io

from aiohttp import web
from PIL import Image

from ..doodle import api
from ..doodle.limits import MAX_CANVAS_SIDE
from . import host

PALETTE_ROUTE = "/doodle/palette"
RANDOM_DOODLE_ROUTE = "/doodle/random_doodle"


def register(routes: web.RouteTableDef) -> None:
    routes.get(PALETTE_ROUTE)(palette)
    routes.get(RANDOM_DOODLE_ROUTE)(random_doodle)


async def palette(request: web.Request) -> web.Response:
    """``?source=`` one of the DoodleCanvas palette choices -> ``{"source", "colors": [[r, g, b], ...]}``."""
    try:
        found = await asyncio.to_thread(host.palette, request.query.get("source", ""))
    except api.DoodleError as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response(found.to_json())


async def random_doodle(request: web.Request) -> web.Response:
    """``?source=&width=&height=&seed=`` -> a PNG of random smooth regions in the source's palette."""
    try:
        width, height, seed = (int(request.query.get(key, "")) for key in ("width", "height", "seed"))
    except ValueError:
        return web.json_response({"error": "width, height and seed must be whole numbers"}, status=400)
    try:
        png = await asyncio.to_thread(_random_png, request.query.get("source", ""), width, height, seed)
    except api.DoodleError as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.Response(body=png, content_type="image/png")


def _random_png(source: str, width: int, height: int, seed: int) -> bytes:
    if not (1 <= width <= MAX_CANVAS_SIDE and 1 <= height <= MAX_CANVAS_SIDE):
        raise api.DoodleError(f"a canvas is 1..{MAX_CANVAS_SIDE} pixels a side, got {width}x{height}")
    api.check_seed(seed)
    colors = host.palette(source).colors
    masks = api.random_masks(width, height, len(colors), seed, palette=colors)
    buffer = io.BytesIO()
    Image.fromarray(api.to_uint8(masks.preview()[0])).save(buffer, format="PNG")
    return buffer.getvalue()
