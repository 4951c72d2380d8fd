#!/usr/bin/env bash
# Validation search of the KD temperature τ and weight α for the benchmark's
# student (resnet8 width 8), on the protocol of tune_protocol.sh.
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_kd.sh [extra flags]
source "$(dirname "$0")/tune_protocol.sh"
tune --methods=alone --tag=tune_kd_alone "$@"
for setting in "4 0.9" "2 0.5" "1 0.5" "2 0.9" "1 0.9" "4 0.5"; do
  read -r tau alpha <<< "$setting"
  tune --methods=kd --temperature="$tau" --kd_weight="$alpha" \
      --tag="tune_kd_t${tau}_a${alpha}" "$@"
done
