"""Limits and sizes that several parts of doodle share, each written once (the CLI and the nodes read them here)."""

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
