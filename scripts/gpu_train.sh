#!/usr/bin/env bash
# Continue training the shipped generators on a GPU machine (weights/README.md: "How they were trained"):
# STEPS more steps each at SIZE² with batch BATCH, the loss at full and half size and the weights averaged
# (--loss-scales 2 --weight-average 0.99, as their last phase), stopped cleanly (Ctrl-C, checkpoint kept)
# after MINUTES.
# The continued files and their logs land in $OUT (or out/gpu); score them here with benchmarks/quality.py
# before copying them into weights/. Same set-up as scripts/gpu_check.sh (.vgg/ carried along).
# With LEVELS set, it trains new generators with that many levels from scratch instead (STEPS in all).
#   bash scripts/gpu_train.sh 1500 512 1 5
#   LEVELS=6 bash scripts/gpu_train.sh 3000 512 4 5
set -uo pipefail
cd "$(dirname "$0")/.."
steps=${1:?how many more steps} size=${2:-512} batch=${3:-1} minutes=${4:-5} seed=${5:-16}
export DOODLE_VGG_DIR="${DOODLE_VGG_DIR:-$PWD/.vgg}" PYTHONPATH=. PYTHONUNBUFFERED=1
logs="${OUT:-out/gpu}"
mkdir -p "$logs"
for style in monet renoir; do
    file="$logs/$style.safetensors"
    if [ -n "${LEVELS:-}" ]; then
        rm -f "$file"
        done_steps=0 start="--levels $LEVELS"
    else
        cp "weights/$style.safetensors" "$file"
        done_steps=$(python3 -c "from doodle.api import load_generator; print(load_generator('$file').training['steps_done'])") || exit 1
        start=--resume
    fi
    timeout -s INT "${minutes}m" python3 -m doodle train --style "examples/$style/style.png" \
        --style-map "examples/$style/style_mask.png" --network vgg16-hed --steps $((done_steps + steps)) \
        --batch-size "$batch" --size "$size" --seed "$seed" --loss-scales 2 --weight-average 0.99 \
        --checkpoint-every 100 -o "$file" $start \
        2>&1 | tr '\r' '\n' | grep -v '^$' > "$logs/$style.log"
    tail -n 2 "$logs/$style.log"
    python3 -c "from doodle.api import load_generator; t = load_generator('$file').training; print('$style', t['steps_done'], t['seconds'], t['final_loss'])"
done
