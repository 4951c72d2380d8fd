#!/usr/bin/env bash
# AMA from the teacher-output cache ("ama_cached": KD reads the full
# teacher's cached logits, the adapted teacher runs only for its maps), on
# the validation protocol (tune_protocol.sh). Three adapted teachers, from
# the step-time probe (benchmarks/throughput.py --loss_methods=ama_cached):
# every stage replaced, each adapter learning from its own terms only.
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_ama_cached.sh [--seeds=0]
source "$(dirname "$0")/tune_protocol.sh"
# 3x3 convolution adapters, stages 2 and 3 teach (0.12x the teacher's
# MACs; the method's first defaults, hence the tag).
tune --methods=ama_cached --ama_kernel_size=3 \
    --ama_student_layer=,stage2_out,stage3_out --tag=tune_ama_cached "$@"
# Separable 3x3 adapters, only the last stage teaches (0.02x the MACs).
tune --methods=ama_cached --ama_kind=separable --ama_student_layer=,,stage3_out \
    --tag=tune_ama_cached_sep_m3 "$@"
# 1x1 convolution adapters, only the last stage teaches (0.02x the MACs):
# the best of the three on seed 0, now the method's defaults.
tune --methods=ama_cached --ama_kernel_size=1 --ama_student_layer=,,stage3_out \
    --tag=tune_ama_cached_conv1_m3 "$@"
