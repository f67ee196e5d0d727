#!/usr/bin/env bash
# Trains and exports the shipped models: the full-width dense and pruned ResNet-18s on
# Fashion-MNIST (8 epochs), the half-width ablations (2 epochs: dense, kernel pruning only,
# spatial pruning only, both), then writes workloads/*.yaml, workloads/models/,
# docs/accuracy.md and the figures of docs/figures/ made from the shipped run. Every step
# resumes: after an interruption, rerun the same command.
#
# Usage: scripts/train_models.sh [RUNS_DIR]     (default: runs/, ignored by git)
#        PRINT=1 scripts/train_models.sh        (print the commands, run nothing)
# Two runs train at a time with one thread each (this is a 2-core machine's best use); a full-width
# epoch takes about 30-50 minutes per run, a half-width one about 12-18.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs}
PY=${PYTHON:-.venv/bin/python}
KD=0.5,0.25,0.25,0.125  # per stage; with the 0.5 spatial budget on stages 1-3: ideal speedup about 6x
FULL=(--dataset fashion-mnist --epochs 8 --seed 0 --threads 1 --width 1.0)
HALF=(--dataset fashion-mnist --epochs 2 --seed 0 --threads 1 --width 0.5)
PRUNE=(--kernel-density $KD --spatial-budget 0.5)

. scripts/train_lib.sh

[ "${PRINT:-0}" = 1 ] || mkdir -p "$RUNS"  # printing creates nothing
bg fm_dense_w1 "${FULL[@]}"
bg fm_pruned_w1 "${FULL[@]}" "${PRUNE[@]}"
join
bg fm_dense_w05 "${HALF[@]}"
bg fm_both_w05 "${HALF[@]}" "${PRUNE[@]}"
join
bg fm_kernel_w05 "${HALF[@]}" --kernel-density $KD
bg fm_spatial_w05 "${HALF[@]}" --spatial-budget 0.5
join

M=workloads/models
export_model fm_dense_w1 resnet18_dense --samples 4
export_model fm_pruned_w1 resnet18_pruned --samples 4 --baseline $M/resnet18_dense.npz \
  --baseline-trace $M/resnet18_dense.trace.npz
HB=(--baseline $M/resnet18_half_dense.npz --baseline-trace $M/resnet18_half_dense.trace.npz)
export_model fm_dense_w05 resnet18_half_dense --samples 2
export_model fm_both_w05 resnet18_half_both --samples 2 "${HB[@]}"
export_model fm_kernel_w05 resnet18_half_kernel --samples 2 "${HB[@]}"
export_model fm_spatial_w05 resnet18_half_spatial --samples 2 "${HB[@]}"
# (scripts/train_networks.sh rewrites it with the ResNet-20 and VGG-small rows added)
step "$PY" -m trainer table $M/resnet18_dense.npz $M/resnet18_pruned.npz $M/resnet18_half_dense.npz \
  $M/resnet18_half_kernel.npz $M/resnet18_half_spatial.npz $M/resnet18_half_both.npz --out docs/accuracy.md
# the shipped run's results and every figure made from them (the sweeps stay synthetic)
step "$PY" -m archsim run workloads/resnet18_pruned.yaml --stream 4 --out docs/figures/data/resnet18_pruned
for w in half_kernel half_spatial half_both; do  # the ablation runs behind the accuracy-vs-speedup figure
  step "$PY" -m archsim run workloads/resnet18_$w.yaml --out docs/figures/data/resnet18_$w
done
step "$PY" -m analysis all --results docs/figures/data/resnet18_pruned docs/figures/data/density_grid \
  docs/figures/data/pe_array --accuracy docs/figures/data/resnet18_half_kernel docs/figures/data/resnet18_half_spatial \
  docs/figures/data/resnet18_half_both --out docs/figures
