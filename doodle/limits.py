"""Limits and sizes of what users set, each written once: the core checks them, and the CLI and the nodes (which
reach the core only through :mod:`doodle.api` and this module) offer them. Each settings dataclass declares its
own knobs (:mod:`doodle.declared`); what stands here is shared by several parts, or is a size a host offers."""

MAX_BATCH = 64
"""Images in one call: renders, training steps, random masks."""
MAX_ITERATIONS = 100_000
"""L-BFGS iterations of one optimisation."""
MAX_STEPS = 1_000_000
"""Training steps of one generator (the total a resumed run reaches)."""
MIN_DOODLE_SIDE = 16
"""Pixels a side of the smallest new doodle (random or painted) the nodes offer."""
MAX_CANVAS_SIDE = 4096
"""Pixels a side of a painted canvas: the page holds it in memory at every undo step."""
NEW_DOODLE_WIDTH, NEW_DOODLE_HEIGHT, NEW_DOODLE_REGIONS = 512, 384, 4
"""The size a new doodle (random or painted) starts at, the example doodles', and a random one's region count."""
BLOWN_UP_DISTANCE = 100.0
"""Pixels this far outside 0..1 (root mean square) mean a generator has blown up: the style loss sees the render
clamped and stays bounded, so a run that diverges shows here (healthy runs stay within about 10, even in
their first steps). Training stops there, never saving the weights that made it; a render refuses them."""
MAX_PAINTING_PIXELS = 4096 * 4096
"""Pixels of a painting a style map is made from (its regions are found at a smaller working size)."""
MAX_SEED = 2**64 - 1
"""The largest seed: random state is 64 bits, so a larger one could only wrap onto a smaller one's."""
MAX_OPTIMIZE_SIDE = 4096
"""A square L-BFGS output's side; other shapes may be longer, within as many pixels."""
MAX_TILE_SIZE = 8192
"""The largest tile_size the node offers; the core takes any, but renders no piece larger than this squared."""
MAX_MASK_SIDE = 8192
"""The side of the largest square random mask (the node's width and height stop there)."""
MAX_SMOOTHING = 101
"""The widest median filter of random masks: a disk far wider than the regions only erases them (and costs its
diameter in passes)."""
MAX_COLORS = 64
"""The most regions the node's n_colors asks a map for (the core takes as many as the map has)."""
