#!/usr/bin/env bash
# Reproduce the README's training figures: ALiSNet and SINet on the synthetic person/background set at 128 px
# (3,000 train / 500 val / 500 test), each with a 15-minute CPU training budget, then the models table.
# Usage: bash benchmarks/train_bars.sh [DATA_DIR] [RUNS_DIR]   (run on an otherwise idle machine)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-data/people4k}
runs=${2:-runs}
bin=.venv/bin
[ -d "$data" ] || $bin/segaudit data synth --out "$data" --n 4000 --split 0.75,0.125,0.125 --seed 0 --skew-train
$bin/segaudit train --data "$data" --model alisnet --out "$runs/alisnet" --batch-size 8 --lr 2e-3 \
    --epochs 30 --max-minutes 15
$bin/segaudit train --data "$data" --model sinet --out "$runs/sinet" --batch-size 16 --lr 5e-3 \
    --epochs 60 --max-minutes 15
$bin/python benchmarks/models.py --runs "$runs/alisnet" "$runs/sinet" --data "$data"
