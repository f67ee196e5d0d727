"""Benchmark: `archsim run WORKLOAD --images fashion-mnist:test`, wall time and peak memory.

Usage: python -m bench.testset_speed [--repeat N] [--samples N] [--jobs N]

Runs the command in a new process N times, without and with --baseline-accuracy, and prints the
median wall time and the median peak memory (the largest sum of the resident set sizes of the
command and its worker processes, sampled every 20 ms). Wall times depend on what else the
machine runs: they are medians for that reason.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = ROOT / "workloads/resnet18_pruned.yaml"


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return out


def measure(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak tree memory in MiB, stdout) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_rss_kib(p) for p in _tree(proc.pid)))
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, peak / 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--samples", type=int, help="only the first N test images (default: all 10,000)")
    ap.add_argument("--jobs", type=int, help="worker processes (default: archsim's, the number of cores)")
    ap.add_argument("--workload", type=Path, default=WORKLOAD)
    args = ap.parse_args()
    base = [sys.executable, "-m", "archsim", "run", str(args.workload), "--images", "fashion-mnist:test", "--quiet"]
    if args.samples:
        base += ["--samples", str(args.samples)]
    if args.jobs:
        base += ["--jobs", str(args.jobs)]
    for label, extra in (("pruned model", []), ("pruned + dense accuracy", ["--baseline-accuracy"])):
        walls, peaks = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                wall, peak, out = measure([*base, *extra, "--out", tmp])
            walls.append(wall)
            peaks.append(peak)
        acc = next((line for line in out.splitlines() if line.startswith("accuracy")), "")
        print(
            f"{label:<24} wall median {statistics.median(walls):6.1f} s (runs: "
            f"{', '.join(f'{w:.1f}' for w in walls)})   peak memory median {statistics.median(peaks):6.0f} MiB"
        )
        print(f"{'':<24} {acc}")


if __name__ == "__main__":
    main()
