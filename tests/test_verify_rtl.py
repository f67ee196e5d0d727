"""`archsim verify-rtl WORKLOAD`: a user's workload through the generated RTL (Verilator), checked against
archsim; a clear one-line error when Verilator is not installed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archsim import verify_rtl
from archsim.cli import main
from archsim.format import load_trace, save_trace
from tests.rtlsim.configs import tiny, write_config
from tests.synth_helpers import ROOT

SAMPLE = ROOT / "workloads/resnet18_half_both.yaml"


def test_without_verilator_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(verify_rtl, "have_verilator", lambda: False)
    assert main(["verify-rtl", str(SAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Verilator and cocotb are not installed" in err and "[rtl]" in err


def test_missing_workload_is_one_line(tmp_path, capsys):
    assert main(["verify-rtl", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.yaml" in err


def _tiny_workload(tmp: Path) -> Path:
    """A synthetic ResNet-18 small enough for the RTL's 64 passes on a 4x4 array (built in about a minute)."""
    write_config(tiny(pe_array={"acc_depth": 4}), tmp / "tiny.yaml")
    argv = ["synth", "--config", str(tmp / "tiny.yaml"), "--out", str(tmp / "w"), "--name", "t"]
    assert main([*argv, "--width", "0.125", "--input-shape", "3,8,8", "--samples", "2"]) == 0
    return tmp / "w/t_pruned.yaml"


def _verify(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "archsim", "verify-rtl", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.rtl
@pytest.mark.slow
def test_verify_rtl_on_a_tiny_synthetic_workload(tmp_path, capsys):
    wl = _tiny_workload(tmp_path)
    capsys.readouterr()
    p = _verify(str(wl))
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [x for x in p.stdout.splitlines() if x.startswith("t_pruned-sparse-sample")]
    assert len(lines) == 2 and all(x.endswith("PASS") for x in lines), p.stdout
    assert "verify-rtl        PASS" in p.stdout
    # a trace whose output the RTL does not produce: caught, exit 1
    tpath = tmp_path / "w/models/t_pruned.trace.npz"
    tr = load_trace(tpath)
    last = tr.layer_out[-1].copy()
    last[0, 0, 0, 0] += 1
    save_trace(tpath, dataclasses.replace(tr, layer_out=(*tr.layer_out[:-1], last)))
    p = _verify(str(wl), "--samples", "1")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "output differs from the trace" in p.stdout and "verify-rtl        FAIL" in p.stdout
    assert np.array_equal(load_trace(tpath).layer_out[-1], last)
    # the right map but other logits: the host classifier on the RTL's output is checked too (the
    # verifier of this checkout, in this process: the child process may run an installed copy)
    from rtl.verify import main as verify_main

    logits = tr.logits.copy()
    logits[0, 0] += 1
    save_trace(tpath, dataclasses.replace(tr, logits=logits))
    capsys.readouterr()
    assert verify_main([str(wl), "--samples", "1"]) == 1
    assert "the host classifier's logits differ from the trace" in capsys.readouterr().out


@pytest.mark.rtl
@pytest.mark.slow
def test_verify_rtl_streams_the_samples(tmp_path, capsys):
    """--stream N (docs/timing.md 9): the first N samples as one stream through the RTL, every image's output
    against archsim and the trace, every DONE(n) against contract.schedule_stream; more images than the
    workload has samples is one line and exit 2. (The verifier of this checkout, in this process.)"""
    from rtl.verify import main as verify_main

    wl = _tiny_workload(tmp_path)
    capsys.readouterr()
    assert verify_main([str(wl), "--samples", "1", "--stream", "2"]) == 0
    out = capsys.readouterr().out
    line = [x for x in out.splitlines() if x.startswith("t_pruned-sparse-stream2")]
    assert len(line) == 1 and "2 images" in line[0] and line[0].endswith("PASS"), out
    assert verify_main([str(wl), "--stream", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stream 3" in err, err


def test_archsim_verify_rtl_hands_stream_to_the_verifier(monkeypatch):
    """`archsim verify-rtl W --stream N` passes --stream N on to the verifier's child process."""
    seen = []
    monkeypatch.setattr(verify_rtl, "have_verilator", lambda: True)
    monkeypatch.setattr(
        verify_rtl.subprocess, "run", lambda cmd, env: seen.append(cmd) or subprocess.CompletedProcess(cmd, 0)
    )
    assert main(["verify-rtl", str(SAMPLE), "--stream", "3"]) == 0
    assert seen and seen[0][-2:] == ["--stream", "3"]
    assert main(["verify-rtl", str(SAMPLE)]) == 0 and "--stream" not in seen[1]
