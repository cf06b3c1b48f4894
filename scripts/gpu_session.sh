#!/usr/bin/env bash
# Everything a lent GPU machine is for, as one call: the CUDA checks and the benchmark (scripts/gpu_check.sh),
# then both shipped generators trained on at once (scripts/gpu_train.py) until SECONDS after the start.
# Logs and the trained files land in $OUT (or out/gpu). Set-up as scripts/gpu_check.sh (.vgg/ carried along).
#   bash scripts/gpu_session.sh 540            # each file goes on with the levels it has
#   LEVELS=6 bash scripts/gpu_session.sh 540   # grow both to six first (a file cannot lose levels)
#   START=out/v2 bash scripts/gpu_session.sh 540  # train START/STYLE.safetensors where it exists (carry START)
set -uo pipefail
cd "$(dirname "$0")/.."
until=$(( $(date +%s) + ${1:?seconds for the whole session} ))
logs="${OUT:-out/gpu}"
mkdir -p "$logs"
timeout 240 bash scripts/gpu_check.sh
export DOODLE_VGG_DIR="${DOODLE_VGG_DIR:-$PWD/.vgg}" PYTHONPATH=. PYTHONUNBUFFERED=1 OMP_NUM_THREADS=8
for style in monet renoir; do
    start="${START:+$START/$style.safetensors}"
    [ -z "$start" ] || [ -f "$start" ] || { echo "$start: none, $style trains weights/ on"; start=""; }
    timeout -s INT $(( until - $(date +%s) )) python3 scripts/gpu_train.py "$style" --until "$until" \
        ${LEVELS:+--levels "$LEVELS"} ${start:+--start "$start"} -o "$logs/$style.safetensors" > "$logs/$style.log" 2>&1 &
done
wait
tail -n 3 "$logs"/*.log
