"""What a run needs of the machine: devices, out-of-memory as a clear error, torchrun, stop signals, progress."""
