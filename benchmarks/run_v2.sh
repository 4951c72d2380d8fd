#!/usr/bin/env bash
# Protocol v2 of the accuracy benchmark, in the order that answers the main
# question first: the student alone and KD on all five seeds, then per seed
# the other headline rows, Keras's fair Distiller and AMA + KD as a user
# gets it (`ama_cached`: the best AMA setting of the validation search,
# and the fast one), then the 3-seed rows (every other method of the
# registry, and Keras's default string). Every (method, seed) is one
# resumable run file; rerun this script to continue after a stop. After
# each run the table is rebuilt from every run so far.
# Usage: PYTHON=.venv/bin/python bash benchmarks/run_v2.sh [extra flags]
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA=("$@")
ALL=alone,kd,dkd,keras_fair,ama,ama_cached,kd_ls,keras_default,fitnets,at,rkd,sp,pkt,crd,review_kd
# DKD at the setting the validation search picked (tune_dkd_t1_b2: τ 1, β 2).
DKD=(--dkd_temperature=1 --dkd_beta=2)
bench() { "${PYTHON:-python}" -m benchmarks.accuracy --tag=v2 "$@" "${EXTRA[@]}"; }
# run METHOD SEED: one run unless its file exists, then the table.
run() {
  [[ -e "benchmarks/results/runs/v2/$1-seed$2.json" ]] && return 0
  bench --methods="$1" --seeds="$2" "${DKD[@]}"
  bench --aggregate_only --methods="$ALL" "${DKD[@]}"
}
for seed in 0 1 2 3 4; do run alone "$seed"; run kd "$seed"; done
# Seed by seed, so that a stop leaves paired rows with equal seed counts.
for seed in 0 1 2 3 4; do run keras_fair "$seed"; run ama_cached "$seed"; done
# The 3-seed rows, cheapest first: the methods that train from the cache
# (logits, or logits and the pooled embedding) at about the student's
# cost, then those that run the teacher every step.
for seed in 0 1 2; do
  for method in dkd kd_ls rkd sp pkt crd keras_default ama fitnets at review_kd; do
    run "$method" "$seed"
  done
done
