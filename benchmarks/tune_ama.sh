#!/usr/bin/env bash
# Validation search of AMA+KD (protocol v2): students train on the first 50k
# training images and are evaluated on the last 10k, never the test set.
# One seed per setting: a hint, not a verdict; each setting is its own run
# folder under benchmarks/results/runs/, so the search resumes after a stop.
# Usage: bash benchmarks/tune_ama.sh [extra benchmarks.accuracy flags]
set -euo pipefail
cd "$(dirname "$0")/.."
run() { "${PYTHON:-python}" -m benchmarks.accuracy --tune --seeds=0 "$@"; }
run --methods=alone,kd,ama_kd --tag=tune_default "$@"
run --methods=ama_kd --ama_map_weight=1 --tag=tune_map1 "$@"
run --methods=ama_kd --ama_gamma=0.1 --tag=tune_gamma0.1 "$@"
# Cheaper adapted teachers: blocks 2-3 of stages 2 and 3, then of all three.
run --methods=ama_kd --ama_start=stage2_block1_out,stage3_block1_out \
    --ama_end=stage2_out,stage3_out --ama_student_layer=stage2_out,stage3_out \
    --tag=tune_two_stages "$@"
run --methods=ama_kd \
    --ama_start=stage1_block1_out,stage2_block1_out,stage3_block1_out \
    --ama_end=stage1_out,stage2_out,stage3_out \
    --ama_student_layer=stage1_out,stage2_out,stage3_out \
    --tag=tune_three_stages "$@"
