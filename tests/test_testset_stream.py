"""Throughput mode over an image set (`archsim run W --images SET --stream N|all`, docs/timing.md 9): the
O(N) recurrence on the batched contract's single-image times (batched_contract.stream_batch) equals
contract.schedule_stream on every image's S(n) and DONE(n), with a map STORE, a pooled STORE and where rule
S4 binds; the CLI's report, summary.json block and images.csv columns; bad values are one line, exit 2,
nothing written."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from test_batched_contract import _masks
from test_timing_input_buffer import with_input_buffer
from test_timing_networks import SMALL_NET, _random_config, _random_specs
from test_timing_stream import _one_layer, _s4_config
from timing_models import CONFIGS, Spec, make_model, with_pooled_store

from archsim.batched_contract import StreamTimes, schedule_batch, stream_batch
from archsim.cli import main
from archsim.config import HardwareConfig, parse_overrides
from archsim.contract import Schedule, StreamSchedule, schedule, schedule_stream
from archsim.functional import run_model
from archsim.images import load_images
from archsim.program import Program, compile_program
from archsim.workload import load_workload
from tests.synth_helpers import make_workload_with_set

N_IMAGES = 24
MAP_STORE = ["--set", "buffers.pooled_store=false"]
# One write burst in flight, a long write latency: STORE(n-1) outlasts image n's layers, rule S4 binds
S4_BINDS = [
    "--set",
    "axi.write_latency=3000",
    "--set",
    "axi.max_outstanding_writes=1",
    "--set",
    "axi.max_burst_beats=4",
]


def _exact(program: Program, cfg: HardwareConfig, actives: list[list[np.ndarray | None]], calls: list[int]):
    """contract.schedule of image n with the stream's arguments (what stream_batch asks for where S4 binds)."""

    def run(n: int, t0: int, last_min: int, prior: Sequence[tuple[int, int, int]]) -> Schedule:
        calls.append(n)
        return schedule(program, cfg, actives[n], t0=t0, last_start_min=last_min, store_prior=prior)

    return run


def _batched_stream(
    program: Program, cfg: HardwareConfig, masks: list[np.ndarray | None], n: int
) -> tuple[StreamTimes, StreamSchedule, list[int]]:
    """stream_batch on schedule_batch's times, and contract.schedule_stream on the same images."""
    actives = [[None if m is None else np.flatnonzero(m[j]) for m in masks] for j in range(n)]
    t = schedule_batch(program, cfg, masks, n=n)
    calls: list[int] = []
    got = stream_batch(program, cfg, t.store_start, t.last_start, _exact(program, cfg, actives, calls))
    assert got.exact == calls
    return got, schedule_stream(program, cfg, actives), calls


def _assert_same(got: StreamTimes, want: StreamSchedule) -> None:
    assert got.starts.tolist() == want.starts, "S(n)"
    assert got.done.tolist() == want.done, "DONE(n)"
    assert got.period == want.period
    assert got.latencies.tolist() == want.latencies


# --------------------------------------------------------------------------- the recurrence


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("store", ["map", "pooled", "inbuf-map", "inbuf-pooled"])
def test_small_network_stream_equals_the_contract(store: str, n: int) -> None:
    """test_timing_networks' small network (masks, bypassed layers, a shortcut) and an unmasked last layer (so
    that the pooled STORE applies, docs/timing.md 5.1), each image its own active sets."""
    cfg = with_pooled_store(with_input_buffer(CONFIGS["small"], store.startswith("inbuf")), store.endswith("pooled"))
    rng = np.random.default_rng(17 + n)
    program = compile_program(make_model(cfg, 16, (8, 8), [*SMALL_NET, Spec(24, k=2)], rng), cfg, "sparse")
    assert program.pooled == store.endswith("pooled")
    got, want, calls = _batched_stream(program, cfg, _masks(program, rng, n), n)
    _assert_same(got, want)
    assert calls == []  # S4 does not bind here: every image is its single-image schedule shifted


@pytest.mark.parametrize("seed", range(12))
def test_random_programmes_stream_equals_the_contract(seed: int) -> None:
    """Random folding, AXI timing and networks (the timing suite's generator), both STOREs, 7 images."""
    rng = np.random.default_rng(500 + seed)
    cfg = with_pooled_store(with_input_buffer(_random_config(rng, seed), seed % 2 == 0), seed % 3 != 0)
    c0 = int(rng.integers(1, 20))
    specs = _random_specs(rng, c0, cfg.pe_array.acc_depth)
    model = make_model(cfg, c0, (int(rng.integers(1, 9)), int(rng.integers(1, 9))), specs, rng)
    program = compile_program(model, cfg, "sparse")
    got, want, _ = _batched_stream(program, cfg, _masks(program, rng, 7), 7)
    _assert_same(got, want)


@pytest.mark.parametrize("input_buffer", [False, True], ids=["load-first", "input-buffer"])
@pytest.mark.parametrize("n", [2, 3, 7])
def test_s4_binds_and_those_images_come_from_the_contract(input_buffer: bool, n: int) -> None:
    """test_timing_stream's one-layer stream where S4 binds: images 1..N-1 are no shift of their own schedule,
    so stream_batch hands each of them to contract.schedule, and the result is schedule_stream's."""
    cfg = _s4_config(input_buffer)
    program = _one_layer(cfg, 32, (1, 1))
    got, want, calls = _batched_stream(program, cfg, [None], n)
    _assert_same(got, want)
    assert calls == list(range(1, n))


def test_s5_write_engine_runs_on_without_s4() -> None:
    """A map STORE (no S4) with one burst in flight and a long write latency: STORE(n)'s first burst waits
    for STORE(n-1)'s last B response (S5), which the shifted single-image schedule alone would miss."""
    data = _s4_config(True).model_dump()
    data["axi"]["write_latency"] = 200
    data["buffers"]["pooled_store"] = False
    cfg = HardwareConfig.model_validate(data, context={"rtl_limits": False})
    program = _one_layer(cfg, 32, (1, 1))
    got, want, calls = _batched_stream(program, cfg, [None], 7)
    _assert_same(got, want)
    assert calls == []
    alone = schedule(program, cfg, [None]).done
    assert (got.latencies[1:] > alone).all()  # the previous STORE's B responses delayed every later STORE


def test_stream_batch_refuses_mismatched_inputs() -> None:
    program = _one_layer(_s4_config(False), 32, (1, 1))
    with pytest.raises(ValueError, match="same number"):
        stream_batch(program, _s4_config(False), np.zeros(3, np.int64), np.zeros(2, np.int64), lambda *a: None)


# --------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def sdir(tmp_path_factory) -> Path:
    return make_workload_with_set(tmp_path_factory.mktemp("wl"), N_IMAGES, seed=9)


def run_cli(argv: list, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _reference(sdir: Path, extra: list[str], n: int) -> tuple[StreamSchedule, StreamSchedule, list[int]]:
    """contract.schedule_stream of the set's first n images on the reference functional model's masks, and of
    the dense programme; each image's work (kept kernels x active positions)."""
    ov = parse_overrides([v for i, v in enumerate(extra) if i % 2])
    wl = load_workload(sdir / "small_pruned.yaml", ov)
    x = load_images(str(sdir / "set.npz"), wl.model.input_shape, 10).images[:n]
    ref = run_model(wl.model, x)
    actives = [
        [np.flatnonzero(ref.masks[i][j]) if p.mask_enabled else None for i, p in enumerate(wl.program.layers)]
        for j in range(n)
    ]
    work = [
        sum(
            p.kept_kernels * (p.positions if a is None else len(a)) for p, a in zip(wl.program.layers, act, strict=True)
        )
        for act in actives
    ]
    sparse = schedule_stream(wl.program, wl.config, actives)
    dense = schedule_stream(wl.baseline_program, wl.config, [[None] * len(wl.baseline_program.layers)] * n)
    return sparse, dense, work


def _pick(values: list[int], q: float) -> int:
    return int(np.percentile(values, q, method="inverted_cdf"))


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("store", ["pooled", "map", "s4"])
def test_cli_stream_equals_the_contract(store, n, sdir, tmp_path, capsys):
    """images.csv's stream_start / stream_done, the summary block and the report: the contract's stream of the
    set's first N images (pruned on each image's masks, dense), image for image."""
    extra = {"pooled": [], "map": MAP_STORE, "s4": S4_BINDS}[store]
    out = tmp_path / "o"
    argv = ["run", sdir / "small_pruned.yaml", "--images", sdir / "set.npz", "--stream", n, "--jobs", 1, "--out", out]
    rc, stdout, err = run_cli([*argv, *extra], capsys)
    assert rc == 0, err
    sparse, dense, work = _reference(sdir, extra, n)
    table = _rows(out / "images.csv")
    assert len(table) == N_IMAGES
    assert [int(r["stream_start"]) for r in table[:n]] == sparse.starts
    assert [int(r["stream_done"]) for r in table[:n]] == sparse.done
    assert all(r["stream_start"] == r["stream_done"] == "" for r in table[n:])
    assert [int(r["work"]) for r in table[:n]] == work
    summary = json.loads((out / "summary.json").read_text())
    block = summary["stream"]
    assert block["images"] == n and block["first_image"] == 0
    for name, want in (("sparse", sparse), ("dense", dense)):
        b = block[name]
        assert b["period_cycles"] == want.period
        assert b["fps"] == pytest.approx(summary["clock_mhz"] * 1e6 / want.period)
        assert b["latency_cycles"] == want.done[0] and b["total_cycles"] == want.done[-1]
        lat = b["image_latency_cycles"]
        assert lat["mean"] == pytest.approx(np.mean(want.latencies))
        assert (lat["p99"], lat["max"]) == (_pick(want.latencies, 99), max(want.latencies))
        assert b["s4_images"] == (n - 1 if store == "s4" else 0)  # S4 binds for every image after the first
    assert block["sparse"]["latency_cycles"] == int(table[0]["cycles"])  # image 0 runs as in latency mode (S1)
    assert block["speedup"] == pytest.approx(dense.period / sparse.period)
    ideal = summary["work"]["dense"] / np.mean(work[1:])
    assert block["ideal_speedup"] == pytest.approx(ideal)
    assert block["achieved_over_ideal"] == pytest.approx(block["speedup"] / ideal)
    # with the host (docs/timing.md 6: overhead + stem and classifier MACs / rate), the slower side sets the pace
    wl = load_workload(sdir / "small_pruned.yaml")
    c0, (c_img, h, w) = wl.model.stem.weight.shape[0], wl.model.input_shape
    host = wl.config.host.overhead_us + (c0 * c_img * 9 * h * w + wl.model.classifier.weight.size) / (
        wl.config.host.macs_per_second / 1e6
    )
    sys_ = block["system"]
    assert sys_["host_us"] == pytest.approx(host)
    for name, want in (("sparse", sparse), ("dense", dense)):
        assert sys_[f"{name}_fps"] == pytest.approx(1e6 / max(host, want.period / summary["clock_mhz"]))
    assert "dense baseline streams" in block["fairness"] and "STORE(n-1)" in block["overlap"]
    names = [c["name"] for c in summary["checks"] if c["status"] == "pass"]
    assert any(c.startswith("stream: contract.schedule_stream") for c in names)
    section = stdout[stdout.index("\nstream ") :]
    assert f"images 0..{n - 1} of the set" in section
    assert f"dense {dense.period:,.1f}   pruned {sparse.period:,.1f} cycles per image" in section
    assert f"max {max(sparse.latencies):,} cycles" in section


def test_cli_stream_all_and_without_stream(sdir, tmp_path, capsys):
    """--stream all streams every image of the set (after --samples); without --stream nothing changes."""
    base = ["run", sdir / "small_pruned.yaml", "--images", sdir / "set.npz", "--jobs", 1, "--quiet"]
    rc, _, err = run_cli([*base, "--stream", "all", "--out", tmp_path / "all"], capsys)
    assert rc == 0, err
    block = json.loads((tmp_path / "all" / "summary.json").read_text())["stream"]
    table = _rows(tmp_path / "all" / "images.csv")
    assert block["images"] == N_IMAGES and all(r["stream_done"] for r in table)
    sparse, _, _ = _reference(sdir, [], N_IMAGES)
    assert [int(r["stream_done"]) for r in table] == sparse.done
    rc, stdout, err = run_cli([*base, "--samples", 5, "--stream", "all", "--out", tmp_path / "five"], capsys)
    assert rc == 0, err
    assert json.loads((tmp_path / "five" / "summary.json").read_text())["stream"]["images"] == 5
    assert "images 0..4 of the set" in stdout  # --quiet keeps the stream section
    rc, stdout, err = run_cli([*base, "--out", tmp_path / "none"], capsys)
    assert rc == 0, err
    assert "stream" not in json.loads((tmp_path / "none" / "summary.json").read_text())
    assert "stream_done" not in (tmp_path / "none" / "images.csv").read_text() and "\nstream " not in stdout


def test_trace_mode_stream_all(wdir, tmp_path, capsys):
    """--stream all in trace mode streams every sample the run has."""
    rc, _, err = run_cli(["run", wdir / "small_pruned.yaml", "--stream", "all", "--out", tmp_path / "o"], capsys)
    assert rc == 0, err
    block = json.loads((tmp_path / "o" / "summary.json").read_text())["stream"]
    assert block["images"] == 3 and block["samples"] == [0, 1, 2]


BAD = [
    ["--stream", "1"],
    ["--stream", "0"],
    ["--stream", "two"],
    ["--stream", "ALL"],
    ["--stream", str(N_IMAGES + 1)],
    ["--stream", "3", "--samples", "2"],
    ["--stream", "all", "--samples", "1"],
]


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_stream_with_images_is_one_line_exit_2_and_nothing_written(args, sdir, tmp_path, capsys):
    out = tmp_path / "res"
    argv = ["run", sdir / "small_pruned.yaml", "--images", sdir / "set.npz", "--jobs", 1, "--out", out, *args]
    rc, stdout, stderr = run_cli(argv, capsys)
    assert rc == 2
    err = stderr.strip()
    assert "\n" not in err and "--stream" in err and "Traceback" not in err, err
    assert stdout == ""
    assert not out.exists()
