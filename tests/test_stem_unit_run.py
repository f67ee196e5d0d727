"""The stem unit (`stem_unit`, docs/timing.md 3.1 and 6, docs/config.md) in a run: its config and programme
refusals (one line naming the field, exit 2 from the CLI, nothing written), the host time without the stem's
MACs, the report's and summary.json's statement of where the stem runs, and its energy (the unit's MACs on
DSP48E2 slices, the raw image's DDR reads), the dense baseline included."""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_hostile import assert_refused, cli
from test_timing_stem_unit import _build, one_channel, with_stem_unit
from timing_models import CONFIGS, Spec, make_model

from analysis.compare import _host_work
from analysis.readers import load_results
from archsim.cli import main
from archsim.config import HardwareConfig
from archsim.energy import inference_energy, load_energy_table
from archsim.errors import ConfigError
from archsim.program import compile_program
from archsim.runner import host_macs, host_time_us
from archsim.sim import simulate
from archsim.stem_unit import SHIFT
from archsim.workload import load_workload
from tests.synth_helpers import ROOT

SHIPPED = ROOT / "workloads/resnet18_pruned.yaml"
TABLE = ROOT / "configs/energy/ultra96v2.yaml"
ON = ["--set", "stem_unit.enabled=true"]  # the shipped configuration's own setting, stated
OFF = ["--set", "stem_unit.enabled=false"]
STEM_MACS = 64 * 9 * 32 * 32  # the shipped model: 64 stem channels on 32 x 32 images, one image channel


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("sets", "field", "why"),
    [
        (["axi.hp_ports=1", "axi.data_bits=32"], "stem_unit.enabled", "at least 48"),
        (["stem_unit.channels=40"], "stem_unit.channels", "multiple of pe_array.rows (16)"),
        (["stem_unit.channels=32"], "stem_unit.channels", "at least 3 x 16"),  # 256-bit beats: 16 lanes
        (["stem_unit.channels=0"], "stem_unit.channels", "greater than or equal to 1"),
        (["stem_unit.max_width=2000"], "stem_unit.max_width", "less than or equal to 1024"),
        (["stem_unit.enabled=maybe"], "stem_unit.enabled", "boolean"),
    ],
)
def test_cli_refuses_what_the_unit_cannot_do(sets: list[str], field: str, why: str, tmp_path: Path, capsys) -> None:
    """Each config check: exit 2, one line naming the field, nothing written."""
    out = tmp_path / "res"
    on = [] if any(s.startswith("stem_unit.enabled=") for s in sets) else ON
    argv: list[str | Path] = ["run", SHIPPED, *on, "--out", out, "--quiet"]
    for s in sets:
        argv += ["--set", s]
    rc, _, err = cli(argv, capsys)
    assert_refused(rc, err, field, why)
    assert not out.exists()


@pytest.mark.parametrize(
    ("sets", "why"),
    [
        (["stem_unit.channels=48"], "stem_unit.channels: the unit computes 48 channels, the model's stem has 64"),
        (["stem_unit.max_height=16"], "stem_unit.max_height: the unit takes images up to 16 x 32"),
        (["stem_unit.max_width=31"], "stem_unit.max_width: the unit takes images up to 32 x 31"),
    ],
)
def test_cli_runs_a_model_the_unit_cannot_compute_with_it_bypassed(sets: list[str], why: str, tmp_path: Path, capsys):
    """ST6: a valid unit that cannot compute this model's stem is bypassed, not an error: the host computes the stem
    (host time with the stem MACs, cycles as without the unit), and the report and summary.json name the reason."""
    out, plain = tmp_path / "res", tmp_path / "plain"
    argv: list[str | Path] = ["run", SHIPPED, *ON, "--out", out, "--quiet"]
    for s in sets:
        argv += ["--set", s]
    rc, _, err = cli(argv, capsys)
    assert rc == 0, err
    rc, _, err = cli(["run", SHIPPED, *OFF, "--out", plain, "--quiet"], capsys)
    assert rc == 0, err
    got, ref = (json.loads((d / "summary.json").read_text()) for d in (out, plain))
    assert got["host"]["stem"].startswith(f"host (stem unit bypassed: {why}")
    assert why in got["host"]["stem"] and got["host"]["time_us"] == ref["host"]["time_us"]
    assert got["sparse"]["cycles"] == ref["sparse"]["cycles"] and got["dense"]["cycles"] == ref["dense"]["cycles"]


def _stem_cfg() -> HardwareConfig:
    return with_stem_unit(CONFIGS["small"], 12, (8, 8))


def _model(**stem_changes: object):
    cfg = _stem_cfg()
    rng = np.random.default_rng(4)
    model = one_channel(make_model(cfg, 12, (6, 6), [Spec(12, k=1, predictor=True)], rng), rng)
    return cfg, replace(model, stem=replace(model.stem, **stem_changes)) if stem_changes else model


def test_program_accepts_the_test_model() -> None:
    cfg, model = _model()
    assert compile_program(model, cfg, "sparse").stem_unit


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("rgb", r"input: the stem unit takes one image channel, the model's images have 3"),
        ("kernel", r"stem.weight: the stem unit takes 3x3 kernels, got 1x1"),
        ("channels", r"stem_unit.channels: the unit computes 12 channels, the model's stem has 8"),
        ("size", r"stem_unit.max_height: the unit takes images up to 8 x 8, the model's are 9 x 6"),
        ("width", r"stem_unit.max_width: the unit takes images up to 8 x 8, the model's are 6 x 9"),
        ("offset", r"stem.input_offset: 256 is not a byte"),
        ("weight", r"stem.weight: outside int8"),
        ("mult", rf"stem.mult: channel 0: .*the stem unit's fixed shift is {SHIFT}"),
        ("shift", rf"stem.shift: 40 outside \[0, S = {SHIFT}\]"),
    ],
)
def test_program_bypasses_the_unit_naming_the_field(change: str, match: str) -> None:
    """Every check of program.stem_unit_misfit (ST6): the programme runs with the unit bypassed (the LOAD reads x0,
    as without the unit) and `stem_bypassed` is one line naming the field at fault."""
    cfg, model = _model()
    stem = model.stem
    rng = np.random.default_rng(0)
    if change == "rgb":
        model = make_model(cfg, 12, (6, 6), [Spec(12, k=1, predictor=True)], rng)  # a 3-channel image
    elif change == "kernel":
        model = replace(model, stem=replace(stem, weight=np.zeros((12, 1, 1, 1), np.int8)))
    elif change == "channels":
        model = one_channel(make_model(cfg, 8, (6, 6), [Spec(8)], rng), rng)
    elif change in ("size", "width"):
        hw = (9, 6) if change == "size" else (6, 9)
        model = one_channel(make_model(cfg, 12, hw, [Spec(12)], rng), rng)
    elif change == "offset":
        model = replace(model, stem=replace(stem, input_offset=256))
    elif change == "weight":
        model = replace(model, stem=replace(stem, weight=np.full((12, 1, 3, 3), 200, np.int16)))
    elif change == "mult":
        model = replace(model, stem=replace(stem, mult=np.full(12, 1 << 30, np.int64), shift=0))
    else:
        model = replace(model, stem=replace(stem, shift=40))
    prog = compile_program(model, cfg, "sparse")
    plain = compile_program(
        model, cfg.model_copy(update={"stem_unit": cfg.stem_unit.model_copy(update={"enabled": False})}), "sparse"
    )
    assert re.match(match, prog.stem_bypassed) and "\n" not in prog.stem_bypassed
    assert not prog.stem_unit and prog.load_beats == prog.x0_beats == plain.load_beats and prog.stem_lead == 0


# --------------------------------------------------------------------------- host time and reports


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    """summary.json and the printed report of the shipped workload, stem on the host and on chip."""
    base = tmp_path_factory.mktemp("stem")
    out: dict[str, dict] = {}
    for name, extra in (("host", OFF), ("chip", ON)):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["run", str(SHIPPED), *extra, "--out", str(base / name)]) == 0
        summary = json.loads((base / name / "summary.json").read_text())
        out[name] = {"summary": summary, "report": buf.getvalue(), "dir": base / name}
    return out


def test_host_time_without_the_stem(runs) -> None:
    """docs/timing.md 6: with the unit the host does only the classifier; the latency drops by the stem's
    host time and gains what the accelerator spends on it."""
    host, chip = runs["host"]["summary"]["host"], runs["chip"]["summary"]["host"]
    assert (host["stem"], chip["stem"]) == ("host", "on chip (stem_unit)")
    assert (host["stem_macs"], chip["stem_macs"]) == (STEM_MACS, 0)
    assert chip["classifier_macs"] == host["classifier_macs"] > 0
    rate = host["macs_per_second"]
    assert chip["time_us"] == pytest.approx(host["overhead_us"] + chip["classifier_macs"] / rate * 1e6)
    assert host["time_us"] - chip["time_us"] == pytest.approx(STEM_MACS / rate * 1e6)


def test_report_says_where_the_stem_runs(runs) -> None:
    host, chip = runs["host"]["report"], runs["chip"]["report"]
    assert "\nstem              host\n" in host and "589,824 stem" in host
    assert "\nstem              on chip (stem_unit)" in chip and " stem + " not in chip


def test_comparison_says_what_the_host_time_covers(runs) -> None:
    """analysis reads where the stem ran from summary.json: the comparison's note on the host time follows it."""
    host, chip = (load_results(runs[n]["dir"]) for n in ("host", "chip"))
    assert _host_work([host])[0] == "stem and classifier on the ARM cores"
    assert "the stem runs on chip" in _host_work([chip])[0]
    assert _host_work([host, chip])[0] == "stem and classifier on the ARM cores"  # not every run had the unit


def test_image_set_run_says_where_the_stem_runs(tmp_path: Path, capsys) -> None:
    """`archsim run --images SET --stream all` with the unit: its report and summary.json say the stem runs on
    chip, and its own checks (batched contract and stream recurrence against the contract, fast mode) pass."""
    wl = load_workload(SHIPPED)
    x = np.asarray(wl.trace.inputs, np.uint8)
    np.savez(tmp_path / "set.npz", images=np.concatenate([x, x[::-1]]), labels=np.arange(2 * len(x)) % 10)
    out = tmp_path / "res"
    rc, report, err = cli(
        ["run", SHIPPED, *ON, "--images", tmp_path / "set.npz", "--stream", "all", "--out", out], capsys
    )
    assert rc == 0, err
    assert "\nstem              on chip (stem_unit)\n" in report and "\nchecks            PASS\n" in report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stem"] == "on chip (stem_unit)" and summary["functional_check"] == "pass"
    assert all(ch["status"] == "pass" for ch in summary["checks"])


def test_host_macs() -> None:
    cfg, model = _model()
    assert host_macs(model) == (12 * 9 * 36, model.classifier.weight.size)
    assert host_macs(model, True) == (0, model.classifier.weight.size)
    assert host_time_us(cfg.host, 0, 1000) < host_time_us(cfg.host, *host_macs(model))


# --------------------------------------------------------------------------- energy


def test_energy_counts_the_units_macs(runs) -> None:
    """The stem's MACs are the stem unit's block, dense and pruned alike (the baseline has the unit); the
    LOAD's DDR reads are the raw image's 1,024 bytes instead of x0's 131,072."""
    table = load_energy_table(TABLE)
    for name, macs in (("host", 0), ("chip", STEM_MACS)):
        e = runs[name]["summary"]["energy"]
        assert "stem_unit" in e["blocks"]
        for side in ("dense", "sparse"):
            assert e[side]["counts"]["stem_macs"] == macs, (name, side)
            assert e[side]["blocks_uj"]["stem_unit"] == pytest.approx(macs * table.dynamic.stem_mac.pj * 1e-6)
    load_bytes = {n: runs[n]["summary"]["energy"]["dense"]["counts"]["ddr_read_bytes"] for n in runs}
    assert load_bytes["host"] - load_bytes["chip"] == 64 * 32 * 32 * 2 - 32 * 32


@pytest.mark.parametrize("mode", ["fast", "cycle"])
def test_energy_events_are_the_timing_models_counters(mode: str) -> None:
    """The LOAD's events from the formulas (programme only) == the SimPy model's LOAD counters, stem_macs too."""
    cfg, program = _build("small", (5, 7), (8, 9), "sparse", True, False, False)
    active = [np.arange(p.positions) if p.mask_enabled else None for p in program.layers]
    sched = simulate(program, cfg, active, mode)
    load = inference_energy(program, sched, cfg, load_energy_table(TABLE)).activity[0]
    sim = sched.load_activity.as_dict()
    for key in ("ddr_read_beats", "res_writes", "stem_macs"):
        assert load.events[key] == sim[key], key
    assert load.events["stem_macs"] == 9 * 12 * 5 * 7
    assert load.events["act_writes_bits"] == sim["act_writes"]


def test_workload_refuses_a_baseline_whose_stem_runs_elsewhere(tmp_path: Path) -> None:
    """ST6 and fairness: when the unit computes the model's stem but must be bypassed for the dense baseline's
    (here: a shift beyond the unit's fixed one), the two would not run on the same hardware: one line naming
    'baseline.model' and the reason."""
    from archsim.format import load_model, save_model
    from archsim.workload import load_workload

    models = ROOT / "workloads/models"
    base = load_model(models / "resnet18_dense.npz")
    save_model(tmp_path / "dense.npz", replace(base, stem=replace(base.stem, shift=SHIFT + 6)))
    wl = tmp_path / "w.yaml"
    wl.write_text(
        f"name: w\nhardware: {ROOT / 'configs/ultra96v2.yaml'}\nmodel: {models / 'resnet18_pruned.npz'}\n"
        f"trace: {models / 'resnet18_pruned.trace.npz'}\nsamples: 1\nbaseline:\n  model: {tmp_path / 'dense.npz'}\n"
    )
    load_workload(wl, {"stem_unit.enabled": False})  # the unit off: both stems on the host
    with pytest.raises(
        ConfigError,
        match=r"field 'baseline.model': .*stem unit computes the model's stem but not "
        rf"the baseline's \(stem.shift: {SHIFT + 6} outside",
    ) as e:
        load_workload(wl, {"stem_unit.enabled": True})
    assert "\n" not in str(e.value)
