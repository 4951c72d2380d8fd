#!/usr/bin/env bash
# Protocol v2 of the accuracy benchmark, in the order that answers the main
# question first: the student alone and KD on all five seeds, then per seed
# Keras's fair Distiller, AMA + KD and DKD, then the 3-seed rows. Every (method, seed) is one resumable run file;
# rerun this script to continue after a stop.
# Usage: PYTHON=.venv/bin/python bash benchmarks/run_v2.sh [extra flags]
set -euo pipefail
cd "$(dirname "$0")/.."
run() { "${PYTHON:-python}" -m benchmarks.accuracy --tag=v2 "$@"; }
for seed in 0 1 2 3 4; do run --methods=alone,kd --seeds="$seed" "$@"; done
# Then, seed by seed, the other headline rows: Keras's fair Distiller and
# AMA + KD (both run their teacher live), and DKD at the setting the
# validation search picked (tune_dkd_t1_b2: τ 1, β 2), from the cache like
# KD. A stop after any seed leaves paired rows with equal seed counts.
dkd() { run --methods=dkd --dkd_temperature=1 --dkd_beta=2 --seeds="$1" "${@:2}"; }
for seed in 0 1 2 3 4; do
  run --methods=keras_fair --seeds="$seed" "$@"
  run --methods=ama --seeds="$seed" "$@"
  dkd "$seed" "$@"
done
for seed in 0 1 2; do
  run --methods=keras_default,fitnets,at --seeds="$seed" "$@"
done
run --aggregate_only --methods=alone,kd,dkd,keras_fair,ama,keras_default,fitnets,at \
    --dkd_temperature=1 --dkd_beta=2 "$@"
