"""Export a trained run: model file, trace and workload YAML (docs/formats.md), with provenance.

Files are written only through `archsim.format.save_model` / `save_trace` (atomically);
the workload YAML through `archsim.fileio`. Accuracies and spatial densities in the
provenance are measured here, in integer mode, on the whole test set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from archsim.config import load_config
from archsim.fileio import atomic_write_text
from archsim.format import BnnModel, Trace, load_model, save_model, save_trace
from trainer.data import load_dataset
from trainer.intmode import IntModel, calibrate_frac_bits, fold
from trainer.train import (
    RunError,
    TrainConfig,
    batches,
    build_model,
    evaluate,
    hw_geometry,
    load_checkpoint,
    overall_kernel_density,
)

BATCH = 250


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def int_accuracy(
    model: BnnModel, x: torch.Tensor, y: torch.Tensor, progress: bool = False
) -> tuple[float, dict[str, float]]:
    """Integer-mode accuracy and per-layer active fraction on (x, y)."""
    im = IntModel(model)
    correct = 0
    active = {L.name: 0.0 for L in model.layers if L.predictor is not None}
    for i in batches(len(y), BATCH, "integer mode", progress):
        run = im.run(x[i : i + BATCH])
        correct += int((run.logits.argmax(1) == y[i : i + BATCH]).sum())
        for L, m in zip(model.layers, run.masks, strict=True):
            if m is not None:
                active[L.name] += float(m.double().mean(dim=(1, 2)).sum())
    return correct / len(y), {n: v / len(y) for n, v in active.items()}


def work(model: BnnModel, active: dict[str, float]) -> tuple[float, float]:
    """(dense, pruned) work per sample: kernels x positions, over all binary layers."""
    dense = sum(L.c_in * L.c_out * L.h_out * L.w_out for L in model.layers)
    pruned = sum(float(L.keep.sum()) * L.h_out * L.w_out * active.get(L.name, 1.0) for L in model.layers)
    return float(dense), pruned


def make_trace(model: BnnModel, checksum: str, x: torch.Tensor, y: torch.Tensor, meta: dict[str, Any]) -> Trace:
    run = IntModel(model).run(x)
    return Trace(
        model_checksum=checksum,
        inputs=x.numpy().astype(np.uint8),
        labels=y.numpy().astype(np.int64),
        stem_out=run.stem_out.numpy().astype(np.int16),
        layer_out=tuple(o.numpy().astype(np.int16) for o in run.layer_out),
        masks=tuple(None if m is None else m.numpy() for m in run.masks),
        logits=run.logits.numpy(),
        meta=meta,
    )


def export_run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    st = load_checkpoint(args.run_dir)
    if not st["done"]:
        raise RunError(
            f"{args.run_dir / 'checkpoint.pt'}: field 'epoch': training stopped after {st['epoch']} of {st['config']['epochs']} epochs; rerun the train command to finish it"
        )
    cfg_d = dict(st["config"])
    cfg_d["kernel_density"] = tuple(cfg_d["kernel_density"])
    cfg = TrainConfig(**cfg_d)
    if args.baseline is None and (any(d < 1.0 for d in cfg.kernel_density) or cfg.spatial_budget is not None):
        raise RunError(
            "--baseline: a pruned model's workload needs its dense baseline model (export the dense run first, then pass its .npz)"
        )
    for p in (args.baseline, args.baseline_trace):
        if p is not None and not Path(p).exists():
            raise RunError(f"{p}: baseline file not found")
    hw_path = Path(args.hardware) if args.hardware else Path(cfg.hardware)
    hw = load_config(hw_path)
    trained_for = hw_geometry(cfg)[:2]
    if any(d < 1.0 for d in cfg.kernel_density) and (hw.pe_array.rows, hw.pe_array.acc_depth) != trained_for:
        raise RunError(
            f"{hw_path}: field 'pe_array': the kernel masks are balanced for rows, acc_depth = {trained_for}, "
            f"this configuration has {(hw.pe_array.rows, hw.pe_array.acc_depth)}"
        )
    net = build_model(st["model_args"])
    net.load_state_dict(st["model"])
    net.eval()
    ds = load_dataset(cfg.dataset, Path(cfg.data_dir) if cfg.data_dir else None, cfg.train_subset, cfg.seed)

    # frac_bits: calibrated on (the first 2000) training images, never on the test set.
    frac_bits = (
        args.frac_bits
        if args.frac_bits is not None
        else calibrate_frac_bits(net, ds.train_x[:2000], hw.epilogue.value_bits)
    )
    pruned_kernels = any(d < 1.0 for d in cfg.kernel_density)
    balance = (hw.pe_array.rows, hw.pe_array.acc_depth) if pruned_kernels else None
    model = fold(net, hw, frac_bits, args.name, balance, {})

    print(f"{args.run_dir}: evaluating float and integer mode on {len(ds.test_y)} test images", file=sys.stderr)
    fl = evaluate(net, ds.test_x, ds.test_y, progress=args.progress)
    acc_int, active = int_accuracy(model, ds.test_x, ds.test_y, progress=args.progress)
    dense_w, pruned_w = work(model, active)
    positions = {L.name: L.h_out * L.w_out for L in model.layers}
    spatial = sum(active[n] * positions[n] for n in active) / sum(positions[n] for n in active) if active else None
    prov = {
        "command": st["command"],
        "export_command": args.command,
        "dataset": cfg.dataset,
        "train_subset": cfg.train_subset,
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "width": cfg.width,
        "train_config": st["config"],
        "hardware": _rel(hw_path, Path.cwd()) if not hw_path.is_absolute() else hw_path.name,
        "test_images": len(ds.test_y),
        "float_accuracy": fl["accuracy"],
        "int_accuracy": acc_int,
        "kernel_density": overall_kernel_density(net),
        "kernel_density_per_layer": {L.name: float(L.keep.mean()) for L in model.layers},
        "spatial_density": spatial,
        "spatial_density_per_layer": active,
        "dense_work": dense_w,
        "pruned_work": pruned_w,
        "ideal_speedup": dense_w / pruned_w,
        "frac_bits": frac_bits,
        "frac_bits_source": "given"
        if args.frac_bits is not None
        else "calibrated on 2000 training images, 2x headroom",
        "epoch_seconds": [h["epoch_seconds"] for h in st["history"]],
        "history": [{k: v for k, v in h.items() if not k.endswith("per_layer")} for h in st["history"]],
    }
    model = fold(net, hw, frac_bits, args.name, balance, {"synthetic": False, "provenance": prov})

    out = Path(args.out)
    model_path = out / "models" / f"{args.name}.npz"
    trace_path = out / "models" / f"{args.name}.trace.npz"
    checksum = save_model(model_path, model)
    n = min(args.samples, len(ds.test_y))
    trace = make_trace(
        model,
        checksum,
        ds.test_x[:n],
        ds.test_y[:n],
        {"synthetic": False, "source": f"first {n} {cfg.dataset} test images"},
    )
    save_trace(trace_path, trace)

    net_label = "ResNet-18" if cfg.network is None else f"network '{st['model_args']['network'].get('name')}'"
    workload: dict[str, Any] = {
        "name": args.name,
        "description": (
            f"binary {net_label} (width {cfg.width}) trained on {cfg.dataset} for {cfg.epochs} epochs; "
            f"integer-mode test accuracy {acc_int:.4f}, kernel density {prov['kernel_density']:.3f}, "
            f"spatial density {'-' if spatial is None else f'{spatial:.3f}'}, ideal speedup {dense_w / pruned_w:.2f}x"
        ),
        "hardware": _rel(hw_path, out),
        "model": _rel(model_path, out),
        "trace": _rel(trace_path, out),
        "samples": n,
    }
    if args.baseline is not None:
        workload["baseline"] = {"model": _rel(Path(args.baseline), out)}
        if args.baseline_trace is not None:
            workload["baseline"]["trace"] = _rel(Path(args.baseline_trace), out)
    else:  # a dense model is its own baseline
        workload["baseline"] = {"model": workload["model"], "trace": workload["trace"]}
    atomic_write_text(out / f"{args.name}.yaml", yaml.safe_dump(workload, sort_keys=False, width=120))
    # Check the written file reads back (checksum, structure) before reporting success.
    load_model(model_path)
    summary = {
        k: prov[k]
        for k in ("float_accuracy", "int_accuracy", "kernel_density", "spatial_density", "ideal_speedup", "frac_bits")
    }
    print(
        json.dumps(
            {"model": str(model_path), "trace": str(trace_path), "workload": str(out / f"{args.name}.yaml"), **summary},
            indent=2,
        )
    )
    return prov
