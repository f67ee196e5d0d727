"""The block-major gather (docs/timing.md 4.2, rules T1 and T2; 4.4 rule 4) in every implementation.

T1: the gather copies a tile channel block by channel block, one (position, block) per cycle, so
block 0 of every position is written by G1 = G_start + n and the whole tile by G_end = G1 + (nblk - 1) n.
T2: the PE array, which reads block b from step b B_A k_q on, starts at W = G1 + lambda_gather when
B_A k_q >= n, else at W = G_end + lambda_gather. The expected tile times below are worked out by hand
from those rules for the first tiles of small layers with nblk > 1, and checked in the contract, fast
mode and cycle mode (check_all_modes: all three equal, on every tile), and the batched contract.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_batched_contract import _assert_equal
from test_timing_input_buffer import with_input_buffer
from timing_models import CONFIGS, Spec, check_all_modes, make_config, make_model

from archsim.blocks.pe_array import CyclePeArray
from archsim.config import HardwareConfig
from archsim.contract import LATENCIES as LAT
from archsim.contract import Schedule, TileEvents
from archsim.program import Program, compile_program
from archsim.sim import simulate

# A narrow array: two channels per block (B_A = 2), five columns, so a full tile of 5 positions with
# k_q = 1 reads a block in 2 steps, faster than the gather writes one (5 cycles).
NARROW = make_config(
    "narrow",
    {"rows": 2, "cols": 5, "acc_depth": 2},
    {"data_bits": 64, "max_burst_beats": 4, "read_latency": 7, "max_outstanding_reads": 2},
    2,
)


def _all_modes(program: Program, cfg: HardwareConfig, active: list[np.ndarray | None]) -> list[Schedule]:
    """The contract's schedule and both SimPy modes' (check_all_modes holds them equal), and the batched
    contract equal to the contract (here every layer runs all its positions: no masks)."""
    got = check_all_modes(program, cfg, active)
    _assert_equal(program, cfg, [None] * len(program.layers), 2, LAT)
    return [got["fast"], got["cycle"]]


def _second_layer(cfg: HardwareConfig, c0: int, hw: tuple[int, int], c_out: int, k: int, seed: int) -> Program:
    """Two unmasked 3x3 layers: the second one's blob is loaded during the first (blob_slots 2, need 0),
    so its tiles wait for nothing but the gather and each other."""
    model = make_model(cfg, c0, hw, [Spec(c0), Spec(c_out, k=k)], np.random.default_rng(seed))
    return compile_program(model, cfg, "sparse")


def test_t2_starts_the_pe_array_after_the_first_sweep() -> None:
    """small config (P_X = 4, B_A = 8): 24 input channels, nblk = 3; k_q = 2, so B_A k_q = 16 >= n = 4."""
    cfg = CONFIGS["small"]
    program = _second_layer(cfg, 24, (4, 4), 16, 2, 0)
    plan = program.layers[1]
    assert (plan.nblk, plan.c_in, [(p.k, p.g) for p in plan.passes]) == (3, 24, [(2, 4)])
    for s in _all_modes(program, cfg, [None, None]):
        L = s.layers[1]
        start = L.start
        assert s.jobs[2].loaded <= start  # precondition: the layer's weights wait for nobody
        # Tile 0: G1 = start + 4, G_end = G1 + 2 x 4; C from G1 + lambda_gather, 24 x 2 steps;
        # E from C_end + lambda_compute, 4 positions x 4 slots.
        c0 = start + 4 + LAT.gather
        e0 = c0 + 48 + LAT.compute
        # Tile 1: gathered right after tile 0 (G1 = start + 16), the PE array is still on tile 0.
        c1 = c0 + 48
        e1 = max(e0 + 16, c1 + 48 + LAT.compute)
        # Tile 2: its window buffer (tile 0's) is free at C_end(0) = c1.
        c2 = c1 + 48
        assert L.tile_events[:3] == [
            TileEvents(0, 0, 4, start, start + 12, c0, c0 + 48, e0, e0 + 16),
            TileEvents(0, 1, 4, start + 12, start + 24, c1, c1 + 48, e1, e1 + 16),
            TileEvents(0, 2, 4, c1, c1 + 12, c2, c2 + 48, c2 + 48 + LAT.compute, c2 + 48 + LAT.compute + 16),
        ]
        assert c0 < start + 12  # T2 binds: the PE array starts while blocks 1 and 2 are being gathered


def test_t2_falls_back_to_the_whole_gather_when_the_array_reads_faster() -> None:
    """NARROW (P_X = 5, B_A = 2): 6 input channels, nblk = 3; k_q = 1, so B_A k_q = 2 < n = 5 for the
    full tiles, which start at G_end + lambda_gather."""
    program = _second_layer(NARROW, 6, (3, 4), 4, 1, 1)
    plan = program.layers[1]
    assert (plan.nblk, [(p.k, p.g) for p in plan.passes]) == (3, [(1, 2)])
    for s in _all_modes(program, NARROW, [None, None]):
        L = s.layers[1]
        start = L.start
        assert s.jobs[2].loaded <= start
        c0 = start + 15 + LAT.gather  # G_end = start + 5 + 2 x 5
        c1 = start + 30 + LAT.gather  # tile 1 gathered from G_end(0); C_end(0) = c0 + 6 is long past
        e0 = c0 + 6 + LAT.compute
        e1 = max(e0 + 10, c1 + 6 + LAT.compute)
        assert L.tile_events[:2] == [
            TileEvents(0, 0, 5, start, start + 15, c0, c0 + 6, e0, e0 + 10),
            TileEvents(0, 1, 5, start + 15, start + 30, c1, c1 + 6, e1, e1 + 10),
        ]


def test_t2_a_small_tile_on_the_narrow_array_starts_early() -> None:
    """NARROW again, on a 1 x 2 map: one tile of n = 2 = B_A k_q positions, so T2 lets it start at G1."""
    program = _second_layer(NARROW, 6, (1, 2), 4, 1, 2)
    for s in _all_modes(program, NARROW, [None, None]):
        L = s.layers[1]
        start = L.start
        assert s.jobs[2].loaded <= start
        c0 = start + 2 + LAT.gather
        e0 = c0 + 6 + LAT.compute
        assert L.tile_events == [TileEvents(0, 0, 2, start, start + 6, c0, c0 + 6, e0, e0 + 4)]


def test_the_cycle_model_checks_every_block_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cycle-mode PE array checks, at each channel block, that the gather has written it: were it
    to start the full tiles of the NARROW case after the first sweep (ignoring T2's condition), it would
    reach block 1 (step 2 or 4) while the gather is still on it, and the model says so."""
    program = _second_layer(NARROW, 6, (3, 4), 4, 1, 1)
    simulate(program, NARROW, [None, None], "cycle")  # T2's condition: no complaint
    monkeypatch.setattr(CyclePeArray, "_window_ready", lambda self, L, n, k, now: True)
    with pytest.raises(AssertionError, match=r"reads channel block 1 of tile \d+ before it is written"):
        simulate(program, NARROW, [None, None], "cycle")


def test_the_first_sweep_waits_for_input_rows() -> None:
    """Input buffer (4.4 rule 4): the first layer reads the LOAD's rows as they come. In its first sweep
    each position waits for its window's input rows; the later sweeps find them loaded. The small config
    with 8 outstanding reads, so the LOAD's beats follow the blob's back to back, one per cycle.
    24 input channels (nblk = 3) on a 6 x 4 map: each tile of 4 positions is one output row y, which needs
    input rows up to y + 1 (3x3, stride 1)."""
    base = make_config(
        "inbuf",
        {"rows": 4, "cols": 4, "acc_depth": 4},
        {"data_bits": 64, "max_burst_beats": 4, "read_latency": 5, "max_outstanding_reads": 8},
        8,
    )
    cfg = with_input_buffer(base)
    model = make_model(cfg, 24, (6, 4), [Spec(24, k=2)], np.random.default_rng(2))
    program = compile_program(model, cfg, "sparse")
    plan = program.layers[0]
    assert plan.reads_input and plan.nblk == 3 and not plan.mask_enabled
    for s in _all_modes(program, cfg, [None]):
        blob, load = s.jobs[:2]
        assert (blob.kind, load.kind) == ("blob", "load")  # pass 0's weights first (section 3)
        assert load.last_beat == blob.last_beat + load.beats  # the LOAD's beats follow the blob's back to back

        # R(r): the cycle of the LOAD's beat that completes input row r, + lambda_load (4.4 rule 1)
        row_ready = [blob.last_beat + n + LAT.load for n in program.load_row_beats]
        L = s.layers[0]
        assert blob.loaded < row_ready[1]  # the weights wait for nobody
        # Tile 0 (output row 0): gathered from start_1 = lambda_layer, its first sweep waits for row 1.
        g1 = row_ready[1] + 4
        assert g1 > L.start + 4  # the wait binds
        t0 = L.tile_events[0]
        assert (t0.gather_start, t0.gather_end, t0.compute_start) == (L.start, g1 + 8, g1 + LAT.gather)
        # Tile 1 (output row 1) from G_end(0), waiting for input row 2; the PE array is still on tile 0.
        g1 = max(t0.gather_end, row_ready[2]) + 4
        t1 = L.tile_events[1]
        assert (t1.gather_start, t1.gather_end) == (t0.gather_end, g1 + 8)
        assert t1.compute_start == max(t0.compute_end, g1 + LAT.gather)
        assert row_ready[2] > t0.gather_end  # it waited for its rows too
