#!/usr/bin/env bash
# RKD, SP and PKT (each with KD, on the pooled embeddings; the teacher runs
# every step) on the validation protocol (tune_protocol.sh).
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_relational.sh
source "$(dirname "$0")/tune_protocol.sh"
tune --methods=rkd --tag=tune_rkd_kd
tune --methods=sp --tag=tune_sp_kd
tune --methods=pkt --tag=tune_pkt_kd
