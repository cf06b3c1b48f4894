#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one run on a machine that has one (never part of CI):
# the CUDA tests, the core tests again on that machine, the feed-forward benchmark (fp32 and fp16 renders,
# L-BFGS / render, training seconds per step) and the polish benchmark, each log copied to $OUT (or out/gpu).
#
# That machine needs python3 with torch, numpy, pillow, scipy, scikit-learn, tqdm, safetensors and pytest, and the
# offline loss network in .vgg/ (it has no internet). From the development machine:
#   mkdir -p .vgg && cp ~/.cache/doodle/vgg/vgg16-hed.safetensors .vgg/   # .vgg/ is git-ignored
# then run `bash scripts/gpu_check.sh` there with .vgg carried along (about 53 MB with the repository; a call carries at most 64 MiB).
set -uo pipefail
cd "$(dirname "$0")/.."
export DOODLE_VGG_DIR="${DOODLE_VGG_DIR:-$PWD/.vgg}" PYTHONPATH=. PYTHONUNBUFFERED=1
logs="${OUT:-out/gpu}"
mkdir -p "$logs"
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU here'; print(torch.__version__, torch.cuda.get_device_name())" || exit 1
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_generator.py tests/test_style_loss.py \
    tests/test_train.py 2>&1 | tee "$logs/tests.log"
tests=${PIPESTATUS[0]}
python3 benchmarks/feed_forward_speed.py 2>&1 | tee "$logs/feed_forward_speed.log"
benchmark=${PIPESTATUS[0]}
python3 benchmarks/synthesis.py --device cuda --skip-look 2>&1 | tee "$logs/synthesis.log"
python3 benchmarks/polish.py 2>&1 | tee "$logs/polish.log"  # last: about a minute there (estimated)
polish=${PIPESTATUS[0]}
exit $((tests || benchmark || polish))
