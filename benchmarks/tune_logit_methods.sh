#!/usr/bin/env bash
# DKD and KD with logit standardization on the validation protocol of the
# KD search (first 20k training images, 6 epochs, 4 cached views, seeds 0-1,
# evaluated on the last 10k training images), paired seed by seed with
# tune_kd_alone and tune_kd_t1_a0.5. Both train from the teacher-output
# cache, at the cost of the student alone.
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_logit_methods.sh
set -euo pipefail
cd "$(dirname "$0")/.."
run() {
  "${PYTHON:-python}" -m benchmarks.accuracy --tune --train_limit=20000 \
      --epochs=6 --cache_draws=4 --seeds=0,1 --kd_weight=0.5 "$@"
}
run --methods=dkd --tag=tune_dkd   # the paper's β 8, τ 4
run --methods=kd_ls --tag=tune_kd_ls
# τ 4 hurt KD on this student (tune_kd_search.md): DKD at τ 1.
run --methods=dkd --dkd_temperature=1 --tag=tune_dkd_t1
run --methods=dkd --dkd_temperature=1 --dkd_beta=2 --tag=tune_dkd_t1_b2
