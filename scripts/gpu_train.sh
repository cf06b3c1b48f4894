#!/usr/bin/env bash
# Continue training the shipped generators on a GPU machine (weights/README.md: "How they were trained"):
# STEPS more steps each at SIZE² with batch BATCH, the loss at full and half size and the weights averaged
# (--loss-scales 2 --weight-average 0.99, as their last phase), stopped cleanly (Ctrl-C, checkpoint kept)
# after MINUTES.
# The continued files and their logs land in $OUT (or out/gpu); score them here with benchmarks/quality.py
# before copying them into weights/. Same set-up as scripts/gpu_check.sh (.vgg/ carried along).
# With LEVELS set, it grows them to that many levels first (python -m doodle train --resume --levels: the
# new coarser level reaches twice as far and starts sealed off, so nothing learned is lost). LR sets the
# learning rate (default 0.003, its cosine schedule at a tenth of it by now; 0.01 did much worse on CPU:
# benchmarks/README.md, "Growing a sixth level").
#   bash scripts/gpu_train.sh 1500 512 1 5
#   LEVELS=6 bash scripts/gpu_train.sh 1500 512 1 5
set -uo pipefail
cd "$(dirname "$0")/.."
steps=${1:?how many more steps} size=${2:-512} batch=${3:-1} minutes=${4:-5} seed=${5:-16}
export DOODLE_VGG_DIR="${DOODLE_VGG_DIR:-$PWD/.vgg}" PYTHONPATH=. PYTHONUNBUFFERED=1
logs="${OUT:-out/gpu}"
mkdir -p "$logs"
for style in monet renoir; do
    file="$logs/$style.safetensors"
    cp "weights/$style.safetensors" "$file"
    done_steps=$(python3 -c "from doodle.api import load_generator; print(load_generator('$file').training['steps_done'])") || exit 1
    timeout -s INT "${minutes}m" python3 -m doodle train --style "examples/$style/style.png" \
        --style-map "examples/$style/style_mask.png" --network vgg16-hed --steps $((done_steps + steps)) \
        --batch-size "$batch" --size "$size" --seed "$seed" --loss-scales 2 --weight-average 0.99 \
        --learning-rate "${LR:-0.003}" --checkpoint-every 100 -o "$file" --resume ${LEVELS:+--levels "$LEVELS"} \
        2>&1 | tr '\r' '\n' | grep -v '^$' > "$logs/$style.log"
    tail -n 2 "$logs/$style.log"
    python3 -c "from doodle.api import load_generator; t = load_generator('$file').training; print('$style', t['steps_done'], t['seconds'], t['final_loss'])"
done
