#!/usr/bin/env bash
# The main job on a fresh machine: install, then paint the example doodles with the generators we ship.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
for style in monet renoir; do
  .venv/bin/python -m doodle render --generator "weights/$style.safetensors" \
    --doodle "samples/$style/target_mask.png" -o "out/$style.png"
done
