#!/usr/bin/env bash
# Validation search around the default `ama_cached` (every stage by a 1x1
# conv adapter, the last one teaching the student's stage 3; its own run
# folder: tune_ama_cached_conv1_m3): the student's map weight, the
# adapter's map weight γ, the adapters' warm-up and the KD temperature,
# one at a time. Each setting is its own resumable run folder; the table:
#   python -m benchmarks.tune_summary --prefix=tune_ama_cached_ \
#       --baseline=tune_kd_alone
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_ama_cached_weights.sh \
#     [--threads=1]
EXTRA=("$@")
source "$(dirname "$0")/tune_protocol.sh"
cached() { tune --methods=ama_cached "$@" "${EXTRA[@]}"; }
cached --ama_map_weight=0.3 --tag=tune_ama_cached_map0.3
cached --ama_map_weight=3 --tag=tune_ama_cached_map3
cached --ama_gamma=0 --tag=tune_ama_cached_gamma0
cached --ama_gamma=5 --tag=tune_ama_cached_gamma5
cached --ama_warmup_steps=0 --tag=tune_ama_cached_warm0
cached --ama_warmup_steps=1000 --tag=tune_ama_cached_warm1000
cached --temperature=2 --tag=tune_ama_cached_t2
