#!/usr/bin/env bash
# The main job on a fresh machine: install, then paint the example doodles two ways: by synthesis from each
# painting (seconds, no training) and with the generators we ship.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
for style in monet renoir; do
  .venv/bin/python -m doodle synthesize --style "samples/$style/style.png" --style-map "samples/$style/style_mask.png" \
    --doodle "samples/$style/target_mask.png" -o "out/${style}_synthesis.png"
  .venv/bin/python -m doodle render --generator "weights/$style.safetensors" \
    --doodle "samples/$style/target_mask.png" -o "out/$style.png"
done
