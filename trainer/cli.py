"""Command line: `python -m trainer train|export|table ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from archsim.errors import ArchsimError
from trainer.binary import STE_KINDS
from trainer.data import DATASETS


def _densities(text: str) -> tuple[float, float, float, float]:
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 1 or 4 comma-separated numbers, got {text!r}") from None
    if len(vals) == 1:
        vals *= 4
    if len(vals) != 4 or not all(0 < v <= 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected 1 or 4 densities in (0, 1], got {text!r}")
    return (vals[0], vals[1], vals[2], vals[3])


def _budget(text: str) -> float | None:
    if text.lower() == "none":
        return None
    v = float(text)
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1] or 'none', got {text!r}")
    return v


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (exit code 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m trainer", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train (or resume) a binary ResNet-18 in a run directory")
    t.add_argument("--run-dir", type=Path, required=True, help="checkpoints and logs; rerun the same command to resume")
    t.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    t.add_argument("--data-dir", default=None, help="dataset directory (required for cifar10)")
    t.add_argument("--train-subset", type=int, default=0, help="train on a seeded subset of N images (0 = all)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--weight-decay", type=float, default=5e-6)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--width", type=float, default=1.0, help="width multiplier (1.0 = 64/128/256/512 channels)")
    t.add_argument(
        "--network",
        default=None,
        help="network description (docs/formats.md section 6) to train instead of the built-in ResNet-18",
    )
    t.add_argument(
        "--kernel-density",
        type=_densities,
        default=(1.0, 1.0, 1.0, 1.0),
        help="kept-kernel fraction, one value or four per stage",
    )
    t.add_argument("--prune-start", type=float, default=0.05)
    t.add_argument("--prune-end", type=float, default=0.6)
    t.add_argument("--prune-every", type=int, default=50)
    t.add_argument(
        "--spatial-budget",
        type=_budget,
        default=None,
        help="target active fraction for dynamic spatial pruning, or 'none'",
    )
    t.add_argument("--budget-weight", type=float, default=10.0)
    t.add_argument(
        "--hardware", default="configs/ultra96v2.yaml", help="hardware config giving pe_array.rows/acc_depth/cols"
    )
    t.add_argument("--ste", choices=STE_KINDS, default="clipped")
    t.add_argument("--no-bf16", dest="bf16", action="store_false", help="run training convs in float32")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--ckpt-minutes", type=float, default=10.0, help="checkpoint at least this often within an epoch")
    t.add_argument("--ckpt-every", type=int, default=0, help="also checkpoint every N steps (0 = off)")
    t.add_argument("--no-progress", dest="progress", action="store_false")

    e = sub.add_parser("export", help="export a trained run as model, trace and workload YAML")
    e.add_argument("--run-dir", type=Path, required=True)
    e.add_argument("--name", required=True, help="model name; files are <out>/models/<name>.npz and <out>/<name>.yaml")
    e.add_argument("--out", type=Path, default=Path("workloads"))
    e.add_argument("--samples", type=int, default=4, help="test samples in the trace")
    e.add_argument("--baseline", type=Path, default=None, help="dense baseline model (.npz) for the workload")
    e.add_argument("--baseline-trace", type=Path, default=None)
    e.add_argument("--hardware", type=Path, default=None, help="hardware config for the workload (default: the run's)")
    e.add_argument(
        "--frac-bits", type=int, default=None, help="fractional bits of the residual stream (default: calibrated)"
    )
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--no-progress", dest="progress", action="store_false")

    tb = sub.add_parser("table", help="accuracy table (markdown) from exported models' provenance")
    tb.add_argument("models", nargs="+", type=Path)
    tb.add_argument("--out", type=Path, default=None, help="write here (default: stdout)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "train":
            from trainer.train import RunOptions, TrainConfig, command_line, train

            cfg = TrainConfig(
                dataset=args.dataset,
                data_dir=args.data_dir,
                train_subset=args.train_subset,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                weight_decay=args.weight_decay,
                seed=args.seed,
                width=args.width,
                kernel_density=args.kernel_density,
                prune_start=args.prune_start,
                prune_end=args.prune_end,
                prune_every=args.prune_every,
                spatial_budget=args.spatial_budget,
                budget_weight=args.budget_weight,
                hardware=args.hardware,
                ste=args.ste,
                bf16=args.bf16,
                network=args.network,
            )
            opts = RunOptions(
                threads=args.threads, ckpt_minutes=args.ckpt_minutes, ckpt_every=args.ckpt_every, progress=args.progress
            )
            train(cfg, args.run_dir, opts, command=command_line(sys.argv[1:] if argv is None else argv))
        elif args.cmd == "export":
            from trainer.export import export_run
            from trainer.train import command_line

            args.command = command_line(sys.argv[1:] if argv is None else argv)
            export_run(args)
        elif args.cmd == "table":
            from trainer.table import write_table

            write_table(args.models, args.out)
    except ArchsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
