#!/usr/bin/env bash
# AMA+KD's student map-loss weight on the validation protocol
# (tune_protocol.sh): the default 5 against 1, for today's default
# replacement and for the cheaper stages 2-3 teacher.
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_ama_weights.sh
source "$(dirname "$0")/tune_protocol.sh"
tune --methods=ama --ama_map_weight=1 --tag=tune_ama_default_map1
tune --methods=ama --ama_start=stage1_out,stage2_out \
    --ama_end=stage2_out,stage3_out --ama_student_layer=stage2_out,stage3_out \
    --ama_kind=conv --ama_kernel_size=1 --ama_map_weight=1 \
    --tag=tune_ama_stages23_conv1_map1
