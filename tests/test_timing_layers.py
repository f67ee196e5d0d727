"""contract.schedule == fast mode == cycle mode on single-layer programmes (docs/timing.md section 8).

Each case is one binary layer (or a shortcut + stride-2 main pair, the only way a
stride-2 layer can carry a spatial mask) on every test config, so folding
parameters, AXI timing and burst lengths vary with it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from timing_models import CONFIGS, Spec, check_all_modes, make_config, make_model

from archsim.config import HardwareConfig
from archsim.contract import compute_cycles, epilogue_cycles, gather_cycles, mask_cycles, schedule, tile_split
from archsim.program import LayerPlan, Program, compile_program

ActiveFn = Callable[[np.random.Generator, int, int], np.ndarray]


def _some(fraction: float) -> ActiveFn:
    return lambda rng, positions, cols: np.flatnonzero(rng.random(positions) < fraction)


def _none(rng: np.random.Generator, positions: int, cols: int) -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def _all(rng: np.random.Generator, positions: int, cols: int) -> np.ndarray:
    return np.arange(positions)


def _whole_tiles(rng: np.random.Generator, positions: int, cols: int) -> np.ndarray:
    """A multiple of cols active positions, early in the scan: the last tile is full and listed
    long before the scan ends."""
    n = min(positions, 2 * cols)
    return np.arange(n - n % cols)


def _late(rng: np.random.Generator, positions: int, cols: int) -> np.ndarray:
    """Only the last positions: tiles are listed at the very end of the scan."""
    return np.arange(max(0, positions - cols - 1), positions)


# (c0, (h, w), layers, active-set rule, mode)
CASES: dict[str, tuple[int, tuple[int, int], list[Spec], ActiveFn, str]] = {
    "3x3-s1-mask-sparse": (16, (7, 6), [Spec(16, k=2, predictor=True)], _some(0.4), "sparse"),
    "3x3-s1-mask-empty": (12, (5, 5), [Spec(12, k=1, predictor=True)], _none, "sparse"),
    "3x3-s1-mask-all": (9, (4, 5), [Spec(9, k=1, predictor=True)], _all, "sparse"),
    "3x3-s1-mask-whole-tiles": (16, (6, 6), [Spec(16, k=2, predictor=True)], _whole_tiles, "sparse"),
    "3x3-s1-mask-late": (20, (5, 4), [Spec(20, k=3, predictor=True)], _late, "sparse"),
    "3x3-s1-bypass-odd-channels": (10, (5, 3), [Spec(10, k=1)], _all, "sparse"),
    "3x3-s2-multipass": (12, (7, 7), [Spec(37, stride=2, k=2)], _all, "sparse"),
    "1x1-s1": (24, (4, 4), [Spec(40, kernel=1, k=3)], _all, "sparse"),
    "1x1-s2-dense-kernels": (16, (6, 5), [Spec(32, kernel=1, stride=2)], _all, "sparse"),
    "shortcut-s2-mask": (
        8,
        (6, 6),
        [Spec(24, kernel=1, stride=2, k=1, role="shortcut"), Spec(24, stride=2, k=2, predictor=True)],
        _some(0.6),
        "sparse",
    ),
    "3x3-s1-dense-mode": (16, (5, 5), [Spec(16, predictor=True)], _some(0.5), "dense"),
}


def build(case: str, cfg: HardwareConfig, seed: int = 0) -> tuple[Program, list[np.ndarray | None]]:
    c0, hw, specs, rule, mode = CASES[case]
    rng = np.random.default_rng(seed)
    model = make_model(cfg, c0, hw, specs, rng)
    program = compile_program(model, cfg, mode)
    cols = cfg.pe_array.cols
    active = [rule(rng, p.positions, cols) if p.mask_enabled else None for p in program.layers]
    return program, active


def busy_by_formula(plan: LayerPlan, n_active: int, cfg: HardwareConfig, sparse: bool) -> tuple[int, int, int, int]:
    """FINN-style: each block's busy cycles from its one analytic formula in contract.py (the PE array's with
    rule T3 where the configuration splits tiles)."""
    cols, split = cfg.pe_array.cols, cfg.split_pairs(plan.kernel, sparse)
    sizes = [min(cols, n_active - lo) for lo in range(0, n_active, cols)]
    pe = sum(compute_cycles(plan.c_in, p.k, tile_split(n, cols, split)) for p in plan.passes for n in sizes)
    gather = len(plan.passes) * sum(gather_cycles(n, plan.nblk) for n in sizes)
    epi = sum(epilogue_cycles(n, p.g) for p in plan.passes for n in sizes)
    mask = mask_cycles(plan.positions, plan.nblk) if plan.mask_enabled else 0
    return pe, gather, epi, mask


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("case", list(CASES))
def test_single_layer_all_modes_agree(case: str, config: str) -> None:
    cfg = CONFIGS[config]
    program, active = build(case, cfg)
    got = check_all_modes(program, cfg, active)["cycle"]
    for L, act, plan in zip(got.layers, got.layer_activity(), program.layers, strict=True):
        assert (L.pe_busy, L.gather_busy, L.epilogue_busy, L.mask_busy) == busy_by_formula(
            plan, L.n_active, cfg, program.mode == "sparse"
        )
        assert act.ddr_read_beats == L.dma_beats == plan.blob_beats


def _folding_grid() -> list[tuple[int, int, int, int]]:
    """(rows, cols, acc_depth, act_word_bits) combinations the config validator accepts."""
    grid: list[tuple[int, int, int, int]] = []
    for rows in (1, 2, 4):
        for depth in (1, 2, 4):
            for m in (1, 2, 4):
                baw = rows * m
                if (rows * depth) % baw == 0:
                    grid.extend((rows, cols, depth, baw) for cols in (1, 3, 4))
    return grid


@pytest.mark.parametrize(("rows", "cols", "acc_depth", "act_word_bits"), _folding_grid())
def test_folding_parameters(rows: int, cols: int, acc_depth: int, act_word_bits: int) -> None:
    """A masked 3x3 layer whose channel count (11) is a multiple of none of the folding parameters."""
    cfg = make_config(
        "fold",
        {"rows": rows, "cols": cols, "acc_depth": acc_depth},
        {"data_bits": 64, "max_burst_beats": 4, "read_latency": 7, "max_outstanding_reads": 2},
        act_word_bits,
    )
    rng = np.random.default_rng(rows * 100 + cols * 10 + acc_depth)
    model = make_model(cfg, 11, (5, 4), [Spec(11, k=1, predictor=True)], rng)
    program = compile_program(model, cfg, "sparse")
    active = [np.flatnonzero(rng.random(20) < 0.6)]
    got = check_all_modes(program, cfg, active)["cycle"]
    L, plan = got.layers[0], program.layers[0]
    assert (L.pe_busy, L.gather_busy, L.epilogue_busy, L.mask_busy) == busy_by_formula(plan, L.n_active, cfg, True)


def test_t3_split_tile_by_hand() -> None:
    """Rule T3 (docs/timing.md 4.2) by hand: 25 positions on 6 columns are tiles of 6, 6, 6, 6 and 1; with
    C_in = 12 and k = 3 a tile takes 36 steps, and the tile of one position, split, ceil(36 / 2) = 18 cycles,
    in the contract and in both SimPy modes; without the option every tile takes 36."""
    cfg = CONFIGS["split"]
    off = cfg.model_copy(update={"pe_array": cfg.pe_array.model_copy(update={"split_tiles": False})})
    model = make_model(cfg, 12, (5, 5), [Spec(12, k=3)], np.random.default_rng(3))
    for c, want in ((cfg, [36, 36, 36, 36, 18]), (off, [36] * 5)):
        program = compile_program(model, c, "sparse")
        assert program.layers[0].passes[0].k == 3 and len(program.layers[0].passes) == 1
        check_all_modes(program, c, [None])  # fast == cycle == contract, to the cycle
        ev = schedule(program, c, [None], keep_tiles=True).layers[0].tile_events
        assert [e.n for e in ev] == [6, 6, 6, 6, 1]
        assert [e.compute_end - e.compute_start for e in ev] == want
