"""Benchmark: the functional model on the full ResNet-18 and `archsim run` end to end.

Usage: python -m bench.functional_speed [--repeat N]
Prints medians over N repeats (wall-clock seconds on this machine).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from archsim.format import load_model, load_trace
from archsim.functional import run_model

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "workloads/resnet18_pruned.yaml"


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    models = ROOT / "workloads/models"
    for tag in ("pruned", "dense"):
        model = load_model(models / f"resnet18_{tag}.npz")
        inputs = load_trace(models / f"resnet18_{tag}.trace.npz").inputs
        t = median_time(lambda m=model, x=inputs: run_model(m, x[:1]), args.repeat)
        print(f"functional model, ResNet-18 {tag}, 1 sample 3x32x32: median {t * 1000:.1f} ms over {args.repeat}")
    cmd = [sys.executable, "-m", "archsim", "run", str(WORKLOAD)]
    t = median_time(lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT), max(1, args.repeat // 2))
    print(f"`archsim run workloads/resnet18_pruned.yaml` (new process, 4 samples): median {t:.2f} s")


if __name__ == "__main__":
    main()
