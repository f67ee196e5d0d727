"""Logic depth of the generated RTL: the longest paths between clocked elements in Yosys' Xilinx
mapping, counted in cells. A proxy for timing closure at the configured clock, not a timing analysis.

    python -m rtl.depth [--config configs/ultra96v2.yaml] [--dense] [--out docs/depth.md]
                        [--netlist FILE.json] [--top N]

Yosys 0.23 has no UltraScale+ delays (`synth_xilinx -family xcup -abc9` maps with the 7-series'
ones and says so) and no placer or router for the part, so nothing here can say whether the design
meets its clock: routing is most of a path's delay on this fabric. What the mapped netlist does
say is how many logic cells lie between two clocked elements, and where the deepest such paths
are. The rules below are what `paths` follows and what tests/test_rtl_depth.py cites.

* **D1. Starts.** A path starts at an output of a clocked element: a flip-flop (FDRE, FDSE, FDCE,
  FDPE), a block RAM (RAMB18E2, RAMB36E2), a DSP48E2 slice with at least one register stage, a
  shift register (SRL16E, SRLC32E) or a top-level input.
* **D2. Ends.** A path ends at any input of a clocked element, at the write pins of a LUT-RAM
  (data, write enable, write address) or at a top-level output. (A path into a DSP48E2 input that
  has no input register goes on through the slice's multiplier to its first register: the end's
  kind, DSP48E2, says so.)
* **D3. Logic.** A LUT (LUT1 .. LUT6, and INV: a LUT1 that Vivado mostly folds into a neighbouring
  LUT, so counting it errs deep) and a LUT-RAM read (from its read-address pins to its data outputs:
  a LUT-RAM read is a LUT) are one LUT level each; MUXF7 / MUXF8 / MUXF9 (the CLB's wide
  multiplexers behind its LUTs) are MUXF stages; CARRY4 / CARRY8 are carry blocks (Yosys 0.23 maps
  adders to the 7-series' 4-bit CARRY4 even for this family, where Vivado would use 8-bit CARRY8s:
  about twice the blocks, each of them fast). A DSP48E2 without any register stage is one LUT
  level too (it is slower than one; the path's cells name it). Each of them passes every listed
  input to every output. Any other cell type is refused by name: the rules
  would not know its timing.
* **D4. Depth.** A path's depth is (LUT levels, carry blocks, MUXF stages), compared in that order:
  a carry block or a MUXF stage is a fraction of a LUT level plus its route. The deepest path into
  each end point is kept; ties keep the first found (the netlist's cell order).
* **D5. Blocks.** An end point is named by its clocked element's output net (the shortest public name,
  else a name Yosys made, which keeps the hierarchy; else the cell's name) and belongs to the block
  of that name's instance in the core: `u_rd` for the read DMA, `g_mask.u_mask` for the mask unit,
  as in docs/resources.md's table per block; `core` for the core's and the top's own registers and
  the top-level outputs.

A combinational loop (which the generated RTL must not have) is an error naming one cell on it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from archsim.config import HardwareConfig
from archsim.errors import ConfigError

# D1 / D2: clocked elements (their outputs start paths, their inputs end them)
CLOCKED = ("FDRE", "FDSE", "FDCE", "FDPE", "RAMB18E2", "RAMB36E2", "DSP48E2", "SRL16E", "SRLC32E")
LUTS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV")
MUXF = ("MUXF7", "MUXF8", "MUXF9")
CARRY = ("CARRY4", "CARRY8")
# LUT-RAM: D3 for the read (outputs from the read-address pins), D2 for the write pins
LUTRAM = (
    "RAM16X1D",
    "RAM32X1D",
    "RAM64X1D",
    "RAM128X1D",
    "RAM256X1D",
    "RAM32X1S",
    "RAM64X1S",
    "RAM128X1S",
    "RAM256X1S",
    "RAM32M",
    "RAM64M",
    "RAM32M16",
    "RAM64M8",
)
# Buffers Yosys puts on the top-level ports (`synth_xilinx`'s iopad and clock-buffer insertion): they
# are where a path enters or leaves the design, so they count as ports (D1, D2), not as logic.
PORT_BUFFERS = ("IBUF", "OBUF", "BUFG", "BUFGCE", "IOBUF", "OBUFT")
IGNORED = ("GND", "VCC")

CORE_INSTANCE = "u_core"  # bnn_core in the generated top, bnn_accel
# What Yosys puts before a hierarchical name it derives (`$\\u_core.x`, `$techmap123$abc$4$lut$\\u_core.x`)
YOSYS_PREFIX = re.compile(r"^\$[^\\]*\\")


def clean_name(name: str) -> str:
    """A net name as the Verilog hierarchy spells it: Yosys' prefixes and escapes dropped (D5)."""
    i = name.find(CORE_INSTANCE + ".")
    return name[i:].replace("\\", "") if i > 0 else YOSYS_PREFIX.sub("", name)


Depth = tuple[int, int, int]  # (LUT levels, carry blocks, MUXF stages), D4
ZERO: Depth = (0, 0, 0)


def _read_pin(cell_type: str, pin: str) -> bool:
    """Whether a LUT-RAM input pin is on its read path (D3): a read address."""
    if cell_type.endswith("S"):  # single port: one address for read and write
        return pin.startswith("A")
    if cell_type.startswith("RAM32M") or cell_type.startswith("RAM64M"):
        return pin.startswith("ADDR")  # ADDRA .. ADDRH (ADDRD/H is also the write address)
    return pin.startswith("DPRA") or (pin.startswith("A") and not pin.startswith("ADDR"))


def _write_pin(cell_type: str, pin: str) -> bool:
    """Whether a LUT-RAM input pin is a write pin (D2): data, write enable, write address."""
    if pin.startswith("DPRA"):
        return False
    if cell_type.startswith("RAM32M") or cell_type.startswith("RAM64M"):
        last = "H" if cell_type.endswith(("16", "8")) else "D"  # the port whose address is the write address
        return not pin.startswith("ADDR") or pin == f"ADDR{last}"
    return True  # D, WE and the A pins (the write address, also the first read port's)


def _param(params: dict, key: str, default: int = 0) -> int:
    """A cell parameter as a number (Yosys writes binary strings); `default` where it is left out; an
    unreadable one counts as 1 (a register kept)."""
    v = params.get(key, default)
    try:
        return int(v, 2) if isinstance(v, str) else int(v)
    except ValueError:
        return 1


DSP_REGS = ("AREG", "BREG", "CREG", "DREG", "ADREG", "MREG", "PREG", "ACASCREG", "BCASCREG")


def _registered(cell: dict) -> bool:
    """Whether a DSP48E2 has a register stage on its data path (D1): any of those parameters above 0. One
    that the netlist leaves out has the primitive's default, 1."""
    params = cell.get("parameters", {})
    return any(_param(params, k, 1) > 0 for k in DSP_REGS)


def _step(cell_type: str) -> Depth:
    if cell_type in LUTS or cell_type in LUTRAM or cell_type == "DSP48E2":
        return (1, 0, 0)
    if cell_type in CARRY:
        return (0, 1, 0)
    return (0, 0, 1)  # MUXF


def _add(a: Depth, b: Depth) -> Depth:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


@dataclass(frozen=True)
class LogicPath:
    """The deepest path into one end point."""

    depth: Depth
    start: str  # the start point's name (D5 naming)
    end: str  # the end point's name
    start_kind: str  # cell type of the start, or "input"
    end_kind: str  # cell type of the end, or "output"
    cells: tuple[str, ...]  # the logic cells' types along the path, start to end
    through: tuple[str, ...] = ()  # the public names of the nets the path passes, start to end

    @property
    def block(self) -> str:
        """D5: the end point's block, its instance in the core (`u_rd`, `g_mask.u_mask`), or 'core' for the
        core's and the top's own logic."""
        parts = self.end.split(".")[:-1]  # the hierarchy above the register
        if parts[:1] == [CORE_INSTANCE]:
            parts = parts[1:]
        scope = []
        for p in parts:
            scope.append(p)
            if p.startswith("u_"):
                return ".".join(scope)
        return "core"


def _bits(conn: Iterable) -> list[int]:
    return [b for b in conn if isinstance(b, int)]


def _top_module(netlist: dict, top: str | None = None) -> dict:
    """The module `top`, or the one the netlist marks as top (the only module, if it marks none)."""
    modules = netlist.get("modules")
    if not isinstance(modules, dict) or not modules:
        raise ConfigError("netlist: no 'modules' (not a Yosys JSON netlist)")
    if top is None:
        tops = [n for n, m in modules.items() if str(m.get("attributes", {}).get("top", "0")).strip("0") != ""]
        top = tops[0] if len(tops) == 1 else next(iter(modules)) if len(modules) == 1 else None
        if top is None:
            raise ConfigError(f"netlist: {len(modules)} modules and no single top; name one")
    mod = modules.get(top)
    if not isinstance(mod, dict):
        raise ConfigError(f"netlist: no module {top!r}")
    return mod


def paths(netlist: dict, top: str | None = None) -> list[LogicPath]:
    """D1-D5 on a Yosys JSON netlist (`write_json`) of a flattened, mapped design: the deepest path
    into every end point that has logic in front of it, deepest first."""
    mod = _top_module(netlist, top)
    # D5: a name for each bit: the shortest public one, else the shortest of the names Yosys made (such as
    # `$\u_core.u_gather.rec_gp$rdreg[1]$q` for a memory's read register), which keep the hierarchy
    names: dict[int, str] = {}
    hidden: dict[int, str] = {}
    for name, net in mod.get("netnames", {}).items():
        where = hidden if net.get("hide_name") else names
        bits = net.get("bits", [])
        base = clean_name(name)
        for i, b in enumerate(bits):
            if isinstance(b, int):
                label = base if len(bits) == 1 else f"{base}[{i}]"
                if b not in where or len(label) < len(where[b]):
                    where[b] = label
    public = dict(names)
    for b, label in hidden.items():
        names.setdefault(b, label)
    # drivers of each bit: (cell name, cell type) for logic cells, and the start points
    start_of: dict[int, tuple[str, str]] = {}
    driver: dict[int, str] = {}
    logic: dict[str, tuple[str, list[int], list[int]]] = {}  # cell -> (type, inputs on its path, outputs)
    ends: list[tuple[str, str, list[int]]] = []  # (name, kind, bits)
    for pname, port in mod.get("ports", {}).items():
        bits = _bits(port.get("bits", []))
        if port.get("direction") == "input":
            for b in bits:
                start_of[b] = (names.get(b, pname), "input")
        else:
            ends.append((pname, "output", bits))
    for cname, cell in mod.get("cells", {}).items():
        ctype = str(cell.get("type", ""))
        dirs = cell.get("port_directions", {})
        conns = cell.get("connections", {})
        outs = [b for p, c in conns.items() if dirs.get(p) == "output" for b in _bits(c)]
        ins = {p: _bits(c) for p, c in conns.items() if dirs.get(p) == "input"}
        if ctype in IGNORED:
            continue
        if ctype == "DSP48E2" and not _registered(cell):  # D3: combinational
            logic[cname] = (ctype, [b for bits in ins.values() for b in bits], outs)
            for b in outs:
                driver[b] = cname
        elif ctype in CLOCKED or ctype in PORT_BUFFERS:
            if ctype in PORT_BUFFERS and not outs:
                continue
            label = next((names[b] for b in outs if b in names), cname)
            for b in outs:
                start_of[b] = (names.get(b, label), ctype)
            ends.append((label, ctype, [b for bits in ins.values() for b in bits]))
        elif ctype in LUTRAM:
            read = [b for p, bits in ins.items() if _read_pin(ctype, p) for b in bits]
            write = [b for p, bits in ins.items() if _write_pin(ctype, p) for b in bits]
            ends.append((next((names[b] for b in outs if b in names), cname), ctype, write))
            logic[cname] = (ctype, read, outs)
            for b in outs:
                driver[b] = cname
        elif ctype in LUTS or ctype in MUXF or ctype in CARRY:
            logic[cname] = (ctype, [b for bits in ins.values() for b in bits], outs)
            for b in outs:
                driver[b] = cname
        else:
            raise ConfigError(f"netlist: cell {cname!r} of type {ctype!r}: no timing rule for it (rtl/depth.py D3)")

    # Longest path to each logic cell's output (D4), by depth-first search with an explicit stack.
    best: dict[str, tuple[Depth, int | None]] = {}  # cell -> (depth at its output, the input bit it came by)
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def arrival(b: int) -> Depth:
        c = driver.get(b)
        return best[c][0] if c is not None else ZERO

    for root in logic:
        if state.get(root) == 2:
            continue
        stack = [root]
        while stack:
            c = stack[-1]
            if state.get(c) == 2:
                stack.pop()
                continue
            if state.get(c) != 1:
                state[c] = 1
                pending = [d for b in logic[c][1] if (d := driver.get(b)) is not None and state.get(d) != 2]
                for d in pending:
                    if state.get(d) == 1:
                        raise ConfigError(f"netlist: combinational loop through cell {d!r}")
                    stack.append(d)
                if pending:
                    continue
            ctype, ins, _ = logic[c]
            top_in, via = ZERO, None
            for b in ins:
                a = arrival(b)
                if via is None or a > top_in:
                    top_in, via = a, b
            best[c] = (_add(top_in, _step(ctype)), via)
            state[c] = 2
            stack.pop()

    def trace(b: int) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        cells: list[str] = []
        through: list[str] = []  # the public names of the nets on the path, end to start
        while (c := driver.get(b)) is not None:
            cells.append(logic[c][0])
            if b in public:
                through.append(public[b])
            via = best[c][1]
            if via is None:  # a logic cell with constant inputs only
                return c, "constant", tuple(reversed(cells)), tuple(reversed(through))
            b = via
        name, kind = start_of.get(b, (names.get(b, f"bit {b}"), "undriven"))
        return name, kind, tuple(reversed(cells)), tuple(reversed(through))

    out: list[LogicPath] = []
    for name, kind, bits in ends:
        deep = [(arrival(b), b) for b in bits if b in driver]
        if not deep:
            continue
        d, b = max(deep, key=lambda x: x[0])
        s_name, s_kind, cells, through = trace(b)
        out.append(LogicPath(d, s_name, name, s_kind, kind, cells, through))
    out.sort(key=lambda p: p.depth, reverse=True)
    return out


def histogram(found: list[LogicPath]) -> dict[int, int]:
    """End points by LUT levels of their deepest path."""
    h: dict[int, int] = {}
    for p in found:
        h[p.depth[0]] = h.get(p.depth[0], 0) + 1
    return dict(sorted(h.items()))


def per_block(found: list[LogicPath]) -> list[LogicPath]:
    """The deepest path into each block (D5), deepest first."""
    seen: dict[str, LogicPath] = {}
    for p in found:  # already deepest first
        seen.setdefault(p.block, p)
    return list(seen.values())


def _bus(name: str) -> str:
    """A net name without its bit index: the bits of one bus count as one path in the tables."""
    return re.sub(r"\[\d+\]$", "", name)


def distinct(found: list[LogicPath]) -> list[LogicPath]:
    """The deepest path of each (start bus, end bus) pair, deepest first."""
    seen: dict[tuple[str, str], LogicPath] = {}
    for p in found:
        seen.setdefault((_bus(p.start), _bus(p.end)), p)
    return list(seen.values())


def per_start(found: list[LogicPath]) -> list[LogicPath]:
    """The deepest path from each start bus, deepest first. An end point keeps only its deepest path
    (D4), so a start whose paths all end where a deeper one ends does not appear."""
    seen: dict[str, LogicPath] = {}
    for p in found:
        seen.setdefault(_bus(p.start), p)
    return list(seen.values())


def _fmt(d: Depth) -> str:
    return f"{d[0]} LUT, {d[1]} carry, {d[2]} MUXF"


def cell_types(netlist: dict) -> dict[str, int]:
    """Every cell type of the top module and how many cells it has, by type name."""
    count: dict[str, int] = {}
    for cell in _top_module(netlist).get("cells", {}).values():
        t = str(cell.get("type", ""))
        count[t] = count.get(t, 0) + 1
    return dict(sorted(count.items()))


def known_type(cell_type: str) -> bool:
    """Whether rules D1-D3 say what a cell of this type is (`paths` refuses any other)."""
    return cell_type in (*CLOCKED, *LUTS, *MUXF, *CARRY, *LUTRAM, *PORT_BUFFERS, *IGNORED)


def clocked_summary(netlist: dict) -> list[tuple[str, int, str]]:
    """The clocked elements of the top module by type, with what makes a path from or into them slower
    than their LUT levels say: block RAMs read without their output register, DSP48E2 slices whose A or
    B input has no register, DSP48E2 slices with no register at all (logic, D3). Rows (type, count, note)."""
    count: dict[str, int] = {}
    slow: dict[str, int] = {}  # BRAM: no output register; DSP48E2: A or B unregistered
    comb = 0
    for cell in _top_module(netlist).get("cells", {}).values():
        ctype = str(cell.get("type", ""))
        if ctype not in CLOCKED:
            continue
        params = cell.get("parameters", {})
        if ctype == "DSP48E2" and not _registered(cell):
            comb += 1
            continue
        count[ctype] = count.get(ctype, 0) + 1
        if ctype.startswith("RAMB"):
            unreg = not (_param(params, "DOA_REG") or _param(params, "DOB_REG"))
        else:
            unreg = ctype == "DSP48E2" and not (_param(params, "AREG", 1) and _param(params, "BREG", 1))
        slow[ctype] = slow.get(ctype, 0) + int(unreg)
    rows = []
    for ctype in CLOCKED:
        if ctype not in count:
            continue
        note = ""
        if ctype.startswith("RAMB"):
            note = f"read without output register (DOA_REG = DOB_REG = 0): {slow[ctype]:,}"
        elif ctype == "DSP48E2":
            note = f"no register on A or B (a path in crosses the multiplier): {slow[ctype]:,}"
            note += f"; and {comb} with no register at all, counted as logic (D3)" if comb else ""
        rows.append((ctype, count[ctype], note))
    return rows


def report(
    found: list[LogicPath],
    head: str,
    top_n: int,
    clocked: list[tuple[str, int, str]] = (),
    cells: dict[str, int] | None = None,
) -> str:
    """Markdown: the deepest paths (one per pair of buses), the deepest into each block, and how many
    end points have how many LUT levels in front of them."""
    tail = []
    if clocked:
        tail = ["", "## Clocked elements", "", "| type | count | note |", "| --- | ---: | --- |"]
        tail += [f"| {t} | {n:,} | {r} |" for t, n, r in clocked]
    if cells:
        tail += ["", "## Cells by type", "", "| type | cells |", "| --- | ---: |"]
        tail += [f"| {t} | {n:,} |" for t, n in cells.items()]
    if not found:
        return "\n".join([head, "No path with logic between clocked elements.", *tail]) + "\n"
    lines = [
        head,
        "## Deepest paths",
        "",
        "One row per pair of start and end buses (the bit shown is the deepest). 'Through' lists the named",
        "nets on the path; the cells are the mapped cells from start to end.",
        "",
        "| # | depth | from | to | through | cells |",
        "| ---: | --- | --- | --- | --- | --- |",
    ]
    for i, p in enumerate(distinct(found)[:top_n]):
        via = " > ".join(f"`{n}`" for n in p.through) or "-"
        lines.append(
            f"| {i + 1} | {_fmt(p.depth)} | `{p.start}` ({p.start_kind}) | `{p.end}` ({p.end_kind}) | {via} "
            f"| {' '.join(p.cells)} |"
        )
    lines += [
        "",
        "## Deepest path from each start",
        "",
        "One row per start bus: where the depth comes from (the first rows), and how deep the rest is.",
        "",
        "| # | depth | from | to |",
        "| ---: | --- | --- | --- |",
    ]
    for i, p in enumerate(per_start(found)[:top_n]):
        lines.append(f"| {i + 1} | {_fmt(p.depth)} | `{p.start}` ({p.start_kind}) | `{p.end}` ({p.end_kind}) |")
    lines += ["", "## Deepest path into each block", "", "| block | depth | from | to |", "| --- | --- | --- | --- |"]
    for p in per_block(found):
        lines.append(f"| `{p.block}` | {_fmt(p.depth)} | `{p.start}` ({p.start_kind}) | `{p.end}` ({p.end_kind}) |")
    lines += ["", "## End points by LUT levels", "", "| LUT levels | end points |", "| ---: | ---: |"]
    lines += [f"| {k} | {v:,} |" for k, v in histogram(found).items()]
    lines += tail
    return "\n".join(lines) + "\n"


def synthesize_netlist(cfg: HardwareConfig, sparse: bool, work: Path) -> tuple[dict, str]:
    """The flattened Xilinx mapping of the generated design (the resource flow's, rtl/resources.py) as a
    Yosys JSON netlist under `work`, kept there with the key of its Verilog and flow so that a rerun of
    the same design reads it instead of running Yosys again; returns (netlist, Yosys version)."""
    from .emit import write_verilog
    from .params import TOP, RtlParams
    from .yosys_stats import read_command, run_yosys, verilog_key, yosys_version

    yosys = shutil.which("yosys")
    if yosys is None:
        raise ConfigError("yosys: executable not found (Debian package 'yosys')")
    vdir = work / ("sparse" if sparse else "dense")
    files = write_verilog(RtlParams(cfg, sparse=sparse), vdir)
    net, stamp = vdir / "netlist.json", vdir / "netlist.key"
    key = verilog_key(files, True)  # the generated Verilog, the Yosys version and flow: a rerun reuses the netlist
    if not (net.exists() and stamp.exists() and stamp.read_text() == key):
        stamp.unlink(missing_ok=True)
        what = "sparse design" if sparse else "dense baseline"
        print(
            f"rtl.depth: Yosys on the {what} of {cfg.name} (the Ultra96v2 build takes about 10 minutes)",
            file=sys.stderr,
        )
        script = read_command(vdir, files) + f"synth_xilinx -family xcup -top {TOP} -flatten -abc9; write_json {net}"
        run_yosys(yosys, script, vdir / "yosys.log", cfg.name)
        stamp.write_text(key)
    return load_netlist(net), yosys_version()


def load_netlist(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a JSON netlist ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a Yosys JSON netlist (top level is not an object)")
    return data


def main(argv: list[str] | None = None) -> int:
    from archsim.config import load_config
    from archsim.errors import ArchsimError
    from archsim.fileio import atomic_write_text
    from archsim.packaged import config_path

    from .resources import design_commit

    ap = argparse.ArgumentParser(prog="python -m rtl.depth", description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--config", default=str(config_path()), help="hardware configuration (default: the Ultra96v2's)")
    ap.add_argument("--dense", action="store_true", help="the dense baseline's build instead of the sparse one")
    ap.add_argument("--out", type=Path, help="write the Markdown report here (default: print it)")
    ap.add_argument("--netlist", type=Path, help="analyse this Yosys JSON netlist instead of synthesizing")
    ap.add_argument(
        "--work",
        type=Path,
        default=Path("build/depth"),
        help="folder for the generated design and its netlist, kept per design (default build/depth)",
    )
    ap.add_argument("--top", type=int, default=10, help="how many of the deepest paths to list (default 10)")
    args = ap.parse_args(argv)
    try:
        if args.top < 1:
            raise ConfigError(f"option '--top': must be >= 1, got {args.top}")
        cfg = load_config(args.config)
        what = "dense baseline" if args.dense else "sparse design"
        if args.netlist is not None:
            netlist, flow = load_netlist(args.netlist), f"the netlist {args.netlist}"
        else:
            netlist, version = synthesize_netlist(cfg, not args.dense, args.work)
            flow = f"Yosys {version} `synth_xilinx -family xcup -flatten -abc9`"
        found = paths(netlist)
        commit = design_commit()
        head = (
            f"# Logic depth of the generated accelerator ({what}, {cfg.name})\n\n"
            f"Generated by `python -m rtl.depth{' --dense' if args.dense else ''}` from {flow}"
            f"{f' (design commit {commit})' if commit else ''}; rules D1-D5 in rtl/depth.py. Cells between two "
            f"clocked elements, not delays: Yosys has no UltraScale+ timing and no router, so whether "
            f"{cfg.clock_mhz:g} MHz closes is for Vivado to say.\n"
        )
        text = report(found, head, args.top, clocked_summary(netlist), cell_types(netlist))
        if args.out is None:
            print(text, end="")
        else:
            atomic_write_text(args.out, text)
            print(f"wrote {args.out}")
        return 0
    except ArchsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
