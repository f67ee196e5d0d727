"""Hand-computed timing and activity facts, checked in every mode (and in contract.schedule).

The expected numbers are worked out here from docs/timing.md by hand, not by
calling the model, so a wrong rule in all three implementations still fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from timing_models import ULTRA96, Spec, make_config, make_model

from archsim.activity import Activity, SimSchedule
from archsim.blocks.signals import done_event
from archsim.blocks.weight_slots import CycleWeightSlots, FastWeightSlots
from archsim.config import HardwareConfig
from archsim.contract import LATENCIES as LAT
from archsim.contract import Schedule, schedule
from archsim.program import Program, compile_program
from archsim.sim import DeadlockError, TimingInputError, simulate

MODES = ("contract", "fast", "cycle")


def run(program: Program, cfg: HardwareConfig, active: list[np.ndarray | None], mode: str) -> Schedule:
    return schedule(program, cfg, active) if mode == "contract" else simulate(program, cfg, active, mode)


def with_axi(**axi: int) -> HardwareConfig:
    """Ultra96v2 folding on one 128-bit port: the beat arithmetic below counts 128-bit beats."""
    return make_config("facts", {}, {"data_bits": 128, **axi}, ULTRA96.buffers.act_word_bits)


def one_layer(cfg: HardwareConfig) -> Program:
    """3x3, 64 -> 64 channels, 2x2 map, unpruned, no predictor (Ultra96v2 folding)."""
    return compile_program(make_model(cfg, 64, (2, 2), [Spec(64)], np.random.default_rng(0)), cfg, "sparse")


@pytest.mark.parametrize("mode", MODES)
def test_dma_bound_layer_is_burst_arithmetic(mode: str) -> None:
    """R channel at 1/4 bandwidth: every beat of LOAD and blob comes back to back, 4 cycles apart,
    from cycle L_r; the layer then only adds its one tile after the blob is loaded."""
    cfg = with_axi(read_beat_cycles=4)
    program = one_layer(cfg)
    plan = program.layers[0]
    # LOAD: 4 positions x 4 words of 16 x 16 bits = 32 beats of 128 bits.
    # Blob: 64 x 4 steps x 16 x (9 + 3) bits = 384 beats; 4 slots x 16 x 48 bits of parameters = 24 beats.
    assert (program.load_beats, plan.passes[0].weight_beats, plan.passes[0].param_beats) == (32, 384, 24)
    beta, l_r = 4, 32
    load_done = l_r + beta * (32 - 1) + LAT.load  # 158
    blob_loaded = l_r + beta * (32 + 408 - 1) + LAT.load  # 1790
    # One tile of 4 positions: C_in k = 256 PE cycles, n g = 16 epilogue cycles.
    end = blob_loaded + 64 * 4 + LAT.compute + 4 * 4 + LAT.epilogue + LAT.layer  # 2071
    s = run(program, cfg, [None], mode)
    assert (s.load_done, s.jobs[1].loaded, s.layers[0].start, s.layers[0].end) == (load_done, blob_loaded, 158, end)
    assert end == 2071


@pytest.mark.parametrize("mode", MODES)
def test_one_outstanding_read_serialises_bursts(mode: str) -> None:
    """max_outstanding_reads = 1: a burst's AR waits for the previous burst's last beat, so each
    burst costs L_r + n cycles (AR, latency, n beats, the counter drop)."""
    cfg = with_axi(max_outstanding_reads=1)
    program = one_layer(cfg)
    s = run(program, cfg, [None], mode)
    load, blob = s.jobs
    # LOAD: 2 bursts of 16. Blob: 408 beats = 25 bursts of 16 and one of 8.
    assert (load.first_ar, load.last_beat, load.loaded) == (0, 2 * 48 - 1, 2 * 48 - 1 + LAT.load)
    assert blob.first_ar == 96
    assert blob.last_beat == 96 + 25 * (32 + 16) + (32 + 8) - 1  # 1335


@pytest.mark.parametrize("mode", MODES)
def test_empty_mask_costs_scan_and_latencies(mode: str) -> None:
    """A masked layer with no active position: its blob was prefetched during the previous layer,
    so it costs exactly the scan (64 positions x 1 channel block) plus lambda_mask and lambda_layer
    (section 4.1: the scan starts with its layer, so without the early scan of section 4.5)."""
    data = ULTRA96.model_dump()
    data["buffers"]["early_scan"] = False
    cfg = HardwareConfig.model_validate(data)
    rng = np.random.default_rng(3)
    program = compile_program(
        make_model(cfg, 64, (8, 8), [Spec(64, k=2), Spec(64, k=2, predictor=True)], rng), cfg, "sparse"
    )
    s = run(program, cfg, [None, np.zeros(0, dtype=np.int64)], mode)
    L = s.layers[1]
    assert s.jobs[2].loaded <= L.start  # precondition: blob prefetched (it may load from cycle 0)
    assert (L.n_active, L.tiles, L.pe_busy, L.gather_busy, L.epilogue_busy) == (0, 0, 0, 0, 0)
    assert (L.mask_start, L.mask_end) == (L.start, L.start + 64 * 1 + LAT.mask)
    assert L.cycles == 64 + LAT.mask + LAT.layer == 68


@pytest.mark.parametrize("mode", MODES)
def test_pe_bound_layer_is_a_filled_pipeline(mode: str) -> None:
    """Unmasked 64-channel layer, 8x8: 4 tiles of 16 positions, each 64 x 4 = 256 PE cycles, longer
    than its gather (16) and epilogue (16 x 4), so after the first gather the PE array never waits."""
    cfg = ULTRA96
    program = compile_program(
        make_model(cfg, 64, (8, 8), [Spec(64), Spec(64)], np.random.default_rng(4)), cfg, "sparse"
    )
    s = run(program, cfg, [None, None], mode)
    L = s.layers[1]
    assert s.jobs[2].loaded <= L.start + 16 + LAT.gather  # precondition: weights wait for nobody
    assert L.cycles == 16 + LAT.gather + 4 * 256 + LAT.compute + 16 * 4 + LAT.epilogue + LAT.layer == 1115
    assert L.pe_busy == 4 * 256


@pytest.mark.parametrize(("outstanding", "extra"), [(8, 2 + 512 + 16), (1, 2 + 32 * (16 + 16))])
@pytest.mark.parametrize("mode", MODES)
def test_store(mode: str, outstanding: int, extra: int) -> None:
    """STORE of a 64 x 8 x 8 map: 256 words of 256 bits = 512 beats = 32 bursts. With 8 writes
    outstanding the W beats stream: DONE = start + lambda_store + 512 + L_w. With one, each burst
    waits for the previous B response: 16 beats + L_w per burst."""
    cfg = with_axi(max_outstanding_writes=outstanding)
    program = compile_program(make_model(cfg, 64, (8, 8), [Spec(64, k=1)], np.random.default_rng(5)), cfg, "sparse")
    assert program.store_beats == 512
    s = run(program, cfg, [None], mode)
    assert s.done - s.store_start == extra
    assert len(s.store_bursts) == 32


def _activity_case(mode: str) -> SimSchedule:
    """small config: rows 4, cols 4, acc_depth 4, B_A 8, 64-bit AXI. Layer 3x3, 10 -> 10 channels,
    5x5, k = 2, predictor; 7 active positions -> tiles of 4 and 3."""
    cfg = make_config("small", {"rows": 4, "cols": 4, "acc_depth": 4}, {"data_bits": 64, "max_burst_beats": 4}, 8)
    program = compile_program(
        make_model(cfg, 10, (5, 5), [Spec(10, k=2, predictor=True)], np.random.default_rng(6)), cfg, "sparse"
    )
    return simulate(program, cfg, [np.array([0, 3, 4, 7, 8, 12, 24])], mode)


@pytest.mark.parametrize("mode", ["fast", "cycle"])
def test_activity_by_hand(mode: str) -> None:
    s = _activity_case(mode)
    # nblk = 2 channel blocks; one pass of g = 3 slots; rows hold 3, 3, 2, 2 real channels and keep 2 each.
    # Mask: 25 positions x 2 blocks = 50 evaluations, 9 bank reads each, a centre-word copy each (stride 1).
    # Gather: 7 positions x 2 blocks = 14 cycles (9 bank reads, 1 window write each).
    # PE: 2 tiles x 10 channels x 2 steps = 40 steps of 4 x 4 PEs; useful: 7 positions x 10 x (4 + 4) rows.
    # Epilogue: 7 positions x 3 slots = 21 cycles; 7 x 10 output values.
    # Blob: ceil(10 x 2 x 4 x 11 / 64) = 14 + ceil(3 x 4 x 48 / 64) = 9 + predictor 1 + ceil(2 x 8 x 9 / 64) = 4.
    want = Activity(
        ddr_read_beats=14 + 9 + 4,
        weight_reads=40,
        param_reads=21,
        index_decodes=40 * 4,
        pe_ops=40 * 16,
        pe_useful=7 * 10 * 8,
        window_writes=14,
        window_reads=7 * 10,
        act_reads=9 * 50 + 9 * 14,
        act_writes=50 + 21,
        res_reads=21,
        res_writes=21,
        list_writes=7,
        list_reads=14,  # both channel-block sweeps read the list (T1)
        mask_evals=50,
        epilogue_ops=70,
    )
    assert s.layer_activity() == [want]
    # LOAD and STORE: 25 positions x ceil(10 / 4) = 75 residual words of 64 bits = 75 beats.
    assert s.load_activity == Activity(ddr_read_beats=75, res_writes=75, act_writes=75)
    assert s.store_activity == Activity(ddr_write_beats=75, res_reads=75)


def test_dense_mode_bypasses_decoder_and_mask() -> None:
    cfg = ULTRA96
    model = make_model(cfg, 16, (6, 6), [Spec(16, predictor=True)], np.random.default_rng(8))
    for mode in ("fast", "cycle"):
        dense = simulate(compile_program(model, cfg, "dense"), cfg, [None], mode)
        sparse = simulate(compile_program(model, cfg, "sparse"), cfg, [np.arange(0, 36, 2)], mode)
        d, sp = dense.layer_activity()[0], sparse.layer_activity()[0]
        assert (d.index_decodes, d.mask_evals, dense.layers[0].n_active) == (0, 0, 36)
        assert dense.layers[0].mask_start == dense.layers[0].mask_end == dense.layers[0].start
        assert sp.index_decodes == 16 * sp.weight_reads > 0
        assert sparse.layers[0].n_active == 18


def test_deterministic() -> None:
    rng = np.random.default_rng(9)
    cfg = ULTRA96
    program = compile_program(make_model(cfg, 16, (6, 6), [Spec(16, k=3, predictor=True)], rng), cfg, "sparse")
    active = [np.flatnonzero(rng.random(36) < 0.5)]
    for mode in ("fast", "cycle"):
        a, b = (
            simulate(program, cfg, active, mode, keep_tiles=True),
            simulate(program, cfg, active, mode, keep_tiles=True),
        )
        assert a == b


@pytest.fixture(scope="module")
def masked_program() -> Program:
    return compile_program(
        make_model(ULTRA96, 16, (4, 4), [Spec(16, k=1, predictor=True)], np.random.default_rng(1)), ULTRA96, "sparse"
    )


@pytest.mark.parametrize(
    ("mode", "active", "message"),
    [
        ("slow", [np.arange(3)], "mode must be one of"),
        ("fast", [], "0 entries for a programme of 1 layers"),
        ("fast", [None], r"active\[0\] \(layer 'L0'\): the layer's mask unit is enabled"),
        ("fast", [np.array([3, 1])], "strictly ascending within"),
        ("cycle", [np.array([1, 1])], "strictly ascending"),
        ("fast", [np.array([0, 16])], r"within \[0, 16\)"),
        ("fast", [np.array([-1, 2])], "within"),
        ("fast", [np.array([0.5, 2.0])], "integer raster indices"),
        ("fast", [np.zeros((2, 2), dtype=int)], "1-D array"),
    ],
)
def test_bad_input_is_one_clear_error(masked_program: Program, mode: str, active: list, message: str) -> None:
    with pytest.raises(TimingInputError, match=message):
        simulate(masked_program, ULTRA96, active, mode)


@pytest.mark.parametrize("mode", ["fast", "cycle"])
def test_a_stuck_model_raises_instead_of_hanging(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Break the weight-slot hand-over on purpose: the third blob is never allowed to load."""
    cfg = ULTRA96
    program = compile_program(make_model(cfg, 16, (4, 4), [Spec(16, k=1)] * 3, np.random.default_rng(2)), cfg, "sparse")
    if mode == "fast":
        monkeypatch.setattr(
            FastWeightSlots, "permit", lambda self, blob: done_event(self.env) if blob < 2 else self.env.event()
        )
    else:
        monkeypatch.setattr(CycleWeightSlots, "writable", lambda self, blob, now: blob < 2)
    with pytest.raises(DeadlockError):
        simulate(program, cfg, [None] * 3, mode)
