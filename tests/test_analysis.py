"""analysis/: figures and the comparison table are drawn from the results files, value for value."""

from __future__ import annotations

import ast
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis import plots
from analysis.cli import main as analysis_main
from analysis.cli import make_all
from analysis.compare import comparison
from analysis.plots import energy_data, grid_data, layer_data, pe_data, plot_accounting, plot_energy
from analysis.readers import ResultsError, load_published, load_resources, load_results, load_sweep_resources
from archsim.cli import main as archsim_main
from archsim.sweep import load_sweep, run_sweep
from tests.synth_helpers import ROOT, make_workload

PUBLISHED = ROOT / "analysis/published.yaml"
TINY = {"width": 0.125, "input_shape": [3, 8, 8], "samples": 1, "seed": 2}


def sweep_dir(tmp: Path, name: str, parameters: dict) -> Path:
    path = tmp / f"{name}.yaml"
    body = {"name": name, "hardware": str(ROOT / "configs/ultra96v2.yaml"), "synthetic": TINY, "parameters": parameters}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    out = tmp / name
    run_sweep(load_sweep(path), out, jobs=1, progress=False)
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("an")
    make_workload(tmp / "w")
    run = tmp / "run"
    assert archsim_main(["run", str(tmp / "w/small_pruned.yaml"), "--out", str(run), "--quiet"]) == 0
    grid = sweep_dir(
        tmp, "grid", {"synthetic.kernel_density": [0.25, 0.5, 1.0], "synthetic.spatial_budget": [0.5, 1.0]}
    )
    pe = sweep_dir(tmp, "pe", {"hardware.pe_array.rows": [16, 32], "hardware.pe_array.cols": [4, 16]})
    return {"run": run, "grid": grid, "pe": pe, "tmp": tmp}


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_all_makes_every_figure_and_the_table(results, tmp_path, capsys):
    out = tmp_path / "figs"
    argv = ["all", "--results", str(results["run"]), str(results["grid"]), str(results["pe"]), "--out", str(out)]
    argv += ["--resources", str(tmp_path / "none.json")]
    assert analysis_main(argv) == 0
    assert "no RTL resource report" in capsys.readouterr().err
    stems = ("layers_small_pruned", "cycles_small_pruned", "energy_small_pruned", "density_grid_grid", "pe_array_pe")
    for stem in (*stems, "achieved_vs_ideal"):
        for ext in ("png", "svg"):
            f = out / f"{stem}.{ext}"
            assert f.stat().st_size > 10_000, f
    index = (out / "README.md").read_text()
    assert "density_grid_grid.png" in index and "results.csv" in index
    table = (out / "comparison.md").read_text()
    assert "SYNTHETIC" in table and "FracBNN" in table and "5.4x" in table
    # Same results, same bytes.
    again = plot_energy(load_results(results["run"]), tmp_path / "again")
    assert again is not None
    for f in again[0]:
        assert f.read_bytes() == (out / f.name).read_bytes()


def test_layer_plot_values_are_the_csv_values(results):
    run = load_results(results["run"])
    d = layer_data(run)
    rows = csv_rows(results["run"] / "layers.csv")
    assert d["layers"] == [r["layer"] for r in rows]
    assert list(d["dense_cycles"]) == [float(r["dense_cycles"]) for r in rows]
    assert list(d["sparse_cycles"]) == [float(r["sparse_cycles"]) for r in rows]
    assert list(d["speedup"]) == [float(r["speedup"]) for r in rows]
    ideal = [
        float(r["dense_kernels"]) * float(r["positions"]) / (float(r["kept_kernels"]) * float(r["active_positions"]))
        for r in rows
    ]
    assert list(d["ideal"]) == ideal
    assert d["bound"] == [r["bound"] for r in rows]


def test_cycle_accounting_plot_values_are_the_summary_values(results, tmp_path):
    s = json.loads((results["run"] / "summary.json").read_text())
    run = load_results(results["run"])
    made = plot_accounting(run, tmp_path)
    assert made is not None
    files, d = made
    for mode in ("dense", "sparse"):
        assert list(d[mode]) == [s["cycle_accounting"][mode][a] for a in d["accounts"]]
        assert d[mode].sum() == pytest.approx(s[mode]["cycles"])
    assert d["speedup"] == s["speedup"] and [f.suffix for f in files] == [".png", ".svg", ".pdf"]
    # results written before archsim reported the accounting: no figure, no error
    run.summary = {k: v for k, v in s.items() if k != "cycle_accounting"}
    assert plot_accounting(run, tmp_path / "old") is None


def test_energy_plot_values_are_the_summary_values(results):
    s = json.loads((results["run"] / "summary.json").read_text())
    d = energy_data(load_results(results["run"]))
    e = s["energy"]
    assert d["blocks"] == e["blocks"]
    assert list(d["dense_uj"]) == [e["dense"]["blocks_uj"][b] for b in e["blocks"]]
    assert list(d["sparse_uj"]) == [e["sparse"]["blocks_uj"][b] for b in e["blocks"]]
    assert d["dense_total_uj"] == s["dense"]["energy_uj"] and d["sparse_total_uj"] == s["sparse"]["energy_uj"]


def test_heatmap_values_are_the_sweep_values(results):
    d = grid_data(load_results(results["grid"]))
    rows = csv_rows(results["grid"] / "results.csv")
    assert d["kernel_density"] == [0.25, 0.5, 1.0] and d["spatial_budget"] == [0.5, 1.0]
    for r in rows:
        i = d["kernel_density"].index(float(r["synthetic.kernel_density"]))
        j = d["spatial_budget"].index(float(r["synthetic.spatial_budget"]))
        assert d["speedup"][j, i] == float(r["speedup"])
        assert d["sparse_energy_uj"][j, i] == float(r["sparse_energy_uj"])


def test_pe_values_and_resources_from_the_report(results, tmp_path):
    report = tmp_path / "resources.json"
    report.write_text(
        json.dumps(
            {"configs": [{"pe_array": {"rows": 16, "cols": 16}, "LUT": 30000, "FF": 40000, "BRAM36": 100, "DSP": 16}]}
        )
    )
    res = load_resources(report)
    sw = load_results(results["pe"])
    d = pe_data(sw, res)
    rows = csv_rows(results["pe"] / "results.csv")
    # sweep order (rows outer, as the sweep file lists them), not sorted by PE count, so lines do not zig-zag
    assert d["labels"] == ["16x4", "16x16", "32x4", "32x16"]
    for k, (r_, c_) in enumerate(d["shapes"]):
        row = next(r for r in rows if int(r["pe_rows"]) == r_ and int(r["pe_cols"]) == c_)
        assert d["speedup"][k] == float(row["speedup"]) and d["sparse_fps"][k] == float(row["sparse_fps"])
    lut = d["resources"]["lut"]
    assert lut[1] == 30000 and np.isnan(lut[[0, 2, 3]]).all()  # only 16x16 is in the report
    device = {"part": "xczu3eg", "lut": 70560, "ff": 141120, "bram36": 216, "dsp": 360}
    assert pe_data(sw, res, device)["fits"] == [None, True, None, None]
    big = load_resources(report)
    big[0].values["lut"] = 80000  # more LUTs than the device has
    assert pe_data(sw, big, device)["fits"] == [None, False, None, None]
    assert load_resources(tmp_path / "absent.json") is None


def test_comparison_numbers_are_the_summary_numbers(results, tmp_path):
    s = json.loads((results["run"] / "summary.json").read_text())
    run = load_results(results["run"])
    rows, text = comparison([run], load_published(PUBLISHED), None, tmp_path / "none.json")
    dense, pruned = rows[0], rows[1]
    e = s["energy"]
    assert dense["fps"] == s["dense"]["fps"] and pruned["fps"] == s["sparse"]["fps"]
    assert pruned["latency_us"] == pytest.approx(s["sparse"]["cycles"] / s["clock_mhz"])
    assert pruned["latency_with_host_us"] == s["sparse"]["latency_us"]
    assert pruned["speedup"] == s["speedup"] and dense["speedup"] == 1.0
    assert dense["power_w"] == e["dense"]["average_power_w"]
    assert pruned["inferences_per_joule"] == e["sparse"]["inferences_per_joule"]
    assert pruned["gops_per_watt"] == e["sparse"]["gops_per_watt_effective"]
    assert pruned["gops_per_watt_actual"] == e["sparse"]["gops_per_watt_actual"]
    assert "SYNTHETIC" in pruned["system"]
    for v in (
        f"{s['sparse']['fps']:,.0f}",
        f"{s['speedup']:.2f}x (paper: 5.4x)",
        f"{e['sparse']['inferences_per_joule']:,.0f} inf/J",
    ):
        assert v in text
    published = next(r for r in rows[2:] if r["system"] == "FracBNN")
    assert published["fps"] == 1419 and "FPGA 2021" in published["source"]


def test_comparison_shows_a_streamed_runs_throughput_and_system_pace(results, tmp_path):
    """With a stream block (archsim run --stream N), the FPS cells add the stream's fps and the system's with the
    host, and the pruned speedup cell both speedups, all read from summary.json; without one, none of it."""
    run_dir = tmp_path / "streamed"
    argv = ["run", str(results["tmp"] / "w/small_pruned.yaml"), "--stream", "2", "--out", str(run_dir), "--quiet"]
    assert archsim_main(argv) == 0
    st = json.loads((run_dir / "summary.json").read_text())["stream"]
    rows, text = comparison([load_results(run_dir)], load_published(PUBLISHED), None, tmp_path / "none.json")
    for side, row in (("dense", rows[0]), ("sparse", rows[1])):
        assert row["stream_fps"] == st[side]["fps"] and row["system_fps"] == st["system"][f"{side}_fps"]
        assert f"({st[side]['fps']:,.0f} streaming; {st['system'][f'{side}_fps']:,.0f} with the host)" in text
    assert f"; {st['speedup']:.2f}x streaming, {st['system']['speedup']:.2f}x with the host" in text
    _, plain = comparison([load_results(results["run"])], load_published(PUBLISHED), None, tmp_path / "none.json")
    assert "streaming;" not in plain and "x streaming" not in plain


def test_comparison_accuracy_is_the_trained_models(results, tmp_path):
    """A trained run's rows carry the provenance accuracies its summary.json recorded; a synthetic one's none."""
    run = load_results(results["run"])
    rows, _ = comparison([run], load_published(PUBLISHED), None, tmp_path / "none.json")
    assert rows[0]["accuracy"] == rows[1]["accuracy"] == "n/a (random weights)"
    trained = tmp_path / "trained"
    shutil.copytree(results["run"], trained)
    s = json.loads((trained / "summary.json").read_text())
    s["synthetic"] = False
    s["trained_accuracy"] = {
        "model": {"dataset": "fashion-mnist", "test_images": 10000, "int_accuracy": 0.9122, "float_accuracy": 0.9131},
        "baseline": {"dataset": "fashion-mnist", "test_images": 10000, "int_accuracy": 0.9203, "float_accuracy": 0.92},
    }
    (trained / "summary.json").write_text(json.dumps(s))
    rows, text = comparison([load_results(trained)], load_published(PUBLISHED), None, tmp_path / "none.json")
    assert rows[0]["accuracy"] == "Fashion-MNIST 92.03 % (integer mode)"
    assert rows[1]["accuracy"] == "Fashion-MNIST 91.22 % (integer mode)"
    assert "| Fashion-MNIST 91.22 % (integer mode) |" in text


def test_sparse_and_dense_builds_of_one_array_are_kept_apart(results, tmp_path):
    """A report with both builds of the run's PE array (as rtl.resources writes it): the dense
    row shows the dense build, the pruned row and the PE plot the sparse one."""
    hw = json.loads((results["run"] / "summary.json").read_text())["hardware"]
    shape = {"pe_rows": hw["pe_rows"], "pe_cols": hw["pe_cols"]}
    report = tmp_path / "resources.json"
    builds = [
        {"design": "sparse", **shape, "lut": 111, "ff": 1, "bram36": 1, "dsp": 1},
        {"design": "dense", **shape, "lut": 222, "ff": 2, "bram36": 2, "dsp": 2},
    ]
    report.write_text(json.dumps({"builds": builds}))
    res = load_resources(report)
    rows, _ = comparison([load_results(results["run"])], load_published(PUBLISHED), res, report)
    assert rows[0]["resources"]["lut"] == 222 and rows[1]["resources"]["lut"] == 111
    d = pe_data(load_results(results["pe"]), res)
    k = d["shapes"].index((hw["pe_rows"], hw["pe_cols"]))
    assert d["resources"]["lut"][k] == 111
    builds[1]["design"] = "both"
    report.write_text(json.dumps({"builds": builds}))
    with pytest.raises(ResultsError, match="entry 1: design"):
        load_resources(report)


def test_analysis_reads_files_only():
    """analysis never imports archsim (or torch): it cannot recompute a figure."""
    for py in (ROOT / "analysis").glob("*.py"):
        tree = ast.parse(py.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in names if m.split(".")[0] in ("archsim", "torch", "trainer")], py
    code = "import sys, analysis.cli; print(sorted(m for m in sys.modules if m.startswith('archsim')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bad_results_folder_is_one_line(tmp_path, capsys):
    assert analysis_main(["all", "--results", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: neither a run folder" in err and len(err.splitlines()) == 1
    (tmp_path / "summary.json").write_text("{not json")
    assert analysis_main(["all", "--results", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "summary.json: not readable JSON" in capsys.readouterr().err


def test_make_all_without_energy_or_sweeps(results, tmp_path):
    made = make_all([results["run"]], tmp_path / "f", tmp_path / "none.json", PUBLISHED)
    names = {f.name for f, _ in made}
    assert "layers_small_pruned.png" in names and "comparison.md" in names and "density_grid_grid.png" not in names


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> list[Path]:
    """Runs of two shipped trained half-width workloads (about a second each)."""
    tmp = tmp_path_factory.mktemp("trained")
    outs = []
    for name in ("resnet18_half_both", "resnet18_half_kernel"):
        assert archsim_main(["run", str(ROOT / f"workloads/{name}.yaml"), "--out", str(tmp / name), "--quiet"]) == 0
        outs.append(tmp / name)
    return outs


def _pdf_width_pt(path: Path) -> float:
    import re

    m = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", path.read_bytes())
    assert m, path
    return float(m.group(1))


@pytest.mark.slow
def test_figures_fit_a_paper_column_or_page(results, trained, tmp_path):
    """One-column (3.5 in) and two-column (7 in) figures, PNG, SVG and PDF, no text under 8 pt at that
    size and none outside the figure (the old figures were 11-13 in wide with 9-pt text: 4.5 pt in print)."""
    plots.FIGURES.clear()
    made = make_all(
        [results["run"], results["grid"], results["pe"], *trained],
        tmp_path / "figs",
        tmp_path / "none.json",
        PUBLISHED,
        sizes=("page", "column"),
    )
    assert made and len(plots.FIGURES) >= 2 * 7
    for fig in plots.FIGURES:
        w, _ = fig["size_in"]
        assert w in (7.0, 3.5), fig
        assert fig["min_font_pt"] >= 8, fig
        assert fig["overflow_in"] < 0.005, fig
        png, svg, pdf = fig["files"]
        assert png.exists() and svg.exists()
        assert _pdf_width_pt(pdf) == pytest.approx(72 * w)
        assert pdf.name.endswith("_column.pdf") == (w == 3.5)


def test_achieved_vs_ideal_stamps_only_the_synthetic_series(results, trained, tmp_path):
    published = load_published(PUBLISHED)
    runs = [load_results(p) for p in trained]
    _, d = plots.plot_ideal(runs, [load_results(results["grid"])], published, tmp_path)
    assert d["stamped"] is False  # trained points are real: no SYNTHETIC title over them
    assert [s["synthetic"] for s in d["series"]] == [True] + [False] * 4
    _, d = plots.plot_ideal([load_results(results["run"])], [load_results(results["grid"])], published, tmp_path)
    assert d["stamped"] is True  # every series synthetic


def test_any_sweep_gets_its_metric_plotted(tmp_path, capsys):
    """A sweep that is neither a density grid nor a PE-array sweep used to give no figure at all."""
    sw_dir = sweep_dir(tmp_path, "lat", {"hardware.axi.read_latency": [8, 64], "synthetic.seed": [0, 1]})
    out = tmp_path / "figs"
    assert analysis_main(["all", "--results", str(sw_dir), "--out", str(out), "--metric", "sparse_cycles"]) == 0
    assert (out / "sweep_lat_sparse_cycles.pdf").exists()
    _, d = plots.plot_metric(load_results(sw_dir), tmp_path / "m", "sparse_cycles")
    rows = csv_rows(sw_dir / "results.csv")
    assert d["x"] == "hardware.axi.read_latency" and set(d["series"]) == {"seed=0", "seed=1"}
    for label, (xs, ys) in d["series"].items():
        mine = [r for r in rows if f"seed={r['synthetic.seed']}" == label]
        assert xs == [float(r["hardware.axi.read_latency"]) for r in mine]
        assert ys == [float(r["sparse_cycles"]) for r in mine]
    assert analysis_main(["all", "--results", str(sw_dir), "--out", str(out)]) == 0
    assert (out / "sweep_lat_speedup.png").exists()  # no --metric: speedup, not nothing
    assert analysis_main(["all", "--results", str(sw_dir), "--out", str(out), "--metric", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err


def test_accuracy_vs_speedup_from_the_models_provenance(trained, tmp_path):
    from archsim.format import load_model

    made = plots.plot_accuracy([load_results(p) for p in trained], tmp_path)
    assert made is not None
    d = made[1]
    for p, run in zip(d["points"], trained, strict=True):
        prov = load_model(ROOT / f"workloads/models/{run.name}.npz").meta["provenance"]
        assert p["accuracy"] == pytest.approx(100 * prov["int_accuracy"])
        assert p["ideal_speedup"] == pytest.approx(prov["ideal_speedup"]) and p["over"] == "test set"
    dense = load_model(ROOT / "workloads/models/resnet18_half_dense.npz").meta["provenance"]
    assert d["dense"] == {"resnet18_half_dense (fashion-mnist)": pytest.approx(100 * dense["int_accuracy"])}


def test_comparison_states_its_caveats(results, trained):
    runs = [load_results(results["run"]), load_results(trained[0])]
    _, text = comparison(runs, load_published(PUBLISHED), None, Path("none.json"))
    assert "Yosys estimates" in text and "(200 MHz, the configuration's clock_mhz) is assumed" in text
    assert "Fashion-MNIST" in text
    assert "not measured on the same task" in text


def test_comparison_gives_the_equal_area_speedup_beside_the_paper_style_one(tmp_path):
    """The shipped run names an equal-area dense build: the pruned row quotes both speedups."""
    run = load_results(ROOT / "docs/figures/data/resnet18_pruned")
    ea = run.summary["equal_area"]
    rows, text = comparison([run], load_published(PUBLISHED), None, tmp_path / "none.json")
    assert rows[1]["equal_area"] == ea and rows[0]["equal_area"] is None
    assert f"{run.summary['speedup']:.2f}x (paper: 5.4x); {ea['speedup']:.2f}x at equal area" in text
    assert f"(dense on {ea['dense_pe_cols']} PE columns)" in text


def test_pe_plot_uses_the_sweeps_own_builds_and_marks_the_unsynthesized(results, tmp_path):
    """`rtl.resources --sweep` reports a build per sweep point (its exact configuration) or 'not synthesized':
    the figure takes those over same-shape builds of other configurations and marks the missing ones."""
    report = tmp_path / "resources.json"
    entry = {"design": "sparse", "ff": 9000, "bram36": 150.0, "dsp": 17}
    sweep_builds = [
        {"pe_rows": 16, "pe_cols": 4, "lut": 20000, "status": "synthesized", **entry},
        {"pe_rows": 16, "pe_cols": 16, "lut": 31000, "status": "synthesized", **entry},
        {"pe_rows": 32, "pe_cols": 4, "status": "not synthesized", "design": "sparse"},
    ]
    data = {
        "builds": [{"design": "sparse", "pe_rows": 16, "pe_cols": 16, "lut": 30000, **entry}],
        "sweeps": {"pe": {"file": "pe.yaml", "design_commit": "0" * 40, "builds": sweep_builds}},
    }
    report.write_text(json.dumps(data))
    sw = load_results(results["pe"])
    device = {"part": "xczu3eg", "lut": 70560, "ff": 141120, "bram36": 216, "dsp": 360}
    d = pe_data(sw, load_resources(report), device, load_sweep_resources(report, "pe"))
    assert d["labels"] == ["16x4", "16x16", "32x4", "32x16"]
    lut = d["resources"]["lut"]
    assert list(lut[:2]) == [20000, 31000] and np.isnan(lut[2:]).all()  # 31000: the point's own build
    assert d["not_synthesized"] == [False, False, True, False]  # 32x16: not in the report at all
    assert d["fits"] == [True, True, None, None]
    assert load_sweep_resources(report, "other") is None
    out = tmp_path / "figs"
    argv = ["all", "--results", str(results["pe"]), "--resources", str(report), "--out", str(out)]
    assert analysis_main(argv) == 0 and (out / "pe_array_pe.pdf").stat().st_size > 10_000
    sweep_builds[2]["status"] = "guessed"
    report.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=r"builds\[2\]'.*status"):
        load_sweep_resources(report, "pe")
    sweep_builds[2]["status"] = "synthesized"  # a synthesized build without numbers
    report.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="field 'lut'"):
        load_sweep_resources(report, "pe")
