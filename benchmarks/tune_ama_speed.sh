#!/usr/bin/env bash
# Cheaper adapted teachers (issue: AMA step >= 1.3x faster than KD), checked
# for accuracy on the validation protocol (tune_protocol.sh). Step-time
# ratios come from benchmarks/throughput.py with the same --ama_* flags.
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_ama_speed.sh
source "$(dirname "$0")/tune_protocol.sh"
# Today's default: blocks 2-3 of stage 3 (0.78x the teacher's MACs).
tune --methods=ama --tag=tune_ama_default
# Stages 2 and 3, each by a 1x1 convolution adapter (0.36x the MACs).
tune --methods=ama --ama_start=stage1_out,stage2_out \
    --ama_end=stage2_out,stage3_out --ama_student_layer=stage2_out,stage3_out \
    --ama_kind=conv --ama_kernel_size=1 --tag=tune_ama_stages23_conv1
# All three stages, each by a 3x3 convolution adapter (0.12x the MACs).
tune --methods=ama --ama_start=stem_out,stage1_out,stage2_out \
    --ama_end=stage1_out,stage2_out,stage3_out \
    --ama_student_layer=stage1_out,stage2_out,stage3_out --ama_kind=conv \
    --tag=tune_ama_stages123_conv3
