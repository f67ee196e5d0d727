"""contract.schedule == fast mode == cycle mode on whole networks, randomized cases and ResNet-18."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from timing_models import (
    CONFIGS,
    ROOT,
    ULTRA96,
    Spec,
    assert_same_schedule,
    check_all_modes,
    make_config,
    make_model,
    random_active,
    resnet18,
    with_pooled_store,
)

from archsim.config import HardwareConfig
from archsim.contract import Latencies, schedule
from archsim.format import load_model, load_trace
from archsim.program import Program, compile_program
from archsim.sim import simulate

# A two-stage residual network: masked stride-1 convs, a shortcut + stride-2 pair, a 1x1 and an unmasked conv.
SMALL_NET = [
    Spec(16, k=2, predictor=True),
    Spec(16, k=1, predictor=True),
    Spec(24, kernel=1, stride=2, k=2, role="shortcut"),
    Spec(24, stride=2, k=2, predictor=True),
    Spec(24, k=3),
    Spec(24, k=1, predictor=True),
]


def _active(program: Program, rng: np.random.Generator, fractions: tuple[float, ...]) -> list[np.ndarray | None]:
    return [
        random_active(rng, p.positions, float(rng.choice(fractions))) if p.mask_enabled else None
        for p in program.layers
    ]


@pytest.mark.parametrize("config", list(CONFIGS))
def test_small_network(config: str) -> None:
    cfg = CONFIGS[config]
    rng = np.random.default_rng(11)
    program = compile_program(make_model(cfg, 16, (8, 8), SMALL_NET, rng), cfg, "sparse")
    for _ in range(3):  # several inputs: different active sets, same programme
        check_all_modes(program, cfg, _active(program, rng, (0.0, 0.25, 0.6, 1.0)))


LATENCY_VARIANTS = {
    "zero": Latencies(0, 0, 0, 0, 0, 0, 0),  # every zero-latency (combinational) path at once
    "long": Latencies(load=9, mask=7, gather=5, compute=11, epilogue=6, store=8, layer=4),
    "mixed": Latencies(load=0, mask=1, gather=0, compute=2, epilogue=0, store=0, layer=0),
}


@pytest.mark.parametrize("variant", list(LATENCY_VARIANTS))
def test_latency_variants(variant: str) -> None:
    """The modes read every latency from the Latencies object: other RTL pipelines, same agreement."""
    lat = LATENCY_VARIANTS[variant]
    cfg = CONFIGS["small"]
    rng = np.random.default_rng(5)
    program = compile_program(make_model(cfg, 16, (6, 6), SMALL_NET, rng), cfg, "sparse")
    active = _active(program, rng, (0.0, 0.5, 1.0))
    want = schedule(program, cfg, active, lat, keep_tiles=True)
    for mode in ("fast", "cycle"):
        assert_same_schedule(simulate(program, cfg, active, mode, lat, keep_tiles=True), want)
    assert want.done != schedule(program, cfg, active, keep_tiles=True).done  # the variant does change timing


def _random_config(rng: np.random.Generator, i: int) -> HardwareConfig:
    rows = int(rng.choice([1, 2, 4, 8]))
    baw = rows * int(rng.choice([1, 2, 4]))
    depth = max(1, baw * int(rng.choice([1, 2])) // rows)
    axi = {
        "data_bits": int(rng.choice([32, 64, 128])),
        "max_burst_beats": int(rng.choice([1, 2, 4, 8, 16])),
        "read_latency": int(rng.integers(1, 40)),
        "write_latency": int(rng.integers(1, 20)),
        "max_outstanding_reads": int(rng.integers(1, 5)),
        "max_outstanding_writes": int(rng.integers(1, 5)),
        "read_beat_cycles": int(rng.integers(1, 4)),
    }
    cfg = make_config(f"random{i}", {"rows": rows, "cols": int(rng.integers(1, 7)), "acc_depth": depth}, axi, baw)
    # A weight ring from just above the largest pass (24 channels x 8 steps) to roomy, and
    # 2 to 16 blob slots, so both placement limits of docs/timing.md section 3 bind somewhere.
    data = cfg.model_dump()
    data["buffers"].update(weight_depth=int(rng.choice([192, 256, 1 << 16])), blob_slots=int(rng.choice([2, 4, 8, 16])))
    return HardwareConfig.model_validate(data, context={"rtl_limits": False})


def _random_specs(rng: np.random.Generator, c: int, depth: int) -> list[Spec]:
    specs: list[Spec] = []
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 4))
        c_out = int(rng.integers(1, 24))
        k = None if rng.random() < 0.3 else int(rng.integers(1, depth + 1))
        if kind == 0:
            specs.append(Spec(c, k=k, predictor=True))
        elif kind == 1:
            specs += [
                Spec(c_out, kernel=1, stride=2, k=k, role="shortcut"),
                Spec(c_out, stride=2, k=k, predictor=bool(rng.random() < 0.7)),
            ]
            c = c_out
        elif kind == 2:
            specs.append(Spec(c_out, kernel=int(rng.choice([1, 3])), stride=int(rng.choice([1, 2])), k=k))
            c = c_out
        else:
            specs.append(Spec(c, k=k))
    return specs


def check_random_network(seed: int, config: Callable[[HardwareConfig], HardwareConfig] = lambda c: c) -> None:
    """Network `seed` of the randomized generator, its configuration passed through `config`:
    contract == fast == cycle, tile for tile, and equal activity counters."""
    rng = np.random.default_rng(1000 + seed)
    cfg = config(_random_config(rng, seed))
    c0 = int(rng.integers(1, 20))
    specs = _random_specs(rng, c0, cfg.pe_array.acc_depth)
    model = make_model(cfg, c0, (int(rng.integers(1, 9)), int(rng.integers(1, 9))), specs, rng)
    dense = all(s.k is None for s in specs) and rng.random() < 0.5
    program = compile_program(model, cfg, "dense" if dense else "sparse")
    active = _active(program, rng, (0.0, 0.3, 0.7, 1.0))
    lat = Latencies(*(int(x) for x in rng.integers(0, 6, 7))) if rng.random() < 0.5 else Latencies()
    check_all_modes(program, cfg, active, lat)


@pytest.mark.parametrize("pooled", [False, True], ids=["map-store", "pooled-store"])
@pytest.mark.parametrize("seed", range(40))
def test_randomized(seed: int, pooled: bool) -> None:
    """Random folding, AXI timing, latencies, networks and masks (fixed seeds), with the map STORE and
    the pooled STORE (docs/timing.md 5)."""
    check_random_network(seed, lambda c: with_pooled_store(c, pooled))


def test_randomized_pooled_programmes_are_pooled() -> None:
    """The pooled-store runs above really store the sums wherever the last layer has no mask unit, and
    change the STORE's beats: they are not the map-store runs again."""
    pooled = 0
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        cfg = with_pooled_store(_random_config(rng, seed))
        c0 = int(rng.integers(1, 20))
        specs = _random_specs(rng, c0, cfg.pe_array.acc_depth)
        model = make_model(cfg, c0, (int(rng.integers(1, 9)), int(rng.integers(1, 9))), specs, rng)
        dense = all(s.k is None for s in specs) and rng.random() < 0.5
        program = compile_program(model, cfg, "dense" if dense else "sparse")
        assert program.pooled == (not program.layers[-1].mask_enabled)
        if program.pooled:
            pooled += 1
            c = program.store_shape[0]
            rows = cfg.pe_array.rows
            assert program.store_beats == -(-(-(-c // rows) * rows * 32) // cfg.axi.data_bits)
    assert pooled >= 15, pooled


def _resnet18_case() -> tuple[Program, list[np.ndarray | None]]:
    rng = np.random.default_rng(2024)
    program = compile_program(resnet18(ULTRA96, rng), ULTRA96, "sparse")
    return program, _active(program, rng, (0.3, 0.5, 0.8))


def test_resnet18_fast_mode() -> None:
    program, active = _resnet18_case()
    assert len(program.layers) == 19
    got = simulate(program, ULTRA96, active, "fast")
    assert_same_schedule(got, schedule(program, ULTRA96, active))


@pytest.mark.slow
def test_resnet18_cycle_mode() -> None:
    program, active = _resnet18_case()
    fast = simulate(program, ULTRA96, active, "fast")
    cycle = simulate(program, ULTRA96, active, "cycle")
    assert_same_schedule(cycle, schedule(program, ULTRA96, active))
    assert fast.layer_activity() == cycle.layer_activity()


def _shipped(name: str, cfg: HardwareConfig = ULTRA96) -> tuple[Program, list[np.ndarray | None]]:
    """A shipped workload's model with sample 0's spatial masks from its trace (predictor outcomes)."""
    model = load_model(ROOT / f"workloads/models/{name}.npz")
    trace = load_trace(ROOT / f"workloads/models/{name}.trace.npz")
    program = compile_program(model, cfg, "dense" if name.endswith("dense") else "sparse")
    active = [
        np.flatnonzero(mask[0]) if plan.mask_enabled and mask is not None else None
        for plan, mask in zip(program.layers, trace.masks, strict=True)
    ]
    return program, active


@pytest.mark.parametrize("name", ["resnet18_pruned", "resnet18_dense"])
def test_shipped_workload_fast(name: str) -> None:
    program, active = _shipped(name)
    assert_same_schedule(simulate(program, ULTRA96, active, "fast"), schedule(program, ULTRA96, active))


@pytest.mark.slow
def test_shipped_workload_cycle() -> None:
    program, active = _shipped("resnet18_pruned")
    assert_same_schedule(simulate(program, ULTRA96, active, "cycle"), schedule(program, ULTRA96, active))
