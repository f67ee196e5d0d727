"""The Ultra96v2 build: Vivado project files and the accelerator's block-design wrapper.

`write_vivado(prm, out)` writes, beside the generated Verilog (rtl/gen.py calls it):

  verilog/bnn_accel_axi.v   bnn_accel with the port names and interface attributes Vivado's
                            block design infers (s_axi: AXI4-Lite slave, m_axi: AXI4 master,
                            aclk, aresetn); instantiated as a module reference. With
                            axi.hp_ports 2 the master goes through bnn_hp_split to two AXI4
                            masters m_axi_hp0 and m_axi_hp1 (plane layout, docs/architecture.md)
  verilog/bnn_hp_split.v    copy of rtl/verilog/bnn_hp_split.v (axi.hp_ports 2 only)
  vivado/config.tcl         what build.tcl takes from the configuration: part, board,
                            clock, HP-port width, register window, source files
  vivado/build.tcl          copy of rtl/vivado/build.tcl (the block design and the build)
  vivado/bnn_accel.xdc      copy of rtl/vivado/bnn_accel.xdc

The constants below are the board-level facts the host driver shares (rtl/host/driver.py):
where the register window sits in the PS address map and what the exported files are called.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from archsim.errors import ConfigError
from archsim.fileio import atomic_write_text

from . import regmap
from .params import TOP, RtlParams

VIVADO_DIR = Path(__file__).resolve().parent / "vivado"
WRAPPER = "bnn_accel_axi"  # module reference in the block design
CELL = "bnn_accel_0"  # its instance name (the key of PYNQ's ip_dict)
BD_NAME = "bnn_bd"
OUTPUT_NAME = "bnn_accel"  # exported <name>.bit and <name>.hwh (PYNQ pairs them by name)
LITE_BASE = 0xA000_0000  # first address of M_AXI_HPM0_FPD's PL window in the Zynq UltraScale+ map
LITE_RANGE = regmap.SIZE  # the slave decodes ADDR_BITS bits: one 64 KiB window
BOARD_PATTERN = "*:ultra96v2:part0:*"  # Avnet board files (avnet.com, older em.avnet.com)
HP_PORT = "S_AXI_HP0_FPD"  # PS slave for the DMA: HP0 (SAXIGP2), not cache-coherent
HP1_PORT = "S_AXI_HP1_FPD"  # the second one with axi.hp_ports 2: HP1 (SAXIGP3)
HP_WIDTHS = (32, 64, 128)  # what an HP port can be on the fabric side
HP_MAX_BURST = 16  # beats of the longest burst an HP port takes
SPLITTER = "bnn_hp_split"  # rtl/verilog/bnn_hp_split.v
# With two HP ports the DMA's buffers are two planes (docs/architecture.md section 6): port k reads
# and writes plane_k(X) = X / 2 + k * HP_PLANE_BYTES for the accelerator's address X. The host places
# plane 0 at physical address B and the logical image at 2 B (rtl/host/driver.py).
HP_PLANE_BYTES = 1 << 24
CTRL_PORT = "M_AXI_HPM0_FPD"  # PS master for the registers (MAXIGP0)

# AXI signals Vivado's aximm interface knows, by the suffix after the interface prefix
_LITE = {
    "awvalid",
    "awready",
    "awaddr",
    "wvalid",
    "wready",
    "wdata",
    "wstrb",
    "bvalid",
    "bready",
    "bresp",
    "arvalid",
    "arready",
    "araddr",
    "rvalid",
    "rready",
    "rdata",
    "rresp",
}
_FULL = _LITE | {"arlen", "arsize", "arburst", "rlast", "awlen", "awsize", "awburst", "wlast"}


@dataclass(frozen=True)
class Port:
    direction: str  # "input" or "output"
    width: int
    name: str


_PORT_RE = re.compile(r"^\s*(?:\(\*.*\*\)\s*)*(input|output)\s+wire\s*(?:\[(\d+):0\])?\s*(\w+)\s*,?\s*$", re.M)


def module_ports(text: str, module: str) -> list[Port]:
    """Ports of an ANSI-style module header (`input wire [N:0] name`, one per line)."""
    m = re.search(rf"\bmodule\s+{module}\s*\((.*?)\n\);", text, re.S)
    if m is None:
        raise ConfigError(f"module {module} not found in the generated Verilog")
    return [Port(d, int(msb) + 1 if msb else 1, n) for d, msb, n in _PORT_RE.findall(m.group(1))]


def wrapper_port_name(name: str) -> str:
    """The wrapper's name for a bnn_accel port: Vivado infers AXI4-Lite from s_axi_*, not s_axil_*."""
    return "s_axi_" + name[len("s_axil_") :] if name.startswith("s_axil_") else name


def _interface(name: str) -> tuple[str, str] | None:
    """(interface, logical signal) of a wrapper port, or None for a plain signal."""
    for bus, known in (("s_axi", _LITE), ("m_axi_hp0", _FULL), ("m_axi_hp1", _FULL), ("m_axi", _FULL)):
        if name.startswith(bus + "_"):
            sig = name[len(bus) + 1 :]
            if sig not in known:
                raise ConfigError(f"port {name}: '{sig}' is not an AXI signal Vivado's aximm interface knows")
            return bus, sig.upper()
    return None


def check_hp_ports(prm: RtlParams) -> int:
    """Bits of each HP port; refuses, naming the field, a configuration the Zynq's HP ports cannot carry."""
    a = prm.cfg.axi
    per_port = a.data_bits // a.hp_ports
    if per_port not in HP_WIDTHS:
        raise ConfigError(
            f"{prm.where}: field 'axi.hp_ports': axi.data_bits / axi.hp_ports = {per_port} bits, but an HP port "
            f"of the Zynq UltraScale+ is {', '.join(map(str, HP_WIDTHS))} bits wide"
        )
    if a.max_burst_beats > HP_MAX_BURST:
        raise ConfigError(
            f"{prm.where}: field 'axi.max_burst_beats': {a.max_burst_beats} beats, but an HP port takes bursts "
            f"of at most {HP_MAX_BURST}"
        )
    return per_port


def _split_ports(half: int) -> list[Port]:
    """bnn_hp_split's ports toward one HP port (m0_* / m1_*), by their AXI suffix."""
    spec = [
        ("output", 1, "arvalid"), ("input", 1, "arready"), ("output", 32, "araddr"), ("output", 8, "arlen"),
        ("output", 3, "arsize"), ("output", 2, "arburst"), ("input", 1, "rvalid"), ("output", 1, "rready"),
        ("input", half, "rdata"), ("input", 1, "rlast"), ("input", 2, "rresp"),
        ("output", 1, "awvalid"), ("input", 1, "awready"), ("output", 32, "awaddr"), ("output", 8, "awlen"),
        ("output", 3, "awsize"), ("output", 2, "awburst"), ("output", 1, "wvalid"), ("input", 1, "wready"),
        ("output", half, "wdata"), ("output", half // 8, "wstrb"), ("output", 1, "wlast"),
        ("input", 1, "bvalid"), ("output", 1, "bready"), ("input", 2, "bresp"),
    ]  # fmt: skip
    return [Port(d, w, n) for d, w, n in spec]


def axi_wrapper(prm: RtlParams, top_text: str) -> str:
    """Verilog-2001 wrapper: bnn_accel's ports one to one, renamed and annotated for Vivado IP integrator;
    with axi.hp_ports 2 its AXI4 master goes through bnn_hp_split to m_axi_hp0 and m_axi_hp1."""
    ports = module_ports(top_text, TOP)
    width = {p.name: p.width for p in ports}
    c = prm.cfg
    per_port = check_hp_ports(prm)
    split = c.axi.hp_ports == 2

    def full(bus: str, data_bits: int) -> str:
        return (
            f"XIL_INTERFACENAME {bus}, PROTOCOL AXI4, DATA_WIDTH {data_bits}, "
            f"ADDR_WIDTH {width['m_axi_araddr']}, ID_WIDTH 0, MAX_BURST_LENGTH {c.axi.max_burst_beats}, "
            f"NUM_READ_OUTSTANDING {c.axi.max_outstanding_reads}, NUM_WRITE_OUTSTANDING {c.axi.max_outstanding_writes}, "
            "HAS_BURST 1, HAS_LOCK 0, HAS_PROT 0, HAS_CACHE 0, HAS_QOS 0, HAS_REGION 0, HAS_WSTRB 1, "
            "HAS_BRESP 1, HAS_RRESP 1, SUPPORTS_NARROW_BURST 0, READ_WRITE_MODE READ_WRITE"
        )

    params = {
        "s_axi": f"XIL_INTERFACENAME s_axi, PROTOCOL AXI4LITE, DATA_WIDTH {width['s_axil_wdata']}, "
        f"ADDR_WIDTH {width['s_axil_awaddr']}, HAS_PROT 0, HAS_WSTRB 1, HAS_BRESP 1, HAS_RRESP 1",
        "m_axi": full("m_axi", width["m_axi_rdata"]),
        "m_axi_hp0": full("m_axi_hp0", per_port),
        "m_axi_hp1": full("m_axi_hp1", per_port),
    }
    outer = [p for p in ports if not (split and p.name.startswith("m_axi_"))]
    if split:
        outer += [Port(p.direction, p.width, f"m_axi_hp{k}_{p.name}") for k in (0, 1) for p in _split_ports(per_port)]
    busif = "s_axi:m_axi_hp0:m_axi_hp1" if split else "s_axi:m_axi"
    decl, seen = [], set()
    for p in outer:
        name = wrapper_port_name(p.name)
        rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
        attrs = []
        if name == "aclk":
            # no FREQ_HZ: the block design propagates pl_clk0's actual frequency
            attrs = [
                'X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 aclk CLK"',
                f'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME aclk, ASSOCIATED_BUSIF {busif}, ASSOCIATED_RESET aresetn"',
            ]
        elif name == "aresetn":
            attrs = [
                'X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST"',
                'X_INTERFACE_PARAMETER = "XIL_INTERFACENAME aresetn, POLARITY ACTIVE_LOW"',
            ]
        elif (itf := _interface(name)) is not None:
            bus, sig = itf
            attrs = [f'X_INTERFACE_INFO = "xilinx.com:interface:aximm:1.0 {bus} {sig}"']
            if bus not in seen:  # the interface's parameters go on its first port
                attrs.append(f'X_INTERFACE_PARAMETER = "{params[bus]}"')
                seen.add(bus)
        decl.append("".join(f"    (* {a} *)\n" for a in attrs) + f"    {p.direction} wire {rng}{name}")
    # with the splitter, the accelerator's master is internal: c_m_axi_*
    conns = ",\n".join(
        f"        .{p.name}({'c_' + p.name if split and p.name.startswith('m_axi_') else wrapper_port_name(p.name)})"
        for p in ports
    )
    body = ",\n".join(decl)
    if split:
        return _split_wrapper(prm, ports, body, conns, per_port)
    return f"""// Generated by rtl/gen.py for configuration '{c.name}': {TOP} for the Vivado block design. Do not edit.
// Ports map one to one onto {TOP}'s; s_axil_* is renamed s_axi_* and every AXI port carries
// the interface attributes IP integrator needs (AXI4-Lite slave s_axi, AXI4 master m_axi).
// `start` is the start pin of {TOP} (CTRL.start does the same); the block design ties it to 0.
`default_nettype none
module {WRAPPER} (
{body}
);
    {TOP} u_accel (
{conns}
    );
endmodule
`default_nettype wire
"""


def _split_wrapper(prm: RtlParams, ports: list[Port], body: str, conns: str, per_port: int) -> str:
    """The wrapper with two HP ports: bnn_accel's master into bnn_hp_split, its two masters out."""
    c = prm.cfg
    inner = [p for p in ports if p.name.startswith("m_axi_")]
    # AxSIZE and AxBURST of the core are constants the splitter replaces with the ports' own
    unused = {"m_axi_arsize", "m_axi_arburst", "m_axi_awsize", "m_axi_awburst"}
    wires = []
    for p in inner:
        rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
        w = f"    wire {rng}c_{p.name};"
        if p.name in unused:
            w = f"    /* verilator lint_off UNUSEDSIGNAL */  // replaced by the ports' own\n{w}\n    /* verilator lint_on UNUSEDSIGNAL */"
        wires.append(w)
    core = {"arvalid", "arready", "araddr", "arlen", "rvalid", "rready", "rdata", "rlast", "rresp", "awvalid"}
    core |= {"awready", "awaddr", "awlen", "wvalid", "wready", "wdata", "wstrb", "wlast", "bvalid", "bready", "bresp"}
    sconns = [f"        .s_{s}(c_m_axi_{s})" for s in sorted(core)]
    sconns += [f"        .m{k}_{p.name}(m_axi_hp{k}_{p.name})" for k in (0, 1) for p in _split_ports(per_port)]
    joined = ",\n".join(sconns)
    wire_text = "\n".join(wires)
    return f"""// Generated by rtl/gen.py for configuration '{c.name}': {TOP} for the Vivado block design. Do not edit.
// Ports map one to one onto {TOP}'s except its AXI4 master: s_axil_* is renamed s_axi_*, and the
// {c.axi.data_bits}-bit master goes through {SPLITTER} to two {per_port}-bit AXI4 masters m_axi_hp0 (HP0, plane 0)
// and m_axi_hp1 (HP1, plane 1 at +{HP_PLANE_BYTES:#x}): docs/architecture.md section 6.
// `start` is the start pin of {TOP} (CTRL.start does the same); the block design ties it to 0.
`default_nettype none
module {WRAPPER} (
{body}
);
{wire_text}
    {TOP} u_accel (
{conns}
    );
    {SPLITTER} #(
        .D({c.axi.data_bits}),
        .AXW(32),
        .PLANE({HP_PLANE_BYTES})
    ) u_split (
        .clk(aclk),
        .rst(!aresetn),
{joined}
    );
endmodule
`default_nettype wire
"""


def _range_text(nbytes: int) -> str:
    """A range as Vivado writes it (64K, 1M, ...)."""
    for unit, n in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes % n == 0:
            return f"{nbytes // n}{unit}"
    raise ConfigError(f"address range {nbytes} is not a multiple of 1 KiB")


_TCL_PLAIN = re.compile(r"[A-Za-z0-9_.:/+-]")


def tcl_word(text: str) -> str:
    """`text` as one Tcl word that evaluates to itself: every character outside a small safe set
    is backslash-escaped, so no brace, bracket, '$', ';' or newline can end the word or run a command.
    (The configuration's name and part are also pattern-checked; this holds even if they were not.)"""
    if not text:
        return "{}"
    out = []
    for ch in text:
        if _TCL_PLAIN.fullmatch(ch):
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch.isprintable() and ord(ch) < 128:
            out.append("\\" + ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else "?")
    return "".join(out)


def config_tcl(prm: RtlParams, sources: list[str], headers: list[str]) -> str:
    c = prm.cfg
    if not c.part:
        raise ConfigError(f"{prm.where}: field 'part' is empty: Vivado needs the FPGA part")

    def tcl_list(items: list[str]) -> str:
        return "[list \\\n" + "".join(f"    {tcl_word(i)} \\\n" for i in items) + "]"

    return f"""# Generated by rtl/gen.py for configuration '{c.name}' ({"sparse" if prm.sparse else "dense"}). Do not edit:
# rerun gen.py. Read by build.tcl; paths are relative to this file.
set bnn(config) {tcl_word(c.name)}
set bnn(mode) {"sparse" if prm.sparse else "dense"}
set bnn(part) {tcl_word(c.part)}
set bnn(board_pattern) {{{BOARD_PATTERN}}}
set bnn(clock_mhz) {c.clock_mhz:g}
set bnn(hp_port) {HP_PORT}
set bnn(hp1_port) {HP1_PORT}
set bnn(hp_ports) {c.axi.hp_ports}
set bnn(hp_data_bits) {c.axi.data_bits // c.axi.hp_ports}
set bnn(ctrl_port) {CTRL_PORT}
set bnn(lite_base) 0x{LITE_BASE:08X}
set bnn(lite_range) {_range_text(LITE_RANGE)}
set bnn(top) {WRAPPER}
set bnn(cell) {CELL}
set bnn(bd) {BD_NAME}
set bnn(output_name) {OUTPUT_NAME}
set bnn(sources) {tcl_list(sources)}
set bnn(headers) {tcl_list(headers)}
set bnn(xdc) bnn_accel.xdc
"""


def write_vivado(prm: RtlParams, out: Path, verilog_files: list[Path]) -> list[Path]:
    """The wrapper into out/verilog, the Vivado files into out/vivado; returns what was written."""
    vdir = out / "verilog"
    wrapper = vdir / f"{WRAPPER}.v"
    atomic_write_text(wrapper, axi_wrapper(prm, (vdir / f"{TOP}.v").read_text()))
    viv = out / "vivado"
    viv.mkdir(parents=True, exist_ok=True)
    written = [wrapper]
    if prm.cfg.axi.hp_ports == 2:
        split = vdir / f"{SPLITTER}.v"
        atomic_write_text(split, (Path(__file__).resolve().parent / "verilog" / f"{SPLITTER}.v").read_text())
        verilog_files = [*verilog_files, split]
        written.append(split)
    for name in ("build.tcl", "bnn_accel.xdc"):
        atomic_write_text(viv / name, (VIVADO_DIR / name).read_text())
        written.append(viv / name)
    rel = [f"../verilog/{f.name}" for f in [*verilog_files, wrapper]]
    headers = sorted(f"../verilog/{f.name}" for f in vdir.glob("*.vh"))
    atomic_write_text(viv / "config.tcl", config_tcl(prm, rel, headers))
    written.append(viv / "config.tcl")
    return written
