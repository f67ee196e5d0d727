"""`archsim sweep`: cross product, parallel runs, durable points, resume after an interruption
(in-process stop and kill -9), invalid points, Dask, and validation of the sweep file."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from archsim.cli import main
from archsim.errors import ConfigError
from archsim.runner import ACCOUNTS, run_workload
from archsim.sweep import load_sweep, point_file, run_sweep
from archsim.workload import load_workload
from tests.synth_helpers import ROOT, make_workload

ULTRA96 = ROOT / "configs/ultra96v2.yaml"
TINY = {"width": 0.125, "input_shape": [3, 8, 8], "samples": 1, "seed": 1}


def write_sweep(tmp: Path, name: str = "grid", **body) -> Path:
    data = {"name": name, "hardware": str(ULTRA96), "synthetic": dict(TINY), **body}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


GRID = {
    "synthetic.kernel_density": [0.125, 0.25, 0.5, 0.75, 1.0],
    "synthetic.spatial_budget": [0.25, 0.5, 0.75, 1.0],
    "hardware.axi.read_latency": [8, 256],
    # 16 residual-buffer words are too few for an 8x8 map: every point of that half is invalid.
    "hardware.buffers": [{"res_depth": 4096}, {"res_depth": 16}],
}


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> tuple[Path, Path]:
    """The 80-point grid, run uninterrupted on two local processes: (sweep file, out dir)."""
    tmp = tmp_path_factory.mktemp("grid")
    sweep = write_sweep(tmp, parameters=GRID)
    out = tmp / "full"
    stats = run_sweep(load_sweep(sweep), out, jobs=2, progress=False)
    assert stats.computed == stats.total == 80 and not stats.failed and not stats.interrupted
    return sweep, out


def test_grid_finishes_with_one_row_per_point(grid):
    _, out = grid
    rows = read_rows(out / "results.csv")
    assert len(rows) == 80 and [int(r["point"]) for r in rows] == list(range(80))
    ok = [r for r in rows if r["status"] == "ok"]
    bad = [r for r in rows if r["status"] == "invalid"]
    assert len(ok) == len(bad) == 40
    for r in bad:  # recorded with the compiler's message, no figures
        assert "res_depth is 16" in r["error"] and r["speedup"] == ""
    for r in ok:
        assert r["functional_check"] == "pass" and r["error"] == ""
        assert float(r["speedup"]) == pytest.approx(float(r["dense_cycles"]) / float(r["sparse_cycles"]))
        assert float(r["dense_energy_uj"]) > 0 and float(r["sparse_energy_uj"]) > 0
    # The parameters vary what they should: denser kernels mean more cycles at fixed budget and latency.
    sel = sorted(
        (float(r["synthetic.kernel_density"]), float(r["sparse_cycles"]))
        for r in ok
        if r["synthetic.spatial_budget"] == "0.5" and r["hardware.axi.read_latency"] == "8"
    )
    cycles = [c for _, c in sel]
    assert cycles == sorted(cycles) and cycles[0] < cycles[-1]
    # Read latency changes cycles but not the (shared) model or its work.
    by_lat = {
        r["hardware.axi.read_latency"]: r
        for r in ok
        if r["synthetic.kernel_density"] == "0.25" and r["synthetic.spatial_budget"] == "0.5"
    }
    assert by_lat["8"]["ideal_speedup"] == by_lat["256"]["ideal_speedup"]
    assert float(by_lat["8"]["dense_cycles"]) < float(by_lat["256"]["dense_cycles"])
    manifest = yaml.safe_load((out / "sweep.json").read_text())
    assert manifest["complete"] and manifest["points"] == 80 and manifest["invalid"] == 40


def test_interrupted_sweep_resumes_without_recomputing(grid, tmp_path):
    sweep_file, full = grid
    sweep = load_sweep(sweep_file)
    out = tmp_path / "resumed"
    first = run_sweep(sweep, out, jobs=1, progress=False, stop_after=37)
    assert first.interrupted and first.computed == 37
    partial = read_rows(out / "results.csv")
    assert len(partial) == 37  # the table of an interrupted run holds the finished points
    done = {p.key: point_file(out, p.key).stat().st_mtime_ns for p in sweep.points if point_file(out, p.key).exists()}
    assert len(done) == 37
    recomputed: list[str] = []
    second = run_sweep(
        load_sweep(sweep_file), out, jobs=1, progress=False, on_point=lambda p, r: recomputed.append(p.key)
    )
    assert second.skipped == 37 and second.computed == 80 - 37 and not second.interrupted
    assert not set(recomputed) & set(done)
    assert all(point_file(out, k).stat().st_mtime_ns == t for k, t in done.items())
    assert (out / "results.csv").read_bytes() == (full / "results.csv").read_bytes()
    # A third run has nothing to do and writes the same table.
    third = run_sweep(load_sweep(sweep_file), out, jobs=1, progress=False)
    assert third.computed == 0 and third.skipped == 80
    assert (out / "results.csv").read_bytes() == (full / "results.csv").read_bytes()


def test_killed_sweep_resumes(grid, tmp_path):
    """kill -9 of `archsim sweep` mid-run: finished points survive, the rerun completes the table."""
    sweep_file, full = grid
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "archsim", "sweep", str(sweep_file), "--out", str(out), "--jobs", "1", "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / "points").glob("*.json"))) < 10:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name for p in (out / "points").glob("*.json")}
    assert 10 <= len(finished) < 80, "the sweep must be killed mid-way"
    assert not (out / "results.csv").exists()  # killed before it could assemble the table
    stats = run_sweep(load_sweep(sweep_file), out, jobs=1, progress=False)
    assert stats.skipped == len(finished) and stats.computed == 80 - len(finished)
    assert not list((out / "points").glob(".*.tmp"))
    assert (out / "results.csv").read_bytes() == (full / "results.csv").read_bytes()


def test_dask_cluster_gives_the_same_table(tmp_path):
    distributed = pytest.importorskip("distributed")
    sweep = write_sweep(
        tmp_path, parameters={"synthetic.kernel_density": [0.25, 0.5], "synthetic.spatial_budget": [0.5, 1.0]}
    )
    local = tmp_path / "local"
    run_sweep(load_sweep(sweep), local, jobs=1, progress=False)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        stats = run_sweep(load_sweep(sweep), tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert stats.computed == 4 and not stats.failed
    assert (tmp_path / "dask/results.csv").read_bytes() == (local / "results.csv").read_bytes()


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    sweep = load_sweep(write_sweep(tmp_path, parameters={"synthetic.kernel_density": [0.25]}))
    with pytest.raises(ConfigError, match=r"option '--scheduler': cannot connect to 'tcp://127\.0\.0\.1:1'"):
        run_sweep(sweep, tmp_path / "o", scheduler="tcp://127.0.0.1:1", progress=False, scheduler_timeout=0.5)


def test_workload_sweep_matches_archsim_run(tmp_path, capsys):
    make_workload(tmp_path / "w")
    wl_file = tmp_path / "w/small_pruned.yaml"
    sweep = tmp_path / "wl.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "wl",
                "parameters": {
                    "workload": ["w/small_pruned.yaml", "w/small_dense.yaml"],
                    # 32 rows x 8 slots: the pruned model's masks are balanced for 16 rows only.
                    "hardware.pe_array.rows": [16, 32],
                },
            },
            sort_keys=False,
        )
    )
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "o"), "--jobs", "1", "--quiet"]) == 0
    assert "4 computed" in capsys.readouterr().out
    rows = read_rows(tmp_path / "o/results.csv")
    assert [r["status"] for r in rows] == ["ok", "invalid", "ok", "ok"]
    assert "not balanced for pe_array.rows=32" in rows[1]["error"]
    res = run_workload(load_workload(wl_file), progress=False)
    r = rows[0]
    assert r["workload"] == "small_pruned" and r["synthetic"] == "True"
    assert float(r["speedup"]) == res.speedup and float(r["sparse_cycles"]) == res.sparse_cycles_mean
    assert float(r["sparse_energy_uj"]) == res.sparse_energy_pj_mean * 1e-6
    assert float(r["dense_energy_uj"]) == res.dense_energy.total_uj
    # the cycle accounting as shares: the run's, summing to 1, and explaining achieved / ideal
    acc = res.sparse_accounting
    assert [float(r[f"sparse_{a}_share"]) for a in ACCOUNTS] == [acc[a] / res.sparse_cycles_mean for a in ACCOUNTS]
    assert sum(float(r[f"sparse_{a}_share"]) for a in ACCOUNTS) == pytest.approx(1)
    assert float(r["sparse_useful_share"]) / float(r["dense_useful_share"]) == pytest.approx(
        res.speedup / res.ideal_speedup
    )
    assert float(rows[2]["speedup"]) == 1.0 or rows[2]["workload"] == "small_dense"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"parameters": {"hardware.pe_array.rowz": [4]}},
            "field 'parameters.hardware.pe_array.rowz[0]': no field 'pe_array.rowz'",
        ),
        (
            {"parameters": {"hardware.pe_array": [{"colz": 4}]}},
            "field 'parameters.hardware.pe_array[0]': no field 'pe_array.colz'",
        ),
        (
            {"parameters": {"synthetic.kernel_density": [0.5, 1.5]}},
            "field 'parameters.synthetic.kernel_density[1]': must be in (0, 1]",
        ),
        (
            {"parameters": {"synthetic.kernel_density": ["dense"]}},
            "field 'parameters.synthetic.kernel_density[0]': expected a number",
        ),
        (
            {"parameters": {"synthetic.depth": [1]}},
            "field 'parameters.synthetic.depth[0]': unknown synthetic-model field",
        ),
        ({"parameters": {"pe_array.rows": [4]}}, "field 'parameters.pe_array.rows': parameters are"),
        ({"parameters": {"synthetic.seed": []}}, "field 'parameters.synthetic.seed': needs at least one value"),
        ({"parameters": {"synthetic.seed": 3}}, "field 'parameters.synthetic.seed': Input should be a valid list"),
        ({"workload": "x.yaml"}, "field 'synthetic': give either"),
        ({"hardware": None}, "field 'hardware': a synthetic sweep needs"),
        ({"synthetic": {"width": 9}}, "field 'synthetic.width': must be in (0, 4], got 9.0"),
        ({"timing_mode": "slow"}, "field 'timing_mode'"),
        ({"colour": 1}, "field 'colour': unknown key"),
    ],
)
def test_bad_sweep_file_names_file_and_field(tmp_path, body, message):
    path = write_sweep(tmp_path, **body)
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_bad_workload_in_sweep_and_cli_exit_code(tmp_path, capsys):
    sweep = tmp_path / "s.yaml"
    sweep.write_text("name: s\nparameters:\n  workload: [missing.yaml]\n")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{sweep}: field 'parameters.workload[0]': " in err and "file not found" in err
    sweep.write_text("name: [s\n")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "o")]) == 2
    assert "malformed YAML" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _workload_sweep(tmp: Path) -> Path:
    make_workload(tmp / "w")
    path = tmp / "wl.yaml"
    body = {"name": "wl", "parameters": {"workload": ["w/small_pruned.yaml"], "hardware.axi.read_latency": [8, 64]}}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def test_workload_sweep_runs_from_any_folder(tmp_path, monkeypatch):
    """Dask workers run in their own folder: a point names its workload by absolute path (the old
    relative one made every point 'invalid' there, and that result was cached for good)."""
    _workload_sweep(tmp_path)
    monkeypatch.chdir(tmp_path)
    sweep = load_sweep("wl.yaml")
    assert all(Path(p.workload).is_absolute() for p in sweep.points)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # where the workers run
    stats = run_sweep(sweep, tmp_path / "o", jobs=1, progress=False)
    assert stats.computed == 2 and not stats.failed and stats.invalid == 0


def test_missing_point_file_is_a_retried_failure_not_a_cached_result(tmp_path):
    sweep_file = _workload_sweep(tmp_path)
    model = tmp_path / "w/models/small_pruned.npz"
    hidden = tmp_path / "hidden.npz"
    sweep = load_sweep(sweep_file)
    model.rename(hidden)  # the worker does not see the file the sweep was read with
    stats = run_sweep(sweep, tmp_path / "o", jobs=1, progress=False)
    assert stats.computed == 0 and len(stats.failed) == 2 and "does not load on this worker" in stats.failed[0][1]
    assert not list((tmp_path / "o/points").glob("*.json"))
    assert json.loads((tmp_path / "o/sweep.json").read_text())["complete"] is False
    hidden.rename(model)
    stats = run_sweep(load_sweep(sweep_file), tmp_path / "o", jobs=1, progress=False)
    assert stats.computed == 2 and stats.skipped == 0 and not stats.failed
    assert json.loads((tmp_path / "o/sweep.json").read_text())["complete"] is True


def test_changed_file_after_loading_is_a_failure(tmp_path):
    sweep_file = _workload_sweep(tmp_path)
    sweep = load_sweep(sweep_file)
    trace = tmp_path / "w/models/small_pruned.trace.npz"
    trace.write_bytes(trace.read_bytes() + b"\0")  # other bytes than the ones the point's key was made from
    stats = run_sweep(sweep, tmp_path / "o", jobs=1, progress=False)
    assert stats.computed == 0 and "changed since the sweep was read" in stats.failed[0][1]


def test_workload_sweep_columns_are_unique(tmp_path):
    sweep_file = _workload_sweep(tmp_path)
    run_sweep(load_sweep(sweep_file), tmp_path / "o", jobs=1, progress=False)
    with open(tmp_path / "o/results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert len(header) == len(set(header))
    rows = read_rows(tmp_path / "o/results.csv")
    assert rows[0]["workload_file"] == "w/small_pruned.yaml" and rows[0]["workload"] == "small_pruned"


def test_cli_exit_is_not_zero_when_points_fail(tmp_path, monkeypatch, capsys):
    """Points a worker cannot compute (here: their files changed after the sweep was read) are failures:
    `archsim sweep` exits 1, the sweep is not complete and nothing is cached; it used to exit 0 with
    every point 'invalid' and "complete": true."""
    from archsim import sweep as sweep_mod

    sweep_file = _workload_sweep(tmp_path)
    real_digest, real_compute = sweep_mod._digest, sweep_mod.compute_point
    running = {"now": False}

    def compute(point):  # a worker (one process: --jobs 1 computes in this one) sees other files
        running["now"] = True
        return real_compute(point)

    monkeypatch.setattr(sweep_mod, "compute_point", compute)
    monkeypatch.setattr(sweep_mod, "_digest", lambda paths: "other files" if running["now"] else real_digest(paths))
    rc = main(["sweep", str(sweep_file), "--out", str(tmp_path / "o"), "--jobs", "1", "--quiet"])
    out = capsys.readouterr()
    assert rc == 1, out.out + out.err
    assert "changed since the sweep was read" in out.out + out.err
    assert json.loads((tmp_path / "o/sweep.json").read_text())["complete"] is False
    assert not list((tmp_path / "o/points").glob("*.json"))
