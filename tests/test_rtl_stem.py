"""The stem unit: archsim/stem_unit.py (normaliser, packer, arithmetic, cycle formula) in plain pytest, and
rtl/verilog/bnn_stem.v under Icarus against it: every x0 value and every beat's cycle."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from archsim.functional import stem_output
from archsim.stem_unit import (
    Layout,
    align_cycles,
    first_beat_latency,
    image_beats,
    normalise,
    pack_params,
    unit_output,
    x0_beat_cycles,
)
from rtl.gen import VERILOG_DIR
from tests.rtlsim.configs import ROOT
from tests.rtlsim.icarus import run_block

STEM_V = VERILOG_DIR / "bnn_stem.v"
SHIPPED = ROOT / "workloads" / "resnet18_pruned.yaml"


def _shipped():
    from archsim.workload import load_workload

    wl = load_workload(str(SHIPPED))
    return wl.model.stem, wl.trace.inputs


# --------------------------------------------------------------------------- plain pytest


def test_normalise_scales_exactly_and_refuses():
    m, b = normalise(np.array([3, -5]), np.array([7, -9]), 20, 34)
    assert m.tolist() == [3 << 14, -5 << 14] and b.tolist() == [7 << 14, -9 << 14]
    with pytest.raises(ValueError, match=r"stem\.shift"):
        normalise(np.array([1]), np.array([0]), 35, 34)
    with pytest.raises(ValueError, match=r"stem\.mult"):
        normalise(np.array([1 << 33]), np.array([0]), 33, 34)  # M = 2**34: 35 bits signed do not hold it
    with pytest.raises(ValueError, match=r"stem\.bias"):
        normalise(np.array([1]), np.array([1 << 45]), 33, 34)
    with pytest.raises(ValueError, match="S"):
        normalise(np.array([1]), np.array([0]), 3, 16)


def test_shipped_model_at_s34_equals_stem_output():
    st, images = _shipped()
    m, b = normalise(st.mult, st.bias, st.shift, 34)
    want = stem_output(st, images)
    for n in range(len(images)):
        got = unit_output(st.weight, m, b, 34, st.input_offset, images[n, 0])
        assert np.array_equal(got, want[n])


def test_unit_arithmetic_saturates_like_stem_output():
    from archsim.format import Stem

    rng = np.random.default_rng(3)
    for _ in range(20):
        ch, shift = 6, int(rng.integers(18, 31))
        st = Stem(
            weight=rng.integers(-128, 128, (ch, 1, 3, 3)).astype(np.int8),
            mult=rng.integers(-(1 << 20), 1 << 20, ch).astype(np.int32),
            bias=rng.integers(-(1 << 33), 1 << 33, ch),
            shift=shift,
            input_offset=int(rng.integers(0, 256)),
        )
        img = rng.integers(0, 256, (1, 1, 5, 7)).astype(np.uint8)
        m, b = normalise(st.mult, st.bias, shift, 30)
        want = stem_output(st, img)[0]
        assert np.array_equal(unit_output(st.weight, m, b, 30, st.input_offset, img[0, 0]), want)


def test_pack_params_places_every_value():
    rng = np.random.default_rng(1)
    ch, d = 12, 64
    wt = rng.integers(-128, 128, (ch, 1, 3, 3))
    m = rng.integers(-(1 << 34), 1 << 34, ch)
    b = rng.integers(-(1 << 46), 1 << 46, ch)
    beats = pack_params(wt, m, b, d)
    lay = Layout(ch, d)
    assert len(beats) == lay.beats == 3 * 5 + 2 * 4 + 12
    assert all(0 <= v < 1 << d for v in beats)

    def field(stage: int, off: int, width: int) -> int:
        v = (beats[lay.beats - 1 - stage] >> off) & ((1 << width) - 1)
        return v - (1 << width) if v >> (width - 1) else v

    for c in range(ch):
        for dx in range(3):
            q = 3 * c + dx
            f, r = q % 8, q // 8
            assert [field(3 * r + 2, 8 * f, 8), field(3 * r, 8 * f, 8), field(3 * r + 1, 8 * f, 8)] == list(
                wt[c, 0, :, dx]
            )
        f, r = c % 3, c // 3
        lo = field(lay.m_base + 2 * r, 18 * f, 18)
        assert lo == int(m[c]) & ((1 << 17) - 1)
        assert field(lay.m_base + 2 * r + 1, 18 * f, 18) == int(m[c]) >> 17
        assert field(lay.b_base + c, 0, 48) == b[c]
    with pytest.raises(ValueError, match=r"stem\.weight"):
        pack_params(np.zeros((2, 3, 3, 3)), m[:2], b[:2], d)
    with pytest.raises(ValueError, match=r"stem\.weight"):
        pack_params(np.full((2, 1, 3, 3), 200), m[:2], b[:2], d)


def test_image_beats_and_cycle_formula():
    img = np.arange(35, dtype=np.uint8).reshape(5, 7)
    bb = image_beats(img, 64)
    assert len(bb) == 5 and bb[0] == int.from_bytes(bytes(range(8)), "little") and bb[4] >> 24 == 0
    assert Layout(64, 256).beats == 41  # the Ultra96v2's parameter load (bnn_stem.v header)
    cyc = x0_beat_cycles(5, 7, 12, 4)
    assert cyc[0] == first_beat_latency(7, 3) == 7 + 3 + 16 and cyc == list(range(cyc[0], cyc[0] + 5 * 7 * 3))
    assert align_cycles(7, 5, 9, 8, 64) == 9 - 5 and align_cycles(32, 32, 32, 32, 256) == 0


# --------------------------------------------------------------------------- RTL (Icarus)


def _run_rtl(params: dict, unit: dict, tmp_path) -> None:
    case = tmp_path / "case.json"  # too large for the environment
    case.write_text(json.dumps(unit))
    run_block("bnn_stem", [STEM_V], params, "tests.rtlsim.tb_stem", tmp_path, {"BNN_STEM_CASE": str(case)}, "stem")


def _case(ch, lanes, d, h, w, s, seed, mbits):
    rng = np.random.default_rng(seed)
    wt = rng.integers(-128, 128, (ch, 1, 3, 3))
    shift = s - 12 if mbits > 14 else int(rng.integers(s - 12, s + 1))
    mult = rng.integers(-(1 << mbits) + 1, 1 << mbits, ch)
    bias = rng.integers(-(1 << (shift + 12)), 1 << (shift + 12), ch)  # bias / 2**shift: 12 bits
    m, b = normalise(mult, bias, shift, s)
    off = int(rng.integers(0, 256))
    images = [rng.integers(0, 256, (h, w)).astype(np.uint8) for _ in range(2)]
    images[1][0, :] = 255  # extreme rows
    images[1][-1, :] = 0
    want = [unit_output(wt, m, b, s, off, im).tolist() for im in images]
    return wt, m, b, off, images, want


def _params(ch, lanes, d, h, w, s) -> dict:
    return {"CH": ch, "LANES": lanes, "D": d, "H": h, "W": w, "S": s, "VB": 16}


@pytest.mark.rtl
@pytest.mark.parametrize(
    ("ch", "lanes", "d", "hw", "hw_max", "s", "mbits", "sat"),
    [
        (12, 4, 64, (5, 7), (5, 7), 20, 10, 0.0),  # Q = 3, odd sides, rows across beats, nothing saturates
        (8, 2, 64, (7, 5), (9, 8), 24, 16, 0.5),  # Q = 4, a smaller image than the maxima, most values saturated
        (12, 4, 128, (4, 9), (4, 9), 34, 22, 0.01),  # S = 34, some saturated
        (9, 3, 48, (3, 1), (4, 1), 17, 14, 0.3),  # one column, S = 17
    ],
)
def test_stem_unit_small(ch, lanes, d, hw, hw_max, s, mbits, sat, tmp_path):
    (h, w), (hmax, wmax) = hw, hw_max
    wt, m, b, off, images, want = _case(ch, lanes, d, h, w, s, seed=ch * 100 + w, mbits=mbits)
    flat = np.array(want).ravel()
    assert (np.abs(flat) >= 32767).mean() >= sat and (sat > 0) == (np.abs(flat) >= 32767).any()
    params = _params(ch, lanes, d, hmax, wmax, s)
    unit = {
        **params,
        "h": h,
        "w": w,
        "images": [im.tolist() for im in images],
        "off": off,
        "beats": pack_params(wt, m, b, d),
        "want": want,
        "latency": first_beat_latency(w, ch // lanes, align_cycles(h, w, hmax, wmax, d)),
        "seed": w,
    }
    _run_rtl(params, unit, tmp_path)


@pytest.mark.rtl
def test_stem_unit_shipped_model_full_size(tmp_path):
    """The shipped model's stem on two of its trace's Fashion-MNIST images: x0 equal to stem_output."""
    st, images = _shipped()
    s = 34
    m, b = normalise(st.mult, st.bias, st.shift, s)
    want = stem_output(st, images[:2]).astype(int)
    params = _params(64, 16, 256, 32, 32, s)
    unit = {
        **params,
        "h": 32,
        "w": 32,
        "images": [images[n, 0].tolist() for n in range(2)],
        "off": st.input_offset,
        "beats": pack_params(st.weight, m, b, 256),
        "want": want.tolist(),
        "latency": first_beat_latency(32, 4),
        "seed": 5,
    }
    _run_rtl(params, unit, tmp_path)


@pytest.mark.rtl
def test_stem_illegal_parameters_stop_elaboration(tmp_path):
    for bad in ({"CH": 10, "LANES": 4}, {"CH": 8, "LANES": 4}, {"S": 16}):
        p = {**_params(12, 4, 64, 5, 7, 20), **bad}
        args = [f"-Pbnn_stem.{k}={v}" for k, v in p.items()]
        r = subprocess.run(
            ["iverilog", "-g2012", "-o", str(tmp_path / "x"), "-s", "bnn_stem", *args, str(STEM_V)],
            capture_output=True,
            text=True,
        )
        assert r.returncode != 0 and "bnn_stem_illegal_parameters" in r.stdout + r.stderr, (bad, r.stderr)


@pytest.mark.rtl
def test_dsp_wrappers_match_the_primitive(tmp_path):
    """bnn_dsp_mac (a chain of three, PCIN) and bnn_dsp_aff, behavioural code against Xilinx's DSP48E2 model:
    equal transcripts under random and extreme operands. Needs the unisim library's DSP48E2.v and glbl.v in
    $BNN_UNISIM (not part of this repository)."""
    import os
    from pathlib import Path

    lib = Path(os.environ.get("BNN_UNISIM", "/nonexistent"))
    if not (lib / "DSP48E2.v").is_file() or not (lib / "glbl.v").is_file():
        pytest.skip("set BNN_UNISIM to a folder with Xilinx's DSP48E2.v and glbl.v")
    tb = ROOT / "tests" / "rtlsim" / "hdl" / "tb_stem_dsp.v"
    out = []
    for extra in ([], ["-DBNN_DSP48E2", "-s", "glbl", str(lib / "DSP48E2.v"), str(lib / "glbl.v")]):
        vvp = tmp_path / f"t{len(out)}.vvp"
        cmd = ["iverilog", "-g2012", "-DCYCLES=20000", "-o", str(vvp), "-s", "tb_stem_dsp", str(STEM_V), str(tb)]
        subprocess.run(cmd + extra, check=True, capture_output=True)
        out.append(subprocess.run(["vvp", "-n", str(vvp)], check=True, capture_output=True, text=True).stdout)
    assert len(out[0].splitlines()) == 20000 - 8 and "x" not in out[0]
    assert out[0] == out[1]


def _yosys(tmp_path, top_text: str, chparam: str = ""):
    import shutil

    from rtl.yosys_stats import DSP_DEFINE, parse_stat

    if shutil.which("yosys") is None:
        pytest.skip("yosys not installed")
    top = tmp_path / "top.v"
    top.write_text(top_text)
    log = tmp_path / "yosys.log"
    script = (
        f"read_verilog -D{DSP_DEFINE} {STEM_V} {top}; {chparam}synth_xilinx -family xcup -top top -flatten -abc9; stat"
    )
    subprocess.run(["yosys", "-q", "-l", str(log), "-p", script], check=True, capture_output=True)
    return parse_stat(log.read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    "inst",
    [
        "bnn_dsp_mac u (.clk(clk), .ld(i[0]), .a_in(i[8:1]), .d_in(i[16:9]), .x(i[25:17]), .inmode(i[28:26]), "
        ".opmode(i[37:29]), .pcin({i[63:38], i[21:0]}), .p(o), .pcout(o2));",
        "bnn_dsp_aff #(.AW(20), .PDB(32)) u (.clk(clk), .ld(i[0]), .b_in(i[18:1]), .c_in({i[63:19], i[2:0]}), "
        ".a(i[38:19]), .cea(i[39]), .bsel(i[40]), .p1(i[41]), .cep(i[42]), .p(o), .pd(o2[0]), .pbd(o2[1]));",
    ],
)
def test_stem_dsp_wrappers_map_to_one_dsp48e2(tmp_path, inst):
    """With the resource flow's define each wrapper is one DSP48E2 and nothing in fabric."""
    u = _yosys(
        tmp_path, f"module top(input clk, input [63:0] i, output [47:0] o, output [47:0] o2);\n  {inst}\nendmodule\n"
    )
    assert (u.dsp, u.lut, u.ff) == (1, 0, 0), u.cells


@pytest.mark.slow
def test_stem_unit_small_synthesis(tmp_path):
    """A small unit (CH 12, LANES 4, D 64, 5 x 7): 4 CH DSP48E2, no LUT RAM, shift-register LUTs only for the
    two line buffers (SRLC32E, 8 bits each; the FIFO, delay lines and parameter chain stay flip-flops), a few
    hundred LUTs."""
    ports = (
        "input clk, input rst, input [7:0] off, input prm_valid, input [63:0] prm_data, input img_valid, "
        "input [63:0] img_data, input img_last, output x0_valid, output [63:0] x0_data, output done"
    )
    inst = (
        "bnn_stem #(.CH(12), .LANES(4), .D(64), .H(5), .W(7), .S(20)) u (.clk(clk), .rst(rst), .off(off), "
        ".prm_valid(prm_valid), .prm_data(prm_data), .img_valid(img_valid), .img_data(img_data), "
        ".img_last(img_last), .x0_valid(x0_valid), .x0_data(x0_data), .done(done));"
    )
    u = _yosys(tmp_path, f"module top({ports});\n  {inst}\nendmodule\n")
    srl = sum(n for c, n in u.cells.items() if c.startswith("SRL"))
    assert u.dsp == 48 and srl == u.lut_ram == 16, u.cells
    assert 100 < u.lut < 400 and u.ff > 2000, u.cells


@pytest.mark.slow
def test_quoted_resources_are_the_full_size_units(tmp_path):
    """README, rtl/README.md and the module header quote bnn_stem's resources at the Ultra96v2 size (CH 64,
    LANES 16, D 256, 32 x 32, S 34): they must be what Yosys gives now, not typed-in numbers (about 3 min)."""
    import shutil

    from rtl.yosys_stats import DSP_DEFINE, parse_stat

    if shutil.which("yosys") is None:
        pytest.skip("yosys not installed")
    log = tmp_path / "yosys.log"
    script = (
        f"read_verilog -D{DSP_DEFINE} {STEM_V}; chparam -set CH 64 -set LANES 16 -set D 256 -set H 32 -set W 32 "
        "-set S 34 bnn_stem; synth_xilinx -family xcup -top bnn_stem -flatten -abc9; stat"
    )
    subprocess.run(["yosys", "-q", "-l", str(log), "-p", script], check=True, capture_output=True)
    u = parse_stat(log.read_text())

    def text(path: str) -> str:
        return " ".join((ROOT / path).read_text().split())

    assert f"alone {u.lut:,} LUTs, {u.ff:,} FFs and {u.dsp} DSP48E2" in text("README.md")
    row = f"| {u.lut:,} | {u.lut_ram} (SRLC32E: the line buffers) | {u.ff:,} | {u.bram36:g} | {u.dsp} |"
    assert row in text("rtl/README.md")
    header = f"{u.lut:,} LUTs ({u.lut_logic:,} logic, {u.lut_ram} SRLC32E, no LUT RAM), {u.ff:,} FFs, {u.bram36:g} BRAM, {u.dsp}"
    assert header in " ".join(line.lstrip("/ ") for line in STEM_V.read_text().splitlines())
