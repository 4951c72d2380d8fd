#!/usr/bin/env bash
# RKD, SP and PKT (each with KD, on the pooled embeddings; the teacher runs
# every step) on the validation protocol of the KD search, paired seed by
# seed with tune_kd_alone and tune_kd_t1_a0.5 (see tune_logit_methods.sh).
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_relational.sh
set -euo pipefail
cd "$(dirname "$0")/.."
run() {
  "${PYTHON:-python}" -m benchmarks.accuracy --tune --train_limit=20000 \
      --epochs=6 --cache_draws=4 --seeds=0,1 --temperature=1 \
      --kd_weight=0.5 "$@"
}
run --methods=rkd_kd --tag=tune_rkd_kd
run --methods=sp_kd --tag=tune_sp_kd
run --methods=pkt_kd --tag=tune_pkt_kd
