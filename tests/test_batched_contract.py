"""archsim.batched_contract (the contract over many images at once) == contract.schedule, image by image."""

from __future__ import annotations

import numpy as np
import pytest
from test_timing_input_buffer import with_input_buffer
from test_timing_layers import CASES, build
from test_timing_networks import _random_config, _random_specs
from timing_models import CONFIGS, ULTRA96, make_model, resnet18, with_pooled_store

from archsim.batched_contract import schedule_batch
from archsim.config import HardwareConfig
from archsim.contract import Latencies, schedule
from archsim.program import Program, compile_program


def _masks(program: Program, rng: np.random.Generator, n: int) -> list[np.ndarray | None]:
    """n images per masked layer with fractions from none to all, so tile counts differ between images."""
    out: list[np.ndarray | None] = []
    for p in program.layers:
        if not p.mask_enabled:
            out.append(None)
            continue
        frac = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0], size=(n, 1))
        out.append(rng.random((n, p.positions)) < frac)
    return out


def _assert_equal(
    program: Program, cfg: HardwareConfig, masks: list[np.ndarray | None], n: int, lat: Latencies
) -> None:
    got = schedule_batch(program, cfg, masks, n=n, lat=lat)
    for j in range(n):
        active = [None if m is None else np.flatnonzero(m[j]) for m in masks]
        want = schedule(program, cfg, active, lat)
        assert got.done[j] == want.done, f"image {j}"
        assert got.layer_cycles[j].tolist() == [L.cycles for L in want.layers], f"image {j}"
        assert got.active[j].tolist() == [L.n_active for L in want.layers], f"image {j}"


@pytest.mark.parametrize("pooled", [False, True], ids=["map-store", "pooled-store"])
@pytest.mark.parametrize("inbuf", [False, True], ids=["no-inbuf", "inbuf"])
@pytest.mark.parametrize("seed", range(40))
def test_randomized_programmes(seed: int, inbuf: bool, pooled: bool) -> None:
    """Random folding, AXI timing, blob placement, latencies and networks (the timing suite's generator),
    with and without an input buffer (docs/timing.md 4.4), with the map or the pooled STORE (section 5)."""
    rng = np.random.default_rng(1000 + seed)
    cfg = with_pooled_store(with_input_buffer(_random_config(rng, seed), inbuf), pooled)
    c0 = int(rng.integers(1, 20))
    specs = _random_specs(rng, c0, cfg.pe_array.acc_depth)
    model = make_model(cfg, c0, (int(rng.integers(1, 9)), int(rng.integers(1, 9))), specs, rng)
    program = compile_program(model, cfg, "sparse")
    lat = Latencies(*(int(x) for x in rng.integers(0, 6, 7))) if rng.random() < 0.5 else Latencies()
    _assert_equal(program, cfg, _masks(program, rng, 12), 12, lat)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("inbuf", [False, True], ids=["no-inbuf", "inbuf"])
def test_single_layer_cases(case: str, config: str, inbuf: bool) -> None:
    cfg = with_input_buffer(CONFIGS[config], inbuf)
    program, _ = build(case, cfg)
    assert program.layers[0].reads_input == inbuf
    _assert_equal(program, cfg, _masks(program, np.random.default_rng(3), 8), 8, Latencies())


def test_resnet18_and_its_dense_baseline() -> None:
    rng = np.random.default_rng(7)
    program = compile_program(resnet18(ULTRA96, rng), ULTRA96, "sparse")
    _assert_equal(program, ULTRA96, _masks(program, rng, 5), 5, Latencies())
    dense = compile_program(resnet18(ULTRA96, rng, k=None), ULTRA96, "dense")
    _assert_equal(dense, ULTRA96, [None] * len(dense.layers), 3, Latencies())


def test_bad_masks_are_refused() -> None:
    rng = np.random.default_rng(1)
    program = compile_program(resnet18(ULTRA96, rng), ULTRA96, "sparse")
    masks = _masks(program, rng, 2)
    with pytest.raises(ValueError, match="every masked layer"):
        schedule_batch(program, ULTRA96, [None] * len(masks))
    with pytest.raises(ValueError, match="masks for"):
        schedule_batch(program, ULTRA96, masks[:-1])
    with pytest.raises(ValueError, match="different numbers"):
        schedule_batch(program, ULTRA96, masks, n=3)
    bad = list(masks)
    bad[0] = np.ones((2, 5), bool)
    with pytest.raises(ValueError, match="positions"):
        schedule_batch(program, ULTRA96, bad)
