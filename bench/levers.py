"""What each accelerator lever buys, on dense and on pruned cycles (the same hardware for both).

    python bench/levers.py [WORKLOAD] [--mode fast|cycle]

Runs the workload (default: the shipped trained ResNet-18) once per hardware variant and
prints dense cycles, pruned cycles (mean over the workload's samples), the speedup, the
ideal (work-ratio) speedup, achieved / ideal and the pruned end-to-end latency (host + accelerator). Every lever is a field of the hardware
configuration, so the dense baseline always runs on exactly the hardware the pruned
model runs on (the index decoder and mask unit bypassed). The first row is the design as
configured; each further row switches one more lever back to its earlier form (newest first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from archsim.runner import run_workload  # noqa: E402
from archsim.workload import load_workload  # noqa: E402

# (label, --set style overrides of the hardware configuration); {} is the design as configured.
ONE_PORT = {"axi.data_bits": 128, "axi.hp_ports": 1}  # one 128-bit HP port instead of HP0 + HP1
# The early mask scan cannot help the dense baseline, whose mask unit is bypassed (docs/timing.md 4.5).
MAP = {"buffers.early_scan": False, "buffers.pooled_store": False}  # no early scan; the STORE writes the last map
HOST = {"pe_array.split_tiles": False, "stem_unit.enabled": False}  # and the host computes the stem (timing.md 3.1)
VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("as configured", {}),
    ("no split tiles (a tile of 8 positions or fewer takes one step a cycle)", {"pe_array.split_tiles": False}),
    ("no split tiles, no stem unit (the host computes the stem, the LOAD reads x0)", HOST),
    (
        "no split tiles, host stem, no early mask scan (each layer's scan starts with the layer)",
        {**HOST, "buffers.early_scan": False},
    ),
    ("no split tiles, host stem, no early scan, map STORE (the last map, not its pooled sums)", {**HOST, **MAP}),
    (
        "no split tiles, host stem, no early scan, map STORE, one HP port (128-bit master, not HP0 + HP1)",
        {**HOST, **MAP, **ONE_PORT},
    ),
    (
        "no split tiles, host stem, no early scan, map STORE, one HP port, no input buffer (layer 1 waits for the LOAD)",
        {**HOST, **MAP, **ONE_PORT, "buffers.input_buffer": False},
    ),
    (
        "no split tiles, host stem, no early scan, map STORE, one HP port, no input buffer, 2 blob slots (blob i waits for i - 2)",
        {**HOST, **MAP, **ONE_PORT, "buffers.input_buffer": False, "buffers.blob_slots": 2},
    ),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", nargs="?", default=str(ROOT / "workloads/resnet18_pruned.yaml"))
    ap.add_argument("--mode", choices=("fast", "cycle"), default="fast")
    args = ap.parse_args(argv)
    wl = load_workload(args.workload)
    print(f"workload {wl.name}: {len(wl.samples)} samples, hardware {wl.config.name}, timing mode {args.mode}")
    width = max(len(label) for label, _ in VARIANTS)
    head = (
        f"{'variant':<{width}} {'dense cyc':>10} {'pruned cyc':>11} {'speedup':>8} {'ideal':>7} {'ach/ideal':>9} "
        f"{'pruned e2e us':>13}"
    )
    print(head)
    print("-" * len(head))
    for label, changes in VARIANTS:
        r = run_workload(load_workload(args.workload, changes), mode=args.mode, progress=False)
        dense = r.dense.total_cycles
        pruned = r.sparse_cycles_mean
        print(
            f"{label:<{width}} {dense:>10,} {pruned:>11,.0f} {r.speedup:>7.2f}x {r.ideal_speedup:>6.2f}x "
            f"{r.speedup / r.ideal_speedup:>9.3f} {r.latency_us(pruned):>13.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
