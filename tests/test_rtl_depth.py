"""rtl/depth.py: the longest paths between clocked elements of the mapped design (rules D1-D5 in its
docstring), on hand-made netlists with known answers, on Yosys' mapping of one library module, and
on the committed reports of the Ultra96v2 builds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from archsim.config import HardwareConfig
from archsim.errors import ConfigError
from rtl import depth
from rtl.yosys_stats import DEFINE_FLAGS
from tests.rtlsim.configs import tiny_dict

VERILOG_DIR = Path(__file__).resolve().parents[1] / "rtl" / "verilog"

PINS = {  # the input pins of each hand-made cell type, in order; the rest are outputs
    "FDRE": ("C", "CE", "R", "D"),
    "LUT1": ("I0",),
    "LUT2": ("I0", "I1"),
    "LUT6": ("I0", "I1", "I2", "I3", "I4", "I5"),
    "MUXF7": ("I0", "I1", "S"),
    "CARRY8": ("CI", "DI", "S"),
    "RAM64X1D": ("WCLK", "WE", "D", "A", "DPRA"),
    "IBUF": ("I",),
    "OBUF": ("I",),
    "DSP48E2": ("A", "B"),
    "WEIRD": ("I",),
}


class Net:
    """A hand-made Yosys JSON netlist: cells by (type, {pin: bits}), nets named where asked."""

    def __init__(self) -> None:
        self.cells: dict[str, dict] = {}
        self.names: dict[str, dict] = {}
        self.ports: dict[str, dict] = {}

    def cell(self, name: str, ctype: str, **pins: int | list[int]) -> None:
        conns = {p: (b if isinstance(b, list) else [b]) for p, b in pins.items()}
        dirs = {p: ("input" if p in PINS[ctype] else "output") for p in conns}
        self.cells[name] = {"type": ctype, "port_directions": dirs, "connections": conns}

    def name(self, name: str, bit: int, hidden: bool = False) -> None:
        self.names[name] = {"bits": [bit], "hide_name": int(hidden)}

    def port(self, name: str, direction: str, bit: int) -> None:
        self.ports[name] = {"direction": direction, "bits": [bit]}

    def json(self) -> dict:
        top = {"attributes": {"top": "00000000000000000000000000000001"}, "ports": self.ports}
        return {"modules": {"t": {**top, "cells": self.cells, "netnames": self.names}}}


def ff(net: Net, name: str, d: int, q: int) -> None:
    net.cell(name, "FDRE", C=1, CE=2, R=3, D=d, Q=q)


def test_d3_d4_luts_and_muxf_between_two_registers():
    """FF -> LUT -> LUT -> MUXF7 -> FF is (2 LUT, 0 carry, 1 MUXF); the shorter side branch is not the path."""
    n = Net()
    ff(n, "ra", d=100, q=10)
    ff(n, "rb", d=101, q=13)
    n.cell("l1", "LUT1", I0=10, O=11)
    n.cell("l2", "LUT2", I0=11, I1=13, O=12)
    n.cell("m", "MUXF7", I0=12, I1=13, S=13, O=14)
    ff(n, "rc", d=14, q=15)
    n.name("u_pe.a", 10)
    n.name("u_epi.c", 15)
    found = depth.paths(n.json())
    p = found[0]
    assert p.depth == (2, 0, 1) and p.cells == ("LUT1", "LUT2", "MUXF7")
    assert (p.start, p.start_kind, p.end, p.end_kind, p.block) == ("u_pe.a", "FDRE", "u_epi.c", "FDRE", "u_epi")
    assert [q.end for q in found] == ["u_epi.c"]  # ra and rb have no logic in front (D2 needs a path)


def test_d4_luts_rank_above_carry_blocks():
    """Two LUT levels are deeper than one LUT level and three carry blocks (D4's order)."""
    n = Net()
    ff(n, "ra", d=100, q=10)
    n.cell("l", "LUT1", I0=10, O=20)
    n.cell("c0", "CARRY8", CI=20, DI=10, S=10, CO=21)
    n.cell("c1", "CARRY8", CI=21, DI=10, S=10, CO=22)
    n.cell("c2", "CARRY8", CI=22, DI=10, S=10, O=23)
    ff(n, "carry_end", d=23, q=30)
    n.cell("la", "LUT1", I0=10, O=24)
    n.cell("lb", "LUT1", I0=24, O=25)
    ff(n, "lut_end", d=25, q=31)
    n.name("u_core.u_wr.carry_q", 30)
    n.name("u_core.g_mask.u_mask.lut_q", 31)
    n.name("$\\u_core.u_rd.mem$rdreg[0]$q", 10, hidden=True)
    found = depth.paths(n.json())
    assert [(p.end, p.depth) for p in found] == [
        ("u_core.g_mask.u_mask.lut_q", (2, 0, 0)),
        ("u_core.u_wr.carry_q", (1, 3, 0)),
    ]
    assert found[1].cells == ("LUT1", "CARRY8", "CARRY8", "CARRY8")
    assert [p.block for p in depth.per_block(found)] == ["g_mask.u_mask", "u_wr"]
    assert found[0].start == "u_core.u_rd.mem$rdreg[0]$q"  # a name Yosys made, its hierarchy kept (D5)
    for made in ("$techmap7\\u_core.u_wmem.mem.0.0.DO_A", "$techmap5$flatten\\u_core.\\u_wmem.mem.0.0.DO_A"):
        assert depth.clean_name(made) == "u_core.u_wmem.mem.0.0.DO_A"
    assert depth.clean_name("$techmap5$abc$9$lut$\\top_net[2]") == "top_net[2]"
    assert depth.histogram(found) == {1: 1, 2: 1}
    assert [depth._bus(p.start) for p in depth.per_start(found)] == ["u_core.u_rd.mem$rdreg[0]$q"]


def test_d2_d3_lutram_reads_from_its_read_address_and_ends_at_its_write_pins():
    """A LUT-RAM read is one LUT level from DPRA / A (D3); its data input ends a path (D2) and does not
    pass on to its outputs."""
    n = Net()
    ff(n, "addr", d=100, q=10)
    ff(n, "data", d=101, q=11)
    n.cell("deep0", "LUT1", I0=11, O=12)
    n.cell("deep1", "LUT1", I0=12, O=13)
    n.cell("deep2", "LUT1", I0=13, O=14)
    n.cell("ram", "RAM64X1D", WCLK=1, WE=2, D=14, A=[10, 10], DPRA=[10, 10], SPO=20, DPO=21)
    n.cell("after", "LUT1", I0=21, O=22)
    ff(n, "out", d=22, q=23)
    n.name("ram_dpo", 21)
    n.name("o.q", 23)
    found = {p.end: p for p in depth.paths(n.json())}
    assert found["o.q"].depth == (2, 0, 0) and found["o.q"].cells == ("RAM64X1D", "LUT1")
    assert found["o.q"].start_kind == "FDRE"
    assert found["ram_dpo"].depth == (3, 0, 0) and found["ram_dpo"].end_kind == "RAM64X1D"


def test_d1_d2_ports_through_their_buffers_and_a_dsp_as_a_clocked_element():
    n = Net()
    n.port("din", "input", 10)
    n.cell("ib", "IBUF", I=10, O=11)
    n.cell("l", "LUT1", I0=11, O=12)
    n.cell("dsp", "DSP48E2", A=12, B=12, P=13)
    n.cells["dsp"]["parameters"] = {k: "0" * 32 for k in depth.DSP_REGS if k != "PREG"}  # PREG: default 1
    n.cell("l2", "LUT1", I0=13, O=14)
    n.cell("ob", "OBUF", I=14, O=15)
    n.port("dout", "output", 15)
    n.name("din", 10)
    n.name("dsp_p", 13)
    found = {p.end: p for p in depth.paths(n.json())}
    assert (found["dsp_p"].start_kind, found["dsp_p"].depth) == ("IBUF", (1, 0, 0))
    assert found["dsp_p"].end_kind == "DSP48E2"
    out = next(p for p in found.values() if p.end_kind == "OBUF")
    assert (out.start, out.start_kind, out.depth) == ("dsp_p", "DSP48E2", (1, 0, 0))


def test_d3_a_dsp_without_registers_is_logic():
    """A DSP48E2 whose pipeline registers are all off passes its inputs on (one LUT level, named in the cells)."""
    n = Net()
    ff(n, "ra", d=100, q=10)
    n.cell("l", "LUT1", I0=10, O=11)
    n.cell("dsp", "DSP48E2", A=11, B=10, P=12)
    n.cells["dsp"]["parameters"] = {k: "0" * 32 for k in depth.DSP_REGS}
    ff(n, "rb", d=12, q=13)
    n.name("u_core.u_x.q", 13)
    (p,) = depth.paths(n.json())
    assert (p.depth, p.cells, p.end_kind) == ((2, 0, 0), ("LUT1", "DSP48E2"), "FDRE")


def test_clocked_summary_counts_what_slows_a_path():
    n = Net()
    ff(n, "r", d=100, q=10)
    for name, regs in (("bram_plain", {"DOA_REG": "0", "DOB_REG": "0"}), ("bram_reg", {"DOA_REG": "1"})):
        n.cells[name] = {"type": "RAMB36E2", "parameters": regs, "port_directions": {}, "connections": {}}
    dsps = {"d_in_unreg": {"AREG": "0", "BREG": "1"}, "d_piped": {}, "d_comb": {k: "0" for k in depth.DSP_REGS}}
    for name, regs in dsps.items():
        n.cells[name] = {"type": "DSP48E2", "parameters": regs, "port_directions": {}, "connections": {}}
    rows = {t: (c, note) for t, c, note in depth.clocked_summary(n.json())}
    assert rows["FDRE"] == (1, "")
    assert rows["RAMB36E2"] == (2, "read without output register (DOA_REG = DOB_REG = 0): 1")
    assert rows["DSP48E2"][0] == 2  # the slice with no register is logic (D3), named in the note
    assert rows["DSP48E2"][1].startswith("no register on A or B (a path in crosses the multiplier): 1; and 1 with")
    assert "## Clocked elements" in depth.report(depth.paths(n.json()) or [], "# h", 3, depth.clocked_summary(n.json()))


def test_a_loop_and_an_unknown_cell_are_errors_naming_the_cell():
    n = Net()
    n.cell("a", "LUT2", I0=10, I1=11, O=11)
    with pytest.raises(ConfigError, match="combinational loop through cell 'a'"):
        depth.paths(n.json())
    n = Net()
    n.cell("b", "LUT1", I0=10, O=11)
    n.cell("c", "LUT1", I0=11, O=10)
    with pytest.raises(ConfigError, match="combinational loop"):
        depth.paths(n.json())
    n = Net()
    n.cell("w", "WEIRD", I=10, O=11)
    with pytest.raises(ConfigError, match=r"cell 'w' of type 'WEIRD': no timing rule"):
        depth.paths(n.json())
    with pytest.raises(ConfigError, match="no 'modules'"):
        depth.paths({"creator": "x"})


def test_report_lists_paths_blocks_and_histogram():
    n = Net()
    ff(n, "ra", d=100, q=10)
    n.cell("l", "LUT1", I0=10, O=11)
    ff(n, "rb", d=11, q=12)
    n.name("u_core.u_seq.q", 12)
    text = depth.report(depth.paths(n.json()), "# head", 5)
    assert "| 1 | 1 LUT, 0 carry, 0 MUXF |" in text and "| `u_seq` | 1 LUT" in text and "| 1 | 1 |" in text
    assert "No path" in depth.report([], "# head", 5)


@pytest.mark.parametrize(
    ("contents", "why"), [(None, "cannot read"), ("{not json", "not a JSON netlist"), ("[1]", "top level")]
)
def test_cli_refuses_a_bad_netlist_in_one_line(tmp_path, capsys, contents, why):
    path = tmp_path / "n.json"
    if contents is not None:
        path.write_text(contents)
    out = tmp_path / "depth.md"
    assert depth.main(["--netlist", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and why in err and "Traceback" not in err
    assert not out.exists()


def test_cli_reports_a_netlist(tmp_path, capsys):
    n = Net()
    ff(n, "ra", d=100, q=10)
    n.cell("l", "LUT1", I0=10, O=11)
    ff(n, "rb", d=11, q=12)
    path = tmp_path / "n.json"
    path.write_text(json.dumps(n.json()))
    out = tmp_path / "depth.md"
    assert depth.main(["--netlist", str(path), "--out", str(out), "--top", "3"]) == 0
    text = out.read_text()
    assert text.startswith("# Logic depth of the generated accelerator (sparse design, ultra96v2)")
    assert "1 LUT, 0 carry, 0 MUXF" in text
    assert depth.main(["--netlist", str(path), "--top", "0"]) == 2
    assert "option '--top'" in capsys.readouterr().err


needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="needs Yosys")


@pytest.mark.slow
@needs_yosys
def test_yosys_bitsel_between_registers_is_two_luts_and_two_muxf(tmp_path):
    """bnn_bitsel's 64:1 select under the resource flow's defines, registered on both sides: LUT6 (4:1),
    MUXF7, MUXF8, LUT6 (the last 4:1), as its mapping test counts the cells (tests/test_rtl_gen.py)."""
    top = tmp_path / "top.v"
    top.write_text(
        "module top(input clk, input [63:0] v, input [5:0] s, output reg o);\n"
        "  reg [63:0] vq; reg [5:0] sq; wire w;\n"
        "  always @(posedge clk) begin vq <= v; sq <= s; o <= w; end\n"
        "  bnn_bitsel #(.W(64), .SW(6)) u (.v(vq), .sel(sq), .o(w));\nendmodule\n"
    )
    net = tmp_path / "n.json"
    script = (
        f"read_verilog {DEFINE_FLAGS} {VERILOG_DIR / 'bnn_lib.v'} {top}; "
        f"synth_xilinx -family xcup -top top -flatten -abc9; write_json {net}"
    )
    subprocess.run(["yosys", "-q", "-p", script], check=True, capture_output=True)
    found = depth.paths(depth.load_netlist(net))
    deepest = found[0]
    assert deepest.depth == (2, 0, 2), deepest
    assert deepest.start.startswith("sq") and deepest.start_kind == "FDRE" and deepest.end_kind == "FDRE"


def test_netlist_is_kept_per_design(tmp_path, monkeypatch):
    """`synthesize_netlist` runs Yosys once per generated design: a rerun reads the kept netlist, another
    design (the dense baseline) runs it again. Yosys is replaced by a stub writing a one-cell netlist."""
    calls = []

    def fake_yosys(yosys, script, log, what):
        out = Path(script.rsplit("write_json ", 1)[1].strip())
        n = Net()
        ff(n, "r", d=10, q=11)
        out.write_text(json.dumps(n.json()))
        calls.append(out)
        return "", 0.0

    monkeypatch.setattr("rtl.yosys_stats.run_yosys", fake_yosys)
    monkeypatch.setattr("shutil.which", lambda name: "/bin/yosys")
    cfg = HardwareConfig.model_validate(tiny_dict())
    first, _ = depth.synthesize_netlist(cfg, True, tmp_path)
    again, _ = depth.synthesize_netlist(cfg, True, tmp_path)
    assert first == again and len(calls) == 1
    depth.synthesize_netlist(cfg, False, tmp_path)
    assert len(calls) == 2
    (tmp_path / "sparse" / "netlist.key").write_text("stale")
    depth.synthesize_netlist(cfg, True, tmp_path)
    assert len(calls) == 3


@pytest.mark.parametrize("report", ["depth.md", "depth_dense.md"])
def test_every_cell_type_of_the_shipped_builds_has_a_rule(report):
    """Every cell type in the committed reports' table of the Ultra96v2 builds (D1-D3 know it)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / report).read_text()
    section = text.split("## Cells by type", 1)[1]
    types = re.findall(r"^\| ([A-Z0-9_]+) \| [\d,]+ \|$", section, re.M)
    assert {"FDRE", "LUT6", "CARRY4", "RAMB36E2", "DSP48E2", "RAM64M8"} <= set(types), types
    assert [t for t in types if not depth.known_type(t)] == []
    assert not depth.known_type("WEIRD")


def test_shipped_report_is_consistent_and_the_readmes_quote_it():
    """docs/depth.md (generated by `python -m rtl.depth --out docs/depth.md`) names a committed design, its
    deepest path agrees with its histogram, and the READMEs' depths are the report's and, for the dense
    baseline, docs/depth_dense.md's (`python -m rtl.depth --dense --out docs/depth_dense.md`)."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "depth.md").read_text()
    assert re.search(r"design commit [0-9a-f]{40}\)", text), "the report belongs to a committed design"
    first = re.search(r"^\| 1 \| (\d+) LUT, (\d+) carry", text, re.M)
    hist = [int(m) for m in re.findall(r"^\| (\d+) \| [\d,]+ \|$", text, re.M)]
    assert first and hist and int(first.group(1)) == max(hist)
    deepest = max(hist)
    accumulate = [
        int(m) for m in re.findall(r"^\| \d+ \| (\d+) LUT, \d+ carry, \d+ MUXF \| `u_core\.u_pe\.", text, re.M)
    ]
    assert accumulate and max(accumulate) == 6  # the PE array's own starts (its accumulate path)
    readme = " ".join((root / "README.md").read_text().split())
    assert f"at most {max(accumulate)} LUT levels deep" in readme and f"paths reach {deepest}" in readme
    rtl_readme = " ".join((root / "rtl" / "README.md").read_text().split())
    assert f"at most {max(accumulate)} LUT levels" in rtl_readme and f"four paths reach {deepest}" in rtl_readme
    dense = (root / "docs" / "depth_dense.md").read_text()
    assert dense.startswith("# Logic depth of the generated accelerator (dense baseline, ")
    dense_deepest = max(int(m) for m in re.findall(r"^\| (\d+) \| [\d,]+ \|$", dense, re.M))
    assert dense_deepest < deepest  # the finding both READMEs state
    assert f"The dense baseline's build reaches {dense_deepest}" in readme
    assert f"docs/depth_dense.md) reaches {dense_deepest} LUT levels" in rtl_readme
