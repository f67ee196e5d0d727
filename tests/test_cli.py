"""`archsim run` / `archsim synth` end to end: printed report, results files, exit codes, bad input."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from archsim import format as fmt
from archsim.cli import main
from archsim.contract import schedule
from archsim.format import Trace, load_trace, save_trace
from archsim.functional import run_model
from archsim.results import LAYER_COLUMNS
from archsim.runner import UNITS, run_workload
from archsim.workload import load_workload
from tests.synth_helpers import ROOT, SMALL, make_workload, small_config


def copy_workload(src: Path, dst: Path) -> None:
    """Copy a workload folder; its relative hardware path is made absolute so it still resolves."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    for y in dst.glob("*.yaml"):
        y.write_text(re.sub(r"(?m)^hardware: .*$", f"hardware: {ROOT / 'configs/ultra96v2.yaml'}", y.read_text()))


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# --------------------------------------------------------------------------- end to end


def test_run_prints_table_and_writes_consistent_results(wdir, tmp_path, capsys):
    out = tmp_path / "res"
    rc, stdout, stderr = run_cli(["run", wdir / "small_pruned.yaml", "--out", out], capsys)
    assert rc == 0, stderr
    assert stdout.count("SYNTHETIC") >= 2
    assert "functional check  PASS" in stdout
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "layers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    header = (out / "layers.csv").read_text().splitlines()[0].split(",")
    assert tuple(header[: len(LAYER_COLUMNS)]) == LAYER_COLUMNS

    # summary.json: required fields and their meaning.
    for key in (
        "workload",
        "config",
        "samples",
        "clock_mhz",
        "synthetic",
        "functional_check",
        "dense",
        "sparse",
        "speedup",
        "ideal_speedup",
    ):
        assert key in summary
    assert summary["synthetic"] is True and summary["functional_check"] == "pass"
    assert summary["samples"] == [0, 1, 2] and summary["config"] == "ultra96v2" and summary["clock_mhz"] == 200
    dense, sparse = summary["dense"], summary["sparse"]
    assert dense["energy_uj"] > sparse["energy_uj"] > 0  # configs/energy/ultra96v2.yaml is found beside the config
    per = list(sparse["per_sample_cycles"].values())
    assert sparse["cycles"] == pytest.approx(np.mean(per))
    assert sparse["cycles_min"] == min(per) and sparse["cycles_max"] == max(per)
    assert summary["speedup"] == pytest.approx(dense["cycles"] / sparse["cycles"])
    assert dense["fps"] == pytest.approx(200e6 / dense["cycles"])
    assert sparse["fps"] == pytest.approx(200e6 / sparse["cycles"])
    assert sparse["latency_us"] == pytest.approx(summary["host"]["time_us"] + sparse["cycles"] / 200)
    assert summary["host"]["time_us"] == pytest.approx(
        20 + (summary["host"]["stem_macs"] + summary["host"]["classifier_macs"]) / 1e3
    )
    assert len(summary["layers"]) == len(rows) == 19

    # Cycles add up: DONE = LOAD + every layer (each starts when the previous ends) + STORE.
    num = {k: [float(r[k]) for r in rows] for k in rows[0] if k not in ("layer", "kind", "bound")}
    assert dense["cycles"] == dense["load_cycles"] + sum(num["dense_cycles"]) + dense["store_cycles"]
    assert sparse["cycles"] == pytest.approx(sparse["load_cycles"] + sum(num["sparse_cycles"]) + sparse["store_cycles"])
    # Ideal speedup from the per-layer work.
    dense_work = sum(k * p for k, p in zip(num["dense_kernels"], num["positions"], strict=True))
    sparse_work = sum(k * a for k, a in zip(num["kept_kernels"], num["active_positions"], strict=True))
    assert summary["ideal_speedup"] == pytest.approx(dense_work / sparse_work)
    assert summary["ideal_speedup"] > summary["speedup"] > 1
    for r in rows:
        assert float(r["speedup"]) == pytest.approx(float(r["dense_cycles"]) / float(r["sparse_cycles"]))
        assert float(r["spatial_density"]) == pytest.approx(float(r["active_positions"]) / float(r["positions"]))
        assert float(r["kernel_density"]) == pytest.approx(
            float(r["kept_kernels"]) / (int(r["c_in"]) * int(r["c_out"]))
        )
        assert int(r["sparse_cycles_min"]) <= float(r["sparse_cycles"]) <= int(r["sparse_cycles_max"])
        assert 0 < float(r["pe_utilization"]) <= 1
    masked = [r for r in rows if r["layer"][1] in "123" and r["kind"] == "main"]
    assert all(float(r["spatial_density"]) < 1 for r in masked)

    # The printed table shows the same numbers, rounded.
    printed = {
        line.split()[0]: line
        for line in stdout.splitlines()
        if line.split() and line.split()[0] in {r["layer"] for r in rows}
    }
    assert len(printed) == 19
    for r in rows:
        cells = printed[r["layer"]].split()
        nums = [c for c in cells if re.fullmatch(r"[\d,.]+[x%]?", c)]
        kd, sd, dc, sc, sp, pe, dma, share = nums[-8:]
        assert cells[-2] == r["bound"] and float(share[:-1]) == pytest.approx(100 * float(r["bound_share"]), abs=0.06)
        assert float(kd) == pytest.approx(float(r["kernel_density"]), abs=6e-4)
        assert float(sd) == pytest.approx(float(r["spatial_density"]), abs=6e-4)
        assert int(dc.replace(",", "")) == int(r["dense_cycles"])
        assert int(sc.replace(",", "")) == pytest.approx(float(r["sparse_cycles"]), abs=0.51)
        assert float(sp[:-1]) == pytest.approx(float(r["speedup"]), abs=6e-3)
        assert float(pe[:-1]) == pytest.approx(100 * float(r["pe_utilization"]), abs=0.06)
        assert int(dma.replace(",", "")) == int(r["dma_bytes"])
    m = re.search(r"total cycles\s+dense ([\d,]+)\s+pruned ([\d,]+)", stdout)
    assert int(m.group(1).replace(",", "")) == dense["cycles"]
    assert int(m.group(2).replace(",", "")) == round(sparse["cycles"])
    m = re.search(r"speedup\s+([\d.]+)x\s+\(ideal ([\d.]+)x", stdout)
    assert float(m.group(1)) == pytest.approx(summary["speedup"], abs=6e-3)
    assert float(m.group(2)) == pytest.approx(summary["ideal_speedup"], abs=6e-3)


def test_samples_option_and_single_sample_utilisation(wdir, tmp_path, capsys):
    out = tmp_path / "one"
    rc, stdout, _ = run_cli(["run", wdir / "small_pruned.yaml", "--samples", "1", "--out", out], capsys)
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["samples"] == [0] and s["sparse"]["cycles_min"] == s["sparse"]["cycles_max"] == s["sparse"]["cycles"]
    for L in s["layers"]:  # useful PE operations / (rows x cols x cycles), 16 x 16 array
        assert L["pe_utilization"] == pytest.approx(
            L["kept_kernels"] * L["active_positions"] / (256 * L["sparse_cycles"])
        )
    assert "mean of" not in stdout


def test_cycle_mode_reports_the_same_cycles(wdir, tmp_path, capsys):
    rc, _, _ = run_cli(["run", wdir / "small_pruned.yaml", "--out", tmp_path / "f"], capsys)
    rc2, _, _ = run_cli(["run", wdir / "small_pruned.yaml", "--mode", "cycle", "--out", tmp_path / "c"], capsys)
    assert rc == rc2 == 0
    f = json.loads((tmp_path / "f/summary.json").read_text())
    c = json.loads((tmp_path / "c/summary.json").read_text())
    assert c["timing_mode"] == "cycle"
    assert c["sparse"]["per_sample_cycles"] == f["sparse"]["per_sample_cycles"] and c["dense"] == f["dense"]
    shares = [f"{u}_share" for u in UNITS]
    assert [[L[k] for k in ("bound", *shares)] for L in c["layers"]] == [
        [L[k] for k in ("bound", *shares)] for L in f["layers"]
    ]  # the units' busy cycles agree between the modes, not only the totals


def test_cycle_accounting_adds_up_and_explains_achieved_over_ideal(wdir, tmp_path, capsys):
    rc, stdout, _ = run_cli(["run", wdir / "small_pruned.yaml", "--out", tmp_path / "r"], capsys)
    assert rc == 0
    s = json.loads((tmp_path / "r/summary.json").read_text())
    acc, pes = s["cycle_accounting"], 16 * 16
    for mode in ("dense", "sparse"):
        a = acc[mode]
        assert set(a) == {"useful", "partial", "waiting", "load_store"} and min(a.values()) >= 0
        assert sum(a.values()) == pytest.approx(s[mode]["cycles"])
        assert a["useful"] == pytest.approx(s[mode]["work"] / pes)
        assert a["load_store"] == s[mode]["load_cycles"] + s[mode]["store_cycles"]
    share = {m: acc[m]["useful"] / s[m]["cycles"] for m in ("dense", "sparse")}
    assert s["speedup"] / s["ideal_speedup"] == pytest.approx(share["sparse"] / share["dense"])
    m = re.search(r"achieved / ideal = ([\d.]+) = pruned useful share ([\d.]+) / dense useful share ([\d.]+)", stdout)
    assert float(m.group(1)) == pytest.approx(s["speedup"] / s["ideal_speedup"], abs=6e-4)
    assert float(m.group(2)) == pytest.approx(share["sparse"], abs=6e-4)
    m = re.search(r"LOAD \+ STORE\s+([\d,]+)\s+([\d,]+)", stdout)
    assert int(m.group(1).replace(",", "")) == acc["dense"]["load_store"]


def test_bound_is_the_busiest_unit_of_the_schedule(wdir, tmp_path, capsys):
    """`bound` and the *_share columns are the timing schedule's busy counters / layer cycles."""
    wl = load_workload(wdir / "small_pruned.yaml")
    res = run_workload(wl, samples=[1], progress=False)
    run = run_model(wl.model, wl.trace.inputs[1:2], "sparse", wl.config.epilogue.value_bits)
    active = [np.flatnonzero(run.masks[i][0]) if p.mask_enabled else None for i, p in enumerate(wl.program.layers)]
    sched = schedule(wl.program, wl.config, active)
    for L, lt in zip(res.layers, sched.layers, strict=True):
        sh = L.busy_shares()
        assert sh["pe"] == lt.pe_busy / lt.cycles and sh["gather"] == lt.gather_busy / lt.cycles
        assert sh["epilogue"] == lt.epilogue_busy / lt.cycles and sh["mask"] == lt.mask_busy / lt.cycles
        assert sh["dma"] == lt.dma_beats * wl.config.axi.read_beat_cycles / lt.cycles
        assert max(sh["pe"], sh["gather"], sh["epilogue"]) <= 1  # one unit cannot be busier than the layer
        assert L.bound == max(sh.items(), key=lambda kv: kv[1])


def test_dense_workload_runs_near_speedup_one(wdir, capsys):
    rc, stdout, _ = run_cli(["run", wdir / "small_dense.yaml"], capsys)
    assert rc == 0
    sp = float(re.search(r"speedup\s+([\d.]+)x", stdout).group(1))
    ideal = float(re.search(r"ideal ([\d.]+)x", stdout).group(1))
    assert ideal == 1.0 and 0.8 < sp <= 1.0  # sparse path carries index bits: a little slower, never faster


def test_functional_mismatch_exits_1_and_names_the_difference(wdir, tmp_path, capsys):
    bad = tmp_path / "bad"
    copy_workload(wdir, bad)
    tpath = bad / "models/small_pruned.trace.npz"
    tr = load_trace(tpath)
    outs = [o.copy() for o in tr.layer_out]
    outs[5][1, 7, 2, 3] += 1
    save_trace(
        tpath, Trace(tr.model_checksum, tr.inputs, tr.labels, tr.stem_out, tuple(outs), tr.masks, tr.logits, tr.meta)
    )
    rc, stdout, stderr = run_cli(["run", bad / "small_pruned.yaml", "--out", tmp_path / "r"], capsys)
    assert rc == 1, stderr
    assert "functional check  FAIL" in stdout
    line = next(x for x in stderr.splitlines() if "MISMATCH" in x)
    assert "s2.b1.conv1" in line and "sample 1" in line and "(7, 2, 3)" in line
    assert json.loads((tmp_path / "r/summary.json").read_text())["functional_check"] == "fail"


def test_python_dash_m_and_help():
    for args in ([], ["run"], ["synth"]):
        p = subprocess.run([sys.executable, "-m", "archsim", *args, "--help"], capture_output=True, text=True, cwd=ROOT)
        assert p.returncode == 0 and "usage: archsim" in p.stdout
    p = subprocess.run([sys.executable, "-m", "archsim", "run", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert "--samples" in p.stdout and "--mode" in p.stdout and "--out" in p.stdout


def test_synth_command_writes_a_runnable_workload(tmp_path, capsys):
    rc, stdout, _ = run_cli(
        ["synth", "--out", tmp_path, "--config", ROOT / "configs/ultra96v2.yaml", "--width", "0.125", "--input-shape", "1,8,8",
         "--samples", "2", "--kernel-density", "0.5", "--predict-stages", "1", "--name", "t"], capsys
    )  # fmt: skip
    assert rc == 0 and "SYNTHETIC" in stdout
    rc, stdout, _ = run_cli(["run", tmp_path / "t_pruned.yaml"], capsys)
    assert rc == 0 and "PASS" in stdout


# --------------------------------------------------------------------------- bad input


def _edit(src: Path, dst: Path, old: str, new: str) -> Path:
    text = src.read_text()
    assert old in text
    dst.write_text(text.replace(old, new))
    return dst


def _rewrite_npz(src: Path, dst: Path, change, fix_checksum: bool) -> None:
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta.json").tobytes())
    change(arrays, meta)
    if fix_checksum:
        meta["checksum"] = fmt.checksum(arrays, meta)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    dst.write_bytes(buf.getvalue())


def _case(name: str, wdir: Path, tmp: Path) -> tuple[Path, str]:
    """Build a broken workload; returns (workload path, field the error must name)."""
    copy_workload(wdir, tmp)
    y = tmp / "small_pruned.yaml"
    m = tmp / "models"
    if name == "malformed yaml":
        return _edit(y, tmp / "w.yaml", "name: small_pruned", "name: [small_pruned"), "malformed YAML"
    if name == "unknown key":
        return _edit(y, tmp / "w.yaml", "name: small_pruned", "name: small_pruned\nmodle: x.npz"), "'modle'"
    if name == "unknown nested key":
        return _edit(y, tmp / "w.yaml", "baseline:\n", "baseline:\n  extra: 1\n"), "'baseline.extra'"
    if name == "missing field":
        return _edit(y, tmp / "w.yaml", "model: models/small_pruned.npz\n", ""), "'model'"
    if name == "bad samples":
        return _edit(y, tmp / "w.yaml", "baseline:", "samples: [0, 9]\nbaseline:"), "'samples'"
    if name == "missing model":
        (m / "small_pruned.npz").unlink()
        return y, "'model'"
    if name == "missing trace":
        (m / "small_pruned.trace.npz").unlink()
        return y, "'trace'"
    if name == "missing baseline":
        (m / "small_dense.npz").unlink()
        return y, "'baseline.model'"
    if name == "missing hardware":
        return _edit(y, tmp / "w.yaml", "hardware: ", "hardware: nowhere/"), "'hardware'"
    if name == "trace of another model":
        return _edit(
            y, tmp / "w.yaml", "trace: models/small_pruned.trace.npz", "trace: models/small_dense.trace.npz"
        ), "'model_checksum'"
    if name == "trace checksum":
        t = m / "small_pruned.trace.npz"
        _rewrite_npz(t, t, lambda a, _: a.__setitem__("logits", a["logits"] + 1), fix_checksum=False)
        return y, "'checksum'"
    if name == "truncated trace":
        t = m / "small_pruned.trace.npz"
        t.write_bytes(t.read_bytes()[:5000])
        return y, "'trace'"
    if name == "trace wrong shape":
        t = m / "small_pruned.trace.npz"
        tr = load_trace(t)
        save_trace(
            t,
            Trace(
                tr.model_checksum,
                tr.inputs[:, :, :8],
                tr.labels,
                tr.stem_out,
                tr.layer_out,
                tr.masks,
                tr.logits,
                tr.meta,
            ),
        )
        return y, "'inputs'"
    if name == "model wrong shape":
        t = m / "small_pruned.npz"
        _rewrite_npz(t, t, lambda a, _: a.__setitem__("L3.mult", a["L3.mult"][:-1]), fix_checksum=True)
        return y, "'L3.mult'"
    if name == "baseline is pruned":
        return _edit(
            y,
            tmp / "w.yaml",
            "  model: models/small_dense.npz\n  trace: models/small_dense.trace.npz",
            "  model: models/small_pruned.npz",
        ), "'baseline.model'"
    if name == "baseline other architecture":
        make_workload(tmp / "other", replace(SMALL, width=0.5, name="o"))
        return _edit(
            y,
            tmp / "w.yaml",
            "  model: models/small_dense.npz\n  trace: models/small_dense.trace.npz",
            "  model: other/models/o_dense.npz",
        ), "'baseline.model'"
    if name == "buffers too small":
        hw = small_config(tmp, rows=16, cols=16, depth=8, word=64, **{"res_depth: 4096": "res_depth: 100"})
        return _edit(y, tmp / "w.yaml", "hardware: ", f"hardware: {hw.name}\n#"), "buffers.res_depth"
    if name == "not balanced for the hardware":
        hw = small_config(tmp)
        return _edit(y, tmp / "w.yaml", "hardware: ", f"hardware: {hw.name}\n#"), "not balanced"
    if name == "impossible hardware value":
        hw = small_config(tmp, rows=0)
        return _edit(y, tmp / "w.yaml", "hardware: ", f"hardware: {hw.name}\n#"), "pe_array.rows"
    raise AssertionError(name)


BAD = [
    "malformed yaml", "unknown key", "unknown nested key", "missing field", "bad samples", "missing model",
    "missing trace", "missing baseline", "missing hardware", "trace of another model", "trace checksum",
    "truncated trace", "trace wrong shape", "model wrong shape", "baseline is pruned", "baseline other architecture",
    "buffers too small", "not balanced for the hardware", "impossible hardware value",
]  # fmt: skip


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_exit_2_and_no_results(name, wdir, tmp_path, capsys):
    workload, field = _case(name, wdir, tmp_path / "w")
    out = tmp_path / "results"
    rc, stdout, stderr = run_cli(["run", workload, "--out", out], capsys)
    assert rc == 2
    err = stderr.strip()
    assert "\n" not in err, err
    assert err.startswith("archsim run: error: ") and str(workload) in err, err
    assert field in err, err
    assert "Traceback" not in err and stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--kernel-density", "1.5"], "--kernel-density"),
        (["--kernel-density", "0"], "--kernel-density"),
        (["--spatial-budget", "-0.5"], "--spatial-budget"),
        (["--layer-density", "s1.b1.conv1=1.2"], "--layer-density"),
        (["--layer-density", "s1.b1.conv1"], "--layer-density"),
        (["--input-shape", "3,x"], "--input-shape"),
        (["--config", "nowhere.yaml"], "nowhere.yaml"),
    ],
)
def test_synth_bad_options(args, field, tmp_path, capsys):
    rc, _, stderr = run_cli(["synth", "--out", tmp_path / "o", *args], capsys)
    assert rc == 2
    assert "\n" not in stderr.strip() and field in stderr
    assert not (tmp_path / "o").exists()


def test_cli_option_errors_are_one_line(capsys, tmp_path):
    for argv in (["run"], ["run", "x.yaml", "--samples", "0"], ["run", "x.yaml", "--mode", "slow"], ["bogus"]):
        assert main(argv) == 2
        assert capsys.readouterr().err.strip().count("\n") == 0


def test_out_that_is_a_file_is_refused_before_running(wdir, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    for argv in (["run", wdir / "small_pruned.yaml", "--out", f / "sub"], ["synth", "--out", f]):
        rc, _, stderr = run_cli(argv, capsys)
        assert rc == 2 and "--out" in stderr and str(f) in stderr and "\n" not in stderr.strip()
    assert f.read_text() == "x"


def test_synth_refuses_to_overwrite_models_without_force(tmp_path, capsys):
    """`archsim synth --out workloads` (as docs/usage.md once showed) replaced the shipped trained models."""
    args = ["synth", "--out", tmp_path, "--width", "0.125", "--input-shape", "3,8,8", "--samples", "1"]
    rc, _, _ = run_cli(args, capsys)
    assert rc == 0
    model = tmp_path / "models/resnet18_pruned.npz"
    before = model.read_bytes()
    rc, _, stderr = run_cli([*args, "--seed", "5"], capsys)
    assert rc == 2 and "exists; pass --force" in stderr and str(tmp_path / "models") in stderr
    assert model.read_bytes() == before and stderr.count("\n") == 1
    rc, _, _ = run_cli([*args, "--seed", "5", "--force"], capsys)
    assert rc == 0 and model.read_bytes() != before


def test_synth_default_config_is_found_from_the_package(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no configs/ here
    rc, _, stderr = run_cli(
        ["synth", "--out", "s", "--width", "0.125", "--input-shape", "3,8,8", "--samples", "1"], capsys
    )
    assert rc == 0, stderr
    assert "ultra96v2.yaml" in (tmp_path / "s/resnet18_pruned.yaml").read_text()
