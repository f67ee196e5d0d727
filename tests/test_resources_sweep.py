"""`python -m rtl.resources --sweep FILE`: the sparse build of every point of a sweep, each from its own
configuration, from the Yosys cache; with --cached-only a point not there is 'not synthesized', never guessed."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from archsim.config import HardwareConfig
from archsim.sweep import load_sweep
from rtl import resources, yosys_stats
from rtl.gen import write_verilog
from rtl.params import RtlParams
from tests.synth_helpers import ROOT, ULTRA96


@pytest.mark.skipif(shutil.which("yosys") is None, reason="the cache key names the Yosys version")
def test_sweep_points_from_the_cache_or_not_synthesized(tmp_path):
    sweep = tmp_path / "pe.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "pe",
                "hardware": str(ULTRA96),
                "synthetic": {"width": 0.25, "input_shape": [3, 8, 8], "samples": 1},
                "parameters": {
                    "hardware.pe_array.rows": [8, 16],
                    "hardware.pe_array.cols": [4],
                    "hardware.buffers.res_depth": [8192],
                    "hardware.axi.data_bits": [128],  # 8 rows x 16 bits: a 128-bit master on one port
                    "hardware.axi.hp_ports": [1],
                },
            }
        )
    )
    # a cached build of point 0 only, under the key of its generated Verilog
    p0 = load_sweep(sweep).points[0]
    cfg = HardwareConfig.model_validate({**p0.hardware, "name": "ultra96v2-8x4"})
    assert cfg.buffers.res_depth == 8192  # the point's own configuration, overrides applied
    key = yosys_stats.verilog_key(write_verilog(RtlParams(cfg), tmp_path / "v"), True)
    cache = tmp_path / "cache"
    cache.mkdir()
    cells = {"LUT6": 1000, "LUT3": 200, "RAM64M8": 10, "FDRE": 500, "RAMB36E2": 3, "RAMB18E2": 1, "DSP48E2": 9}
    (cache / f"{key}.json").write_text(json.dumps({"cells": cells, "synth_s": 12.5}))

    got = resources.sweep_builds(sweep, True, cache, True, tmp_path / "work", {})
    b0, b1 = got["builds"]
    assert (b0["status"], b0["point"], b0["pe_rows"], b0["pe_cols"], b0["res_depth"]) == ("synthesized", 0, 8, 4, 8192)
    assert (b0["lut"], b0["lut_ram"], b0["ff"], b0["bram36"], b0["dsp"]) == (1280, 80, 500, 3.5, 9)
    assert b1 == {
        "design": "sparse",
        "config": "ultra96v2-16x4",
        "pe_rows": 16,
        "pe_cols": 4,
        "acc_depth": 8,
        "res_depth": 8192,
        "point": 1,
        "status": "not synthesized",
    }
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", got["design_commit"])  # the design the numbers belong to
    text = resources.sweep_table("pe", got)
    assert "| 1 | 16 x 4 | 8192 | not synthesized |" in text and "| 0 | 8 x 4 | 8192 | 1,280 (2 %)" in text


def test_shipped_report_covers_every_point_of_the_pe_array_sweep():
    """docs/resources.json gives every point of workloads/sweeps/pe_array.yaml its own build (the
    point's configuration: rows, columns and residual buffer) or says plainly that it was not
    synthesized; the figure had resources for 3 of the 16 arrays, from other configurations."""
    report = json.loads((ROOT / "docs/resources.json").read_text())
    section = report["sweeps"]["pe_array"]
    assert section["file"] == "workloads/sweeps/pe_array.yaml"
    assert re.fullmatch(r"[0-9a-f]{40}", section["design_commit"])  # a committed design, not a dirty tree
    points = load_sweep(ROOT / section["file"]).points
    builds = section["builds"]
    assert [b["point"] for b in builds] == [p.index for p in points]
    for p, b in zip(points, builds, strict=True):
        hw = p.hardware
        assert (b["pe_rows"], b["pe_cols"]) == (hw["pe_array"]["rows"], hw["pe_array"]["cols"])
        assert (b["res_depth"], b["acc_depth"]) == (hw["buffers"]["res_depth"], hw["pe_array"]["acc_depth"])
        assert b["status"] in ("synthesized", "not synthesized")
        if b["status"] == "synthesized":
            assert all(b[k] > 0 for k in ("lut", "ff", "bram36", "dsp"))
        else:
            assert not {"lut", "ff", "bram36", "dsp"} & set(b)  # no guessed numbers
