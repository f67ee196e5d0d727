"""One rule for what can be built: archsim refuses, up front and with rtl/gen.py's own words, every
model that the RTL generator cannot build (archsim.buildable), and the generator builds what archsim runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from archsim import synthetic
from archsim.buildable import (
    RTL_LIMIT,
    RTL_MAX_LAYERS,
    RTL_MAX_PASSES,
    ddr_end,
    program_problem,
    window_channels,
)
from archsim.cli import main
from archsim.config import load_config
from archsim.format import load_model
from archsim.layout import build_layout
from archsim.networks import network_from_dict
from archsim.program import compile_program
from archsim.sweep import load_sweep, run_sweep
from archsim.synthetic import SynthSpec, write_synthetic
from archsim.workload import load_workload
from rtl import regmap
from rtl.params import RtlParams
from tests.synth_helpers import ROOT, ULTRA96

CFG = load_config(ULTRA96)


def chain(name: str, layers: int, channels: int, hw: int) -> dict:
    """A network description: `layers` 3x3 binary convs of `channels` channels on an hw x hw map."""
    return {
        "kind": "archsim-network",
        "version": 1,
        "name": name,
        "description": f"{layers} binary convs of {channels} channels",
        "input": [3, hw, hw],
        "stem": {"channels": channels},
        "layers": [
            {"block": f"b{i}", "stage": 1, "layers": [{"name": "conv", "channels": channels, "residual": "identity"}]}
            for i in range(layers)
        ],
        "classifier": {"kind": "sum_pool_linear"},
    }


# Ultra96v2: a pass covers rows x acc_depth = 128 output channels.
DEEP = chain("deep", RTL_MAX_LAYERS + 1, 32, 8)  # 33 layers of one pass each
WIDE = chain("wide", 24, 384, 4)  # 24 layers x 3 passes = 72 passes
PROBLEMS = {
    "deep": f"{RTL_MAX_LAYERS + 1} layers exceed the RTL's max_layers={RTL_MAX_LAYERS}",
    "wide": f"72 passes exceed the RTL's max_passes={RTL_MAX_PASSES}",
}


def spec_of(net: dict, **kw) -> SynthSpec:
    return SynthSpec(
        name=net["name"], network=network_from_dict(net, "<test>"), input_shape=tuple(net["input"]), samples=1, **kw
    )


def unchecked_workload(out: Path, net: dict, monkeypatch) -> Path:
    """The workload files as a tool without the rule writes them (trainer export, an older archsim)."""
    with monkeypatch.context() as m:
        m.setattr(synthetic, "check_program", lambda *a, **k: None)
        write_synthetic(spec_of(net), CFG, ULTRA96, out)
    return out / f"{net['name']}_pruned.yaml"


@pytest.mark.parametrize("net", [DEEP, WIDE], ids=["layers", "passes"])
def test_run_refuses_what_rtl_gen_refuses_with_the_same_message(net, tmp_path, monkeypatch, capsys):
    wl = unchecked_workload(tmp_path / "wl", net, monkeypatch)
    model = tmp_path / "wl" / "models" / f"{net['name']}_pruned.npz"
    problem = program_problem(compile_program(load_model(model), CFG, "sparse"), CFG)
    assert problem == PROBLEMS[net["name"]]

    out = tmp_path / "res"
    rc = main(["run", str(wl), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"{problem} {RTL_LIMIT}" in err and str(wl) in err
    assert not out.exists()

    gen = subprocess.run(
        [sys.executable, str(ROOT / "rtl" / "gen.py"), "--model", str(model), "--out", str(tmp_path / "rtl")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert gen.returncode == 2 and f"{problem} {RTL_LIMIT}" in gen.stderr, gen.stderr


def test_synth_writes_no_model_the_rtl_cannot_build(tmp_path, capsys):
    net = tmp_path / "deep.yaml"
    net.write_text(yaml.safe_dump(DEEP))
    out = tmp_path / "out"
    rc = main(["synth", "--network", str(net), "--samples", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and f"{PROBLEMS['deep']} {RTL_LIMIT}" in err
    assert not out.exists() or not any(out.rglob("*"))


def test_sweep_point_beyond_the_rtl_is_invalid_with_the_message(tmp_path):
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump(WIDE))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "limits",
                "hardware": str(ULTRA96),
                "synthetic": {"network": "wide.yaml", "samples": 1},
                # 72 passes at 8 accumulator slots (128 channels a pass), 48 at 16 (256: 2 passes of 384)
                "parameters": {"hardware.pe_array.acc_depth": [8, 16], "hardware.buffers.weight_depth": [8192]},
            }
        )
    )
    stats = run_sweep(load_sweep(sweep), tmp_path / "res", jobs=1, progress=False)
    assert (stats.total, stats.invalid, stats.failed) == (2, 1, [])
    lines = (tmp_path / "res" / "results.csv").read_text()
    assert PROBLEMS["wide"] in lines


@pytest.mark.parametrize("name", ["resnet18_pruned", "resnet18_dense"])
def test_what_archsim_accepts_the_rtl_builds(name):
    wl = load_workload(ROOT / "workloads" / f"{name}.yaml")
    for model, program in ((wl.model, wl.program), (wl.baseline, wl.baseline_program)):
        assert program_problem(program, wl.config) is None
        lay = build_layout(model, program, wl.config)
        assert ddr_end(program, wl.config) == lay.end  # the rule's DDR end is the layout's
        regmap.program_writes(lay, RtlParams(wl.config, sparse=program.mode == "sparse"))  # raises if not built


@pytest.mark.parametrize("max_cin", [None, 1, 64, 65, 300, 512, 2048])
def test_window_buffers_are_the_generators(max_cin):
    prm = RtlParams(CFG, max_cin=max_cin)
    assert window_channels(CFG, max_cin) == prm.nblk_max * prm.ba


def test_the_programme_limits_are_in_the_docs():
    doc = (ROOT / "docs/config.md").read_text()
    for phrase in (
        f"{RTL_MAX_LAYERS} layers",
        f"{RTL_MAX_PASSES} weight passes",
        "the window buffers hold `weight_depth` / `acc_depth` channels",
        "4 GiB",
        "`archsim.buildable`",
    ):
        assert phrase in doc, phrase
