"""Where the sparse design's resources go (`python -m rtl.resources --blocks`).

The sparse build synthesized again without -flatten (each module optimised on its own), Yosys'
hierarchical `stat` rolled up per block: each instance in bnn_accel and bnn_core, named by a `dump`,
with everything it instantiates, and their own cells as the top logic. `block_report` turns it into
docs/resources.md's generated section "Resources per block" and the JSON's `blocks`; the flattened
report around it is rtl/resources.py's.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from archsim.config import HardwareConfig
from archsim.errors import ConfigError
from archsim.fileio import atomic_write_text

from .yosys_stats import (
    CACHE,
    NotCached,
    Usage,
    cell_counts,
    read_command,
    resource_fields,
    run_yosys,
    usage_of,
    verilog_key,
    yosys_version,
)

# The per-block breakdown (`--blocks`): the sparse design synthesized again without -flatten.

# The generated top and the core it wraps: their own cells are the "top logic"; every other instance in
# them is a block, counted with everything it instantiates.
CORE_MODULES = ("bnn_accel", "bnn_core")
BLOCKS_HEAD = "## Resources per block"
TOP_LOGIC = "top logic"
# What a block holds, by its instance name in bnn_core (the last part, after any generate scope), else by
# its Verilog module; a block in neither keeps its module's name.
INSTANCE_LABELS = {
    "u_wmem": "weight ring",
    "u_pmem": "epilogue parameter slots",
    "u_thr": "predictor thresholds",
    "u_prmem": "predictors",
    "u_res": "residual buffer",
    "u_xres": "input residual buffer",
    "u_list_in": "position list, input side (gather)",
    "u_list_out": "position list, output side (epilogue)",
    "u_list_row": "position list, rows complete (epilogue)",
}
BLOCK_LABELS = {
    "bnn_pe_array": "PE array",
    "bnn_winbuf": "window buffers",
    "bnn_act_sets": "activation sets",
    "bnn_rd_dma": "read DMA",
    "bnn_epilogue": "epilogue",
    "bnn_mask_unit": "spatial mask unit",
    "bnn_gather": "gather",
    "bnn_wr_dma": "write DMA",
    "bnn_seq": "sequencer",
    "bnn_regs": "register map",
    "bnn_pe_ctl": "PE control",
    "bnn_sumstore": "sum store (pooled STORE)",
}
# Modules shown as blocks of their own wherever a block instantiates them (their cells then leave that block's row).
NESTED_LABELS = {"bnn_stem": "stem unit"}
_RES_KEYS = ("lut", "lut_ram", "ff", "bram36", "dsp")


@dataclass
class StatHierarchy:
    """A hierarchical Yosys `stat`: each module's cells, where an instance of another module of the
    design counts as a cell named after that module; and the names of the instances in the core
    modules (module -> instance -> its module), from a `dump` of them."""

    top: str
    modules: dict[str, dict[str, int]]
    instances: dict[str, dict[str, str]]


def base_module(name: str) -> str:
    """The Verilog module of a Yosys module name: `$paramod$<hash>\\bnn_gather` and
    `$paramod\\bnn_rot9\\X=...` (one per parameter set) are bnn_gather and bnn_rot9."""
    m = re.match(r"\$paramod(?:\$[0-9a-fA-F]+)?\\([^\\]+)", name)
    return m.group(1) if m else name.removeprefix("\\")


def parse_instances(text: str) -> dict[str, dict[str, str]]:
    """The instances of a Yosys `dump` in a log: `module NAME`, then `  cell TYPE NAME` lines, then `end`."""
    out: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        if m := re.fullmatch(r"module (\S+)", line):
            current = out.setdefault(m.group(1).removeprefix("\\"), {})
        elif line == "end":
            current = None
        elif current is not None and (m := re.fullmatch(r"  cell (\S+) (\S+)", line)):
            current[m.group(2).removeprefix("\\")] = m.group(1).removeprefix("\\")
    return out


def parse_hierarchy(text: str) -> StatHierarchy:
    """The last `stat` report of a Yosys log of a design that kept its hierarchy (no -flatten), and the
    instance names that a `dump` before it lists.

    Checks that the modules add up, with every instance, to the total that Yosys prints under
    `=== design hierarchy ===` (when it prints one), and that the dump lists as many instances of each
    module as the statistics count: a misread line fails here, not in a table."""
    start = text.rfind("Printing statistics.")
    parts = re.split(r"^=== (.+?) ===[ \t]*$", text[max(start, 0) :], flags=re.M)
    modules: dict[str, dict[str, int]] = {}
    hier = None
    for name, section in zip(parts[1::2], parts[2::2], strict=True):
        if name == "design hierarchy":
            hier = section
        else:
            modules[name] = cell_counts(section, f"module {name}")
    if not modules:
        raise ValueError("no '=== module ===' statistics in the Yosys log")
    if hier is not None:
        m = re.search(r"^\s+(\S+)\s+1\s*$", hier, flags=re.M)
        if m is None or m.group(1) not in modules:
            raise ValueError("design hierarchy: no top module with statistics")
        top = m.group(1)
    else:  # a design of one module: Yosys prints no hierarchy
        used = {c for cells in modules.values() for c in cells if c in modules}
        tops = [n for n in modules if n not in used]
        if len(tops) != 1:
            raise ValueError(f"no design hierarchy and {len(tops)} uninstantiated modules: no single top")
        top = tops[0]
    instances = parse_instances(text[: max(start, 0)])
    for name, insts in instances.items():
        listed: dict[str, int] = {}
        for t in insts.values():
            listed[t] = listed.get(t, 0) + 1
        if name not in modules or listed != {c: n for c, n in modules[name].items() if c in modules}:
            raise ValueError(f"module {name}: the instances listed do not match its statistics")
    h = StatHierarchy(top, modules, instances)
    flat = rollup(h, top)
    if hier is not None and flat != (total := cell_counts(hier, "design hierarchy")):
        diff = sorted(c for c in set(flat) | set(total) if flat.get(c, 0) != total.get(c, 0))
        raise ValueError(f"the modules do not add up to the design hierarchy's total (cells {', '.join(diff[:5])})")
    return h


def rollup(h: StatHierarchy, module: str, _path: tuple[str, ...] = ()) -> dict[str, int]:
    """The leaf cells of `module` with everything it instantiates (an instance used n times counts n times)."""
    if module in _path:
        raise ValueError(f"module {module} instantiates itself")
    out: dict[str, int] = {}
    for cell, n in h.modules[module].items():
        sub = rollup(h, cell, (*_path, module)) if cell in h.modules else {cell: 1}
        for c, k in sub.items():
            out[c] = out.get(c, 0) + n * k
    return out


@dataclass
class Block:
    instance: str  # its name in the core ("" for the top logic)
    module: str  # its Verilog module; the top modules for the top logic
    label: str
    cells: dict[str, int]


def _nested(h: StatHierarchy, module: str) -> dict[str, int]:
    """How many instances of each NESTED_LABELS module `module` holds at any depth (Yosys module names)."""
    out: dict[str, int] = {}
    for cell, n in h.modules[module].items():
        if cell not in h.modules:
            continue
        found = {cell: 1} if base_module(cell) in NESTED_LABELS else _nested(h, cell)
        for c, k in found.items():
            out[c] = out.get(c, 0) + n * k
    return out


def blocks_of(h: StatHierarchy) -> list[Block]:
    """The blocks of the core, most LUTs (then block RAM) first, then the top logic: each instance in the
    top and the core (CORE_MODULES, each instantiated once) with everything it instantiates."""
    core, own, blocks = [h.top], {}, []
    for module in core:  # grows while the walk meets core modules
        subs = {c for c in h.modules[module] if c in h.modules}
        if subs and module not in h.instances:
            raise ValueError(f"module {module}: no instance names (no `dump` of it in the log)")
        for cell, n in h.modules[module].items():
            if cell not in h.modules:
                own[cell] = own.get(cell, 0) + n
        for inst, cell in sorted(h.instances.get(module, {}).items()):
            name = base_module(cell)
            if name in CORE_MODULES and h.modules[module][cell] == 1 and cell not in core:
                core.append(cell)
                continue
            label = INSTANCE_LABELS.get(inst.rsplit(".", 1)[-1], BLOCK_LABELS.get(name, name))
            cells = rollup(h, cell)
            for sub, n in _nested(h, cell).items():  # e.g. the stem unit inside the read DMA
                inner = {c: k * n for c, k in rollup(h, sub).items()}
                cells = {c: k - inner.get(c, 0) for c, k in cells.items() if k - inner.get(c, 0)}
                sub_name = base_module(sub)
                blocks.append(
                    Block(f"{inst}/{sub_name}", sub_name, f"{NESTED_LABELS[sub_name]} (in the {label})", inner)
                )
            blocks.append(Block(inst, name, label, cells))
    blocks.sort(key=lambda b: (-usage_of(b.cells).lut, -usage_of(b.cells).bram36, b.instance))
    tops = ", ".join(base_module(m) for m in core)
    return [*blocks, Block("", tops, f"{TOP_LOGIC} (the top modules' own cells)", own)]


def blocks_script(vdir: Path, files: list[Path], abc9: bool) -> str:
    """`synthesize()`'s Yosys flow without -flatten: each module is optimised on its own."""
    from .params import TOP

    # the instances in the core modules, by name and module (stat counts them by module only)
    cores = f"{TOP}/t:$paramod* {TOP}/t:bnn_* *bnn_core/t:$paramod* *bnn_core/t:bnn_*"
    return (
        read_command(vdir, files)
        + f"synth_xilinx -family xcup -top {TOP}{' -abc9' if abc9 else ''}; dump {cores}; stat"
    )


def blocks_key(files: list[Path], abc9: bool, script: str, vdir: Path) -> str:
    """The cache key of a per-block build: the generated Verilog, Yosys' version and the whole command
    (the folder it ran in left out)."""
    flow = script.replace(str(vdir), "<dir>")
    return hashlib.sha256(f"blocks\n{verilog_key(files, abc9)}\n{flow}".encode()).hexdigest()


def _blocks_input(cfg: HardwareConfig, work: Path, abc9: bool, prm_kw: dict) -> tuple[Path, list[Path], str, str]:
    """The sparse design's Verilog written under `work`: (folder, files, Yosys script, cache key)."""
    from .emit import write_verilog
    from .params import RtlParams

    vdir = work / "blocks"
    files = write_verilog(RtlParams(cfg, sparse=True, **prm_kw), vdir)
    script = blocks_script(vdir, files, abc9)
    return vdir, files, script, blocks_key(files, abc9, script, vdir)


def synthesize_blocks(
    cfg: HardwareConfig,
    work: Path,
    abc9: bool = True,
    cache: Path | None = None,
    cached_only: bool = False,
    **prm_kw,
) -> tuple[StatHierarchy, float, str, bool]:
    """The sparse design through Yosys without -flatten; returns (hierarchy, seconds, key, from the cache).

    With `cache`, each module's cell counts are kept under `cache`/blocks/<key>.json (as `synthesize()`
    keeps its builds); `cached_only` raises NotCached rather than running Yosys."""
    vdir, _, script, key = _blocks_input(cfg, work, abc9, prm_kw)
    hit = cache / "blocks" / f"{key}.json" if cache is not None else None
    if hit is not None and hit.exists():
        saved = json.loads(hit.read_text())
        mods = {str(m): {str(c): int(n) for c, n in cells.items()} for m, cells in saved["modules"].items()}
        insts = {str(m): {str(i): str(t) for i, t in ii.items()} for m, ii in saved["instances"].items()}
        return StatHierarchy(str(saved["top"]), mods, insts), float(saved["synth_s"]), key, True
    if cached_only:
        raise NotCached(f"{cfg.name}: the per-block build is not in the Yosys cache")
    yosys = shutil.which("yosys")
    if yosys is None:
        raise ConfigError("yosys: executable not found (Debian package 'yosys')")
    log = vdir / "yosys-blocks.log"
    text, secs = run_yosys(yosys, script, log, f"{cfg.name} (per block)")
    try:
        h = parse_hierarchy(text)
    except ValueError as exc:
        raise ConfigError(f"{log}: Yosys' per-block statistics: {exc}") from None
    if hit is not None:
        hit.parent.mkdir(parents=True, exist_ok=True)
        saved = {"config": cfg.name, "top": h.top, "modules": h.modules, "instances": h.instances, "synth_s": secs}
        atomic_write_text(hit, json.dumps(saved))
    return h, secs, key, False


def block_rows(h: StatHierarchy) -> list[dict]:
    """The JSON rows of the breakdown (`blocks` in docs/resources.json), the top logic last."""
    return [
        {"block": b.label, "instance": b.instance, "module": b.module, **resource_fields(usage_of(b.cells))}
        for b in blocks_of(h)
    ]


def blocks_section(rows: list[dict], build: dict, origin: str) -> str:
    """The generated Markdown section of the breakdown: rows and build as the JSON holds them."""
    total = build["sum"]
    flat = build["flattened"]
    out = [
        "| block | instance | module | LUT (share) | of which LUT RAM | FF | BRAM36 | DSP |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in [*rows, {"block": "sum of the blocks", "instance": "", "module": "", **total}]:
        share = f" ({100 * r['lut'] / total['lut']:.1f} %)" if total["lut"] else ""
        inst = f"`{r['instance']}`" if r["instance"] else ""
        out.append(
            f"| {r['block']} | {inst} | {r['module']} | {r['lut']:,}{share} | {r['lut_ram']:,} | {r['ff']:,} "
            f"| {r['bram36']:g} | {r['dsp']} |"
        )
    out.append(
        f"| flattened build (the sparse row at the top) | | | {flat['lut']:,} | {flat['lut_ram']:,} | {flat['ff']:,} "
        f"| {flat['bram36']:g} | {flat['dsp']} |"
    )
    d = total["lut"] - flat["lut"]
    return f"""
{BLOCKS_HEAD}

Generated with `--blocks` ({origin}); regenerated with the report, do not edit. The sparse build
({build["config"]}) again, without `-flatten` (each module optimised on its own):
`{build["flow"]}`.
A block is an instance in bnn_accel or bnn_core (its name in the core: generate scopes included), counted
with everything it instantiates; the top logic is the cells of bnn_accel and bnn_core themselves. LUT
includes LUT RAM (the rules of the table at the top). Synthesis took {build["synth_s"]:.0f} s. Build key
{build["key"][:16]} (the generated Verilog and the Yosys command): a report regenerated without `--blocks`
keeps this section only while the key still matches, and drops it otherwise.

{chr(10).join(out)}

Without `-flatten` Yosys optimises nothing across module boundaries (constants and unused outputs
stay, no logic is shared between blocks) and maps each module's memories on its own, so the blocks' sum is not
the flattened build's: {total["lut"]:,} LUTs where the flattened build of the same Verilog measures {flat["lut"]:,}
({d:+,} LUTs); FF: {total["ff"]:,} vs {flat["ff"]:,}; BRAM36: {total["bram36"]:g} vs {flat["bram36"]:g}; DSP: {total["dsp"]} vs {flat["dsp"]}.
The shares are of the blocks' sum.
"""


def _prior_blocks(report: Path) -> tuple[list[dict], dict] | None:
    """The breakdown a previous JSON report holds, if it holds a well-formed one."""
    try:
        data = json.loads(report.read_text())
        rows, build = data["blocks"], data["blocks_build"]
        ok = isinstance(build, dict) and isinstance(build.get("key"), str) and isinstance(rows, list) and rows
        for r in rows if ok else []:
            ok = ok and isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("block", "instance", "module"))
            ok = ok and all(isinstance(r.get(k), int | float) and r[k] >= 0 for k in _RES_KEYS)
        ok = ok and all(isinstance(build.get(k), str) for k in ("config", "flow"))
        ok = ok and isinstance(build.get("synth_s"), int | float)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (rows, build) if ok else None


def block_report(
    cfg: HardwareConfig,
    run: bool,
    flattened: Usage,
    work: Path,
    previous: Path,
    abc9: bool = True,
    cache: Path | None = CACHE,
    **prm_kw,
) -> tuple[str, dict]:
    """The breakdown's Markdown section and JSON fields (`blocks`, `blocks_build`).

    With `run` (`--blocks`) the per-block build is synthesized, or taken from the cache. Without it the
    section is shown only for the current design: from the cache, else from the `previous` JSON report
    when its key matches the current build's; a previous breakdown of another build is dropped with a
    note (stale numbers are never shown as current)."""
    from .params import TOP

    abc = " -abc9" if abc9 else ""
    flow = f"yosys {yosys_version()} synth_xilinx -family xcup -top {TOP}{abc}; dump (the core's instances); stat"
    try:
        h, secs, key, cached = synthesize_blocks(cfg, work, abc9=abc9, cache=cache, cached_only=not run, **prm_kw)
        rows = block_rows(h)
        build = {"config": cfg.name, "design": "sparse", "flow": flow, "key": key, "synth_s": round(secs, 1)}
        origin = "from the Yosys cache" if cached else "synthesized now"
    except NotCached:
        key = _blocks_input(cfg, work, abc9, prm_kw)[3]
        prior = _prior_blocks(previous)
        if prior is None:
            return "", {}
        rows, build = prior
        if build["key"] != key:
            return (
                f"""
{BLOCKS_HEAD}

Not shown: the previous report's breakdown was of another build (key {build["key"][:16]}; this design's is
{key[:16]}), so its numbers are stale. `--blocks` synthesizes this design per block (without `-flatten`).
""",
                {},
            )
        origin = f"kept from the previous {previous.name}: its key is this design's"
    build = {**build, "sum": {k: sum(r[k] for r in rows) for k in _RES_KEYS}, "flattened": resource_fields(flattened)}
    return blocks_section(rows, build, origin), {"blocks": rows, "blocks_build": build}
