"""The Ultra96v2 build files without Vivado: build.tcl under tclsh with stub commands, and the wrapper.

tests/vivado_stub.tcl stands in for every Vivado command the script calls and records the
calls; the tests assert the facts that must follow from the configuration (part, board preset,
PL clock, HP port and width, register window = the register map's size, every generated
Verilog file added, bitstream and hardware handoff exported). This catches Tcl errors, typos
in command names and configuration drift. It does not prove that Vivado accepts the script.

The wrapper bnn_accel_axi (rtl/board.py) must lint clean and map its ports one to one onto
bnn_accel's, under the names and interface attributes Vivado's IP integrator infers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rtl import board, regmap
from rtl.gen import main as gen_main
from tests.rtlsim.configs import ROOT, tiny, ultra96, write_config

STUB = ROOT / "tests" / "vivado_stub.tcl"
TCLSH = shutil.which("tclsh")
needs_tclsh = pytest.mark.skipif(TCLSH is None, reason="tclsh not installed")


def generate(cfg, out: Path, *extra: str) -> Path:
    cfg_file = write_config(cfg, out.parent / f"{cfg.name}.yaml")
    assert gen_main(["--config", str(cfg_file), "--out", str(out), *extra]) == 0
    return out


def tcl_list(s: str) -> list[str]:
    """Split a Tcl list (words separated by white space, {braced} words kept whole)."""
    out, i = [], 0
    while i < len(s):
        if s[i].isspace():
            i += 1
        elif s[i] == "{":
            depth, j = 1, i + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(s[j], 0)
                j += 1
            out.append(s[i + 1 : j - 1])
            i = j
        else:
            j = i
            while j < len(s) and not s[j].isspace():
                j += 1
            out.append(s[i:j])
            i = j
    return out


class Run:
    def __init__(self, calls: list[list[str]], result: dict, stdout: str, out: Path):
        self.calls, self.ok, self.error, self.stdout, self.out = calls, result["ok"], result["error"], stdout, out
        self.props: dict[str, dict[str, str]] = {}
        for key, value in result["props"].items():
            obj, name = key.rsplit("|", 1)
            self.props.setdefault(obj, {})[name] = value

    def named(self, cmd: str) -> list[list[str]]:
        return [c[1:] for c in self.calls if c[0] == cmd]


def run_build(gen_out: Path, *tclargs: str, **knobs: str) -> Run:
    viv = gen_out / "vivado"
    env = {**os.environ, "STUB_LOG": str(viv / "calls.jsonl"), "STUB_RESULT": str(viv / "result.json")}
    env.setdefault("STUB_BOARD_PARTS", "avnet.com:ultra96v2:part0:1.2")
    env.update({f"STUB_{k.upper()}": v for k, v in knobs.items()})
    p = subprocess.run(
        [TCLSH, str(STUB), str(viv / "build.tcl"), *tclargs],
        capture_output=True,
        text=True,
        cwd=viv,
        env=env,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    calls = [json.loads(ln) for ln in (viv / "calls.jsonl").read_text().splitlines()]
    return Run(calls, json.loads((viv / "result.json").read_text()), p.stdout, viv / "output")


@pytest.fixture(scope="module")
def u96(tmp_path_factory) -> Path:
    return generate(ultra96(), tmp_path_factory.mktemp("u96") / "out")


def one_port():
    """The Ultra96v2 configuration on a single 128-bit HP port (axi.hp_ports 1)."""
    c = ultra96()
    return c.model_copy(update={"axi": c.axi.model_copy(update={"data_bits": 128, "hp_ports": 1})})


@pytest.fixture(scope="module")
def u96_one(tmp_path_factory) -> Path:
    return generate(one_port(), tmp_path_factory.mktemp("u96one") / "out")


PS = f"/{'zynq_ultra_ps_e_0'}"
ACCEL = f"/{board.CELL}"


@needs_tclsh
def test_build_tcl_asks_vivado_for_the_configured_design(u96):
    cfg = ultra96()
    r = run_build(u96)
    assert r.ok, r.error
    # project on the configuration's part, with the Ultra96v2 board preset
    (proj,) = r.named("create_project")
    assert proj[proj.index("-part") + 1] == cfg.part == "xczu3eg-sbva484-1-i"
    assert r.props["project_1"]["board_part"] == "avnet.com:ultra96v2:part0:1.2"
    auto = r.named("apply_bd_automation")
    assert len(auto) == 1 and 'apply_board_preset "1"' in auto[0] and auto[0][-1] == PS
    # every file gen.py wrote into verilog/ is added, the header typed as a header
    src_adds = [c for c in r.named("add_files") if "sources_1" in c]
    assert len(src_adds) == 2 and src_adds[1][-1].endswith(f"{board.BD_NAME}_wrapper.v")  # then the BD's wrapper
    added = tcl_list(src_adds[0][-1])
    wrote = sorted((u96 / "verilog").iterdir())
    assert sorted(Path(f).name for f in added) == sorted(f.name for f in wrote)
    assert all(Path(f).resolve() == (u96 / "verilog" / Path(f).name).resolve() for f in added)
    assert r.props[str((u96 / "verilog" / "bnn_regmap.vh").resolve())]["file_type"] == "Verilog Header"
    (xdc,) = [c for c in r.named("add_files") if "constrs_1" in c]
    assert Path(xdc[-1]).name == "bnn_accel.xdc"
    # PS: pl_clk0 at the configured clock, HP0 and HP1 each half the DMA's bus, HPM0_FPD for the registers
    ps = r.props[PS]
    assert float(ps["CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"]) == cfg.clock_mhz
    assert ps["CONFIG.PSU__USE__S_AXI_GP2"] == "1"  # S_AXI_HP0_FPD
    assert ps["CONFIG.PSU__USE__S_AXI_GP3"] == "1"  # S_AXI_HP1_FPD
    assert cfg.axi.hp_ports == 2 and cfg.axi.data_bits == 256
    assert int(ps["CONFIG.PSU__SAXIGP2__DATA_WIDTH"]) == int(ps["CONFIG.PSU__SAXIGP3__DATA_WIDTH"]) == 128
    assert ps["CONFIG.PSU__USE__M_AXI_GP0"] == "1"  # M_AXI_HPM0_FPD
    # the accelerator is the generated wrapper, as a module reference
    cells = r.named("create_bd_cell")
    (ref,) = [c for c in cells if c[:2] == ["-type", "module"]]
    assert ref == ["-type", "module", "-reference", board.WRAPPER, board.CELL]
    assert ["-type", "ip", "-vlnv", "xilinx.com:ip:zynq_ultra_ps_e:1.10", "zynq_ultra_ps_e_0"] in cells  # newest IP
    assert any("proc_sys_reset" in c[3] for c in cells)
    # AXI: PS master -> SmartConnect -> s_axi; m_axi_hp0/1 -> SmartConnects -> S_AXI_HP0/1_FPD
    intf = {tuple(c) for c in r.named("connect_bd_intf_net")}
    assert (f"{PS}/M_AXI_HPM0_FPD", "/ctrl_sc/S00_AXI") in intf and ("/ctrl_sc/M00_AXI", f"{ACCEL}/s_axi") in intf
    assert (f"{ACCEL}/m_axi_hp0", "/mem_sc/S00_AXI") in intf and ("/mem_sc/M00_AXI", f"{PS}/S_AXI_HP0_FPD") in intf
    assert (f"{ACCEL}/m_axi_hp1", "/mem_sc1/S00_AXI") in intf and ("/mem_sc1/M00_AXI", f"{PS}/S_AXI_HP1_FPD") in intf
    assert not any(f"{ACCEL}/m_axi" in c for c in intf)
    nets = r.named("connect_bd_net")
    clk = {p for n in nets if n[0] == f"{PS}/pl_clk0" for p in n}
    assert {f"{ACCEL}/aclk", f"{PS}/saxihp0_fpd_aclk", f"{PS}/maxihpm0_fpd_aclk", f"{PS}/saxihp1_fpd_aclk"} <= clk
    assert "/mem_sc1/aclk" in clk and ["/rst_pl0/interconnect_aresetn", "/mem_sc1/aresetn"] in nets
    assert ["/rst_pl0/peripheral_aresetn", f"{ACCEL}/aresetn"] in nets
    assert ["/start_zero/dout", f"{ACCEL}/start"] in nets
    # the register window: fixed base, range = the register map's size
    fixed = [c for c in r.named("assign_bd_address") if "-offset" in c]
    assert len(fixed) == 1
    a = fixed[0]
    assert int(a[a.index("-offset") + 1], 16) == board.LITE_BASE
    rng = a[a.index("-range") + 1]
    assert int(rng[:-1]) * {"K": 1 << 10, "M": 1 << 20}[rng[-1]] == regmap.SIZE == 1 << regmap.ADDR_BITS
    assert a[-2] == f"{ACCEL}/s_axi/reg0" and a[a.index("-target_address_space") + 1] == f"{PS}/Data"
    # validate, wrapper, synthesis, implementation to the bitstream, exports
    order = [c[0] for c in r.calls]
    for later, earlier in (("make_wrapper", "validate_bd_design"), ("launch_runs", "make_wrapper")):
        assert order.index(later) > order.index(earlier)
    runs = r.named("launch_runs")
    assert runs[0][0] == "synth_1" and runs[1][:3] == ["impl_1", "-to_step", "write_bitstream"]
    assert r.props["sources_1"]["top"] == f"{board.BD_NAME}_wrapper"
    for name in (
        f"{board.OUTPUT_NAME}.bit",
        f"{board.OUTPUT_NAME}.hwh",
        f"{board.OUTPUT_NAME}.xsa",
        "utilization.rpt",
        "timing_summary.rpt",
    ):
        assert (r.out / name).is_file(), name


@needs_tclsh
def test_build_tcl_follows_another_configuration(tmp_path):
    """Clock, HP width and part come from the configuration: no value is fixed in the script."""
    cfg = tiny().model_copy(update={"clock_mhz": 150.0, "part": "xczu3eg-sbva484-2-e"})
    out = generate(cfg, tmp_path / "out", "--dense")
    r = run_build(out)
    assert r.ok, r.error
    ps = r.props[PS]
    assert float(ps["CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"]) == 150.0
    assert int(ps["CONFIG.PSU__SAXIGP2__DATA_WIDTH"]) == cfg.axi.data_bits == 32
    assert ps["CONFIG.PSU__USE__S_AXI_GP3"] == "0" and "CONFIG.PSU__SAXIGP3__DATA_WIDTH" not in ps  # one port
    intf = {tuple(c) for c in r.named("connect_bd_intf_net")}
    assert (f"{ACCEL}/m_axi", "/mem_sc/S00_AXI") in intf and ("/mem_sc/M00_AXI", f"{PS}/S_AXI_HP0_FPD") in intf
    assert not any("mem_sc1" in c for cell in r.named("create_bd_cell") for c in cell)
    assert r.named("create_project")[0][-1] == "xczu3eg-sbva484-2-e"
    assert "set bnn(mode) dense" in (out / "vivado" / "config.tcl").read_text()


@needs_tclsh
def test_build_tcl_without_board_files_uses_the_part_and_warns(u96):
    r = run_build(u96, "-to", "bd", board_parts="")
    assert r.ok, r.error
    assert "board_part" not in r.props.get("project_1", {})
    assert not r.named("apply_bd_automation")
    assert "WARNING" in r.stdout and "board files" in r.stdout
    assert not r.named("launch_runs")  # -to bd stops after the block design
    assert (r.out / f"{board.OUTPUT_NAME}.hwh").is_file()


@needs_tclsh
def test_build_tcl_fails_on_timing_but_exports_the_reports(u96):
    r = run_build(u96, "-out", str(u96 / "vivado" / "out_neg"), slack="-0.412")
    assert not r.ok and "timing not met" in r.error and "-0.412" in r.error
    assert (u96 / "vivado" / "out_neg" / "timing_summary.rpt").is_file()


@needs_tclsh
def test_build_tcl_fails_on_a_failed_run(u96):
    r = run_build(u96, "-to", "synth", run_status="synth_design ERROR")
    assert not r.ok and "synth_1 did not complete" in r.error


@needs_tclsh
def test_build_tcl_warns_when_the_ps_cannot_reach_the_clock(u96):
    r = run_build(u96, "-to", "bd", act_freq="187.5")
    assert r.ok and "pl_clk0 runs at 187.5 MHz" in r.stdout


@needs_tclsh
@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (("-jbos", "4"), "unknown or incomplete option"),
        (("-to", "routing"), "-to must be"),
        (("-config", "nope.tcl"), "run python rtl/gen.py first"),
    ],
)
def test_build_tcl_rejects_bad_arguments(u96, args, msg):
    r = run_build(u96, *args)
    assert not r.ok and msg in r.error
    assert not r.named("create_project")


@needs_tclsh
def test_build_tcl_names_a_missing_source(tmp_path):
    out = generate(tiny(), tmp_path / "out")
    (out / "verilog" / "bnn_seq.v").unlink()
    r = run_build(out)
    assert not r.ok and "bnn_seq.v" in r.error and "rerun python rtl/gen.py" in r.error


def test_gen_skips_vivado_without_a_part(tmp_path, capsys):
    out = generate(tiny().model_copy(update={"part": ""}), tmp_path / "out")
    assert not (out / "vivado").exists()
    assert "names no part" in (out / "report.md").read_text()


def test_config_tcl_values(u96):
    text = (u96 / "vivado" / "config.tcl").read_text()
    assert "set bnn(lite_base) 0xA0000000" in text and "set bnn(lite_range) 64K" in text
    assert "set bnn(hp_data_bits) 128" in text and "set bnn(clock_mhz) 200" in text
    assert "set bnn(hp_ports) 2" in text and "set bnn(hp1_port) S_AXI_HP1_FPD" in text
    assert "../verilog/bnn_hp_split.v" in text


# --------------------------------------------------------------------------- the wrapper

PORT = re.compile(r"^\s*(input|output)\s+wire\s*(?:\[(\d+):0\])?\s*(\w+)\s*,?\s*$")


def ports_of(text: str, module: str) -> dict[str, tuple[str, int]]:
    """name -> (direction, width), read line by line from the module's header."""
    head = text.split(f"module {module} (", 1)[1].split("\n);", 1)[0]
    out = {}
    for line in head.splitlines():
        if m := PORT.match(line):
            out[m.group(3)] = (m.group(1), int(m.group(2)) + 1 if m.group(2) else 1)
    return out


def test_wrapper_maps_every_port_one_to_one(u96_one):
    v = u96_one / "verilog"
    top = ports_of((v / "bnn_accel.v").read_text(), "bnn_accel")
    wtext = (v / f"{board.WRAPPER}.v").read_text()
    wrap = ports_of(wtext, board.WRAPPER)
    conns = re.findall(r"^\s*\.(\w+)\((\w+)\),?$", wtext.split("bnn_accel u_accel (", 1)[1], re.M)
    formal = [f for f, _ in conns]
    actual = [a for _, a in conns]
    assert len(top) == len(wrap) == len(conns) > 40
    assert sorted(formal) == sorted(top) and len(set(formal)) == len(formal)
    assert sorted(actual) == sorted(wrap) and len(set(actual)) == len(actual)
    for f, a in conns:
        assert top[f] == wrap[a], f"{f} -> {a}: {top[f]} vs {wrap[a]}"
    # Vivado's names: aclk, aresetn, s_axi_*, m_axi_*, plus the start/done/busy pins
    assert set(wrap) - {n for n in wrap if n.startswith(("s_axi_", "m_axi_"))} == {
        "aclk",
        "aresetn",
        "start",
        "done",
        "busy",
    }
    assert top["m_axi_rdata"][1] == 128 and wrap["s_axi_awaddr"][1] == regmap.ADDR_BITS
    assert "bnn_hp_split" not in wtext and not (v / "bnn_hp_split.v").exists()


def test_wrapper_splits_the_master_over_two_hp_ports(u96):
    """axi.hp_ports 2: every bnn_accel port but the AXI4 master maps one to one; the master goes into
    bnn_hp_split, whose two masters are the wrapper's m_axi_hp0 and m_axi_hp1, each half as wide."""
    v = u96 / "verilog"
    top = ports_of((v / "bnn_accel.v").read_text(), "bnn_accel")
    wtext = (v / f"{board.WRAPPER}.v").read_text()
    wrap = ports_of(wtext, board.WRAPPER)
    core = wtext.split("bnn_accel u_accel (", 1)[1].split(");", 1)[0]
    conns = dict(re.findall(r"^\s*\.(\w+)\((\w+)\),?$", core, re.M))
    assert sorted(conns) == sorted(top)
    for f, a in conns.items():
        if f.startswith("m_axi_"):
            assert a == "c_" + f and a not in wrap
        else:
            assert top[f] == wrap[a], f
    assert top["m_axi_rdata"][1] == 256
    for k in (0, 1):
        assert wrap[f"m_axi_hp{k}_rdata"] == ("input", 128) and wrap[f"m_axi_hp{k}_wdata"] == ("output", 128)
        assert wrap[f"m_axi_hp{k}_araddr"] == ("output", 32) and wrap[f"m_axi_hp{k}_wstrb"] == ("output", 16)
    assert not any(n.startswith("m_axi_") and not n.startswith(("m_axi_hp0_", "m_axi_hp1_")) for n in wrap)
    split = wtext.split("bnn_hp_split #(", 1)[1]
    assert ".D(256)" in split and f".PLANE({board.HP_PLANE_BYTES})" in split and ".rst(!aresetn)" in split
    sconns = dict(re.findall(r"^\s*\.(\w+)\((\w+)\),?$", split.split("u_split (", 1)[1], re.M))
    # every port of the wrapper's HP masters is driven by the splitter's port of the same name
    for n in wrap:
        if n.startswith("m_axi_hp"):
            assert sconns[f"m{n[8]}_{n[10:]}"] == n
    assert (v / "bnn_hp_split.v").read_text() == (ROOT / "rtl" / "verilog" / "bnn_hp_split.v").read_text()


@pytest.mark.parametrize(
    ("axi", "field"),
    [({"data_bits": 256, "hp_ports": 1}, "axi.hp_ports"), ({"max_burst_beats": 32}, "axi.max_burst_beats")],
)
def test_gen_refuses_what_the_hp_ports_cannot_carry(axi, field, tmp_path, capsys):
    """A 256-bit single port, or bursts longer than 16 beats: no HP port takes them (nothing written)."""
    c = ultra96()
    cfg = c.model_copy(update={"axi": c.axi.model_copy(update=axi)})
    cfg_file = write_config(cfg, tmp_path / "c.yaml")
    assert gen_main(["--config", str(cfg_file), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and field in err and str(cfg_file) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("which", ["one", "two"])
def test_wrapper_interface_attributes(which, u96, u96_one):
    out = u96 if which == "two" else u96_one
    text = (out / "verilog" / f"{board.WRAPPER}.v").read_text()
    head = text.split(f"module {board.WRAPPER} (", 1)[1].split("\n);", 1)[0]
    attrs: list[str] = []
    seen_param = set()
    for line in head.splitlines():
        if not line.strip():
            continue
        if line.strip().startswith("(*"):
            attrs.append(line)
            continue
        m = PORT.match(line)
        assert m, line
        name = m.group(3)
        info = [a for a in attrs if "X_INTERFACE_INFO" in a]
        if name.startswith(("s_axi_", "m_axi_")):
            bus, sig = (name[:9], name[10:]) if name.startswith("m_axi_hp") else (name[:5], name[6:])
            assert len(info) == 1 and f'aximm:1.0 {bus} {sig.upper()}"' in info[0], name
            if any("X_INTERFACE_PARAMETER" in a for a in attrs):
                seen_param.add(bus)
        elif name in ("aclk", "aresetn"):
            assert len(info) == 1 and f"{name} {'CLK' if name == 'aclk' else 'RST'}" in info[0]
        else:
            assert not attrs, name
        attrs = []
    masters = {"m_axi_hp0", "m_axi_hp1"} if which == "two" else {"m_axi"}
    assert seen_param == {"s_axi"} | masters
    assert "PROTOCOL AXI4LITE" in text and "PROTOCOL AXI4," in text and "POLARITY ACTIVE_LOW" in text
    assert "DATA_WIDTH 128" in text and "DATA_WIDTH 256" not in text and "FREQ_HZ" not in text
    assert f"ASSOCIATED_BUSIF {':'.join(['s_axi', *sorted(masters)])}," in text


@pytest.mark.rtl
@pytest.mark.parametrize("which", ["ultra96v2", "one_port", "tiny"])
def test_wrapper_lints_clean(which, tmp_path):
    from tests.test_rtl_lint import verilator

    cfg = {"ultra96v2": ultra96, "one_port": one_port, "tiny": tiny}[which]()
    out = generate(cfg, tmp_path / "out")
    v = out / "verilog"
    files = [
        v / Path(f).name
        for f in tcl_list(
            (out / "vivado" / "config.tcl")
            .read_text()
            .split("set bnn(sources) [list")[1]
            .split("]")[0]
            .replace("\\", "")
        )
    ]
    assert files[-1].name == f"{board.WRAPPER}.v"
    exe, env = verilator()
    p = subprocess.run(
        [exe, "--lint-only", "-Wall", "--top-module", board.WRAPPER, f"-I{v}", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    warnings = [ln for ln in p.stderr.splitlines() if ln.startswith("%")]
    assert p.returncode == 0 and not warnings, "\n".join(warnings[:40])
