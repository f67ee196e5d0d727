#!/usr/bin/env bash
# Trains and exports the networks of issue 14 on Fashion-MNIST with the shipped ResNet-18's recipe
# (8 epochs, seed 0; pruned: kernel densities 0.5,0.25,0.25,0.125 per stage and a 0.5 spatial
# budget): the block-residual ResNet-20 at width 1.0 (16-32-64 channels) and VGG-small at width
# 0.125 (16-16-M-32-32-M-64-64-M), each dense and pruned, then their workloads in workloads/.
# Every step resumes: after an interruption, rerun the same command.
#
# Usage: scripts/train_networks.sh [RUNS_DIR]     (default: runs/, ignored by git)
#        PRINT=1 scripts/train_networks.sh        (print the commands, run nothing)
# The four runs train at once with one thread each; the epoch times are in each model's provenance.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs}
PY=${PYTHON:-.venv/bin/python}
KD=0.5,0.25,0.25,0.125
BASE=(--dataset fashion-mnist --epochs 8 --seed 0 --threads 1)
R20=("${BASE[@]}" --width 1.0 --network networks/resnet20.yaml)
VGG=("${BASE[@]}" --width 0.125 --network networks/vgg_small.yaml)
PRUNE=(--kernel-density $KD --spatial-budget 0.5)

. scripts/train_lib.sh

[ "${PRINT:-0}" = 1 ] || mkdir -p "$RUNS"  # printing creates nothing
bg fm_r20_dense "${R20[@]}"
bg fm_r20_pruned "${R20[@]}" "${PRUNE[@]}"
bg fm_vgg_dense "${VGG[@]}"
bg fm_vgg_pruned "${VGG[@]}" "${PRUNE[@]}"
join

M=workloads/models
export_model fm_r20_dense resnet20_dense --samples 4
export_model fm_r20_pruned resnet20_pruned --samples 4 --baseline $M/resnet20_dense.npz \
  --baseline-trace $M/resnet20_dense.trace.npz
export_model fm_vgg_dense vgg_small_dense --samples 4
export_model fm_vgg_pruned vgg_small_pruned --samples 4 --baseline $M/vgg_small_dense.npz \
  --baseline-trace $M/vgg_small_dense.trace.npz
for w in resnet20_pruned vgg_small_pruned; do
  step "$PY" -m archsim run workloads/$w.yaml
done
# docs/accuracy.md: the ResNet-18 models of scripts/train_models.sh and these
step "$PY" -m trainer table $M/resnet18_{dense,pruned,half_dense,half_kernel,half_spatial,half_both}.npz \
  $M/resnet20_{dense,pruned}.npz $M/vgg_small_{dense,pruned}.npz --out docs/accuracy.md
