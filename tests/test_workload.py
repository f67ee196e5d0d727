"""Workload loading, sample selection, and the shipped workloads."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from archsim.cli import main
from archsim.contract import schedule
from archsim.runner import run_workload
from archsim.stream import run_stream
from archsim.workload import load_workload
from tests.synth_helpers import ROOT


def test_load_compiles_both_programmes(wdir):
    wl = load_workload(wdir / "small_pruned.yaml")
    assert wl.name == "small_pruned" and wl.synthetic
    assert wl.samples == (0, 1, 2)
    assert wl.program.mode == "sparse" and wl.baseline_program.mode == "dense"
    assert any(p.mask_enabled for p in wl.program.layers)
    assert not any(p.mask_enabled for p in wl.baseline_program.layers)
    assert wl.config_path.resolve() == (ROOT / "configs/ultra96v2.yaml").resolve()
    assert wl.baseline_trace is not None


def test_paths_are_relative_to_the_workload_file(wdir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_workload(wdir / "small_pruned.yaml").model.name == "small_pruned"


def test_sample_list_and_optional_baseline_trace(wdir, tmp_path, capsys):
    text = (wdir / "small_pruned.yaml").read_text()
    text = text.replace("baseline:\n", "samples: [2, 0]\nbaseline:\n").replace(
        "  trace: models/small_dense.trace.npz\n", ""
    )
    y = wdir / "picked.yaml"
    y.write_text(text)
    wl = load_workload(y)
    assert wl.samples == (2, 0) and wl.baseline_trace is None
    res = run_workload(wl, progress=False)
    assert res.samples == [2, 0]
    assert res.check.passed and res.baseline_check.status == "not checked" and res.functional_pass
    # Each sample is timed with its own masks: the order of samples follows the selection.
    full = run_workload(load_workload(wdir / "small_pruned.yaml"), progress=False)
    assert res.sparse_cycles == [full.sparse_cycles[2], full.sparse_cycles[0]]
    assert main(["run", str(y), "--out", str(tmp_path / "r")]) == 0
    assert "baseline not checked" in capsys.readouterr().out
    s = json.loads((tmp_path / "r/summary.json").read_text())
    assert s["samples"] == [2, 0] and list(s["sparse"]["per_sample_cycles"]) == ["2", "0"]
    assert s["functional"]["baseline"]["status"] == "not checked" and s["functional_check"] == "pass"


def test_sparse_timing_depends_on_the_masks(wdir):
    res = run_workload(load_workload(wdir / "small_pruned.yaml"), progress=False)
    masked = [L for L, p in zip(res.layers, res.workload.program.layers, strict=True) if p.mask_enabled]
    assert masked and all(0 < a < L.positions for L in masked for a in L.active)
    assert len(set(res.sparse_cycles)) > 1  # different inputs, different active positions, different cycles


# --------------------------------------------------------------------------- shipped workloads


def test_shipped_pruned_workload(capsys):
    wl = load_workload(ROOT / "workloads/resnet18_pruned.yaml")
    assert len(wl.model.layers) == 19  # synthetic or trained: the full-size network either way
    res = run_workload(wl, progress=False)
    assert res.functional_pass
    assert res.ideal_speedup >= 5.4
    assert 1 < res.speedup < res.ideal_speedup


def test_resource_figures_quoted_are_the_resource_report():
    """README and docs/architecture.md quote docs/resources.json (Yosys), not typed-in numbers."""
    r = json.loads((ROOT / "docs/resources.json").read_text())
    sparse, dense = r["builds"][0], r["builds"][1]
    assert (sparse["design"], dense["design"]) == ("sparse", "dense")
    ea = r["equal_area"]
    wider = next(b for b in r["builds"] if b["design"] == "dense" and b["pe_cols"] == ea["pe_cols"] + 1)
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert (
        f"({ea['pe_rows']} x {ea['pe_cols']} PEs, {ea['lut']:,} LUTs: the widest dense build within the sparse "
        f"build's {sparse['lut']:,}; {ea['pe_rows']} x {wider['pe_cols']} needs {wider['lut']:,};" in readme
    )
    arch = " ".join((ROOT / "docs/architecture.md").read_text().split())
    assert (
        f"it is {sparse['lut']:,} LUT, {sparse['ff']:,} FF, {sparse['bram36']:g} BRAM36 and {sparse['dsp']} DSP "
        f"(docs/resources.md), and the dense build {dense['lut']:,} LUT" in arch
    )
    prose = " ".join((ROOT / "docs/resources.md").read_text().split())  # the hand-written history section
    blocks = {b["module"]: b for b in r["blocks"]}
    wb, pe = blocks["bnn_winbuf"], blocks["bnn_pe_array"]
    pct = 100 * sparse["lut"] / r["device"]["LUT"]
    # the last step of the history (the window buffers' MUXF selects, split tiles on) ends at the report's builds
    assert f"window buffers went from 10,815 LUTs to {wb['lut']:,}" in prose
    assert f"PE array with split tiles from 21,058 to {pe['lut']:,}" in prose
    assert (
        f"the sparse build is {sparse['lut']:,} LUTs ({pct:.1f} %; {sparse['ff']:,} FF, {sparse['bram36']:g} BRAM36, "
        f"{sparse['dsp']} DSP)" in prose
    )
    assert f"which has both as well, is {dense['lut']:,}." in prose
    assert (
        f"now {ea['pe_rows']} x {ea['pe_cols']} PEs ({ea['lut']:,} LUTs, {ea['pe_rows']} x {wider['pe_cols']} needs {wider['lut']:,})"
        in prose
    )
    assert f"with split tiles {sparse['lut']:,} LUTs ({pct:.1f} % of the xczu3eg" in readme
    assert pct <= 80.0 and wb["lut"] < 10_815


def test_readme_figures_are_the_shipped_run():
    """The README quotes the shipped run; its numbers must be the results file's, not typed-in ones."""
    s = json.loads((ROOT / "docs/figures/data/resnet18_pruned/summary.json").read_text())
    readme = " ".join((ROOT / "README.md").read_text().split())  # line breaks are not part of a quote
    for quoted in (
        f"dense baseline {s['dense']['cycles']:,} cycles",
        f"pruned {round(s['sparse']['cycles']):,}",
        f"**{s['speedup']:.2f}x**",
        f"ideal (work-ratio) {s['ideal_speedup']:.2f}x",
        f"({s['hardware']['pe_rows']} x {s['equal_area']['dense_pe_cols']} PEs,",
        f"the pruned design is {s['equal_area']['speedup']:.2f}x faster (dense {s['equal_area']['dense_cycles']:,} cycles)",
        # throughput mode: the shipped run streams its four images (--stream 4, docs/timing.md 9)
        f"dense {s['stream']['dense']['period_cycles']:,.1f} cycles, pruned {s['stream']['sparse']['period_cycles']:,.1f}",
        f"({s['stream']['sparse']['fps']:,.0f} fps at {s['clock_mhz']:g} MHz): **{s['stream']['speedup']:.2f}x**",
        f"work ratio of {s['stream']['ideal_speedup']:.2f}x over images 1-{len(s['stream']['samples']) - 1}",
        f"ideal {s['stream']['achieved_over_ideal']:.3f}, as in latency mode",
        # ... and the whole system with the host (stream.system): the slower of host and accelerator
        f"{s['stream']['system']['host_us']:,.2f} us per image",
        f"at {s['stream']['system']['dense_fps']:,.0f} fps dense and {s['stream']['system']['sparse_fps']:,.0f} fps pruned",
        f"**{s['stream']['system']['speedup']:.2f}x**",
    ):
        assert quoted in readme, quoted
    wl = load_workload(ROOT / "workloads/resnet18_pruned.yaml")
    res = run_workload(wl, progress=False)
    assert (res.dense.done, res.sparse_cycles_mean) == (s["dense"]["cycles"], s["sparse"]["cycles"])
    st = run_stream(res, len(s["stream"]["samples"]))
    assert (st.dense.period, st.sparse.period) == (
        s["stream"]["dense"]["period_cycles"],
        s["stream"]["sparse"]["period_cycles"],
    )


def test_equal_area_baseline(wdir, tmp_path, capsys):
    """baseline.equal_area_cols times the dense model on a wider array and reports that speedup too."""
    text = (wdir / "small_pruned.yaml").read_text()
    y = wdir / "equal_area.yaml"
    y.write_text(text.replace("baseline:\n", "baseline:\n  equal_area_cols: 20\n"))
    res = run_workload(load_workload(y), progress=False)
    plain = run_workload(load_workload(wdir / "small_pruned.yaml"), progress=False)
    assert res.equal_area_cols == 20 and res.equal_area_dense is not None
    assert res.equal_area_dense.done < plain.dense.done  # more columns: fewer tiles per layer
    assert res.equal_area_speedup == pytest.approx(res.equal_area_dense.done / res.sparse_cycles_mean)
    assert res.speedup == plain.speedup  # the paper-style comparison is unchanged
    assert main(["run", str(y), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "equal area" in out and "16 x 20 PEs" in out and "fairness" in out
    s = json.loads((tmp_path / "r/summary.json").read_text())
    assert s["equal_area"] == {
        "dense_pe_cols": 20,
        "dense_cycles": res.equal_area_dense.done,
        "speedup": res.equal_area_speedup,
    }
    assert "same hardware configuration" in s["fairness"]
    assert plain.equal_area_dense is None


@pytest.mark.parametrize("value", ["0", "yes", "1.5", "300"])
def test_equal_area_cols_is_checked(wdir, value, capsys):
    text = (wdir / "small_pruned.yaml").read_text()
    y = wdir / "bad_equal_area.yaml"
    y.write_text(text.replace("baseline:\n", f"baseline:\n  equal_area_cols: {value}\n"))
    assert main(["run", str(y)]) == 2
    err = capsys.readouterr().err
    assert "baseline.equal_area_cols" in err and "Traceback" not in err


def test_shipped_equal_area_build_is_the_resource_report():
    """The shipped workload's equal-area dense build is the one docs/resources.json found (Yosys)."""
    import yaml

    rep = json.loads((ROOT / "docs/resources.json").read_text())
    spec = yaml.safe_load((ROOT / "workloads/resnet18_pruned.yaml").read_text())
    assert rep["equal_area"] is not None
    assert spec["baseline"]["equal_area_cols"] == rep["equal_area"]["pe_cols"]
    sparse = rep["builds"][0]
    assert sparse["design"] == "sparse" and rep["equal_area"]["lut"] <= sparse["lut"]
    wider = [b for b in rep["builds"] if b["design"] == "dense" and b["pe_cols"] > rep["equal_area"]["pe_cols"]]
    assert wider and all(b["lut"] > sparse["lut"] for b in wider)  # the next wider build does not fit


def test_readme_lever_table_is_computed():
    """Every row of the README's lever table is a run of bench/levers.py's variant, not a typed number;
    the LOAD + STORE share it quotes is the shipped run's cycle accounting."""
    from bench.levers import VARIANTS

    readme = " ".join((ROOT / "README.md").read_text().split())
    runs = []
    for _label, overrides in VARIANTS:
        res = run_workload(load_workload(ROOT / "workloads/resnet18_pruned.yaml", overrides), progress=False)
        p = res.sparse_cycles_mean
        row = f"| {res.dense.done:,} | {p:,.0f} | {res.speedup:.2f}x | {res.latency_us(p):.1f} us |"
        assert row in readme, row
        runs.append(res)
    # the stem unit's paragraph: the second and third variants are the design without split tiles, with and
    # without the unit (the split tiles' paragraph quotes the first two)
    chip, host = runs[1], runs[2]
    split, unsplit = runs[0], runs[1]
    for quoted in (
        f"the pruned run from {unsplit.sparse_cycles_mean:,.0f} to {split.sparse_cycles_mean:,.0f} cycles",
        f"{unsplit.speedup:.2f}x to {split.speedup:.2f}x",
        f"achieved / ideal {unsplit.speedup / unsplit.ideal_speedup:.3f} to {split.speedup / split.ideal_speedup:.3f}",
    ):
        assert quoted in readme, quoted
    assert split.dense.done == unsplit.dense.done  # the dense baseline's maps fill every tile
    prog = chip.workload.program
    assert prog.stem_unit and not host.workload.program.stem_unit
    # rule ST7's share: the same unit with the first layer's blob read before the raw LOAD, on both sides
    cfg, base = chip.workload.config, chip.workload.baseline_program
    blob_first = schedule(replace(base, pre_load=1), cfg, [None] * len(base.layers)).done
    pruned_first = [schedule(replace(prog, pre_load=1), cfg, a).done for a in chip.actives]
    assert np.mean(pruned_first) - host.sparse_cycles_mean == blob_first - host.dense.done
    for quoted in (
        f"x0's {prog.x0_beats:,} beats into the LOAD path one per cycle, the first {prog.stem_lead} cycles after",
        f"the unit saves {host.dense.done - chip.dense.done} cycles on the dense side and "
        f"{host.sparse_cycles_mean - chip.sparse_cycles_mean:.0f} on the pruned",
        f"({blob_first - host.dense.done} cycles on each side were lost with the blob read first)",
        f"ran on the host: {host.host_time_us - chip.host_time_us:.0f} of its {host.host_time_us:.0f} us per image",
        f"latency {chip.latency_us(chip.sparse_cycles_mean):.1f} us, of which {chip.host_time_us:.1f} us are host",
        f"against {host.latency_us(host.sparse_cycles_mean):.1f} us, of which {host.host_time_us:.1f} us host time",
        f"({chip.latency_us(chip.dense.done):,.1f} us instead of {host.latency_us(host.dense.done):,.1f} us)",
    ):
        assert quoted in readme, quoted
    s = json.loads((ROOT / "docs/figures/data/resnet18_pruned/summary.json").read_text())
    share = s["cycle_accounting"]["sparse"]["load_store"] / s["sparse"]["cycles"]
    assert f"LOAD + STORE of the maps ({100 * share:.1f} % of the pruned run)" in readme
