"""Cross-check table: archsim's cycles against the RTL's, and simulation wall times.

    python bench/rtl_crosscheck.py [--no-fullsize] [--runs 3]

Runs every case of tests/rtlsim/cases.py (Icarus, small configurations), the
back-pressure case, the full-size Ultra96v2 ResNet-18 stage-3 block and the shipped trained
ResNet-18 on each of its 4 trace images (Verilator),
and prints one Markdown row per case: archsim.contract.schedule() and the SimPy model
(fast mode) cycles, the RTL's cycles from start to done, whether every layer end and
the output map agree, and the wall times (RTL: the simulation loop only, median of
--runs; archsim: schedule() and simulate(), median of 5).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from archsim.contract import schedule  # noqa: E402
from archsim.sim import simulate  # noqa: E402
from tests.rtlsim.cases import BACKPRESSURE, CASES, case  # noqa: E402
from tests.rtlsim.configs import ultra96  # noqa: E402
from tests.rtlsim.harness import build, run  # noqa: E402
from tests.test_rtl_fullsize import stage3_case, trained_case  # noqa: E402


def _median_time(fn, n: int = 5) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def row(label: str, cfg_name: str, built, c, runs: int, work: Path, bp: bool = False) -> str:
    walls, o = [], None
    for i in range(runs):
        o = run(built, c, work / f"{label}-{i}")
        walls.append(o.wall_s)
    assert o is not None
    s = o.sched
    sim = simulate(o.program, o.cfg, o.active, "fast")
    t_contract = _median_time(lambda: schedule(o.program, o.cfg, o.active))
    t_sim = _median_time(lambda: simulate(o.program, o.cfg, o.active, "fast"))
    exact = bool(np.array_equal(o.got, o.expected))
    ends = o.layer_ends == [lt.end for lt in s.layers]
    active = ",".join("-" if m is None else f"{int(m.sum())}/{m.size}" for m in o.masks)
    nl = len(o.program.layers)
    wall = statistics.median(walls)
    return (
        f"| {label}{' (back-pressure)' if bp else ''} | {cfg_name} | {nl} | {active} | {s.total_cycles:,} | {sim.total_cycles:,} "
        f"| {o.done:,} | {'yes' if ends else 'NO'} | {'yes' if exact else 'NO'} | {wall:.2f} ({wall / nl:.2f}/layer, "
        f"{o.done / wall / 1000:.1f} kcyc/s) | {1000 * t_contract:.2f} | {1000 * t_sim:.1f} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-fullsize", action="store_true")
    args = ap.parse_args()
    print(
        "| case | config | layers | active positions | archsim contract cycles | archsim SimPy cycles | RTL cycles "
        "| layer ends equal | output bit-exact | RTL sim wall s | contract ms | SimPy fast ms |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="bnn-xcheck-") as tmp:
        work = Path(tmp)
        built_cache: dict = {}
        for spec in CASES:
            key = (spec.config().model_dump_json(), spec.mode)
            if key not in built_cache:
                built_cache[key] = build(spec.config(), sparse=spec.mode == "sparse")
            print(
                row(
                    spec.name,
                    f"{spec.config().pe_array.rows}x{spec.config().pe_array.cols} icarus",
                    built_cache[key],
                    spec.make(),
                    args.runs,
                    work,
                ),
                flush=True,
            )
        spec = case(BACKPRESSURE)
        key = (spec.config().model_dump_json(), spec.mode)
        print(
            row(spec.name, "4x4 icarus", built_cache[key], spec.make(backpressure=True, mem_seed=1), 1, work, bp=True),
            flush=True,
        )
        if not args.no_fullsize:
            b = build(ultra96(), sparse=True, sim="verilator")
            print(row("resnet18_s3b1", "ultra96v2 16x16 verilator", b, stage3_case(), args.runs, work), flush=True)
            for sample in range(4):  # the shipped trained ResNet-18, whole network, one row per trace image
                c = trained_case(sample)
                if c is not None:
                    print(row(c.name, "ultra96v2 16x16 verilator", b, c, 1, work), flush=True)
    print("\nRTL cycles with back-pressure are not expected to equal the contract's (docs/timing.md section 8).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
