"""Unit tests of single RTL blocks against numpy (Icarus): gearbox, position generator and
window addresses, popcount and bank rotation, PE array with its index decoder."""

from __future__ import annotations

import json
import math

import pytest

from rtl.gen import VERILOG_DIR
from tests.rtlsim.configs import ROOT
from tests.rtlsim.icarus import run_block

pytestmark = pytest.mark.rtl

HDL = ROOT / "tests" / "rtlsim" / "hdl"


def _run(top: str, sources: list, params: dict, testcase: str, unit: dict, tmp_path) -> None:
    run_block(top, sources, params, "tests.rtlsim.tb_units", tmp_path, {"BNN_UNIT": json.dumps(unit)}, testcase)


@pytest.mark.parametrize(
    ("in_w", "sb", "out_w"),
    [
        (64, (12, 44), 88),  # 4x4-ish array, 4 slots: 1x1 steps 7 per entry, 3x3 steps 2 per entry
        (128, (64, 192), 192),  # Ultra96v2 sparse: 1x1 3 per entry, 3x3 one per entry
        (32, (4, 36), 36),  # dense 4-row array: 9 and 1 per entry
    ],
)
def test_gearbox(in_w, sb, out_w, tmp_path):
    cb = tuple((out_w // s) * s for s in sb)
    gran = math.gcd(in_w, *cb)
    params = {
        "IN_W": in_w,
        "OUT_W": out_w,
        "GRAN": gran,
        "CB_A": cb[0],
        "CB_B": cb[1],
        "FW": ((out_w + in_w) // gran).bit_length(),
    }
    unit = {**params, "SB": list(sb), "seed": in_w}
    _run("bnn_gearbox", [VERILOG_DIR / "bnn_lib.v"], params, "gearbox", unit, tmp_path)


def test_posgen_and_window_addresses(tmp_path):
    params = {"CW": 8, "AAW": 10, "RAW": 12, "NCW": 4}
    maps = [[7, 5, 1, 3], [8, 8, 2, 3], [9, 7, 2, 1], [4, 4, 1, 1], [1, 1, 1, 3], [5, 2, 2, 3]]
    _run(
        "tb_posgen",
        [VERILOG_DIR / "bnn_lib.v", HDL / "tb_posgen.v"],
        params,
        "posgen",
        {**params, "maps": maps},
        tmp_path,
    )


def test_popcount_and_rotation(tmp_path):
    _run("tb_comb", [VERILOG_DIR / "bnn_lib.v", HDL / "tb_comb.v"], {}, "comb", {}, tmp_path)


@pytest.mark.parametrize(
    ("aw", "bw", "cw", "pw"),
    [
        (16, 16, 32, 33),  # the Ultra96v2 epilogue: acc_bits x mult_bits + bias_bits
        (12, 8, 20, 21),  # narrower than the slice
        (27, 18, 40, 48),  # the DSP48E2's widest multiplier operands
    ],
)
def test_dsp_madd(aw, bw, cw, pw, tmp_path):
    """bnn_dsp_madd's behaviour (what the DSP48E2 primitive is configured to do, rtl/README.md)."""
    params = {"AW": aw, "BW": bw, "CW": cw, "PW": pw}
    _run("bnn_dsp_madd", [VERILOG_DIR / "bnn_lib.v"], params, "dsp_madd", {**params, "seed": aw}, tmp_path)


@pytest.mark.parametrize("sparse", [1, 0])
def test_pe_array(sparse, tmp_path):
    rows, ib = 3, (2 if sparse else 0)
    sb3, sb1 = rows * (9 + ib), rows * (1 + ib)
    params = {
        "ROWS": rows,
        "COLS": 2,
        "CLW": 1,
        "GW": 2,
        "ACC_W": 12,
        "ACC_S": 10,
        "IB": ib,
        "SPARSE": sparse,
        "E_MEM": sb3,
        "MW": max(1, math.ceil(math.log2(sb3 // sb1))),
        "M1": sb3 // sb1,
        "M3": 1,
        "UW": 8,
    }
    _run(
        "bnn_pe_array",
        [VERILOG_DIR / "bnn_lib.v", VERILOG_DIR / "bnn_pe_array.v"],
        params,
        "pe_array",
        {**params, "G": 4, "seed": sparse},
        tmp_path,
    )
