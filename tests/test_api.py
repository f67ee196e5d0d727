"""The Python API (archsim.run, archsim.sweep), --set overrides, provenance in summary.json,
`archsim summary`, and the example script that CI runs."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import archsim
from archsim.cli import main
from archsim.config import load_config
from archsim.errors import ArchsimError, ConfigError
from archsim.format import load_model
from archsim.results import LAYER_COLUMNS
from tests.synth_helpers import ROOT

SAMPLE = ROOT / "workloads/resnet18_half_both.yaml"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_returns_layers_as_a_dataframe_and_the_summary(wdir, tmp_path):
    res = archsim.run(wdir / "small_pruned.yaml", out=tmp_path / "r")
    assert isinstance(res.layers, pd.DataFrame) and tuple(res.layers.columns[: len(LAYER_COLUMNS)]) == LAYER_COLUMNS
    on_disk = json.loads((tmp_path / "r/summary.json").read_text())
    assert res.summary["sparse"] == on_disk["sparse"] and res.summary["speedup"] == on_disk["speedup"]
    assert (
        res.passed
        and res.speedup == on_disk["speedup"]
        and res.summary["provenance"]["command"].startswith("archsim.run(")
    )
    csv_layers = pd.read_csv(tmp_path / "r/layers.csv")
    assert list(res.layers["sparse_cycles"]) == pytest.approx(list(csv_layers["sparse_cycles"]))
    assert len(res.layers) == len(load_model(wdir / "models/small_pruned.npz").layers)


def test_run_by_packaged_name_and_bad_arguments():
    res = archsim.run("resnet18_half_both", samples=1)
    assert res.summary["workload_file"] == str(SAMPLE) and res.summary["samples"] == [0] and res.passed
    with pytest.raises(ConfigError, match="no such file, nor a packaged workload"):
        archsim.run("no_such_workload")
    with pytest.raises(ConfigError, match="mode"):
        archsim.run(SAMPLE, mode="slow")
    with pytest.raises(ConfigError, match="samples"):
        archsim.run(SAMPLE, samples=0)


def test_set_overrides_change_the_config_like_the_file(wdir, tmp_path, capsys):
    """--set pe_array.cols=8 gives the same result as a config file that says so."""
    text = (ROOT / "configs/ultra96v2.yaml").read_text().replace("cols: 16 ", "cols: 8 ")
    (tmp_path / "c8.yaml").write_text(text)
    wl = yaml.safe_load((wdir / "small_pruned.yaml").read_text())
    wl["hardware"] = str(tmp_path / "c8.yaml")
    for k in ("model", "trace"):
        wl[k] = str(wdir / wl[k])
    wl["baseline"] = {k: str(wdir / v) for k, v in wl["baseline"].items()}
    (tmp_path / "w8.yaml").write_text(yaml.safe_dump(wl))

    argv = ["run", str(wdir / "small_pruned.yaml"), "--set", "pe_array.cols=8", "--out", str(tmp_path / "a")]
    assert main(argv) == 0
    assert main(["run", str(tmp_path / "w8.yaml"), "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a/summary.json").read_text())
    b = json.loads((tmp_path / "b/summary.json").read_text())
    cycles = [
        (s["sparse"]["per_sample_cycles"], s["dense"]["cycles"], [L["sparse_cycles"] for L in s["layers"]])
        for s in (a, b)
    ]
    assert cycles[0] == cycles[1] and a["hardware"]["pe_cols"] == 8
    assert a["provenance"]["overrides"] == {"pe_array.cols": 8}
    assert a["provenance"]["command"] == shlex.join(["archsim", *argv])
    api = archsim.run(wdir / "small_pruned.yaml", overrides={"pe_array.cols": 8})
    assert api.summary["sparse"] == a["sparse"]
    assert archsim.run(wdir / "small_pruned.yaml", overrides=["pe_array.cols=8"]).summary["sparse"] == a["sparse"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pe_array.colz=8", "option '--set': no field 'pe_array.colz' in the hardware config"),
        ("pe_array.cols=0", "field 'pe_array.cols': Input should be greater than or equal to 1"),
        ("pe_array=8", "'pe_array' is a section of the hardware config"),
        ("cols", "expected KEY=VALUE"),
        ("axi.data_bits=512", "field 'axi.data_bits': must divide rows x value_bits"),
        # a value is read by the hardened YAML loader: an alias bomb stays text, it never expands
        ("pe_array.cols=" + "[&a [1,1], &b [*a,*a], &c [*b,*b], &d [*c,*c]]", "field 'pe_array.cols'"),
        ("pe_array.cols=[1, 2]", "'pe_array.cols': expected a single value"),
    ],
)
def test_bad_set_is_one_line_exit_2_and_nothing_written(value, message, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", str(SAMPLE), "--set", value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and "Traceback" not in err, err
    assert not out.exists()


def test_summary_json_records_full_provenance(tmp_path):
    res = archsim.run(SAMPLE, out=tmp_path / "r")
    p = json.loads((tmp_path / "r/summary.json").read_text())["provenance"]
    assert p["archsim_version"] == archsim.__version__
    assert p["hardware_config"] == load_config(ROOT / "configs/ultra96v2.yaml").model_dump(mode="json")
    wl = res.result.workload
    assert p["model_checksum"] == wl.trace.model_checksum
    for role, path in (
        ("workload", SAMPLE),
        ("hardware", wl.config_path),
        ("model", wl.model_path),
        ("trace", wl.trace_path),
        ("baseline", wl.baseline_path),
        ("baseline_trace", wl.baseline_trace_path),
        ("energy", wl.energy_path),
    ):
        assert p["files"][role] == {"path": str(path), "sha256": sha256(Path(path))}, role


def test_sweep_api_returns_the_table(tmp_path):
    body = {"name": "cols", "workload": str(SAMPLE), "samples": 1, "parameters": {"hardware.pe_array.cols": [8, 16]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(body))
    sw = archsim.sweep(tmp_path / "s.yaml", tmp_path / "o", overrides={"axi.read_latency": 64})
    assert isinstance(sw.table, pd.DataFrame) and sw.complete
    assert list(sw.table["hardware.pe_array.cols"]) == [8, 16] and list(sw.table["status"]) == ["ok", "ok"]
    manifest = json.loads((tmp_path / "o/sweep.json").read_text())
    assert manifest["overrides"] == {"axi.read_latency": 64} and manifest["archsim_version"] == archsim.__version__
    assert sw.table.equals(pd.read_csv(tmp_path / "o/results.csv", keep_default_na=False, na_values=[""]))
    one = archsim.run(SAMPLE, samples=1, overrides={"pe_array.cols": 8, "axi.read_latency": 64})
    assert sw.table["sparse_cycles"][0] == one.summary["sparse"]["cycles"]
    # --set reaches every point: the default read latency gives other cycles
    default = archsim.run(SAMPLE, samples=1, overrides={"pe_array.cols": 8})
    assert default.summary["sparse"]["cycles"] != one.summary["sparse"]["cycles"]


def test_sweep_cli_set_is_validated(tmp_path, capsys):
    body = {"name": "cols", "workload": str(SAMPLE), "parameters": {"hardware.pe_array.cols": [8]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(body))
    argv = ["sweep", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "o"), "--set", "axi.nope=1", "--quiet"]
    assert main(argv) == 2
    assert "no field 'axi.nope'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_model_summary_counts(capsys):
    path = ROOT / "workloads/models/resnet18_half_both.npz"
    assert main(["summary", str(path), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    model = load_model(path)
    cfg = load_config(ROOT / "configs/ultra96v2.yaml")
    assert len(s["layers"]) == len(model.layers)
    for row, L in zip(s["layers"], model.layers, strict=True):
        kept = int(L.keep.sum())
        assert row["kept_kernels"] == kept and row["dense_kernels"] == L.c_in * L.c_out
        assert row["weight_bits"] == kept * L.kernel**2 and row["index_bits"] == kept * cfg.index_bits
        assert row["macs_dense"] == L.c_in * L.c_out * L.kernel**2 * L.h_out * L.w_out
        assert row["macs_pruned"] == kept * L.kernel**2 * L.h_out * L.w_out
        assert row["predictor"] == (L.predictor is not None)
    t = s["totals"]
    dense_bits = sum(L.c_in * L.c_out * L.kernel**2 for L in model.layers)
    assert t["compression"] == pytest.approx(dense_bits / (t["weight_bits"] + t["index_bits"]))
    assert t["kernel_density"] == pytest.approx(
        sum(int(L.keep.sum()) for L in model.layers) / sum(L.keep.size for L in model.layers)
    )
    assert main(["summary", str(path)]) == 0
    table = capsys.readouterr().out
    assert "compression" in table and "s4b2c2" in table and f"{t['macs_pruned']:,}" in table


def test_model_summary_bad_file_is_one_line(tmp_path, capsys):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    assert main(["summary", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(tmp_path / "x.npz") in err


def test_example_script_runs(tmp_path):
    p = subprocess.run(
        [sys.executable, str(ROOT / "examples/quickstart.py"), str(tmp_path)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "functional_check='pass'" in p.stdout and (tmp_path / "sweep/results.csv").exists()
    s = json.loads((tmp_path / "cols8/summary.json").read_text())
    assert s["provenance"]["overrides"] == {"pe_array.cols": 8}


def test_api_errors_are_archsim_errors(tmp_path):
    with pytest.raises(ArchsimError):
        archsim.sweep(tmp_path / "missing.yaml", tmp_path / "o")
    assert np.bitwise_count(np.uint8(7)) == 3  # the numpy 2 function archsim relies on
