#!/usr/bin/env bash
# RKD, SP, PKT and CRD (each with KD, on the pooled embeddings) and ReviewKD
# (with KD, on every stage) on the validation protocol (tune_protocol.sh);
# the teacher runs every step.
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_relational.sh
source "$(dirname "$0")/tune_protocol.sh"
tune --methods=rkd --tag=tune_rkd_kd
tune --methods=sp --tag=tune_sp_kd
tune --methods=pkt --tag=tune_pkt_kd
tune --methods=crd --tag=tune_crd_kd
tune --methods=review_kd --tag=tune_review_kd
# ReviewKD's fusions at its default width (the deepest student map's 32
# channels) cost more than the student itself: narrower fused maps.
tune --methods=review_kd --review_mid_channels=8 --tag=tune_review_kd_mid8
