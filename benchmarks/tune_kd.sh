#!/usr/bin/env bash
# Validation search of the KD temperature τ and weight α for the benchmark's
# student (resnet8 width 8): students train on the first 20k training images
# for 6 epochs and are evaluated on the last 10k (never the test set). Each
# setting is its own resumable run folder under benchmarks/results/runs/;
# the table: python -m benchmarks.tune_summary (tune_kd_search.md).
# Usage: bash benchmarks/tune_kd.sh [extra benchmarks.accuracy flags]
set -euo pipefail
cd "$(dirname "$0")/.."
run() {
  "${PYTHON:-python}" -m benchmarks.accuracy --tune --train_limit=20000 --epochs=6 \
      --cache_draws=4 --seeds=0,1 "$@"
}
run --methods=alone --tag=tune_kd_alone "$@"
for setting in "4 0.9" "2 0.5" "1 0.5" "2 0.9" "1 0.9" "4 0.5"; do
  read -r tau alpha <<< "$setting"
  run --methods=kd --temperature="$tau" --kd_weight="$alpha" \
      --tag="tune_kd_t${tau}_a${alpha}" "$@"
done
