"""`archsim run WORKLOAD --stream N` and `archsim.api.run(..., stream=N)`: throughput mode (docs/timing.md 9,
rule S6's figures) next to the unchanged latency-mode report; bad values are one line, exit 2, nothing
written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archsim import api
from archsim.cli import main
from archsim.contract import schedule_stream
from archsim.errors import ConfigError
from archsim.runner import run_workload
from archsim.stream import run_stream
from archsim.workload import load_workload
from tests.synth_helpers import ROOT


def run_cli(argv: list, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _report(stdout: str) -> list[str]:
    """The printed report without the lines that name files or time the run."""
    return [ln for ln in stdout.splitlines() if not ln.startswith(("wall time", "results "))]


@pytest.mark.parametrize("mode", ["fast", "cycle"])
def test_stream_section_and_summary_block(mode, wdir, tmp_path, capsys):
    """The stream block's figures are rule S6's, from the streamed schedules of both sides; the latency-mode
    report and summary fields are what a run without --stream gives."""
    plain, streamed = tmp_path / "plain", tmp_path / "streamed"
    rc, out0, err = run_cli(["run", wdir / "small_pruned.yaml", "--mode", mode, "--out", plain], capsys)
    assert rc == 0, err
    rc, out1, err = run_cli(
        ["run", wdir / "small_pruned.yaml", "--mode", mode, "--stream", 3, "--out", streamed], capsys
    )
    assert rc == 0, err
    lines0, lines1 = _report(out0), _report(out1)
    cut = next(i for i, ln in enumerate(lines1) if ln.startswith("stream "))
    banner = 2 if lines0[-1].startswith("***") else 0  # a synthetic workload's blank line and banner follow it
    assert lines1[:cut] == lines0[: len(lines0) - banner]
    section = "\n".join(lines1[cut:])
    for word in ("period", "fps", "latency", "image latency", "P_dense / P_pruned", "fairness", "overlap"):
        assert word in section

    s0 = json.loads((plain / "summary.json").read_text())
    s1 = json.loads((streamed / "summary.json").read_text())
    assert "stream" not in s0
    block = s1.pop("stream")
    s0.pop("provenance"), s1.pop("provenance")
    assert s1 == s0  # the latency-mode fields are unchanged
    assert block["images"] == 3 and block["samples"] == s0["samples"][:3] and block["timing_mode"] == mode
    for side in ("dense", "sparse"):
        b = block[side]
        done, start = b["image_done"], b["image_start"]
        assert start[0] == 0 and done == sorted(done)
        assert b["period_cycles"] == (done[-1] - done[0]) / 2
        assert b["fps"] == pytest.approx(s0["clock_mhz"] * 1e6 / b["period_cycles"])
        assert b["latency_cycles"] == done[0] and b["total_cycles"] == done[-1]
        assert b["image_latency_cycles"] == [d - s for d, s in zip(done, start, strict=True)]
    # image 0 runs as in latency mode (S1, S3)
    assert block["dense"]["latency_cycles"] == s0["dense"]["cycles"]
    assert block["sparse"]["latency_cycles"] == s0["sparse"]["per_sample_cycles"][str(s0["samples"][0])]
    assert block["speedup"] == pytest.approx(block["dense"]["period_cycles"] / block["sparse"]["period_cycles"])
    # the ideal is over images 1 .. N-1: the period measures DONE(N-1) - DONE(0), their time (S6)
    work = [s0["sparse"]["per_sample_work"][str(s)] for s in block["samples"][1:]]
    assert block["ideal_speedup"] == pytest.approx(s0["dense"]["work"] / np.mean(work))
    assert block["achieved_over_ideal"] == pytest.approx(block["speedup"] / block["ideal_speedup"])
    assert "dense baseline streams" in block["fairness"] and "STORE(n-1)" in block["overlap"]
    # with the host: the slower of the host's time and the accelerator's period sets the pace
    sys_, host = block["system"], s0["host"]["time_us"]
    assert sys_["host_us"] == host
    for side in ("dense", "sparse"):
        period_us = block[side]["period_cycles"] / s0["clock_mhz"]
        assert sys_[f"{side}_period_us"] == pytest.approx(max(host, period_us))
        assert sys_[f"{side}_fps"] == pytest.approx(1e6 / max(host, period_us))
    assert sys_["speedup"] == pytest.approx(sys_["dense_period_us"] / sys_["sparse_period_us"])
    assert "with the host" in section


def test_stream_is_the_contracts(wdir):
    """The run's streams are contract.schedule_stream's on the samples' own active positions (pruned) and on
    the dense programme, image for image; fast and cycle mode give the same figures."""
    wl = load_workload(wdir / "small_pruned.yaml")
    res = run_workload(wl, mode="fast", progress=False)
    s = run_stream(res, 3)
    want = schedule_stream(wl.program, wl.config, res.actives[:3])
    assert s.sparse.starts == want.starts and s.sparse.done == want.done
    dense = schedule_stream(wl.baseline_program, wl.config, [[None] * len(wl.baseline_program.layers)] * 3)
    assert s.dense.starts == dense.starts and s.dense.done == dense.done
    cyc = run_stream(run_workload(wl, mode="cycle", progress=False), 3)
    assert (cyc.sparse.done, cyc.dense.done, cyc.speedup) == (s.sparse.done, s.dense.done, s.speedup)


BAD_STREAM = [
    (["--stream", "1"], "--stream"),
    (["--stream", "0"], "--stream"),
    (["--stream", "two"], "--stream"),
    (["--stream", "4"], "--stream"),  # the workload has 3 samples
    (["--stream", "3", "--samples", "2"], "--stream"),
    (["--stream", "all", "--samples", "1"], "--stream"),
]


@pytest.mark.parametrize(("args", "field"), BAD_STREAM)
def test_bad_stream_is_one_line_exit_2_and_nothing_written(args, field, wdir, tmp_path, capsys):
    out = tmp_path / "res"
    rc, stdout, stderr = run_cli(["run", wdir / "small_pruned.yaml", "--out", out, *args], capsys)
    assert rc == 2
    err = stderr.strip()
    assert "\n" not in err and field in err and "Traceback" not in err, err
    assert stdout == ""
    assert not out.exists()


def test_api_stream(wdir, tmp_path):
    got = api.run(wdir / "small_pruned.yaml", stream=2, out=tmp_path / "o")
    block = got.summary["stream"]
    assert block["images"] == 2 and block["speedup"] == pytest.approx(got.result.stream.speedup)
    assert "stream" in json.loads((tmp_path / "o" / "summary.json").read_text())
    assert "stream=2" in got.summary["provenance"]["command"]
    for bad in (1, 4, "2", True):
        with pytest.raises(ConfigError, match="'stream'"):
            api.run(wdir / "small_pruned.yaml", stream=bad, out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_shipped_workload_streams(capsys):
    """The shipped trained workload: four images, both sides streaming, agreeing with the contract."""
    wl = load_workload(Path(ROOT) / "workloads/resnet18_pruned.yaml")
    res = run_workload(wl, mode="fast", progress=False)
    s = run_stream(res, 4)
    want = schedule_stream(wl.program, wl.config, res.actives[:4])
    assert s.sparse.done == want.done and s.sparse.starts == want.starts
    assert s.sparse.done[0] == res.sparse[0].done  # image 0 is latency mode's
    assert 1 < s.speedup < s.ideal_speedup
