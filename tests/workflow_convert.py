"""Convert a UI-format ComfyUI workflow (as the frontend saves it) to an API prompt.

Why: the example workflows we ship are UI workflows, but only the frontend turns those into the
API format that POST /prompt accepts. Converting them here, the way frontend 1.47 (ComfyUI
v0.30.0) does, lets tests run the shipped workflows on a real server; the strict checks make a
workflow that no longer matches the node signatures fail loudly instead of running with shifted
widget values.

Frontend behaviour mirrored (read from comfyui-frontend-package 1.47.12):
- widgets are created from the node definition in `input_order` order (required, then optional,
  then inputs not listed there such as LoadImage's extra "upload" button), for inputs whose type
  (or `widgetType`) is a widget type and that are not `forceInput`;
- `widgets_values` holds one value per widget, including widgets that are not sent to the server:
  the control widget after an INT/FLOAT with `control_after_generate` (for INT also when the
  option is absent and the input is named seed or noise_seed), the control and filter-list
  widgets after a COMBO with `control_after_generate`, and the upload button ("image") of a
  combo with `image_upload` / `video_upload` / `animated_image_upload`;
- an input linked to another node takes `[str(origin_id), origin_slot]` instead of its widget
  value; links through Reroute and bypassed (mode 4) nodes are followed (a bypassed node passes
  on its input of the matching type); a PrimitiveNode's value (its `widgets_values[0]`) becomes
  the value of the inputs it feeds; muted (mode 2) and bypassed nodes are left out, and an input
  linked to a muted node gets no link (a widget input keeps its widget value, as in 1.47);
  list values are sent as {"__value__": [...]}.

Not handled (they fail with a WorkflowConversionError or a count mismatch): subgraphs, widgets
that frontend extensions add by themselves (audio upload/preview, webcam, ...), V3 dynamic
inputs (DynamicCombo, Autogrow), and virtual nodes of other packs (Set/Get nodes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "DOODLE_CANVAS"})
"""Core widget types, and those that extensions register: doodle's canvas (web/js/doodle_canvas.js)."""
UPLOAD_OPTIONS = ("image_upload", "video_upload", "animated_image_upload")
LEGACY_SEED_NAMES = frozenset({"seed", "noise_seed"})
VIRTUAL_NODE_TYPES = frozenset({"Reroute", "PrimitiveNode", "Note", "MarkdownNote"})
MODE_MUTED = 2
MODE_BYPASSED = 4


class WorkflowConversionError(ValueError):
    """The workflow does not fit the node definitions (unknown type, wrong widget count, ...)."""


@dataclass(frozen=True)
class WidgetSlot:
    """One entry of a node's widgets_values: the input it belongs to, or None for UI-only widgets."""

    input_name: str | None
    label: str


@dataclass(frozen=True)
class Link:
    id: int
    origin_id: str
    origin_slot: int
    target_id: str
    target_slot: int
    type: Any


def input_is_widget(spec: list[Any] | tuple[Any, ...]) -> bool:
    """Whether an object_info input spec gets a widget (else it is a socket only)."""
    type_ = spec[0]
    options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    if options.get("forceInput"):
        return False
    if isinstance(type_, list):  # V1 combo: the list of choices
        return True
    return options.get("widgetType", type_) in WIDGET_TYPES


def _options(spec: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def _ordered_inputs(node_def: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """(name, spec) of the node's inputs in the frontend's order: required, then optional."""
    inputs = node_def.get("input", {})
    order = node_def.get("input_order") or {}
    result: list[tuple[str, list[Any]]] = []
    for section in ("required", "optional"):
        specs = inputs.get(section) or {}
        names = [n for n in order.get(section, []) if n in specs] or list(specs)
        names += [n for n in specs if n not in names]
        result += [(n, specs[n]) for n in names]
    return result


def widget_slots(node_def: dict[str, Any]) -> list[WidgetSlot]:
    """The widgets a node of this definition has, in the order of its widgets_values."""
    slots: list[WidgetSlot] = []
    upload = False
    for name, spec in _ordered_inputs(node_def):
        if not input_is_widget(spec):
            continue
        options = _options(spec)
        is_combo = isinstance(spec[0], list) or options.get("widgetType", spec[0]) == "COMBO"
        slots.append(WidgetSlot(name, name))
        control = options.get("control_after_generate")
        if spec[0] == "INT" and control is None:
            control = name in LEGACY_SEED_NAMES
        if control:
            slots.append(WidgetSlot(None, f"{name}:control_after_generate"))
            if is_combo:
                slots.append(WidgetSlot(None, f"{name}:control_filter_list"))
        if is_combo and name in (node_def.get("input", {}).get("required") or {}):
            upload = upload or any(options.get(o) is True for o in UPLOAD_OPTIONS)
    if upload:  # Comfy.UploadImage adds one "upload" button after the ordered inputs
        slots.append(WidgetSlot(None, "upload"))
    return slots


def _links(workflow: dict[str, Any]) -> dict[int, Link]:
    links: dict[int, Link] = {}
    for raw in workflow.get("links") or []:
        if isinstance(raw, dict):  # schema version 1
            link = Link(
                int(raw["id"]),
                str(raw["origin_id"]),
                int(raw["origin_slot"]),
                str(raw["target_id"]),
                int(raw["target_slot"]),
                raw.get("type"),
            )
        else:
            link = Link(
                int(raw[0]),
                str(raw[1]),
                int(raw[2]),
                str(raw[3]),
                int(raw[4]),
                raw[5] if len(raw) > 5 else None,
            )
        links[link.id] = link
    return links


def _node_label(node: dict[str, Any]) -> str:
    title = node.get("title")
    return f"node {node.get('id')} ({node.get('type')}{', ' + repr(title) if title else ''})"


def _input_name(entry: dict[str, Any]) -> str:
    widget = entry.get("widget")
    if isinstance(widget, dict) and widget.get("name"):
        return str(widget["name"])
    return str(entry["name"])


def _widget_values(node: dict[str, Any], node_def: dict[str, Any]) -> dict[str, Any]:
    """Map the node's widgets_values onto its widget inputs, failing on any count mismatch."""
    slots = widget_slots(node_def)
    raw = node.get("widgets_values")
    if raw is None:
        raw = []
    if isinstance(raw, dict):  # some nodes save their widgets by name
        missing = [s.input_name for s in slots if s.input_name is not None and s.input_name not in raw]
        if missing:
            raise WorkflowConversionError(f"{_node_label(node)}: widgets_values lacks {missing}")
        return {s.input_name: raw[s.input_name] for s in slots if s.input_name is not None}
    values = list(raw)
    if len(values) != len(slots):
        values = _migrate_force_input_values(node_def, values, len(slots))
    if len(values) != len(slots):
        raise WorkflowConversionError(
            f"{_node_label(node)}: {len(values)} widgets_values {values!r} but the node's widgets are "
            f"{len(slots)}: {[s.label for s in slots]} (the workflow no longer matches the node definition)"
        )
    return {s.input_name: v for s, v in zip(slots, values, strict=True) if s.input_name is not None}


def _migrate_force_input_values(node_def: dict[str, Any], values: list[Any], expected: int) -> list[Any]:
    """Old workflows kept a value for forceInput inputs; the frontend drops those (migrateWidgetsValues)."""
    flags: list[bool] = []
    for _, spec in _ordered_inputs(node_def):
        options = _options(spec)
        if not (input_is_widget(spec) or options.get("forceInput")):
            continue
        flags.append(bool(options.get("forceInput")))
        if options.get("control_after_generate"):
            flags.append(False)
    if len(flags) != len(values):
        return values
    kept = [v for v, forced in zip(values, flags, strict=True) if not forced]
    return kept if len(kept) == expected else values


def _valid_connection(a: Any, b: Any) -> bool:
    """LiteGraph.isValidConnection: equal types, a wildcard, or comma-separated types that meet."""
    a = 0 if a in ("", "*") else a
    b = 0 if b in ("", "*") else b
    if not a or not b or a == b:
        return True
    a, b = str(a).lower(), str(b).lower()
    if "," not in a and "," not in b:
        return a == b
    return any(_valid_connection(x, y) for x in a.split(",") for y in b.split(","))


def _bypass_slot_index(node: dict[str, Any], slot: int, type_: Any) -> int:
    """Which input of a bypassed node stands in for its output `slot` (ExecutableNodeDTO)."""
    inputs = node.get("inputs") or []
    outputs = node.get("outputs") or []
    if type_ in ("*", ""):
        return slot if len(inputs) > slot else 0
    out_type = outputs[slot].get("type") if slot < len(outputs) else None
    if (
        slot < len(inputs)
        and _valid_connection(inputs[slot].get("type"), out_type)
        and _valid_connection(inputs[slot].get("type"), type_)
    ):
        return slot
    for i, entry in enumerate(inputs):
        if entry.get("type") == type_:
            return i
    for i, entry in enumerate(inputs):
        if _valid_connection(entry.get("type"), out_type) and _valid_connection(entry.get("type"), type_):
            return i
    return -1


def _api_value(value: Any) -> Any:
    """The frontend wraps list values so the server does not read them as links."""
    return {"__value__": value} if isinstance(value, list) else value


def ui_to_api(workflow: dict[str, Any], object_info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Convert a UI workflow to the API prompt that the frontend would POST for it.

    Raises WorkflowConversionError when a node type is unknown to object_info, when a node's
    widgets_values do not match its widget inputs, or when a link is dangling.
    """
    if "nodes" not in workflow:
        raise WorkflowConversionError("not a UI workflow (no 'nodes'); API prompts need no conversion")
    if (workflow.get("definitions") or {}).get("subgraphs"):
        raise WorkflowConversionError("workflows with subgraphs are not supported")
    nodes = {str(n["id"]): n for n in workflow["nodes"]}
    links = _links(workflow)

    def resolve_input(node: dict[str, Any], slot: int, type_: Any, seen: set[tuple[str, int]]) -> Any:
        """Where input `slot` of `node` gets its value: a Link from a real node, {"value": v}
        for a PrimitiveNode, or None when it is unconnected (the widget value then stays)."""
        entries = node.get("inputs") or []
        if slot >= len(entries) or entries[slot].get("link") is None:
            return None
        link_id = int(entries[slot]["link"])
        link = links.get(link_id)
        if link is None:
            raise WorkflowConversionError(
                f"{_node_label(node)}: input {slot} uses link {link_id}, missing from 'links'"
            )
        origin = nodes.get(link.origin_id)
        if origin is None:
            raise WorkflowConversionError(
                f"link {link_id} comes from node {link.origin_id}, which is not in the workflow"
            )
        key = (link.origin_id, link.origin_slot)
        if key in seen:
            raise WorkflowConversionError(f"circular links through {_node_label(origin)}")
        seen.add(key)
        out_type = type_ if type_ is not None else entries[slot].get("type")
        if origin.get("mode") == MODE_MUTED:
            return None
        if origin.get("mode") == MODE_BYPASSED:
            index = _bypass_slot_index(origin, link.origin_slot, out_type)
            return None if index == -1 else resolve_input(origin, index, None, seen)
        if origin.get("type") == "Reroute":
            return resolve_input(origin, 0, out_type, seen)
        if origin.get("type") == "PrimitiveNode":
            values = origin.get("widgets_values") or []
            if not values:
                raise WorkflowConversionError(f"{_node_label(origin)} has no value")
            return {"value": values[0]}
        if origin.get("type") in VIRTUAL_NODE_TYPES:
            return None
        return link

    prompt: dict[str, dict[str, Any]] = {}
    for node_id, node in nodes.items():
        class_type = node.get("type")
        if class_type in VIRTUAL_NODE_TYPES or node.get("mode", 0) in (
            MODE_MUTED,
            MODE_BYPASSED,
        ):
            continue
        node_def = object_info.get(class_type)
        if node_def is None:
            raise WorkflowConversionError(f"{_node_label(node)}: unknown node type {class_type!r} (not in object_info)")
        inputs = {name: _api_value(v) for name, v in _widget_values(node, node_def).items()}
        for slot, entry in enumerate(node.get("inputs") or []):
            source = resolve_input(node, slot, None, set())
            if source is None:
                continue
            name = _input_name(entry)
            if isinstance(source, Link):
                inputs[name] = [source.origin_id, source.origin_slot]
            else:
                inputs[name] = _api_value(source["value"])
        prompt[node_id] = {
            "class_type": class_type,
            "inputs": inputs,
            "_meta": {"title": node.get("title") or node_def.get("display_name") or class_type},
        }

    # Inputs linked to nodes that are not in the prompt are dropped, as the frontend does.
    for entry in prompt.values():
        for name, value in list(entry["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0] not in prompt:
                del entry["inputs"][name]
    return prompt
