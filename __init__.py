"""doodle for ComfyUI: neural doodles (paint colour sketches in an artwork's style).

ComfyUI calls :func:`comfy_entrypoint`; the node modules import ComfyUI's API, so they are imported only
then, and this package stays importable without ComfyUI (by pytest, for instance).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

WEB_DIRECTORY = "./web"
"""The DoodleCanvas widget's scripts, which ComfyUI serves under /extensions/doodle/."""

if TYPE_CHECKING:
    from comfy_api.latest import ComfyExtension


async def comfy_entrypoint() -> ComfyExtension:
    try:
        from .nodes import comfy_entrypoint as entrypoint
    except Exception:
        # ComfyUI logs only the message of an exception raised here; the traceback is what helps.
        logging.getLogger(__name__).exception("doodle: the node modules failed to import")
        raise
    return await entrypoint()
