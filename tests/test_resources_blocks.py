"""`python -m rtl.resources --blocks`: the sparse build synthesized without -flatten, Yosys' hierarchical
`stat` parsed per module and rolled up per block of the core (each block with everything it instantiates)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from archsim.config import HardwareConfig
from rtl import resources, resources_blocks, yosys_stats
from rtl.emit import write_verilog
from rtl.params import RtlParams
from rtl.resources import PROSE_HEAD
from rtl.resources_blocks import BLOCKS_HEAD, blocks_of, parse_hierarchy, rollup
from rtl.yosys_stats import parse_stat, usage_of
from tests.rtlsim.configs import tiny_dict, write_config


def _section(name: str, cells: dict[str, int]) -> str:
    """One module's statistics as Yosys 0.23 prints them (names and counts in columns, long names pushing
    the count to the right)."""
    lines = [f"=== {name} ===", "", "   Number of wires:                 12", "   Number of wire bits:             90"]
    lines += ["   Number of public wires:          6", "   Number of public wire bits:     40"]
    lines += ["   Number of memories:               0", "   Number of memory bits:            0"]
    lines += ["   Number of processes:              0", f"   Number of cells:              {sum(cells.values()):5d}"]
    lines += [f"     {c:<30s}{n:6d}" for c, n in cells.items()]
    return "\n".join(lines) + "\n\n"


LEAF = "$paramod$0877b7eee607e1e85063787bb60cb848043f32ec\\bnn_lutram"
ROT = "$paramod\\bnn_rot9\\X=s32'00000000000000000000000000000001"
PE = "$paramod$88b766b9772aa07d4769108e9190da081af9e3cd\\bnn_pe_array"
WIN = "$paramod$4d3f3f49a6fef1b2759359aae578f37309897c00\\bnn_winbuf"
SDP_A = "$paramod$3371903e67cea851582dac9f60b041da551f9b21\\bnn_ram_sdp"
SDP_B = "$paramod$4295b16dca754f23505e3724e143a9f3934716d6\\bnn_ram_sdp"
EPI = "$paramod$a5e79f6cf3025c1f5cd9bbdef7e842fe6f791242\\bnn_epilogue"
CORE = "$paramod$ec32c9e723364767d9a10ea3757555ac84dd180c\\bnn_core"
MODULES = {
    LEAF: {"FDRE": 2, "LUT6": 1, "RAM64M8": 1},
    PE: {LEAF: 3, "FDRE": 5, "LUT4": 10},
    ROT: {"LUT5": 18},
    WIN: {LEAF: 2, ROT: 2, "FDRE": 100},
    SDP_A: {"RAMB36E2": 1},
    SDP_B: {"FDRE": 8, "RAMB18E2": 1},
    EPI: {"DSP48E2": 4, "LUT3": 20},
    CORE: {PE: 1, WIN: 1, SDP_A: 2, SDP_B: 1, EPI: 1, "FDRE": 3, "LUT2": 7},
    "bnn_accel": {CORE: 1, "BUFG": 1, "IBUF": 10, "LUT1": 1, "OBUF": 12},
}
# the instances in the core modules, as the `dump` before the last `stat` lists them
INSTANCES = {
    CORE: {"u_pe": PE, "u_winbuf": WIN, "u_a0": SDP_A, "u_a1": SDP_A, "g_x.u_wmem": SDP_B, "u_epi": EPI},
    "bnn_accel": {"u_core": CORE},
}
# the leaf cells of the whole design, counted by hand: the PE array's 3 LUT RAMs and the window buffers' 2,
# the two rot9 instances, the two instances of one bnn_ram_sdp and one of the other
TOTAL = {
    "BUFG": 1,
    "DSP48E2": 4,
    "FDRE": 3 * 2 + 5 + 2 * 2 + 100 + 8 + 3,
    "IBUF": 10,
    "LUT1": 1,
    "LUT2": 7,
    "LUT3": 20,
    "LUT4": 10,
    "LUT5": 2 * 18,
    "LUT6": 3 + 2,
    "OBUF": 12,
    "RAM64M8": 3 + 2,
    "RAMB18E2": 1,
    "RAMB36E2": 2,
}
HIERARCHY = f"""=== design hierarchy ===

   bnn_accel                         1
     {CORE}      1
       {PE}      1
         {LEAF}      3
       {WIN}      1
         {LEAF}      2
         {ROT}      2
       {SDP_A}      2
       {SDP_B}      1
       {EPI}      1

"""


def dump(instances: dict[str, dict[str, str]]) -> str:
    """Yosys' `dump` of the core modules' instances (RTLIL: parameters, attributes, connections)."""
    out = []
    for module, insts in instances.items():
        out += [f"module {module if module.startswith('$') else chr(92) + module}", "", "  parameter \\ROWS 4", ""]
        for name, t in insts.items():
            out += [f'  attribute \\src "bnn_core.v:{len(out)}.7-9.6"', f"  cell {t} \\{name}"]
            out += ["    connect \\clk \\clk", "    connect \\rdata { \\q [3:0] \\r }", "  end", ""]
        out.append("end")
    return "\n".join(out) + "\n\n"


def stat_log(total: dict[str, int] = TOTAL, instances: dict[str, dict[str, str]] = INSTANCES) -> str:
    """A Yosys log: an earlier `stat` (inside synth_xilinx) to be ignored, the dump, then the last `stat`."""
    early = "16.51. Printing statistics.\n\n" + _section("bnn_old", {"LUT6": 999}) + "16.52. Executing CHECK pass.\n\n"
    last = "17. Printing statistics.\n\n" + "".join(_section(n, c) for n, c in MODULES.items())
    end = "\nWarnings: 13 unique messages, 19 total\nEnd of script.\n"
    return early + dump(instances) + last + HIERARCHY + _section("x", total).split("\n", 2)[2] + end


def test_parser_reads_every_module_and_the_top():
    h = parse_hierarchy(stat_log())
    assert h.top == "bnn_accel" and set(h.modules) == set(MODULES)  # bnn_old belongs to an earlier stat
    assert h.modules == MODULES and h.instances == INSTANCES
    assert rollup(h, "bnn_accel") == TOTAL
    # the flattened-build parser reads the hierarchy's total: the same leaf cells
    assert parse_stat(stat_log()).cells == TOTAL


def test_parser_checks_the_modules_add_up_to_yosys_total():
    with pytest.raises(ValueError, match="do not add up"):
        parse_hierarchy(stat_log({**TOTAL, "LUT6": 6}))
    one_sdp = {CORE: {k: v for k, v in INSTANCES[CORE].items() if k != "u_a1"}, "bnn_accel": INSTANCES["bnn_accel"]}
    with pytest.raises(ValueError, match="instances listed do not match"):
        parse_hierarchy(stat_log(instances=one_sdp))
    with pytest.raises(ValueError, match="no instance names"):  # no dump: the blocks cannot be named
        blocks_of(parse_hierarchy(stat_log(instances={})))
    with pytest.raises(ValueError, match="Number of cells"):
        parse_hierarchy("17. Printing statistics.\n\n=== bnn_accel ===\n\n   Number of wires: 3\n")
    with pytest.raises(ValueError):
        parse_hierarchy("no statistics here")


def test_rollup_counts_every_instance():
    """A submodule instantiated n times counts n times, at every level; each instance in the core is a block."""
    blocks = blocks_of(parse_hierarchy(stat_log()))
    got = {b.instance: usage_of(b.cells) for b in blocks}
    assert list(got) == ["u_winbuf", "u_pe", "u_epi", "u_a0", "u_a1", "g_x.u_wmem", ""]  # LUTs, then BRAM; top last
    assert [b.module for b in blocks] == [
        "bnn_winbuf",
        "bnn_pe_array",
        "bnn_epilogue",
        "bnn_ram_sdp",
        "bnn_ram_sdp",
        "bnn_ram_sdp",
        "bnn_accel, bnn_core",
    ]
    # by instance name (generate scope dropped), else by module, else the module's name
    assert [b.label for b in blocks][:6] == [
        "window buffers",
        "PE array",
        "epilogue",
        *["bnn_ram_sdp"] * 2,
        "weight ring",
    ]
    pe, win, epi, top = got["u_pe"], got["u_winbuf"], got["u_epi"], got[""]
    assert (pe.lut, pe.lut_ram, pe.ff) == (3 * 1 + 10 + 3 * 8, 3 * 8, 3 * 2 + 5)  # three bnn_lutram in it
    assert (win.lut, win.lut_ram, win.ff) == (2 * 1 + 2 * 18 + 2 * 8, 2 * 8, 2 * 2 + 100)  # two of each
    assert (got["u_a0"].bram36, got["u_a1"].bram36, got["g_x.u_wmem"].bram36, got["g_x.u_wmem"].ff) == (1, 1, 0.5, 8)
    assert (epi.lut, epi.dsp) == (20, 4)
    assert (top.lut, top.ff) == (7 + 1, 3)  # bnn_core's and bnn_accel's own cells
    assert sum(u.lut for u in got.values()) == usage_of(TOTAL).lut == 119


def test_a_nested_stem_unit_is_a_block_of_its_own():
    """NESTED_LABELS: the stem unit, two levels down in the read DMA, gets its own row; the read DMA's row keeps
    the rest, and the rows still add up to the design's leaf cells."""
    from rtl.resources_blocks import StatHierarchy

    stem = "$paramod$11\\bnn_stem"
    mac = "$paramod$22\\bnn_dsp_mac"
    wrap = "$paramod$33\\bnn_stem_wrap"
    rd = "$paramod$44\\bnn_rd_dma"
    modules = {
        mac: {"DSP48E2": 1},
        stem: {mac: 3, "FDRE": 50, "LUT2": 4},
        wrap: {stem: 1, "LUT3": 1},
        rd: {wrap: 1, "FDRE": 10, "LUT6": 6},
        "bnn_accel": {rd: 1, "LUT1": 1},
    }
    h = StatHierarchy("bnn_accel", modules, {"bnn_accel": {"u_rd": rd}})
    blocks = {b.instance: b for b in blocks_of(h)}
    assert set(blocks) == {"u_rd", "u_rd/bnn_stem", ""}
    assert blocks["u_rd/bnn_stem"].label == "stem unit (in the read DMA)"
    assert blocks["u_rd/bnn_stem"].cells == {"DSP48E2": 3, "FDRE": 50, "LUT2": 4}
    assert blocks["u_rd"].cells == {"FDRE": 10, "LUT6": 6, "LUT3": 1}
    total: dict[str, int] = {}
    for b in blocks.values():
        for c, k in b.cells.items():
            total[c] = total.get(c, 0) + k
    assert total == rollup(h, "bnn_accel")


def test_base_module_names():
    assert resources_blocks.base_module(PE) == "bnn_pe_array"
    assert resources_blocks.base_module(ROT) == "bnn_rot9"
    assert resources_blocks.base_module("bnn_pc9") == "bnn_pc9"


def _md_rows(text: str) -> list[list[str]]:
    """The rows of the per-block table in a report."""
    section = text[text.index(BLOCKS_HEAD) :]
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| block") and not line.startswith("| ---")
    ]


def _num(cell: str) -> float:
    return float(cell.split(" (")[0].replace(",", ""))


@pytest.mark.skipif(shutil.which("yosys") is None, reason="the cache key names the Yosys version")
def test_report_json_and_markdown_agree_and_stale_blocks_are_dropped(tmp_path, monkeypatch):
    """--blocks from a cache (no Yosys run): the section sits before the hand-written prose, its table is the
    JSON's rows; regenerated without --blocks it is kept while its key matches the design, dropped otherwise."""
    cfg = HardwareConfig.model_validate(tiny_dict())
    cfg_file = write_config(cfg, tmp_path / "tiny.yaml")
    cache = tmp_path / "cache"
    (cache / "blocks").mkdir(parents=True)
    flat = {"LUT6": 100, "RAM64M8": 2, "FDRE": 120, "RAMB36E2": 2, "RAMB18E2": 1, "DSP48E2": 4}
    for sparse in (True, False):
        key = yosys_stats.verilog_key(write_verilog(RtlParams(cfg, sparse=sparse), tmp_path / f"v{sparse}"), True)
        (cache / f"{key}.json").write_text(json.dumps({"cells": flat, "synth_s": 3.0}))
    bkey = resources_blocks._blocks_input(cfg, tmp_path / "b", True, {})[3]
    entry = {"config": "tiny", "top": "bnn_accel", "modules": MODULES, "instances": INSTANCES, "synth_s": 42.0}
    (cache / "blocks" / f"{bkey}.json").write_text(json.dumps(entry))
    monkeypatch.setattr(resources, "CACHE", cache)
    out = tmp_path / "resources.md"
    out.write_text(f"# old\n\n{PROSE_HEAD}\n\nhand-written words\n")
    argv = ["--config", str(cfg_file), "--out", str(out), "--cached-only"]

    assert resources.main([*argv, "--blocks"]) == 0
    text, data = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert text.index("--cached-only --blocks`") < text.index(BLOCKS_HEAD) < text.index(PROSE_HEAD)
    assert "--blocks` (from the Yosys cache)" in text
    assert text.endswith(f"\n{PROSE_HEAD}\n\nhand-written words\n")  # the prose is kept after the section
    build, rows = data["blocks_build"], data["blocks"]
    assert build["key"] == bkey and build["synth_s"] == 42.0 and "-flatten" not in build["flow"]
    assert [r["instance"] for r in rows] == ["u_winbuf", "u_pe", "u_epi", "u_a0", "u_a1", "g_x.u_wmem", ""]
    assert build["sum"]["lut"] == 119 and build["flattened"] == {
        "lut": 116,
        "lut_ram": 16,
        "ff": 120,
        "bram36": 2.5,
        "dsp": 4,
    }
    md = _md_rows(text)
    assert len(md) == len(rows) + 2  # the blocks, their sum, the flattened build
    for r, cells in zip(rows, md, strict=False):
        assert cells[:3] == [r["block"], f"`{r['instance']}`" if r["instance"] else "", r["module"]]
        assert [_num(c) for c in cells[3:]] == [r[k] for k in ("lut", "lut_ram", "ff", "bram36", "dsp")]
    assert [_num(c) for c in md[-2][3:]] == list(build["sum"].values())
    assert [_num(c) for c in md[-1][3:]] == list(build["flattened"].values())
    assert (
        "119 LUTs where the flattened build of the same Verilog measures 116\n(+3 LUTs); FF: 126 vs 120; BRAM36: 2.5"
        in text
    )

    # without --blocks: from the cache; then, the cache gone, from the previous JSON (the same key)
    assert resources.main(argv) == 0
    again = json.loads(out.with_suffix(".json").read_text())
    assert "(from the Yosys cache)" in out.read_text() and (again["blocks"], again["blocks_build"]) == (rows, build)
    shutil.rmtree(cache / "blocks")
    assert resources.main(argv) == 0
    assert "kept from the previous resources.json" in out.read_text()
    assert json.loads(out.with_suffix(".json").read_text())["blocks"] == rows

    # a previous breakdown of another design: not shown, a note says why; the prose stays
    data["blocks_build"]["key"] = "0" * 64
    out.with_suffix(".json").write_text(json.dumps(data))
    assert resources.main(argv) == 0
    text, again = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert "Not shown: the previous report's breakdown was of another build (key 0000000000000000" in text
    assert "blocks" not in again and "blocks_build" not in again and "| bnn_winbuf" not in text
    assert text.endswith(f"\n{PROSE_HEAD}\n\nhand-written words\n")
    # and once the JSON has none, no section at all
    assert resources.main(argv) == 0
    assert BLOCKS_HEAD not in out.read_text()


@pytest.mark.skipif(shutil.which("yosys") is None, reason="the cache key names the Yosys version")
def test_a_broken_previous_breakdown_is_not_reused(tmp_path):
    cfg = HardwareConfig.model_validate(tiny_dict())
    prev = tmp_path / "resources.json"
    bkey = resources_blocks._blocks_input(cfg, tmp_path / "b", True, {})[3]
    good = {
        "block": "PE array",
        "instance": "u_pe",
        "module": "bnn_pe_array",
        "lut": 1,
        "lut_ram": 0,
        "ff": 1,
        "dsp": 0,
    }
    build = {"key": bkey, "config": "tiny", "flow": "f", "synth_s": 1.0}
    for rows in ([{**good, "bram36": 0}], [{**good, "bram36": -1}], [good], []):
        prev.write_text(json.dumps({"blocks": rows, "blocks_build": build}))
        text, fields = resources_blocks.block_report(cfg, False, usage_of({}), tmp_path / "w", prev, cache=None)
        assert bool(fields) == bool(text) == (rows == [{**good, "bram36": 0}])
    prev.write_text("{not json")
    assert resources_blocks.block_report(cfg, False, usage_of({}), tmp_path / "w", prev, cache=None) == ("", {})


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs Yosys")
def test_yosys_per_block_on_a_small_config(tmp_path):
    """The real flow (no -flatten) on the smallest configuration: the blocks of the core are there, each
    PE row's multiplier is in the epilogue, and a second run comes from the cache."""
    d = tiny_dict(
        pe_array={"cols": 2, "acc_depth": 2},
        buffers={"act_bank_depth": 16, "res_depth": 64, "weight_depth": 32, "list_depth": 32},
    )
    cfg = HardwareConfig.model_validate(d)
    cache = tmp_path / "cache"
    h, secs, key, cached = resources_blocks.synthesize_blocks(cfg, tmp_path / "a", cache=cache)
    assert not cached and secs > 0 and re.fullmatch(r"[0-9a-f]{64}", key) and h.top == "bnn_accel"
    blocks = {b.instance: b for b in blocks_of(h)}  # by their names in bnn_core
    assert {"u_pe", "u_winbuf", "u_act", "u_rd", "u_wr", "u_epi", "g_mask.u_mask", "u_gather", "u_seq"} <= set(blocks)
    assert blocks["u_pe"].module == "bnn_pe_array" and blocks["u_wmem"].label == "weight ring" and "" in blocks
    assert usage_of(blocks["u_epi"].cells).dsp == cfg.pe_array.rows
    logic = ("u_pe", "u_winbuf", "u_rd", "u_wr", "u_epi", "g_mask.u_mask", "u_gather", "u_seq", "u_regs", "")
    assert all(usage_of(blocks[i].cells).lut > 0 for i in logic)
    assert sum(usage_of(b.cells).lut for b in blocks.values()) == usage_of(rollup(h, h.top)).lut
    again, secs_again, key_again, cached = resources_blocks.synthesize_blocks(cfg, tmp_path / "b", cache=cache)
    assert cached and (again.modules, again.instances, secs_again, key_again) == (h.modules, h.instances, secs, key)
    assert len(list((cache / "blocks").glob("*.json"))) == 1


def test_shipped_report_blocks_agree_with_its_json():
    """docs/resources.md's per-block table is docs/resources.json's `blocks` (or neither has one), the
    blocks add up to the sum it states, and its flattened row is the sparse build at the top."""
    root = resources.ROOT
    text = (root / "docs/resources.md").read_text()
    data = json.loads((root / "docs/resources.json").read_text())
    if "blocks" not in data:
        assert "| block | instance |" not in text
        return
    rows, build = data["blocks"], data["blocks_build"]
    md = _md_rows(text)
    assert len(md) == len(rows) + 2
    for r, cells in zip(rows, md, strict=False):
        assert cells[:3] == [r["block"], f"`{r['instance']}`" if r["instance"] else "", r["module"]]
        assert [_num(c) for c in cells[3:]] == [r[k] for k in ("lut", "lut_ram", "ff", "bram36", "dsp")]
    assert {k: sum(r[k] for r in rows) for k in build["sum"]} == build["sum"]
    sparse = data["builds"][0]
    assert sparse["design"] == "sparse" and sparse["config"] == build["config"]
    assert build["flattened"] == {k: sparse[k] for k in ("lut", "lut_ram", "ff", "bram36", "dsp")}
    assert [_num(c) for c in md[-1][3:]] == list(build["flattened"].values())
