"""What an on-chip stem could buy in latency mode: an ESTIMATE for a design that is not built into the core.

    python bench/stem_estimate.py [WORKLOAD] [--rates 1,2,3,4] [--latency CYCLES]

Issue 10's latency target (pruned end-to-end latency at most half of the original 926 us, and
latency-mode speedup at least 5.4x) is out of reach while the host computes the stem: it is 590 of
the host's 615 us. This script asks the existing timing contract what a stem unit on the
accelerator would take, and how fast it must be. The stem unit exists as a standalone RTL block
(rtl/verilog/bnn_stem.v: one x0 beat per cycle, verified against numpy under Icarus), but nothing of it
is in the core, the contract or the simulator yet: this is the timing the integration would give.

The modelled stem unit sits where the LOAD's data used to arrive:

1. The LOAD job reads the raw image (C_img x H x W bytes, whole beats) instead of the stem output
   x0; the read engine serves it under the contract's rules (docs/timing.md section 3).
2. The stem unit delivers x0's first beat `--latency` cycles after the raw image's last beat (by
   default the block's own lambda_S, `archsim.stem_unit.first_beat_latency`: 52 cycles for a 32 x 32
   image and 4 beats per position) and the rest in the LOAD's order (position-major, docs/formats.md
   4), one every c cycles (the block: c = 1). A beat holds
   D / value_bits channels of one position, so the unit needs (D / value_bits) x C_img x 9 / c
   multiply-accumulates per cycle.
3. Everything after is the contract: the input buffer's rows become usable lambda_load after their
   last beat (4.4) and the first layers wait for them as they wait for the LOAD's today.
4. The host keeps only the classifier: host time = overhead + classifier MACs / MAC rate.

Optimistic, the same for the dense baseline and the pruned model: the stem's weights and affine
parameters are on chip before `start` (as the layer descriptors are; the block loads them as 41 beats
of its parameter port), and what the integration adds to or removes from the LOAD path is not
modelled (the block's own resources: rtl/README.md, "Stem unit"). The rest is the contract's own answer: the script runs the trace's samples
(and the dense baseline) through `contract.schedule` with the LOAD so replaced.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from archsim import contract  # noqa: E402
from archsim.config import HardwareConfig  # noqa: E402
from archsim.runner import host_macs, host_time_us, run_workload  # noqa: E402
from archsim.stem_unit import first_beat_latency  # noqa: E402
from archsim.workload import Workload, load_workload  # noqa: E402


def raw_image_beats(input_shape: tuple[int, int, int], cfg: HardwareConfig) -> int:
    """Beats of the raw image: one byte per pixel and channel, whole beats."""
    c, h, w = input_shape
    return -(-c * h * w // cfg.beat_bytes)


def stem_macs_per_cycle(c_img: int, cfg: HardwareConfig, rate: int) -> float:
    """MACs per cycle for one x0 beat every `rate` cycles (3x3 kernels)."""
    return cfg.axi.data_bits // cfg.epilogue.value_bits * c_img * 9 / rate


@contextmanager
def stem_on_chip(raw_beats: int, rate: int, latency: int) -> Iterator[None]:
    """Within the block, contract.schedule sees the LOAD of rules 1-3 of the module docstring."""
    run, rows = contract.ReadEngine.run, contract.row_visible

    def load_raw(self: contract.ReadEngine, job: contract.Job, lat: contract.Latencies) -> list[tuple[int, int]]:
        if job.kind != "load":
            return run(self, job, lat)
        beats = job.beats
        job.beats = raw_beats  # the read engine carries only the raw image (rule 1)
        run(self, job, lat)
        job.beats = beats
        first = job.last_beat + latency  # the stem's first x0 beat (rule 2)
        job.loaded = first + rate * (beats - 1) + lat.load
        return [(first, beats)]  # one train of x0 beats, `rate` cycles apart

    def stem_rows(
        row_beats: tuple[int, ...], bursts: list[tuple[int, int]], beat_cycles: int, lat: contract.Latencies
    ) -> list[int]:  # the train's beats are `rate` cycles apart, not the AXI beat time
        return rows(row_beats, bursts, rate, lat)

    with mock.patch.object(contract.ReadEngine, "run", load_raw), mock.patch.object(contract, "row_visible", stem_rows):
        yield


def unit_latency(wl: Workload) -> int:
    """The stem unit's lambda_S for the workload's image and beats per position."""
    cfg = wl.config
    q = int(wl.model.stem.weight.shape[0]) // (cfg.axi.data_bits // cfg.epilogue.value_bits)
    return first_beat_latency(wl.model.input_shape[2], q)


def estimate(wl: Workload, actives: list[list], rate: int, latency: int) -> tuple[int, float]:
    """(dense cycles, mean pruned cycles over the samples) with the stem on chip at one beat per `rate` cycles."""
    cfg = wl.config
    raw = raw_image_beats(wl.model.input_shape, cfg)
    with stem_on_chip(raw, rate, latency):
        dense = contract.schedule(wl.baseline_program, cfg, [None] * len(wl.baseline_program.layers)).done
        pruned = [contract.schedule(wl.program, cfg, a).done for a in actives]
    return dense, sum(pruned) / len(pruned)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", nargs="?", default=str(ROOT / "workloads" / "resnet18_pruned.yaml"))
    ap.add_argument("--rates", default="1,2,3,4", help="cycles per x0 beat to try, comma-separated (default 1,2,3,4)")
    ap.add_argument(
        "--latency", type=int, help="cycles from the raw image's last beat to the first x0 beat (default: the block's)"
    )
    args = ap.parse_args(argv)
    try:
        rates = [int(x) for x in args.rates.split(",")]
    except ValueError:
        ap.error(f"--rates: comma-separated whole numbers, got {args.rates!r}")
    if any(r < 1 for r in rates) or (args.latency is not None and args.latency < 0):
        ap.error("--rates must be >= 1 and --latency >= 0")
    wl = load_workload(args.workload)
    cfg = wl.config
    latency = unit_latency(wl) if args.latency is None else args.latency
    res = run_workload(wl, progress=False)
    stem, classifier = host_macs(wl.model)
    host_now = host_time_us(cfg.host, stem, classifier)
    host_chip = host_time_us(cfg.host, 0, classifier)
    clock = cfg.clock_mhz
    dense, pruned = res.dense.done, res.sparse_cycles_mean
    print("ESTIMATE for a design not yet built into the core (the stem on the accelerator; module docstring)")
    print(
        f"raw image         {raw_image_beats(wl.model.input_shape, cfg)} beats instead of the LOAD's "
        f"{wl.program.load_beats:,}; stem latency {latency} cycles"
    )
    print(
        f"measured today    dense {dense:,} pruned {pruned:,.0f}: {dense / pruned:.2f}x; "
        f"end-to-end {host_now:.2f} + {pruned / clock:.2f} = {host_now + pruned / clock:.1f} us"
    )
    print(f"{'beat every':>12} {'MAC/cycle':>10} {'dense':>9} {'pruned':>9} {'speedup':>8} {'end-to-end us':>14}")
    for r in rates:
        d, p = estimate(wl, res.actives, r, latency)
        macs = stem_macs_per_cycle(wl.model.input_shape[0], cfg, r)
        e2e = host_chip + p / clock
        print(f"{r:>10} c {macs:>10.0f} {d:>9,} {p:>9,.0f} {d / p:>7.2f}x {e2e:>14.1f}")
    print(f"host time with the stem on chip: {host_chip:.2f} us (classifier and overhead)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
