#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, fetch a real ComfyUI, the offline network and Debian's
# Chromium (the browser tests drive it with playwright; never a downloaded browser), run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/get_chromium.sh
bash scripts/install.sh test
bash scripts/get_comfyui.sh .venv/bin/python .comfyui
bash scripts/get_offline_network.sh
export DOODLE_COMFYUI_DIR="$PWD/.comfyui" DOODLE_REQUIRE_COMFYUI=1
.venv/bin/python -m pytest "$@"
