"""Limits that several parts of doodle share, each written once (the CLI and the nodes read them here)."""

MAX_BATCH = 64
"""Images in one call: renders, training steps, random masks."""
