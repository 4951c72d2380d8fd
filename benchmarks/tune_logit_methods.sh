#!/usr/bin/env bash
# DKD and KD with logit standardization on the validation protocol
# (tune_protocol.sh). Both train from the teacher-output cache, at the cost
# of the student alone.
# Usage: PYTHON=.venv/bin/python bash benchmarks/tune_logit_methods.sh
source "$(dirname "$0")/tune_protocol.sh"
tune --methods=dkd --dkd_temperature=4 --dkd_beta=8 --tag=tune_dkd  # paper
tune --methods=kd_ls --tag=tune_kd_ls
# τ 4 hurt KD on this student (tune_kd_search.md): DKD at τ 1.
tune --methods=dkd --dkd_temperature=1 --dkd_beta=8 --tag=tune_dkd_t1
tune --methods=dkd --dkd_temperature=1 --dkd_beta=2 --tag=tune_dkd_t1_b2
# The paper's weights: KD 9, cross-entropy 0.1 (τ 2). Our α splits a unit
# weight, and Adam is invariant to the loss's scale, so α = 9 / 9.1.
tune --methods=kd_ls --kd_weight=0.989 --tag=tune_kd_ls_paper
# Standardized logits have unit spread, so τ 2 softens them as much as τ ≈ 2σ
# of the raw teacher logits, and soft targets (τ 4) hurt KD here: lower τ.
tune --methods=kd_ls --ls_temperature=1 --tag=tune_kd_ls_t1
tune --methods=kd_ls --ls_temperature=0.5 --tag=tune_kd_ls_t0.5
# Lower τ did worse (τ 1: −0.33, τ 0.5: −0.43 points against τ 2's −0.00
# vs the student alone, 2 seeds each): the other way.
tune --methods=kd_ls --ls_temperature=4 --tag=tune_kd_ls_t4
