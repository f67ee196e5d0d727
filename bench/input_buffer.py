"""The input buffer lever (docs/timing.md 4.4) on the timing model: dense and pruned cycles, with and without.

    python bench/input_buffer.py [WORKLOAD] [--mode fast|cycle]

The RTL generator does not build the input buffer yet (docs/config.md, "Limits of the RTL
generator"), so a workload cannot switch it on; this script validates the workload's hardware
configuration with `buffers.input_buffer: true` outside the RTL limits, recompiles the pruned
and the dense programme for it (the dense baseline gets the same hardware), and runs both.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from archsim.config import HardwareConfig  # noqa: E402
from archsim.program import compile_program  # noqa: E402
from archsim.runner import run_workload  # noqa: E402
from archsim.workload import Workload, load_workload  # noqa: E402


def with_input_buffer(wl: Workload) -> Workload:
    data = wl.config.model_dump()
    data["buffers"]["input_buffer"] = True
    cfg = HardwareConfig.model_validate(data, context={"rtl_limits": False})
    equal_area = None
    if wl.equal_area is not None:
        data = wl.equal_area[0].model_dump()
        data["buffers"]["input_buffer"] = True
        wide = HardwareConfig.model_validate(data, context={"rtl_limits": False})
        equal_area = (wide, compile_program(wl.baseline, wide, "dense"))
    return dataclasses.replace(
        wl,
        config=cfg,
        program=compile_program(wl.model, cfg, "sparse"),
        baseline_program=compile_program(wl.baseline, cfg, "dense"),
        equal_area=equal_area,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", nargs="?", default=str(ROOT / "workloads/resnet18_pruned.yaml"))
    ap.add_argument("--mode", choices=("fast", "cycle"), default="fast")
    args = ap.parse_args(argv)
    wl = load_workload(args.workload)
    print(f"workload {wl.name}: {len(wl.samples)} samples, hardware {wl.config.name}, timing mode {args.mode}")
    head = f"{'variant':<40} {'dense cyc':>10} {'pruned cyc':>11} {'speedup':>8} {'ideal':>7} {'ach/ideal':>9}"
    print(head)
    print("-" * len(head))
    for label, w in (("as configured", wl), ("input buffer (timing model only)", with_input_buffer(wl))):
        r = run_workload(w, mode=args.mode, progress=False)
        dense, pruned = r.dense.total_cycles, r.sparse_cycles_mean
        print(
            f"{label:<40} {dense:>10,} {pruned:>11,.0f} {r.speedup:>7.2f}x {r.ideal_speedup:>6.2f}x "
            f"{r.speedup / r.ideal_speedup:>9.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
