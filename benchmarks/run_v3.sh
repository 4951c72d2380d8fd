#!/usr/bin/env bash
# Protocol v3 of the accuracy benchmark: where distillation has room.
#   v3_n1000  the shipped teacher (trained on all 60k labels) teaches a
#             student that has labels for only 1,000 training images (100
#             per class); the other 59,000 are unlabeled and teach through
#             the distillation terms alone. The student alone trains on
#             its 1,000 labeled images.
#   v3_n6000  the same with 6,000 labels.
#   v3_gap    a smaller student (resnet8 width 4) on all labels: a wider
#             capacity gap.
# The student alone's schedule under few labels (steps per epoch over its
# repeated labeled images) was picked on the validation split (the last
# 10k training images, seed 0) by the v3_tune_* runs in
# benchmarks/results/runs/, by top-1:
#   1,000 labels: 16 steps 75.62%, 50 80.32%, 150 80.36%, 391 80.66%
#   6,000 labels: 47 steps 82.40%, 150 86.30%, 391 87.36%
# 391 wins both, and is the distilled students' own step count under
# --tune (50,000 images / 128): the alone gets as many optimizer steps.
#
# Every (protocol, method, seed) is one resumable run file under
# benchmarks/results/runs/<tag>/; rerun this script to continue after a
# stop; after each run the protocol's table (benchmarks/results/
# accuracy_<tag>.*, and its block in docs/results.md and, for v3_n1000,
# README.md) is rebuilt from every run so far. JOBS=2 runs two
# single-thread runs at a time (see run_v2.sh); another invocation started
# beside a running one adds workers (each run is locked while it trains).
# An interrupted run goes on from its last finished epoch. Touch
# benchmarks/results/runs/.stop_v3 to let the running runs finish and
# start no new one.
# Usage: PYTHON=.venv/bin/python [JOBS=2] bash benchmarks/run_v3.sh
# Another worker beside a running invocation:
#        PYTHON=.venv/bin/python RUN_THREADS=1 bash benchmarks/run_v3.sh
# (RUNS and LOCKS override the run-file and lock folders.)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${JOBS:-1}"
RUNS="${RUNS:-benchmarks/results/runs}"
LOCKS="${LOCKS:-benchmarks/cache/locks}"
ALONE_STEPS_1000="${ALONE_STEPS_1000:-391}"
ALONE_STEPS_6000="${ALONE_STEPS_6000:-391}"
# Threads per run: 1 when two runs share the machine (JOBS=2, or
# RUN_THREADS=1 for an invocation beside another); unset: TensorFlow's
# default.
RUN_THREADS="${RUN_THREADS:-}"
[[ "$JOBS" -gt 1 ]] && RUN_THREADS="${RUN_THREADS:-1}"
THREADS=()
[[ -n "$RUN_THREADS" ]] && THREADS=(--threads="$RUN_THREADS")
# DKD at the setting protocol v2's validation search picked (τ 1, β 2).
COMMON=(--report_gap --dkd_temperature=1 --dkd_beta=2)
declare -A FLAGS_OF=(
  [v3_n1000]="--labeled=1000 --alone_steps=$ALONE_STEPS_1000"
  [v3_n6000]="--labeled=6000 --alone_steps=$ALONE_STEPS_6000"
  [v3_gap]="--student_width=4"
)
# The pages that quote each protocol's table (checked by the suite).
declare -A PAGES_OF=(
  [v3_n1000]=README.md,docs/results.md
  [v3_n6000]=docs/results.md
  [v3_gap]=docs/results.md
)
# The seeds each protocol plans (the tables count missing runs from them).
declare -A SEEDS_OF=(
  [v3_n1000]=0,1,2,3,4
  [v3_n6000]=0,1,2
  [v3_gap]=0,1,2
)
declare -A METHODS_OF=(
  [v3_n1000]=alone,kd,ama_cached,fitnets,dkd,ama
  [v3_n6000]=alone,kd
  [v3_gap]=alone,kd
)
bench() {
  local tag="$1"
  shift
  # shellcheck disable=SC2086  # FLAGS_OF holds several flags
  "${PYTHON:-python}" -m benchmarks.accuracy --tag="$tag" \
    ${FLAGS_OF[$tag]} "${COMMON[@]}" "${THREADS[@]}" "$@"
}

# The queue, in the order that answers the main question first: at 1,000
# labels, the student alone and KD on five seeds, then AMA + KD from the
# cache on five; the wider gap and 6,000 labels on three; then FitNets +
# KD, DKD and the paper-faithful AMA at 1,000 labels on three.
QUEUE=()
for seed in 0 1 2 3 4; do QUEUE+=("v3_n1000 alone $seed" "v3_n1000 kd $seed"); done
for seed in 0 1 2 3 4; do QUEUE+=("v3_n1000 ama_cached $seed"); done
for seed in 0 1 2; do
  QUEUE+=("v3_gap alone $seed" "v3_gap kd $seed")
  QUEUE+=("v3_n6000 alone $seed" "v3_n6000 kd $seed")
done
for method in dkd fitnets ama; do
  for seed in 0 1 2; do QUEUE+=("v3_n1000 $method $seed"); done
done

# A worker takes the next run that has no file and that no other worker
# holds: each run is held through a lock file (flock), released when its
# process ends, killed or not (benchmarks.accuracy's --backup_dir keeps
# its finished epochs).
mkdir -p "$LOCKS"
BUSY=75
worker() {
  local item tag method seed rc
  for item in "${QUEUE[@]}"; do
    [[ -e "$RUNS/.stop_v3" ]] && return 0
    read -r tag method seed <<< "$item"
    [[ -e "$RUNS/$tag/$method-seed$seed.json" ]] && continue
    rc=0
    (
      flock -n 9 || exit "$BUSY"
      # Finished by another worker since the check above?
      [[ -e "$RUNS/$tag/$method-seed$seed.json" ]] && exit "$BUSY"
      bench "$tag" --methods="$method" --seeds="$seed"
    ) 9> "$LOCKS/$tag-$method-$seed" || rc=$?
    [[ "$rc" -eq "$BUSY" ]] && continue
    [[ "$rc" -eq 0 ]] || return "$rc"
    bench "$tag" --aggregate_only --methods="${METHODS_OF[$tag]}" \
      --seeds="${SEEDS_OF[$tag]}" --pages="${PAGES_OF[$tag]}"
  done
}
# The teacher-output cache every run reads (one file for the three
# protocols), built once before the workers start; a second invocation
# waits here for the first one's build, then finds the file.
(
  flock 9
  bench v3_n1000 --cache_only --methods=kd
) 9> "$LOCKS/cache"
for ((j = 0; j < JOBS; j++)); do worker & done
wait
