#!/usr/bin/env bash
# Protocol v2 of the accuracy benchmark, in the order that answers the main
# question first: the student alone and KD on all five seeds, DKD at the
# validation search's setting (3 seeds), then Keras's fair Distiller, then
# AMA + KD, then DKD's last two seeds and the 3-seed rows. Every (method, seed) is one resumable run file;
# rerun this script to continue after a stop.
# Usage: PYTHON=.venv/bin/python bash benchmarks/run_v2.sh [extra flags]
set -euo pipefail
cd "$(dirname "$0")/.."
run() { "${PYTHON:-python}" -m benchmarks.accuracy --tag=v2 "$@"; }
for seed in 0 1 2 3 4; do run --methods=alone,kd --seeds="$seed" "$@"; done
# DKD at the setting the validation search picked (tune_dkd_t1_b2: τ 1,
# β 2), from the cache like KD: three seeds first (the method table's
# minimum), the last two after the headline rows.
dkd() { run --methods=dkd --dkd_temperature=1 --dkd_beta=2 --seeds="$1" "${@:2}"; }
for seed in 0 1 2; do dkd "$seed" "$@"; done
for seed in 0 1 2 3 4; do run --methods=keras_fair --seeds="$seed" "$@"; done
for seed in 0 1 2 3 4; do run --methods=ama --seeds="$seed" "$@"; done
for seed in 3 4; do dkd "$seed" "$@"; done
for seed in 0 1 2; do
  run --methods=keras_default,fitnets,at --seeds="$seed" "$@"
done
run --aggregate_only --methods=alone,kd,dkd,keras_fair,ama,keras_default,fitnets,at \
    --dkd_temperature=1 --dkd_beta=2 "$@"
