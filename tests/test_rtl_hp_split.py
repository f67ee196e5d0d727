"""The HP-port splitter (rtl/verilog/bnn_hp_split.v) alone under Icarus: random skew and
back-pressure on both ports, data, order, RLAST and the responses checked (tests/rtlsim/tb_hp_split.py);
with equal ports, no cycle added. Illegal parameters stop elaboration."""

from __future__ import annotations

import json
import subprocess

import pytest

from rtl.gen import VERILOG_DIR
from tests.rtlsim.icarus import run_block

pytestmark = pytest.mark.rtl

SRC = VERILOG_DIR / "bnn_hp_split.v"
PLANE = 65536  # small DDR for the test; the board's is rtl/board.py HP_PLANE_BYTES


def _run(params: dict, unit: dict, tmp_path) -> None:
    run_block("bnn_hp_split", [SRC], params, "tests.rtlsim.tb_hp_split", tmp_path, {"BNN_UNIT": json.dumps(unit)})


@pytest.mark.parametrize("port_bits", [64, 128])
@pytest.mark.parametrize("equal", [False, True], ids=["skewed", "equal"])
def test_hp_split(port_bits, equal, tmp_path):
    params = {"D": 2 * port_bits, "AXW": 32, "PLANE": PLANE}
    unit = {"H": port_bits, "PLANE": PLANE, "seed": port_bits + int(equal), "equal": equal, "bursts": 60}
    _run(params, unit, tmp_path)


@pytest.mark.parametrize(
    "bad", [{"D": 512}, {"D": 32}, {"PLANE": 100}, {"PLANE": 0}, {"AXW": 40}], ids=["D512", "D32", "odd", "zero", "axw"]
)
def test_hp_split_illegal_parameters(bad, tmp_path):
    params = {"D": 256, "AXW": 32, "PLANE": PLANE, **bad}
    args = [
        "iverilog",
        "-g2005",
        "-o",
        str(tmp_path / "a.out"),
        *(f"-Pbnn_hp_split.{k}={v}" for k, v in params.items()),
    ]
    proc = subprocess.run([*args, str(SRC)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "bnn_hp_split_illegal_parameters" in proc.stdout + proc.stderr
    ok = {"D": 256, "AXW": 32, "PLANE": PLANE}
    args = ["iverilog", "-g2005", "-o", str(tmp_path / "b.out"), *(f"-Pbnn_hp_split.{k}={v}" for k, v in ok.items())]
    assert subprocess.run([*args, str(SRC)], capture_output=True, text=True, timeout=60).returncode == 0
