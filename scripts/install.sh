#!/usr/bin/env bash
# Create or update .venv with doodle and its dependencies; `install.sh test` adds what the tests need.
# torch 2.9.1 matches the torchaudio that a real ComfyUI imports, so one environment serves both.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
"${pip[@]}" torch==2.9.1 torchvision==0.24.1
if [ "${1:-}" = test ]; then
  "${pip[@]}" torch==2.9.1 'torchaudio==2.9.*'
  "${pip[@]}" -e ".[test]"
else
  "${pip[@]}" -e .
fi
