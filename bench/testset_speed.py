"""Benchmark: `archsim run WORKLOAD --images fashion-mnist:test`, wall time and peak memory.

Usage: python -m bench.testset_speed [--repeat N] [--samples N] [--jobs N] [--no-baseline]

Runs the command in a new process N times, without and with --baseline-accuracy, and prints the
median wall time, the median CPU time of the command and its workers, and the median peak memory
(the largest sum of the resident set sizes of the command and its worker processes, sampled every
20 ms). Wall times depend on what else the machine runs: they are medians for that reason, and the
CPU time shows what the run itself needs.
"""

from __future__ import annotations

import argparse
import os
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


def measure(cmd: list[str]) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds of the command and its workers, peak tree memory in MiB, stdout)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, text=True)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, sum(_rss_kib(p) for p in _tree(proc.pid)))
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-2000:]}")
        # The workers are reaped by the command, so their CPU time is in its usage.
        return wall, usage.ru_utime + usage.ru_stime, peak / 1024, out.read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--samples", type=int, help="only the first N test images (default: all 10,000)")
    ap.add_argument("--jobs", type=int, help="worker processes (default: archsim's, the number of cores)")
    ap.add_argument("--workload", type=Path, default=WORKLOAD)
    ap.add_argument("--no-baseline", action="store_true", help="skip the run with --baseline-accuracy")
    args = ap.parse_args()
    base = [sys.executable, "-m", "archsim", "run", str(args.workload), "--images", "fashion-mnist:test", "--quiet"]
    if args.samples:
        base += ["--samples", str(args.samples)]
    if args.jobs:
        base += ["--jobs", str(args.jobs)]
    configs = [("pruned model", []), ("pruned + dense accuracy", ["--baseline-accuracy"])]
    for label, extra in configs[:1] if args.no_baseline else configs:
        walls, cpus, peaks = [], [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                wall, cpu, peak, out = measure([*base, *extra, "--out", tmp])
            walls.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
        acc = next((line for line in out.splitlines() if line.startswith("accuracy")), "")
        print(
            f"{label:<24} wall median {statistics.median(walls):6.1f} s (runs: "
            f"{', '.join(f'{w:.1f}' for w in walls)}); CPU median {statistics.median(cpus):6.1f} s over all processes; "
            f"peak memory median {statistics.median(peaks):5.0f} MiB"
        )
        print(f"{'':<24} {acc}")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (other work slows wall times)"
    )


if __name__ == "__main__":
    main()
