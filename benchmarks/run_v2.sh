#!/usr/bin/env bash
# Protocol v2 of the accuracy benchmark, in the order that answers the main
# question first: the student alone and KD on all five seeds, DKD at the
# validation search's setting, then Keras's fair Distiller, then AMA + KD (its settings from the validation search),
# then the 3-seed rows. Every (method, seed) is one resumable run file;
# rerun this script to continue after a stop.
# Usage: PYTHON=.venv/bin/python bash benchmarks/run_v2.sh [extra flags]
set -euo pipefail
cd "$(dirname "$0")/.."
run() { "${PYTHON:-python}" -m benchmarks.accuracy --tag=v2 "$@"; }
for seed in 0 1 2 3 4; do run --methods=alone,kd --seeds="$seed" "$@"; done
# DKD at the setting the validation search picked (tune_dkd_t1_b2: τ 1,
# β 2), from the cache like KD.
for seed in 0 1 2 3 4; do
  run --methods=dkd --dkd_temperature=1 --dkd_beta=2 --seeds="$seed" "$@"
done
for seed in 0 1 2 3 4; do run --methods=keras_fair --seeds="$seed" "$@"; done
for seed in 0 1 2 3 4; do run --methods=ama_kd --seeds="$seed" "$@"; done
for seed in 0 1 2; do
  run --methods=keras_default,fitnets_kd,at_kd --seeds="$seed" "$@"
done
run --aggregate_only --methods=alone,kd,dkd,keras_fair,ama_kd,keras_default,fitnets_kd,at_kd \
    --dkd_temperature=1 --dkd_beta=2 "$@"
