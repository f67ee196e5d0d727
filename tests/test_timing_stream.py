"""Stream of images (throughput mode, docs/timing.md section 9, rules S1-S6): contract.schedule_stream ==
fast mode == cycle mode on every image's S(n), DONE(n), every layer's start and end, every job's times
and every tile, for 1, 2 and 3 images with a different active set per image; the rules S2 and S4 bind
where the tests say they do, and one image is latency mode (S1)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from test_timing_early_scan import with_early_scan
from test_timing_input_buffer import with_input_buffer
from test_timing_layers import CASES
from test_timing_networks import SMALL_NET, _random_config, _random_specs
from timing_models import (
    CONFIGS,
    ULTRA96,
    Spec,
    assert_same_schedule,
    make_config,
    make_model,
    schedule_fields,
    with_pooled_store,
)

from archsim.config import HardwareConfig
from archsim.contract import LATENCIES, Latencies, Schedule, StreamSchedule, schedule, schedule_stream, w_end
from archsim.program import Program, compile_program
from archsim.sim import SimSchedule, TimingInputError, simulate_stream

Active = list[np.ndarray | None]


def _actives(program: Program, rng: np.random.Generator, n: int, fractions: Sequence[float]) -> list[Active]:
    """`n` images, each with its own active sets (the predictor's outcome differs per image)."""
    return [
        [
            np.flatnonzero(rng.random(p.positions) < float(rng.choice(fractions))) if p.mask_enabled else None
            for p in program.layers
        ]
        for _ in range(n)
    ]


def check_stream(
    program: Program, cfg: HardwareConfig, actives: list[Active], lat: Latencies = LATENCIES
) -> StreamSchedule:
    """S1-S5: schedule_stream == fast == cycle, image for image (S(n), DONE(n), layers, jobs, tiles, STORE
    bursts), and both SimPy modes count the same activity per image. With one image, == schedule (S1)."""
    want = schedule_stream(program, cfg, actives, lat, keep_tiles=True)
    assert len(want.images) == len(actives)
    if len(actives) == 1:
        assert want.starts == [0]
        assert_same_schedule(want.images[0], schedule(program, cfg, actives[0], lat, keep_tiles=True))
    got = {mode: simulate_stream(program, cfg, actives, mode, lat, keep_tiles=True) for mode in ("fast", "cycle")}
    for mode, stream in got.items():
        assert stream.starts == want.starts, f"{mode}: S(n) {stream.starts} != {want.starts}"
        assert stream.done == want.done, f"{mode}: DONE(n) {stream.done} != {want.done}"
        for g, w in zip(stream.images, want.images, strict=True):
            assert isinstance(g, SimSchedule) and g.mode == mode
            assert_same_schedule(g, w)
    for f, c in zip(got["fast"].images, got["cycle"].images, strict=True):
        assert isinstance(f, SimSchedule) and isinstance(c, SimSchedule)
        assert f.total_activity() == c.total_activity()
        assert f.layer_activity() == c.layer_activity()
    return want


def _shifted(s: Schedule, by: int) -> dict:
    """A schedule's fields with every time moved by `by` cycles (rule S3's shift)."""
    f = schedule_fields(s)
    f["done"] += by
    f["total_cycles"] += by
    f["load_done"] += by
    f["store_start"] += by
    f["layers"] = [(i, a + by, b + by, c + by, d + by, *rest) for i, a, b, c, d, *rest in f["layers"]]
    f["tiles"] = [[(q, t, n, *(x + by for x in times)) for q, t, n, *times in L] for L in f["tiles"]]
    f["jobs"] = [(k, li, q, n, a + by, b + by, c + by, d + by) for k, li, q, n, a, b, c, d in f["jobs"]]
    f["store_bursts"] = [(s + by, n, b + by) for s, n, b in f["store_bursts"]]
    return f


STORES = {
    "map": lambda c: c,
    "pooled": with_pooled_store,
    "inbuf-map": with_input_buffer,
    "inbuf-pooled": lambda c: with_pooled_store(with_input_buffer(c)),
}


@pytest.mark.parametrize("store", list(STORES))
@pytest.mark.parametrize("config", ["small", "tiny", "wide"])
@pytest.mark.parametrize("case", list(CASES))
def test_layer_cases(case: str, config: str, store: str) -> None:
    """The single-layer cases of test_timing_layers (masks, bypass, multi-pass, shortcut, dense mode) with
    the map and the pooled STORE, input buffer off and on: N = 1, 2, 3 images agree in all three (S1-S5)."""
    c0, hw, specs, rule, mode = CASES[case]
    cfg = STORES[store](CONFIGS[config])
    rng = np.random.default_rng(7)
    program = compile_program(make_model(cfg, c0, hw, specs, rng), cfg, mode)
    cols = cfg.pe_array.cols
    for n in (1, 2, 3):
        actives = [[rule(rng, p.positions, cols) if p.mask_enabled else None for p in program.layers] for _ in range(n)]
        check_stream(program, cfg, actives)


@pytest.mark.parametrize("early", [False, True], ids=["late-scan", "early-scan"])
@pytest.mark.parametrize("store", list(STORES))
def test_small_network(store: str, early: bool) -> None:
    """test_timing_networks' small network (two stages, a shortcut, masked and bypassed layers), with an
    early scan (4.5) or not: N = 1, 2, 3 agree, and image n is image n's own single-image schedule shifted
    by S(n) (S3: S4 never binds on a network whose last layer comes long after the previous STORE)."""
    cfg = with_early_scan(STORES[store](CONFIGS["small"]), early)
    rng = np.random.default_rng(11)
    program = compile_program(make_model(cfg, 16, (8, 8), SMALL_NET, rng), cfg, "sparse")
    assert any(p.early_scan for p in program.layers) == early
    for n in (1, 2, 3):
        actives = _actives(program, rng, n, (0.0, 0.25, 0.6, 1.0))
        stream = check_stream(program, cfg, actives)
        for image, (s, t0) in enumerate(zip(stream.images, stream.starts, strict=True)):
            alone = schedule(program, cfg, actives[image], keep_tiles=True)
            assert schedule_fields(s) == _shifted(alone, t0), f"image {image} is not its schedule shifted by S(n)"


def _one_layer(cfg: HardwareConfig, c: int, hw: tuple[int, int], mode: str = "sparse") -> Program:
    model = make_model(cfg, c, hw, [Spec(c, kernel=1, k=1)], np.random.default_rng(3))
    return compile_program(model, cfg, mode)


def _s4_config(input_buffer: bool) -> HardwareConfig:
    """Few sums to LOAD, many to STORE, one write burst in flight: STORE(n-1) runs past image n's start."""
    cfg = make_config(
        "s4",
        {"rows": 4, "cols": 4, "acc_depth": 4},
        {
            "data_bits": 32,
            "max_burst_beats": 2,
            "read_latency": 2,
            "write_latency": 6,
            "max_outstanding_reads": 4,
            "max_outstanding_writes": 1,
            "read_beat_cycles": 1,
        },
        8,
    )
    return with_pooled_store(with_input_buffer(cfg, input_buffer))


@pytest.mark.parametrize("input_buffer", [False, True], ids=["load-first", "input-buffer"])
def test_s4_binds_on_a_one_layer_stream(input_buffer: bool) -> None:
    """S4: with a pooled STORE, image n's last layer waits for STORE(n-1)'s last W beat + 1. On a one-layer
    network of one position and many channels the STORE of the sums outlasts the next image's LOAD, so
    the rule binds: layer 1 of image n starts at Wend(n-1), later than by S3 alone, and image n is not
    its single-image schedule shifted by S(n). All three implementations agree on it."""
    cfg = _s4_config(input_buffer)
    program = _one_layer(cfg, 32, (1, 1))
    assert program.pooled and len(program.layers) == 1
    actives = [[None]] * 3
    stream = check_stream(program, cfg, actives)
    alone = schedule(program, cfg, [None])
    for n in (1, 2):
        prev, s = stream.images[n - 1], stream.images[n]
        wend = w_end(prev.store_bursts, prev.store_start)
        assert stream.starts[n] == prev.store_start < wend  # S2 with a pooled STORE: end_L(n-1)
        by_s3 = stream.starts[n] + alone.layers[0].start
        assert s.layers[0].start == wend > by_s3  # S4 binds
        assert schedule_fields(s) != _shifted(alone, stream.starts[n])
        assert s.done - stream.starts[n] > alone.done  # image n's own latency grows by the wait


def test_s2_wend_binds_with_a_map_store() -> None:
    """S2: with a map STORE, image n starts after STORE(n-1)'s last W beat + 1 (it reads the residual buffer
    that image n's LOAD overwrites), later than end_L(n-1); with a pooled STORE at end_L(n-1). The map
    stream's period is longer by the STORE's W beats."""
    cfg = CONFIGS["small"]
    rng = np.random.default_rng(5)
    model = make_model(cfg, 16, (6, 6), [Spec(16, k=2, predictor=True), Spec(16, k=2)], rng)
    actives = _actives(compile_program(model, cfg, "sparse"), rng, 3, (0.3, 0.8))
    periods = {}
    for name, c in (("map", cfg), ("pooled", with_pooled_store(cfg))):
        program = compile_program(model, c, "sparse")
        assert program.pooled == (name == "pooled")
        stream = check_stream(program, c, actives)
        for n in (1, 2):
            prev = stream.images[n - 1]
            wend = w_end(prev.store_bursts, prev.store_start)
            assert prev.store_start < wend
            assert stream.starts[n] == (wend if name == "map" else prev.store_start)
        periods[name] = stream.period
    assert periods["map"] > periods["pooled"]


def test_s5_write_engine_runs_on_across_images() -> None:
    """S5: the write engine's burst recurrence counts the previous image's bursts. With one write burst in
    flight (O_w = 1) and a long write latency, STORE(n)'s first burst waits for STORE(n-1)'s last B
    response: its first W beat is later than store_start + lambda_store."""
    cfg = _s4_config(True)
    data = cfg.model_dump()
    data["axi"]["write_latency"] = 200
    cfg = HardwareConfig.model_validate(data, context={"rtl_limits": False})
    program = _one_layer(cfg, 32, (1, 1))
    stream = check_stream(program, cfg, [[None]] * 3)
    for n in (1, 2):
        prev, s = stream.images[n - 1], stream.images[n]
        assert s.store_bursts[0][0] == prev.store_bursts[-1][2] + 1 > s.store_start + LATENCIES.store


def test_figures() -> None:
    """S6: period = (DONE(N-1) - DONE(0)) / (N - 1), latency = DONE(0), each image's DONE(n) - S(n)."""
    cfg = CONFIGS["small"]
    rng = np.random.default_rng(2)
    program = compile_program(make_model(cfg, 16, (8, 8), SMALL_NET, rng), cfg, "sparse")
    stream = simulate_stream(program, cfg, _actives(program, rng, 4, (0.2, 0.9)), "fast")
    d = stream.done
    assert d == sorted(d) and len(set(d)) == 4
    assert stream.period == (d[3] - d[0]) / 3
    assert stream.latencies == [d[n] - stream.starts[n] for n in range(4)]
    assert stream.latencies[0] == d[0] and stream.starts[0] == 0


def test_empty_stream_is_refused() -> None:
    cfg = CONFIGS["small"]
    program = _one_layer(cfg, 8, (2, 2))
    with pytest.raises(TimingInputError, match="at least one image"):
        simulate_stream(program, cfg, [])
    with pytest.raises(TimingInputError, match=r"active\[0\]|entries"):
        simulate_stream(program, cfg, [[None], []])


@pytest.mark.slow
def test_resnet18_ultra96_fast_stream() -> None:
    """The full-width ResNet-18 on the Ultra96v2 configuration (input buffer, early scan, pooled STORE as
    shipped): three images, contract == fast mode."""
    from timing_models import resnet18

    rng = np.random.default_rng(2024)
    program = compile_program(resnet18(ULTRA96, rng), ULTRA96, "sparse")
    actives = _actives(program, rng, 3, (0.3, 0.6, 0.9))
    want = schedule_stream(program, ULTRA96, actives)
    got = simulate_stream(program, ULTRA96, actives, "fast")
    assert got.starts == want.starts
    for g, w in zip(got.images, want.images, strict=True):
        assert_same_schedule(g, w)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(
    seed=st.integers(0, 10**6),
    images=st.integers(1, 3),
    pooled=st.booleans(),
    input_buffer=st.booleans(),
    early=st.booleans(),
    random_lat=st.booleans(),
)
def test_random_streams(
    seed: int, images: int, pooled: bool, input_buffer: bool, early: bool, random_lat: bool
) -> None:
    """Random folding, AXI timing, ring and slots, latencies, networks and per-image masks: the three agree
    on every image of a stream of 1-3 (S1-S5)."""
    rng = np.random.default_rng(seed)
    cfg = _random_config(rng, seed)
    cfg = with_early_scan(with_input_buffer(with_pooled_store(cfg, pooled), input_buffer), early)
    c0 = int(rng.integers(1, 20))
    specs = _random_specs(rng, c0, cfg.pe_array.acc_depth)
    model = make_model(cfg, c0, (int(rng.integers(1, 7)), int(rng.integers(1, 7))), specs, rng)
    dense = all(s.k is None for s in specs) and rng.random() < 0.5
    program = compile_program(model, cfg, "dense" if dense else "sparse")
    lat = Latencies(*(int(x) for x in rng.integers(0, 6, 7))) if random_lat else LATENCIES
    check_stream(program, cfg, _actives(program, rng, images, (0.0, 0.3, 0.7, 1.0)), lat)
