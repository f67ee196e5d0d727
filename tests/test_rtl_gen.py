"""rtl/gen.py, the register map and the resource-report parser."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archsim.errors import ConfigError
from archsim.format import save_model
from archsim.layout import build_layout
from archsim.program import compile_program
from rtl import regmap
from rtl.gen import VERILOG_DIR
from rtl.params import RtlParams
from rtl.resources import table
from rtl.yosys_stats import parse_stat
from tests.rtlsim.cases import case
from tests.rtlsim.configs import ROOT, tiny, tiny_dict, ultra96, write_config


def gen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "rtl" / "gen.py"), *args], capture_output=True, text=True, cwd=ROOT
    )


def test_gen_writes_verilog_params_and_images(tmp_path):
    spec = case("program")
    cfg = spec.config()
    cfg_file = write_config(cfg, tmp_path / "tiny.yaml")
    c = spec.make()
    save_model(tmp_path / "m.npz", c.model)
    p = gen("--config", str(cfg_file), "--model", str(tmp_path / "m.npz"), "--out", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    v = tmp_path / "out" / "verilog"
    assert (v / "bnn_accel.v").exists() and (v / "bnn_regmap.vh").exists() and (v / "bnn_core.v").exists()
    top = (v / "bnn_accel.v").read_text()
    assert ".ROWS(4)" in top and ".COLS(4)" in top and ".SPARSE(1)" in top
    params = json.loads((tmp_path / "out" / "params.json").read_text())
    assert params["verilog_parameters"]["E_MEM"] == RtlParams(cfg).e_mem
    regs = json.loads((tmp_path / "out" / "mem" / "regs.json").read_text())
    lay = build_layout(c.model, compile_program(c.model, cfg, "sparse"), cfg)
    want = regmap.program_writes(lay, RtlParams(cfg))
    assert [(r["addr"], r["value"]) for r in regs] == [(w.addr, w.value) for w in want]
    base, blob = lay.blob_image()
    assert (tmp_path / "out" / "mem" / "ddr.bin").read_bytes() == blob
    assert json.loads((tmp_path / "out" / "mem" / "layout.json").read_text())["blob_base"] == base


def test_gen_dense_sets_the_switch(tmp_path):
    p = gen("--dense", "--out", str(tmp_path / "d"))
    assert p.returncode == 0, p.stderr
    assert ".SPARSE(0)" in (tmp_path / "d" / "verilog" / "bnn_accel.v").read_text()


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"axi": {"data_bits": 128}}, "axi.data_bits"),  # does not divide a 64-bit residual word
        ({"pe_array": {"acc_bits": 8}, "epilogue": {"value_bits": 16}}, None),  # fine
    ],
)
def test_gen_rejects_what_the_rtl_cannot_build(over, field, tmp_path):
    import yaml

    d = tiny_dict(**over)
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(d))
    p = gen("--config", str(f), "--out", str(tmp_path / "o"))
    if field is None:
        assert p.returncode == 0, p.stderr
        return
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(f) in lines[0] and field in lines[0] and "Traceback" not in p.stderr


def test_gen_missing_config_is_one_line(tmp_path):
    p = gen("--config", str(tmp_path / "nope.yaml"))
    assert p.returncode == 2 and "file not found" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_register_map_header_matches_the_verilog():
    hdr = regmap.verilog_header()
    regs_v = (VERILOG_DIR / "bnn_regs.v").read_text()
    for f in regmap.LAYER_FIELDS:
        assert f"LF_{f.upper()} = {regmap.LAYER_FIELDS.index(f)};" in hdr
        assert f"LF_{f.upper()}" in regs_v, f"layer field {f} not decoded by bnn_regs.v"
    for f in regmap.PASS_FIELDS:
        assert f"PF_{f.upper()}" in regs_v, f"pass field {f} not decoded by bnn_regs.v"
    for f in regmap.GLOBAL_FIELDS:
        assert f"G_{f.upper()}" in regs_v
    for f in regmap.HW_FIELDS:
        assert f"HW_{f.upper()}" in regs_v
    # the readme documents every field
    readme = (ROOT / "rtl" / "README.md").read_text()
    for f in (*regmap.LAYER_FIELDS, *regmap.PASS_FIELDS, *regmap.GLOBAL_FIELDS, *regmap.HW_FIELDS):
        assert f in readme, f"rtl/README.md does not mention field {f}"
    # regions do not overlap and hold the maximum counts
    assert regmap.LAYER_BASE + regmap.max_layers_in_map() * regmap.LAYER_STRIDE <= regmap.PASS_BASE
    assert regmap.PASS_BASE + regmap.max_passes_in_map() * regmap.PASS_STRIDE <= regmap.LOG_BASE


def test_program_writes_refuse_values_the_hardware_would_truncate():
    spec = case("c3_s1")
    cfg = spec.config()
    c = spec.make()
    lay = build_layout(c.model, compile_program(c.model, cfg, "sparse"), cfg)
    prm = RtlParams(cfg, max_passes=4)
    writes = regmap.program_writes(lay, prm)
    assert len({w.addr for w in writes}) == len(writes)
    widths = regmap.field_widths(prm)
    assert all(w.value < (1 << 32) for w in writes)
    assert widths["pass.addr"] == 32
    import dataclasses

    bad = dataclasses.replace(lay, layers=(dataclasses.replace(lay.layers[0], shift=70),))
    with pytest.raises(ConfigError, match="shift"):
        regmap.program_writes(bad, prm)


def test_rtl_params_reject_a_dense_programme_on_the_sparse_build():
    spec = case("dense_prog")
    cfg = spec.config()
    c = spec.make()
    lay = build_layout(c.model, compile_program(c.model, cfg, "dense"), cfg)
    with pytest.raises(ConfigError, match="dense-mode programme"):
        regmap.program_writes(lay, RtlParams(cfg, sparse=True))


STAT = """
=== bnn_accel ===

   Number of wires:              10
   Number of cells:             123
     CARRY8                         4
     DSP48E2                       16
     FDRE                         900
     FDSE                          12
     LUT1                          10
     LUT2                          20
     LUT6                         300
     LUT6_2                         5
     MUXF7                         40
     RAM32M                         3
     RAM64X1D                       2
     RAMB18E2                       3
     RAMB36E2                       7

"""


def test_parse_stat_counts_luts_ffs_bram_dsp():
    u = parse_stat("junk\n" + STAT)
    assert u.lut_logic == 10 + 20 + 300 + 5
    assert u.lut_ram == 3 * 4 + 2 * 2
    assert u.ff == 912 and u.dsp == 16 and u.bram36 == 8.5
    t = table([("x", u)])
    assert "351 (0.5 %)" in t and "8.5 (3.9 %)" in t
    with pytest.raises(ValueError):
        parse_stat("no statistics here")


def test_regeneration_keeps_the_hand_written_section(tmp_path):
    from rtl.resources import PROSE_HEAD, kept_prose

    out = tmp_path / "resources.md"
    assert kept_prose(out) == ""
    out.write_text("# Resources\n\n| table |\n")
    assert kept_prose(out) == ""
    out.write_text(f"# Resources\n\n| table |\n\n{PROSE_HEAD}\n\nper-block numbers\n")
    assert kept_prose(out) == f"\n{PROSE_HEAD}\n\nper-block numbers\n"


@pytest.mark.slow
def test_yosys_on_a_small_config(tmp_path):
    """The real flow on the smallest configuration: Yosys runs and its report parses."""
    from rtl.resources import synthesize

    d = tiny_dict(
        pe_array={"cols": 2, "acc_depth": 2},
        buffers={"act_bank_depth": 16, "res_depth": 64, "weight_depth": 32, "list_depth": 32},
    )
    from archsim.config import HardwareConfig

    cfg = HardwareConfig.model_validate(d)
    cache = tmp_path / "cache"
    u, secs, tail = synthesize(cfg, True, tmp_path / "a", cache=cache)
    assert u.lut > 0 and u.ff > 0 and u.dsp == cfg.pe_array.rows  # one DSP multiplier per PE row
    assert tail != "(cached)" and len(list(cache.glob("*.json"))) == 1
    # the same generated Verilog again: the cell counts come from the cache, Yosys does not run
    again, secs_again, tail = synthesize(cfg, True, tmp_path / "b", cache=cache)
    assert tail == "(cached)" and (again.lut, again.ff, again.dsp, secs_again) == (u.lut, u.ff, u.dsp, secs)
    # other RTL (the dense build) misses the cache
    _, _, tail = synthesize(cfg, False, tmp_path / "c", cache=cache)
    assert tail != "(cached)" and len(list(cache.glob("*.json"))) == 2


@pytest.mark.slow
def _synth_lib_top(tmp_path, top, flags: str, abc9: bool):
    """`top` (a small module around one bnn_lib.v module) through Yosys' Xilinx flow; its cell counts."""
    log = tmp_path / "yosys.log"
    synth = "synth_xilinx -family xcup -top top -flatten" + (" -abc9" if abc9 else "")
    script = f"read_verilog {flags} {VERILOG_DIR / 'bnn_lib.v'} {top}; {synth}; stat"
    subprocess.run(["yosys", "-q", "-l", str(log), "-p", script], check=True, capture_output=True)
    return parse_stat(log.read_text())


@pytest.mark.parametrize(
    ("define", "widths", "primitive"),
    [(True, (16, 16, 32, 33), True), (False, (16, 16, 32, 33), False), (True, (16, 20, 32, 37), False)],
)
def test_dsp_madd_maps_to_one_dsp48e2(tmp_path, define, widths, primitive):
    """With the resource flow's define, the epilogue's multiply-add is one DSP48E2 and no fabric (Yosys alone
    leaves the post-adder in LUTs); an operand wider than the slice keeps the behavioural code."""
    import shutil

    from rtl.yosys_stats import DSP_DEFINE

    if shutil.which("yosys") is None:
        pytest.skip("yosys not installed")
    aw, bw, cw, pw = widths
    top = tmp_path / "top.v"
    top.write_text(
        f"module top(input clk, input [{aw - 1}:0] a, input [{bw - 1}:0] b, input [{cw - 1}:0] c, "
        f"output [{pw - 1}:0] p);\n  bnn_dsp_madd #(.AW({aw}), .BW({bw}), .CW({cw}), .PW({pw})) u "
        "(.clk(clk), .a(a), .b(b), .c(c), .p(p));\nendmodule\n"
    )
    u = _synth_lib_top(tmp_path, top, f"-D{DSP_DEFINE}" if define else "", abc9=False)
    if primitive:
        assert (u.dsp, u.lut, u.ff) == (1, 0, 0), u.cells
    else:
        assert u.dsp >= 1 and u.lut > 0, u.cells


def _xilinx_cells_sim():
    """Yosys' own simulation models of the Xilinx primitives (MUXF7, MUXF8, ...), beside its executable."""
    import shutil

    yosys = shutil.which("yosys")
    if yosys is None:
        pytest.skip("yosys not installed")
    path = Path(yosys).resolve().parents[1] / "share" / "yosys" / "xilinx" / "cells_sim.v"
    if not path.exists():
        pytest.skip(f"{path}: Yosys' Xilinx models not found")
    return path


BITSEL_TB = """`timescale 1ns/1ps
module tb;
    reg [{w}-1:0] v;
    reg [{sw}-1:0] s;
    wire o;
    bnn_bitsel #(.W({w}), .SW({sw})) u (.v(v), .sel(s), .o(o));
    integer i, k, bad;
    initial begin
        bad = 0;
        for (k = 0; k < 64; k = k + 1) begin
            v = {{$random, $random}};
            for (i = 0; i < {w}; i = i + 1) begin s = i; #1; if (o !== v[i]) bad = bad + 1; end
        end
        $display("checked %0d bad %0d", 64 * {w}, bad);
        $finish;
    end
endmodule
"""


@pytest.mark.parametrize(("w", "sw"), [(16, 4), (32, 5), (64, 6), (48, 6)])
def test_bitsel_with_muxf_primitives_selects_every_bit(tmp_path, w, sw):
    """bnn_bitsel under BNN_MUXF (the resource and Vivado flows): the LUT + MUXF7 / MUXF8 tree, simulated with
    Yosys' models of the primitives, returns bit `sel` of the word for every select of 64 random words; a
    width that is not 2^SW keeps the behavioural select."""
    import shutil

    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not installed")
    cells = _xilinx_cells_sim()
    tb = tmp_path / "tb.v"
    tb.write_text(BITSEL_TB.format(w=w, sw=sw))
    exe = tmp_path / "tb.vvp"
    subprocess.run(
        [
            "iverilog",
            "-g2005",
            "-DBNN_MUXF",
            "-s",
            "tb",
            "-o",
            str(exe),
            str(tb),
            str(VERILOG_DIR / "bnn_lib.v"),
            str(cells),
        ],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(["vvp", "-n", str(exe)], check=True, capture_output=True, text=True).stdout
    assert f"checked {64 * w} bad 0" in out, out


@pytest.mark.slow
@pytest.mark.parametrize(("define", "cells"), [(True, {"LUT6": 17, "MUXF7": 8, "MUXF8": 4}), (False, {})])
def test_bitsel_maps_to_muxf(tmp_path, define, cells):
    """With the resource flow's defines a 64:1 bit select is 16 LUT6 4:1 multiplexers, the slice's MUXF7 /
    MUXF8 and one LUT6 for the last 4:1; Yosys 0.23 alone builds it of more LUTs and no MUXF."""
    from rtl.yosys_stats import DEFINE_FLAGS

    _xilinx_cells_sim()
    top = tmp_path / "top.v"
    top.write_text(
        "module top(input [63:0] v, input [5:0] s, output o);\n"
        "  bnn_bitsel #(.W(64), .SW(6)) u (.v(v), .sel(s), .o(o));\nendmodule\n"
    )
    u = _synth_lib_top(tmp_path, top, DEFINE_FLAGS if define else "", abc9=True)
    if define:
        assert u.lut == 17 and all(u.cells.get(c) == n for c, n in cells.items()), u.cells
    else:
        assert u.lut > 17 and "MUXF7" not in u.cells, u.cells


def test_latencies_are_the_rtls():
    from archsim.contract import LATENCIES
    from rtl.params import RTL_LATENCIES, check_latencies

    assert RTL_LATENCIES == LATENCIES
    check_latencies()
    with pytest.raises(ConfigError):
        check_latencies(type(LATENCIES)(load=3))


def test_ultra96_parameters():
    p = RtlParams(ultra96()).verilog()
    assert (p["ROWS"], p["COLS"], p["G"], p["BA"], p["D"], p["IB"]) == (16, 16, 8, 64, 256, 3)
    assert p["E_MEM"] == 384 and p["M3"] == 2 and p["M1"] == 6  # two 3x3 steps or six 1x1 steps per entry
    assert re.match(r"^\d+$", str(p["WAW"]))
    assert RtlParams(tiny(), sparse=False).verilog()["IB"] == 0


def test_resource_json_is_what_analysis_reads(tmp_path):
    """The JSON entries carry the keys analysis.readers.load_resources looks for."""
    from analysis.readers import load_resources
    from rtl.resources import _entry, with_shape

    u = parse_stat(STAT)
    c = ultra96()
    cfg = c.model_copy(update={"axi": c.axi.model_copy(update={"data_bits": 128, "hp_ports": 1})})  # 8 rows: 128 bits
    entries = [_entry("sparse", cfg, u, 1.0), _entry("sparse", with_shape(cfg, 8, 16), u, 2.0)]
    f = tmp_path / "resources.json"
    f.write_text(json.dumps({"kind": "bnn-rtl-resources", "builds": entries}))
    got = load_resources(f)
    assert [(e.rows, e.cols) for e in got] == [(16, 16), (8, 16)]
    assert got[0].values == {"lut": u.lut, "ff": u.ff, "bram36": u.bram36, "dsp": u.dsp}


def test_equal_area_dense_build_is_the_largest_that_fits():
    """rtl.resources picks the dense build with the most columns within the sparse build's LUTs."""
    from rtl.resources import equal_area

    def e(design, cols, lut):
        return {"design": design, "pe_rows": 16, "pe_cols": cols, "lut": lut, "ff": 1, "bram36": 1, "dsp": 1}

    sparse = e("sparse", 16, 46_000)
    builds = [sparse, e("dense", 16, 40_000), e("dense", 18, 44_000), e("dense", 19, 45_900), e("dense", 20, 48_000)]
    assert equal_area(builds)["pe_cols"] == 19
    assert equal_area([sparse, e("dense", 16, 40_000)]) is None  # no larger dense build synthesized
    assert equal_area([sparse, e("dense", 16, 40_000), e("dense", 18, 47_000)])["pe_cols"] == 16


def test_gen_writes_a_streams_images(tmp_path):
    """--stream N (docs/timing.md 9): mem/ holds the stream's layout (N input maps and outputs at 4 KiB
    strides) and its register writes (n_images, strides); a bad count or no model is one line, exit 2,
    nothing written."""
    spec = case("pooled_program")
    cfg = spec.config()
    cfg_file = write_config(cfg, tmp_path / "tiny.yaml")
    c = spec.make()
    save_model(tmp_path / "m.npz", c.model)
    out = tmp_path / "out"
    p = gen("--config", str(cfg_file), "--model", str(tmp_path / "m.npz"), "--stream", "3", "--out", str(out))
    assert p.returncode == 0, p.stderr
    lay = build_layout(c.model, compile_program(c.model, cfg, "sparse"), cfg, n_images=3)
    regs = json.loads((out / "mem" / "regs.json").read_text())
    assert [(r["addr"], r["value"]) for r in regs] == [
        (w.addr, w.value) for w in regmap.program_writes(lay, RtlParams(cfg))
    ]
    assert {r["what"]: r["value"] for r in regs}["global.n_images"] == 3
    got = json.loads((out / "mem" / "layout.json").read_text())
    assert (got["n_images"], got["load_stride"], got["store_stride"]) == (3, lay.load_stride, lay.store_stride)
    assert got["load_stride"] % 4096 == 0 and got["blob_base"] == lay.blob_base
    for bad in (["--model", str(tmp_path / "m.npz"), "--stream", "0"], ["--stream", "2"]):
        p = gen("--config", str(cfg_file), *bad, "--out", str(tmp_path / "bad"))
        assert p.returncode == 2 and p.stderr.count("\n") == 1 and "stream" in p.stderr, p.stderr
        assert not (tmp_path / "bad").exists()
