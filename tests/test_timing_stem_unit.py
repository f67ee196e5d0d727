"""The stem unit (`stem_unit.enabled`, docs/timing.md 3.1, rules ST1-ST7): the LOAD reads the raw image and
the unit delivers x0 into the LOAD path. contract.schedule == fast mode == cycle mode (every job, layer, tile
and activity counter) with and without an input buffer, early scan and pooled STORE, sparse and dense, images
smaller than the unit's maxima; in a stream of 3 images too, and the batched contract; X_0 and loaded(LOAD)
by hand for a tiny case; the read engine does not wait for the x0 train."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_batched_contract import _assert_equal, _masks
from test_sim_speed import ZERO
from test_testset_stream import _batched_stream
from test_timing_early_scan import with_early_scan
from test_timing_input_buffer import with_input_buffer
from test_timing_networks import _random_config, _random_specs
from test_timing_stream import _actives, check_stream
from timing_models import (
    CONFIGS,
    ROOT,
    ULTRA96,
    Spec,
    assert_same_schedule,
    check_all_modes,
    make_model,
    with_pooled_store,
)

from archsim.blocks.accelerator import CycleAccelerator
from archsim.blocks.stem import stem_macs
from archsim.config import HardwareConfig
from archsim.contract import LATENCIES, Latencies, schedule
from archsim.format import BnnModel, Stem, load_model, load_trace
from archsim.program import Program, compile_program
from archsim.sim import simulate


def with_stem_unit(cfg: HardwareConfig, channels: int, hw_max: tuple[int, int], on: bool = True) -> HardwareConfig:
    data = cfg.model_dump()
    data["stem_unit"] = {"enabled": on, "channels": channels, "max_height": hw_max[0], "max_width": hw_max[1]}
    return HardwareConfig.model_validate(data, context={"rtl_limits": False})


def one_channel(model: BnnModel, rng: np.random.Generator) -> BnnModel:
    """`model` with a stem the unit computes: one image channel, 3x3 int8 weights, a byte offset and a
    multiplier that normalises to the unit's fixed shift."""
    _, h, w = model.input_shape
    c0 = model.stem.weight.shape[0]
    stem = Stem(
        weight=rng.integers(-128, 128, (c0, 1, 3, 3)).astype(np.int8),
        mult=rng.integers(1, 256, c0).astype(np.int32),
        bias=rng.integers(-5000, 5000, c0).astype(np.int64),
        shift=10,
        input_offset=int(rng.integers(0, 256)),
    )
    return replace(model, input_shape=(1, h, w), stem=stem)


# (config, stem channels: a multiple of rows and of data_bits / value_bits, 3 or more beats per position)
STEM_CONFIGS = {"small": 12, "wide": 24}


def _net(c0: int, k: int | None) -> list[Spec]:
    """Two stride-1 layers on x0 (the first reads the input map), then a stride-2 block with a shortcut."""
    return [
        Spec(c0, k=k, predictor=True),
        Spec(c0, k=k),
        Spec(2 * c0, kernel=1, stride=2, k=k, role="shortcut"),
        Spec(2 * c0, stride=2, k=k, predictor=True),
    ]


def _build(
    config: str, hw: tuple[int, int], hw_max: tuple[int, int], mode: str, inbuf: bool, early: bool, pooled: bool
) -> tuple[HardwareConfig, Program]:
    c0 = STEM_CONFIGS[config]
    base = with_pooled_store(with_early_scan(with_input_buffer(CONFIGS[config], inbuf), early), pooled)
    cfg = with_stem_unit(base, c0, hw_max)
    rng = np.random.default_rng(sum(map(ord, config)) + 7 * hw[0] + hw[1])
    model = one_channel(make_model(cfg, c0, hw, _net(c0, None if mode == "dense" else 1), rng), rng)
    program = compile_program(model, cfg, mode)
    assert program.stem_unit and program.load_beats < program.x0_beats
    return cfg, program


def _active(program: Program, seed: int) -> list[np.ndarray | None]:
    rng = np.random.default_rng(seed)
    return [np.flatnonzero(rng.random(p.positions) < 0.6) if p.mask_enabled else None for p in program.layers]


@pytest.mark.parametrize("pooled", [False, True], ids=["map-store", "pooled-store"])
@pytest.mark.parametrize("early", [False, True], ids=["scan", "early-scan"])
@pytest.mark.parametrize("inbuf", [False, True], ids=["no-inbuf", "inbuf"])
@pytest.mark.parametrize("mode", ["sparse", "dense"])
@pytest.mark.parametrize(("hw", "hw_max"), [((6, 6), (6, 6)), ((5, 7), (8, 9))], ids=["full-size", "smaller"])
@pytest.mark.parametrize("config", list(STEM_CONFIGS))
def test_st1_st3_all_modes_agree(
    config: str, hw: tuple[int, int], hw_max: tuple[int, int], mode: str, inbuf: bool, early: bool, pooled: bool
) -> None:
    """ST1-ST3: contract == fast == cycle on every job (the raw LOAD's last beat, its loaded), layer and tile,
    and both modes count the same activity: the raw beats read, the x0 words written, the stem's MACs."""
    cfg, program = _build(config, hw, hw_max, mode, inbuf, early, pooled)
    got = check_all_modes(program, cfg, _active(program, 5))["cycle"]
    load = next(j for j in got.jobs if j.kind == "load")
    assert load.beats == program.load_beats
    assert load.loaded == load.last_beat + program.stem_lead + program.x0_beats - 1 + LATENCIES.load
    act = got.load_activity
    assert act.ddr_read_beats == program.load_beats
    assert act.stem_macs == stem_macs(program) == 9 * hw[0] * hw[1] * STEM_CONFIGS[config]
    words = hw[0] * hw[1] * STEM_CONFIGS[config] // cfg.pe_array.rows
    assert act.res_writes == words * program.load_res_copies


def test_st2_st3_by_hand() -> None:
    """ST1-ST3 on a tiny case, by hand. The small config: D = 64 bits (8 bytes a beat), read latency 5, one
    R beat per cycle; 12 channels of 16 bits = Q = 3 beats per position. A 4 x 4 image is n_raw = 16 / 8 = 2
    beats in one burst: AR in cycle 0, R beats in cycles 5 and 6, r_last = 6. On a unit built for 8 x 8,
    A = 64 / 8 - 2 = 6, lambda_S = A + W + Q + 16 = 6 + 4 + 3 + 16 = 29 and lambda_stem = 1 + 29 = 30,
    so X_0 = 36. x0 is 4 x 4 x 12 / 4 channels a beat = 48 beats: X_47 = 83, loaded(LOAD) = 83 + 2 = 85,
    and layer 1 starts then (start_1 = loaded(LOAD))."""
    cfg, program = _build("small", (4, 4), (8, 8), "sparse", False, False, False)
    assert (program.load_beats, program.stem_lead, program.x0_beats) == (2, 30, 48)
    active = _active(program, 1)
    for sched in (schedule(program, cfg, active), *(simulate(program, cfg, active, m) for m in ("fast", "cycle"))):
        load = sched.jobs[0]
        assert (load.kind, load.first_ar, load.last_beat, load.loaded) == ("load", 0, 6, 85)
        assert sched.load_done == sched.layers[0].start == 85


def test_st3_input_rows_by_hand() -> None:
    """ST3 with an input buffer: input row r of the 4 x 4 x0 (4 positions x 3 beats = beats 12 r .. 12 r + 11)
    is usable from R(r) = X_{12 r + 11} + 2 = r_last + 30 + 12 r + 13. The first layer (dense: no mask unit,
    4 columns) gathers its first tile, output row 0, from input rows 0 and 1: its first channel-block sweep
    waits for R(1) and takes a cycle per position, G1 = R(1) + 4, and the second block's sweep 4 more."""
    cfg, program = _build("small", (4, 4), (8, 8), "dense", True, False, False)
    assert program.load_row_beats == (12, 24, 36, 48) and program.layers[0].nblk == 2
    active = _active(program, 1)
    want = schedule(program, cfg, active, keep_tiles=True)
    for sched in (want, *(simulate(program, cfg, active, m, keep_tiles=True) for m in ("fast", "cycle"))):
        load = next(j for j in sched.jobs if j.kind == "load")
        assert sched.jobs[0].kind == "load"  # ST7: with the unit in use the raw LOAD goes first
        rows = [load.last_beat + 30 + 12 * r + 13 for r in range(4)]
        assert load.loaded == rows[-1]
        tile = sched.layers[0].tile_events[0]
        assert tile.gather_end == rows[1] + 4 + 4
        assert tile.gather_end < load.loaded  # the layer ran before the x0 train was over


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_st7_job_order(mode: str) -> None:
    """ST7: with an input buffer and the unit in use the raw LOAD is job 0 and blob 0 follows it (the 2-beat
    LOAD is one burst: blob 0's first AR is the next cycle) in all three; bypassed (ST6), blob 0 goes first as
    in section 3."""
    cfg, program = _build("small", (4, 4), (8, 8), mode, True, False, False)
    assert program.pre_load == 0 and program.job_order()[:2] == [-1, 0]
    active = _active(program, 1)
    for sched in (schedule(program, cfg, active), *(simulate(program, cfg, active, m) for m in ("fast", "cycle"))):
        load, blob0 = sched.jobs[:2]
        assert (load.kind, blob0.kind, load.first_ar, blob0.first_ar) == ("load", "blob", 0, 1)
    c0 = STEM_CONFIGS["small"]
    small_unit = with_stem_unit(with_input_buffer(CONFIGS["small"], True), c0, (3, 3))  # smaller than the image
    rng = np.random.default_rng(3)
    model = one_channel(make_model(small_unit, c0, (4, 4), _net(c0, None if mode == "dense" else 1), rng), rng)
    bypassed = compile_program(model, small_unit, mode)
    assert bypassed.stem_bypassed and bypassed.pre_load == 1 and bypassed.job_order()[:2] == [0, -1]


@pytest.mark.parametrize("mode", ["fast", "cycle", "contract"])
def test_st1_next_blob_does_not_wait(mode: str) -> None:
    """ST1: the read engine serves the blob after the raw LOAD at once: it is requested and loaded while the
    unit is still computing x0, and its times are those without the unit's x0 train."""
    cfg, program = _build("small", (6, 6), (6, 6), "sparse", False, False, False)
    active = _active(program, 2)
    s = schedule(program, cfg, active) if mode == "contract" else simulate(program, cfg, active, mode)
    load, blob = s.jobs[0], s.jobs[1]
    assert (load.kind, blob.kind) == ("load", "blob")
    assert blob.first_ar <= load.last_beat < blob.loaded < load.loaded
    # the same blob after an ordinary LOAD of as many beats: the same request and arrival
    plain = replace(program, stem_unit=False, x0_beats=program.load_beats, stem_lead=0, load_row_beats=())
    ref = schedule(plain, cfg, active).jobs[1]
    assert (blob.first_ar, blob.last_beat, blob.loaded) == (ref.first_ar, ref.last_beat, ref.loaded)


@pytest.mark.parametrize("pooled", [False, True], ids=["map-store", "pooled-store"])
@pytest.mark.parametrize("inbuf", [False, True], ids=["no-inbuf", "inbuf"])
@pytest.mark.parametrize("config", list(STEM_CONFIGS))
def test_st5_stream(config: str, inbuf: bool, pooled: bool) -> None:
    """ST5: three images back to back, each its own active sets: schedule_stream == fast == cycle, and the
    batched contract (single-image times and the stream recurrence) == the contract."""
    cfg, program = _build(config, (5, 6), (6, 6), "sparse", inbuf, config == "wide", pooled)
    rng = np.random.default_rng(11)
    stream = check_stream(program, cfg, _actives(program, rng, 3, (0.0, 0.4, 1.0)))
    for s, t0 in zip(stream.images, stream.starts, strict=True):
        load = next(j for j in s.jobs if j.kind == "load")
        assert (
            load.first_ar >= t0
            and load.loaded == load.last_beat + program.stem_lead + program.x0_beats - 1 + LATENCIES.load
        )
    masks = _masks(program, rng, 6)
    _assert_equal(program, cfg, masks, 6, LATENCIES)
    times, want, _ = _batched_stream(program, cfg, [None if m is None else m[:3] for m in masks], 3)
    assert times.starts.tolist() == want.starts and times.done.tolist() == want.done


def test_batched_contract_dense() -> None:
    cfg, program = _build("wide", (7, 5), (8, 8), "dense", True, False, True)
    _assert_equal(program, cfg, [None] * len(program.layers), 2, LATENCIES)


@pytest.mark.parametrize("seed", range(30))
def test_randomized(seed: int) -> None:
    """Random folding, AXI timing (at least 64-bit beats), latencies, networks, masks, image sizes up to the
    unit's maxima and input buffer / early scan / pooled STORE: contract == fast == cycle, tile for tile."""
    rng = np.random.default_rng(5000 + seed)
    base = _random_config(rng, seed)
    data = base.model_dump()
    d = max(64, data["axi"]["data_bits"])
    data["axi"]["data_bits"] = d
    data["buffers"].update(
        input_buffer=bool(rng.random() < 0.5),
        early_scan=bool(rng.random() < 0.5),
        pooled_store=bool(rng.random() < 0.5),
    )
    rows, lanes = data["pe_array"]["rows"], d // data["epilogue"]["value_bits"]
    c0 = int(np.lcm(rows, lanes)) * int(rng.integers(1, 3))
    c0 *= -(-3 * lanes // c0)  # at least 3 beats per position
    hw = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
    hw_max = (hw[0] + int(rng.integers(0, 3)), hw[1] + int(rng.integers(0, 3)))
    cfg = with_stem_unit(HardwareConfig.model_validate(data, context={"rtl_limits": False}), c0, hw_max)
    model = one_channel(make_model(cfg, c0, hw, _random_specs(rng, c0, cfg.pe_array.acc_depth), rng), rng)
    program = compile_program(model, cfg, "sparse")
    active = [
        np.flatnonzero(rng.random(p.positions) < rng.choice([0.0, 0.3, 1.0])) if p.mask_enabled else None
        for p in program.layers
    ]
    lat = Latencies(*(int(x) for x in rng.integers(0, 6, 7))) if rng.random() < 0.5 else LATENCIES
    check_all_modes(program, cfg, active, lat)


@pytest.mark.parametrize("lat", [LATENCIES, ZERO], ids=["latencies", "zero-latencies"])
def test_sleeping_blocks_change_nothing(monkeypatch: pytest.MonkeyPatch, lat: Latencies) -> None:
    """Cycle mode with every block ticking every cycle == with sleeping blocks (the unit wakes on the raw
    LOAD's last beat, in the same cycle; with lambda_load = 0 its x0 beats are seen in the cycle they enter)."""
    cfg, program = _build("small", (5, 6), (6, 6), "sparse", True, True, False)
    active = _active(program, 3)
    slept = simulate(program, cfg, active, "cycle", lat, keep_tiles=True)
    monkeypatch.setattr(CycleAccelerator, "sleep", False)
    ticked = simulate(program, cfg, active, "cycle", lat, keep_tiles=True)
    assert repr(vars(slept)) == repr(vars(ticked))
    assert_same_schedule(slept, schedule(program, cfg, active, lat, keep_tiles=True))


def _shipped_stem(name: str, sample: int = 0) -> tuple[HardwareConfig, Program, list[np.ndarray | None]]:
    """A shipped model on the Ultra96v2 with the stem unit, and trace sample `sample`'s spatial masks."""
    cfg = with_stem_unit(ULTRA96, 64, (32, 32))
    model = load_model(ROOT / f"workloads/models/{name}.npz")
    masks = load_trace(ROOT / f"workloads/models/{name}.trace.npz").masks
    program = compile_program(model, cfg, "dense" if name.endswith("dense") else "sparse")
    active = [
        np.flatnonzero(m[sample]) if plan.mask_enabled and m is not None else None
        for plan, m in zip(program.layers, masks, strict=True)
    ]
    return cfg, program, active


@pytest.mark.parametrize(("name", "sample"), [("resnet18_pruned", 0), ("resnet18_pruned", 1), ("resnet18_dense", 0)])
def test_shipped_workload_fast(name: str, sample: int) -> None:
    """The shipped model on the Ultra96v2 with the unit: fast == contract on two samples; lambda_stem = 53
    (ST2), 32 raw beats of 256 bits for the 32 x 32 image, x0's 4,096."""
    cfg, program, active = _shipped_stem(name, sample)
    assert (program.stem_lead, program.load_beats, program.x0_beats) == (53, 32, 4096)
    assert_same_schedule(simulate(program, cfg, active, "fast"), schedule(program, cfg, active))


@pytest.mark.slow
def test_shipped_workload_cycle() -> None:
    """The full network in cycle mode, one sample: == contract, and the same LOAD activity as fast mode."""
    cfg, program, active = _shipped_stem("resnet18_pruned", 1)
    want = schedule(program, cfg, active)
    got = simulate(program, cfg, active, "cycle")
    assert_same_schedule(got, want)
    assert got.load_activity == simulate(program, cfg, active, "fast").load_activity
