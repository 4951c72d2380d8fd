#!/usr/bin/env bash
# Hyper-parameter probe of AMA+KD on a validation split carved from the
# training set (the last 10k training images; students train on the first
# 10k), never the test set. One seed per setting: a hint, not a verdict.
# Usage: bash benchmarks/tune_ama.sh [extra accuracy.py flags]
set -euo pipefail
cd "$(dirname "$0")/.."
run() { python benchmarks/accuracy.py --tune --seeds=0 "$@"; }
run --methods=alone,kd,ama_kd --tag=tune_default "$@"
run --methods=ama_kd --ama_map_weight=1 --tag=tune_map1 "$@"
run --methods=ama_kd --ama_map_weight=20 --tag=tune_map20 "$@"
run --methods=ama_kd --ama_gamma=0.1 --tag=tune_gamma0.1 "$@"
run --methods=ama_kd --ama_start=stage2_block1_out --ama_end=stage2_out \
    --ama_student_layer=stage2_out --tag=tune_stage2 "$@"
