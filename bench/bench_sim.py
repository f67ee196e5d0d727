"""Benchmark of the SimPy timing model on full-width ResNet-18 inferences (Ultra96v2 config).

    python bench/bench_sim.py [--runs 7] [--seed 0] [--no-cycle]

The model is built here from a seed (random weights, balanced keep masks with
k kept kernels per (row, input channel), random active sets; no trained model):
only its shape and sparsity matter to the timing. Prints the median wall time and
the peak memory of fast mode, and the time of cycle mode on one small layer and on
the whole network, checking every run against archsim.contract.schedule; then both modes on
the shipped trained pruned ResNet-18 (its first trace image's masks).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from timing_models import ULTRA96, Spec, assert_same_schedule, make_model, random_active, resnet18  # noqa: E402

from archsim.contract import schedule  # noqa: E402
from archsim.format import load_model, load_trace  # noqa: E402
from archsim.program import Program, compile_program  # noqa: E402
from archsim.sim import simulate  # noqa: E402

Active = list[np.ndarray | None]


def workload(seed: int, k: int = 4) -> tuple[Program, Active]:
    """ResNet-18 with k of 8 kernels kept per (row, input channel); 30-80 % of positions active."""
    rng = np.random.default_rng(seed)
    program = compile_program(resnet18(ULTRA96, rng, k=k), ULTRA96, "sparse")
    active: Active = [
        random_active(rng, p.positions, float(rng.uniform(0.3, 0.8))) if p.mask_enabled else None
        for p in program.layers
    ]
    return program, active


def dense_baseline(seed: int) -> tuple[Program, Active]:
    """The same network unpruned, in dense mode (index decoder and mask unit bypassed)."""
    rng = np.random.default_rng(seed)
    return compile_program(resnet18(ULTRA96, rng, k=None), ULTRA96, "dense"), [None] * 19


def trained_pruned() -> tuple[Program, Active]:
    """The shipped trained pruned model with the spatial masks of its first trace image."""
    model = load_model(ROOT / "workloads/models/resnet18_pruned.npz")
    trace = load_trace(ROOT / "workloads/models/resnet18_pruned.trace.npz")
    program = compile_program(model, ULTRA96, "sparse")
    active: Active = [
        np.flatnonzero(m[0]) if p.mask_enabled and m is not None else None
        for p, m in zip(program.layers, trace.masks, strict=True)
    ]
    return program, active


def small_layer(seed: int) -> tuple[Program, Active]:
    """One masked 3x3 layer, 64 channels, 8x8, half the positions active."""
    rng = np.random.default_rng(seed)
    program = compile_program(make_model(ULTRA96, 64, (8, 8), [Spec(64, k=4, predictor=True)], rng), ULTRA96, "sparse")
    return program, [random_active(rng, 64, 0.5)]


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="fast-mode runs (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cycle", action="store_true", help="skip cycle mode on the whole network")
    ap.add_argument("--cycle-runs", type=int, default=3, help="cycle-mode runs on the trained model (median reported)")
    args = ap.parse_args(argv)

    program, active = workload(args.seed)
    want = schedule(program, ULTRA96, active)
    n_layers = len(program.layers)
    print(f"workload: full-width ResNet-18, {n_layers} binary layers, ultra96v2, seed {args.seed}, 4 of 8 kernels kept")
    print(f"DONE = {want.done} cycles ({want.done / ULTRA96.clock_mhz / 1000:.3f} ms at {ULTRA96.clock_mhz:g} MHz)")

    got = simulate(program, ULTRA96, active, "fast")
    assert_same_schedule(got, want)
    fast = timed(lambda: simulate(program, ULTRA96, active, "fast"), args.runs)
    tracemalloc.start()
    simulate(program, ULTRA96, active, "fast")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures = {"fast_median_s": statistics.median(fast), "fast_peak_mib": peak / 2**20}
    print(
        f"fast mode, whole network: median {figures['fast_median_s'] * 1e3:.1f} ms over {args.runs} runs "
        f"(min {min(fast) * 1e3:.1f}, max {max(fast) * 1e3:.1f}); peak traced memory {figures['fast_peak_mib']:.2f} MiB; "
        "matches contract.schedule"
    )

    base_program, base_active = dense_baseline(args.seed)
    base_want = schedule(base_program, ULTRA96, base_active)
    assert_same_schedule(simulate(base_program, ULTRA96, base_active, "fast"), base_want)
    base = timed(lambda: simulate(base_program, ULTRA96, base_active, "fast"), args.runs)
    figures["fast_dense_median_s"] = statistics.median(base)
    print(
        f"fast mode, dense baseline ({base_want.done} cycles, {base_want.done / want.done:.2f}x the pruned DONE): "
        f"median {figures['fast_dense_median_s'] * 1e3:.1f} ms over {args.runs} runs; matches contract.schedule"
    )

    layer_program, layer_active = small_layer(args.seed)
    layer_want = schedule(layer_program, ULTRA96, layer_active)
    cyc = timed(lambda: assert_same_schedule(simulate(layer_program, ULTRA96, layer_active, "cycle"), layer_want), 3)
    figures["cycle_layer_s"] = statistics.median(cyc)
    print(
        f"cycle mode, one-layer programme (3x3, 64 ch, 8x8, masked; DONE {layer_want.done} cycles): median {figures['cycle_layer_s'] * 1e3:.1f} ms "
        "over 3 runs; matches contract.schedule"
    )

    if not args.no_cycle:
        t0 = time.perf_counter()
        assert_same_schedule(simulate(program, ULTRA96, active, "cycle"), want)
        figures["cycle_network_s"] = time.perf_counter() - t0
        print(
            f"cycle mode, whole network ({want.done} cycles): {figures['cycle_network_s']:.2f} s (1 run); matches contract.schedule"
        )

    # The shipped trained pruned ResNet-18 on its first trace image: what one inference of a
    # whole-test-set run costs (targets: fast mode <= 10 ms, cycle mode <= 200 ms).
    t_program, t_active = trained_pruned()
    t_want = schedule(t_program, ULTRA96, t_active)
    t_contract = timed(lambda: schedule(t_program, ULTRA96, t_active), args.runs)
    t_fast = timed(lambda: assert_same_schedule(simulate(t_program, ULTRA96, t_active, "fast"), t_want), args.runs)
    t_cycle = timed(
        lambda: assert_same_schedule(simulate(t_program, ULTRA96, t_active, "cycle"), t_want), args.cycle_runs
    )
    figures["trained_contract_s"] = statistics.median(t_contract)
    figures["trained_fast_s"] = statistics.median(t_fast)
    figures["trained_cycle_s"] = statistics.median(t_cycle)
    print(
        f"shipped trained pruned ResNet-18, trace image 0 ({t_want.done} cycles): fast mode median "
        f"{figures['trained_fast_s'] * 1e3:.1f} ms over {args.runs} runs, cycle mode median "
        f"{figures['trained_cycle_s'] * 1e3:.0f} ms over {args.cycle_runs} runs (contract.schedule "
        f"{figures['trained_contract_s'] * 1e3:.1f} ms); both match contract.schedule"
    )
    met = {True: "met", False: "NOT met"}
    print(
        f"targets: fast mode median <= 10 ms {met[figures['trained_fast_s'] <= 0.010]}, "
        f"cycle mode median <= 200 ms {met[figures['trained_cycle_s'] <= 0.200]}"
    )

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"process peak RSS (everything above, numpy and SimPy included): {rss:.0f} MiB")
    return figures


if __name__ == "__main__":
    main()
