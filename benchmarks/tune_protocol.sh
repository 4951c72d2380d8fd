# The validation protocol shared by the searches (sourced by tune_*.sh):
# students train on the first 20k training images for 6 epochs from 4
# cached views per image, seeds 0 and 1, and are evaluated on the last 10k
# training images, never the test set; KD at τ 1, α 0.5 unless a search
# overrides them (later flags win). Each setting is its own resumable run
# folder under benchmarks/results/runs/<tag>/, paired seed by seed with
# tune_kd_alone; the table: python -m benchmarks.tune_summary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tune() {
  "${PYTHON:-python}" -m benchmarks.accuracy --tune --train_limit=20000 \
      --epochs=6 --cache_draws=4 --seeds=0,1 --temperature=1 \
      --kd_weight=0.5 "$@"
}
