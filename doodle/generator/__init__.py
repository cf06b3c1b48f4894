"""The feed-forward generator: its network, its file (weights, palette, history, calibration) and rendering with
it; training one is :mod:`doodle.training`."""
