"""Resource estimate of the generated RTL with Yosys (`synth_xilinx -family xcup`).

    python -m rtl.resources [--config configs/ultra96v2.yaml] [--out docs/resources.md] [--legacy-abc]
                            [--shapes 8x8,16x32] [--dense-shapes 16x18,16x19,16x20] [--blocks]

synthesizes the sparse and the dense design (`synth_xilinx -family xcup -flatten -abc9`;
--legacy-abc drops -abc9, whose LUT mapping packs the PE datapath far worse: wide
MUXF7/F8 structures), counts LUTs (logic and LUT RAM), flip-flops,
block RAM (RAMB36 = 1, RAMB18 = 0.5) and DSP slices from Yosys' `stat`, and writes a
Markdown table against the xczu3eg's totals, and the same numbers as JSON beside it
(docs/resources.json, the file `analysis` reads: entries with pe_rows, pe_cols, lut, ff,
bram36, dsp; the sparse design first). --shapes adds sparse builds of the same
configuration with other PE array sizes (rows x cols) to the JSON; --dense-shapes adds dense
builds, and the report names the largest dense build whose LUTs do not exceed the sparse
build's: the equal-area dense baseline (`equal_area` in the JSON). Yosys estimates; Vivado's numbers after
place and route will differ (typically fewer LUTs: Yosys does no cross-boundary
retiming and maps some LUT RAM conservatively).

--blocks adds where the sparse design's resources go: the sparse build again without -flatten
(each module optimised on its own), Yosys' hierarchical `stat` rolled up per block (each instance
in bnn_accel and bnn_core, named by a `dump`, with everything it instantiates; their own cells as
the top logic), a generated section before the hand-written one and `blocks` in the JSON. It runs
Yosys even with --cached-only (which concerns the flattened builds) unless its build is cached
(build/yosys-cache/blocks). Without --blocks the section stays only while it is of the current
design (its key, the Verilog and the Yosys command, in the cache or the previous JSON report);
one of another build is dropped with a note, never shown as current.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__" and not __package__:  # run as a script from a clone
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    __package__ = "rtl"

from pydantic import ValidationError  # noqa: E402

from archsim.config import HardwareConfig, load_config  # noqa: E402
from archsim.errors import ArchsimError, ConfigError  # noqa: E402
from archsim.fileio import atomic_write_text  # noqa: E402
from archsim.packaged import config_path  # noqa: E402

# xczu3eg (Ultra96v2) totals
DEVICE = {"part": "xczu3eg", "LUT": 70_560, "FF": 141_120, "BRAM36": 216, "DSP": 360}
BUDGET = 0.80  # the sparse design must fit in 80 % of LUTs and BRAM
# A hand-written section of the report (per-block analysis) that regeneration carries over.
PROSE_HEAD = "## Where the LUTs go"
# The Verilog define that selects DSP48E2 primitives where Yosys would leave adders in fabric (bnn_dsp_madd)
DSP_DEFINE = "BNN_DSP48E2"

# LUTs per LUT-RAM / shift-register primitive (UltraScale+ CLB)
LUTRAM_LUTS = {
    "RAM16X1D": 2,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32M16": 8,
    "RAM64M8": 8,
    "SRL16E": 1,
    "SRLC32E": 1,
}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")


@dataclass
class Usage:
    lut_logic: int
    lut_ram: int
    ff: int
    bram36: float
    dsp: int
    cells: dict[str, int]

    @property
    def lut(self) -> int:
        return self.lut_logic + self.lut_ram


def parse_stat(text: str) -> Usage:
    """Cell counts from the last `stat` report in a Yosys log."""
    idx = text.rfind("Number of cells:")
    if idx < 0:
        raise ValueError("no 'Number of cells' in the Yosys log")
    return usage_of(_cell_counts(text[idx:], "the Yosys log"))


def usage_of(cells: dict[str, int]) -> Usage:
    """Resource counts from Yosys cell counts."""
    lut_logic = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6](_2)?", c))
    lut_ram = sum(LUTRAM_LUTS[c] * n for c, n in cells.items() if c in LUTRAM_LUTS)
    ff = sum(cells.get(c, 0) for c in FF_CELLS)
    bram = cells.get("RAMB36E2", 0) + 0.5 * cells.get("RAMB18E2", 0)
    dsp = cells.get("DSP48E2", 0)
    return Usage(lut_logic, lut_ram, ff, bram, dsp, cells)


CACHE = ROOT / "build" / "yosys-cache"


class NotCached(ConfigError):
    """`cached_only` and the build is not in the cache: not synthesized (never estimated otherwise)."""


def verilog_key(files: list[Path], abc9: bool) -> str:
    """The cache key of a build: the Yosys version and flow (with the define `read_command` sets), and every
    generated Verilog file."""
    h = hashlib.sha256(f"{yosys_version()}\n{' -abc9' if abc9 else ''}\n-D{DSP_DEFINE}\n".encode())
    for f in sorted(files, key=lambda f: f.name):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def read_command(vdir: Path, files: list[Path]) -> str:
    """Yosys' read of the generated design, DSP48E2 primitives selected (DSP_DEFINE)."""
    return f"read_verilog -D{DSP_DEFINE} -I{vdir} " + " ".join(str(f) for f in files) + "; "


def run_yosys(yosys: str, script: str, log: Path, what: str) -> tuple[str, float]:
    """Run one Yosys script; returns (its log, seconds). A failure is one ConfigError naming `what`."""
    t0 = time.perf_counter()
    proc = subprocess.run([yosys, "-q", "-l", str(log), "-p", script], capture_output=True, text=True)
    secs = time.perf_counter() - t0
    text = log.read_text() if log.exists() else ""
    if proc.returncode != 0:
        raise ConfigError(f"yosys failed on {what}: {(proc.stderr or text)[-800:]}")
    return text, secs


def synthesize(
    cfg: HardwareConfig,
    sparse: bool,
    work: Path,
    abc9: bool = True,
    cache: Path | None = None,
    cached_only: bool = False,
    **prm_kw,
) -> tuple[Usage, float, str]:
    """Run Yosys on the generated design; returns (usage, seconds, log tail).

    With `cache`, the cell counts are kept under a key made of the generated Verilog and the
    Yosys command (any RTL change misses), so a report over several builds resumes where an
    interrupted one stopped, and builds can be synthesized by separate processes."""
    from .emit import write_verilog
    from .params import TOP, RtlParams

    yosys = shutil.which("yosys")
    if yosys is None:
        raise ConfigError("yosys: executable not found (Debian package 'yosys')")
    vdir = work / ("sparse" if sparse else "dense")
    files = write_verilog(RtlParams(cfg, sparse=sparse, **prm_kw), vdir)
    log = vdir / "yosys.log"
    script = (
        read_command(vdir, files) + f"synth_xilinx -family xcup -top {TOP} -flatten{' -abc9' if abc9 else ''}; stat"
    )
    hit = cache / f"{verilog_key(files, abc9)}.json" if cache is not None else None
    if hit is not None and hit.exists():
        saved = json.loads(hit.read_text())
        return usage_of({str(k): int(v) for k, v in saved["cells"].items()}), float(saved["synth_s"]), "(cached)"
    if cached_only:
        raise NotCached(f"{cfg.name}: not in the Yosys cache")
    text, secs = run_yosys(yosys, script, log, cfg.name)
    usage = parse_stat(text)
    if hit is not None:
        hit.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            hit, json.dumps({"config": cfg.name, "sparse": sparse, "cells": usage.cells, "synth_s": secs})
        )
    return usage, secs, text[-400:]


def table(rows: list[tuple[str, Usage]]) -> str:
    d = DEVICE
    out = [
        f"| design | LUT (of {d['LUT']:,}) | of which LUT RAM | FF (of {d['FF']:,}) | BRAM36 (of {d['BRAM36']}) | DSP (of {d['DSP']}) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, u in rows:
        out.append(
            f"| {name} | {u.lut:,} ({100 * u.lut / d['LUT']:.1f} %) | {u.lut_ram:,} | {u.ff:,} ({100 * u.ff / d['FF']:.1f} %) "
            f"| {u.bram36:g} ({100 * u.bram36 / d['BRAM36']:.1f} %) | {u.dsp} ({100 * u.dsp / d['DSP']:.1f} %) |"
        )
    return "\n".join(out)


def _entry(design: str, cfg: HardwareConfig, u: Usage, secs: float) -> dict:
    return {
        "design": design,
        "config": cfg.name,
        "pe_rows": cfg.pe_array.rows,
        "pe_cols": cfg.pe_array.cols,
        "acc_depth": cfg.pe_array.acc_depth,
        "res_depth": cfg.buffers.res_depth,
        **_resources(u),
        "synth_s": round(secs, 1),
    }


def design_commit() -> str | None:
    """The last commit that changed the generated design (the Verilog sources it emits and the generator),
    '+dirty' when those files differ from it; None outside a clone. Estimates belong to that design only.
    A module of rtl/verilog that the design does not emit (bnn_stem.v, not yet in the core) does not count."""
    from .emit import SOURCES

    generator = ["rtl/emit.py", "rtl/gen.py", "rtl/params.py", "rtl/regmap.py", "archsim/config.py"]
    paths = [*(f"rtl/verilog/{f}" for f in SOURCES), *generator, "archsim/buildable.py"]
    try:
        log = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", *paths], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    if log.returncode != 0 or not log.stdout.strip():
        return None
    return log.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def sweep_builds(
    sweep_file: Path, abc9: bool, cache: Path | None, cached_only: bool, work: Path, prm_args: dict
) -> dict:
    """The sparse build of every point of a sweep (its own hardware configuration, overrides applied).

    With `cached_only`, a point whose build is not in the Yosys cache is recorded as not synthesized
    (no numbers): never an estimate from another build."""
    from archsim.sweep import load_sweep

    sw = load_sweep(sweep_file)
    builds = []
    for p in sw.points:
        data = dict(p.hardware)
        shape = f"{data['pe_array']['rows']}x{data['pe_array']['cols']}"
        try:
            cfg = HardwareConfig.model_validate({**data, "name": f"{data['name']}-{shape}"})  # as --shapes names it
        except ValidationError as exc:  # a point the RTL generator cannot build (the sweep records it invalid)
            builds.append(
                {
                    "design": "sparse",
                    "config": f"{data['name']}-{shape}",
                    "pe_rows": data["pe_array"]["rows"],
                    "pe_cols": data["pe_array"]["cols"],
                    "acc_depth": data["pe_array"]["acc_depth"],
                    "res_depth": data["buffers"]["res_depth"],
                    "point": p.index,
                    "status": "not synthesized",
                    "reason": "invalid configuration: " + exc.errors()[0]["msg"].removeprefix("Value error, "),
                }
            )
            continue
        try:
            u, s, _ = synthesize(
                cfg,
                True,
                work / f"{sw.spec.name}-{p.index}",
                abc9=abc9,
                cache=cache,
                cached_only=cached_only,
                **prm_args,
            )
            builds.append({**_entry("sparse", cfg, u, s), "point": p.index, "status": "synthesized"})
        except NotCached:
            e = _entry("sparse", cfg, Usage(0, 0, 0, 0, 0, {}), 0)
            builds.append(
                {k: e[k] for k in ("design", "config", "pe_rows", "pe_cols", "acc_depth", "res_depth")}
                | {"point": p.index, "status": "not synthesized"}
            )
    rel = sweep_file.resolve()
    with contextlib.suppress(ValueError):
        rel = rel.relative_to(ROOT)
    return {"file": str(rel), "design_commit": design_commit(), "builds": builds}


def sweep_table(name: str, sweep: dict) -> str:
    d = DEVICE
    out = [
        f"| point | PE array | res_depth | LUT (of {d['LUT']:,}) | FF | BRAM36 (of {d['BRAM36']}) | DSP | fits |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for b in sweep["builds"]:
        shape = f"{b['pe_rows']} x {b['pe_cols']}"
        if b["status"] != "synthesized":
            why = f" ({b['reason']})" if b.get("reason") else ""
            out.append(f"| {b['point']} | {shape} | {b['res_depth']} | not synthesized{why} | | | | |")
            continue
        fits = all(b[k] <= d[k.upper()] for k in ("lut", "ff", "bram36", "dsp"))
        out.append(
            f"| {b['point']} | {shape} | {b['res_depth']} | {b['lut']:,} ({100 * b['lut'] / d['LUT']:.0f} %) | {b['ff']:,} "
            f"| {b['bram36']:g} ({100 * b['bram36'] / d['BRAM36']:.0f} %) | {b['dsp']} | {'yes' if fits else 'NO'} |"
        )
    return "\n".join(out)


def with_shape(cfg: HardwareConfig, rows: int, cols: int) -> HardwareConfig:
    d = cfg.model_dump()
    d["pe_array"].update(rows=rows, cols=cols)
    d["name"] = f"{cfg.name}-{rows}x{cols}"
    return HardwareConfig.model_validate(d)


def run_both(
    cfg: HardwareConfig,
    config_path: str | Path,
    out: Path,
    prm_args: dict | None = None,
    abc9: bool = True,
    shapes: list[tuple[int, int]] | None = None,
    dense_shapes: list[tuple[int, int]] | None = None,
    cache: Path | None = CACHE,
    sweeps: list[Path] | None = None,
    cached_only: bool = False,
    blocks: bool = False,
) -> str:
    """Synthesize sparse and dense (and sparse `shapes`), write `out` (Markdown) and its JSON; return the table."""
    prm_args = prm_args or {}
    rows, secs, entries = [], [], []
    with tempfile.TemporaryDirectory(prefix="bnn-yosys-") as tmp:
        for sparse in (True, False):
            u, s, _ = synthesize(cfg, sparse, Path(tmp), abc9=abc9, cache=cache, cached_only=cached_only, **prm_args)
            rows.append((("sparse" if sparse else "dense baseline") + f" ({cfg.name})", u))
            secs.append(s)
            entries.append(_entry("sparse" if sparse else "dense", cfg, u, s))
        for r, c in shapes or []:
            scfg = with_shape(cfg, r, c)
            u, s, _ = synthesize(
                scfg, True, Path(tmp) / f"{r}x{c}", abc9=abc9, cache=cache, cached_only=cached_only, **prm_args
            )
            rows.append((f"sparse, {r} x {c} PEs", u))
            entries.append(_entry("sparse", scfg, u, s))
        for r, c in dense_shapes or []:
            dcfg = with_shape(cfg, r, c)
            u, s, _ = synthesize(
                dcfg, False, Path(tmp) / f"dense-{r}x{c}", abc9=abc9, cache=cache, cached_only=cached_only, **prm_args
            )
            rows.append((f"dense, {r} x {c} PEs", u))
            entries.append(_entry("dense", dcfg, u, s))
        swept = {}
        for f in sweeps or []:
            from archsim.sweep import load_sweep

            swept[load_sweep(f).spec.name] = sweep_builds(f, abc9, cache, cached_only, Path(tmp) / "sweeps", prm_args)
        # --blocks synthesizes even with --cached-only (which governs the flattened builds)
        blocks_md, blocks_json = block_report(
            cfg, blocks, rows[0][1], Path(tmp), out.with_suffix(".json"), abc9=abc9, cache=cache, **prm_args
        )
    tab = table(rows)
    sp = rows[0][1]
    iso = equal_area(entries)
    fits = sp.lut <= BUDGET * DEVICE["LUT"] and sp.bram36 <= BUDGET * DEVICE["BRAM36"]
    rel = Path(config_path).resolve()
    try:
        rel = rel.relative_to(ROOT)
    except ValueError:
        rel = Path(rel.name)
    cmd = f"python -m rtl.resources --config {rel}" + ("" if abc9 else " --legacy-abc")
    if shapes:
        cmd += " --shapes " + ",".join(f"{r}x{c}" for r, c in shapes)
    if dense_shapes:
        cmd += " --dense-shapes " + ",".join(f"{r}x{c}" for r, c in dense_shapes)
    for sw in swept.values():
        cmd += f" --sweep {sw['file']}"
    if cached_only:
        cmd += " --cached-only"
    if blocks:
        cmd += " --blocks"
    sweep_text = "".join(
        f"""
## The sparse build of every point of sweep '{name}' ({sw["file"]})

Each point's own configuration (the sweep's overrides applied). Design: the generator and RTL as of
commit {sw["design_commit"] or "(not a clone)"}; a later design change (another buffer, say) makes these
numbers stale. "not synthesized": no Yosys run finished for it (`--cached-only` records only builds
in the cache); such points have no estimate at all.

{sweep_table(name, sw)}
"""
        for name, sw in swept.items()
    )
    iso_text = (
        f"Equal-area dense baseline: {iso['pe_rows']} x {iso['pe_cols']} PEs, the largest dense build here whose "
        f"{iso['lut']:,} LUTs do not exceed the sparse build's {sp.lut:,}: the dense design given the LUTs that the "
        "index decoder, the mask unit and the sparse datapath cost (`baseline.equal_area_cols` of a workload)."
        if iso
        else "Equal-area dense baseline: not determined (no dense build with more PE columns; use --dense-shapes)."
    )
    text = f"""# Resources of the generated accelerator

Generated by `{cmd}` (also `python rtl/gen.py --resources`; JSON for `analysis`: {out.with_suffix(".json").name});
do not edit. Yosys {yosys_version()} `synth_xilinx -family xcup -flatten{" -abc9" if abc9 else ""}`, then `stat`; LUT counts
logic LUTs plus the LUTs of LUT-RAM and shift-register primitives; BRAM36 counts a RAMB18 as half.
Synthesis took {secs[0]:.0f} s (sparse) and {secs[1]:.0f} s (dense).

{tab}

Target: the sparse design within {int(BUDGET * 100)} % of the LUTs and block RAM of the {DEVICE["part"]}:
{"met" if fits else "NOT met"} ({100 * sp.lut / DEVICE["LUT"]:.1f} % of LUTs, {100 * sp.bram36 / DEVICE["BRAM36"]:.1f} % of BRAM).
These are Yosys estimates before place and route; Vivado's will differ.

{iso_text}

Configuration: {cfg.pe_array.rows} x {cfg.pe_array.cols} PEs, {cfg.pe_array.acc_depth} accumulator slots,
{cfg.buffers.act_word_bits}-bit activation words, {cfg.axi.data_bits}-bit AXI, clock {cfg.clock_mhz:g} MHz (assumed, not checked:
Yosys does no timing analysis).
{sweep_text}{blocks_md}"""
    atomic_write_text(out, text + kept_prose(out))
    flow = f"yosys {yosys_version()} synth_xilinx -family xcup -flatten{' -abc9' if abc9 else ''}; stat"
    report = {
        "kind": "bnn-rtl-resources",
        "generated_by": cmd,
        "flow": flow,
        "device": DEVICE,
        "builds": entries,
        "equal_area": iso,
    }
    if swept:
        report["sweeps"] = swept
    report.update(blocks_json)
    atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n")
    return tab


def kept_prose(report: Path) -> str:
    """The hand-written section (PROSE_HEAD to the end) of an existing report, or ""."""
    if not report.exists():
        return ""
    text = report.read_text()
    at = text.find("\n" + PROSE_HEAD + "\n")
    return text[at:] if at >= 0 else ""


def equal_area(entries: list[dict]) -> dict | None:
    """The dense build with the most PEs whose LUTs do not exceed the first (sparse) build's,
    among dense builds with the sparse build's rows and at least its columns; None if only the
    same-size dense build qualifies (no larger one was synthesized)."""
    sp = entries[0]
    fits = [
        e
        for e in entries
        if e["design"] == "dense"
        and e["pe_rows"] == sp["pe_rows"]
        and e["pe_cols"] >= sp["pe_cols"]
        and e["lut"] <= sp["lut"]
    ]
    if not fits:
        return None
    best = max(fits, key=lambda e: e["pe_cols"])
    if best["pe_cols"] == sp["pe_cols"] and not any(
        e["design"] == "dense" and e["pe_cols"] > sp["pe_cols"] for e in entries
    ):
        return None
    return {k: best[k] for k in ("pe_rows", "pe_cols", "lut", "ff", "bram36", "dsp")}


def default_report(out: Path) -> Path:
    """docs/resources.md in a clone; beside the generated design (`out`) for an installed package."""
    from .emit import in_clone

    return ROOT / "docs" / "resources.md" if in_clone() else out / "resources.md"


def yosys_version() -> str:
    try:
        v = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
        m = re.search(r"Yosys (\S+)", v)
        return m.group(1) if m else v
    except OSError:
        return "?"


def parse_shapes(text: str, option: str) -> list[tuple[int, int]]:
    try:
        shapes = [tuple(int(v) for v in s.lower().split("x")) for s in text.split(",") if s.strip()]
        if any(len(s) != 2 or min(s) < 1 for s in shapes):
            raise ValueError
    except ValueError:
        raise ConfigError(f"option '{option}': expected ROWSxCOLS[,ROWSxCOLS...], got {text[:80]!r}") from None
    return [(r, c) for r, c in shapes]


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


def _cell_counts(section: str, where: str) -> dict[str, int]:
    """The cell lines after 'Number of cells:' in one `=== name ===` section of a stat report."""
    lines = section.splitlines()
    at = next((i for i, ln in enumerate(lines) if ln.strip().startswith("Number of cells:")), None)
    if at is None:
        raise ValueError(f"{where}: no 'Number of cells'")
    cells: dict[str, int] = {}
    for line in lines[at + 1 :]:
        m = re.fullmatch(r"\s+(\S+)\s+(\d+)\s*", line)
        if not m:
            break
        cells[m.group(1)] = cells.get(m.group(1), 0) + int(m.group(2))
    return cells


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
            modules[name] = _cell_counts(section, f"module {name}")
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
    if hier is not None and flat != (total := _cell_counts(hier, "design hierarchy")):
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


def _resources(u: Usage) -> dict:
    return {"lut": u.lut, "lut_ram": u.lut_ram, "ff": u.ff, "bram36": u.bram36, "dsp": u.dsp}


def block_rows(h: StatHierarchy) -> list[dict]:
    """The JSON rows of the breakdown (`blocks` in docs/resources.json), the top logic last."""
    return [
        {"block": b.label, "instance": b.instance, "module": b.module, **_resources(usage_of(b.cells))}
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
    build = {**build, "sum": {k: sum(r[k] for r in rows) for k in _RES_KEYS}, "flattened": _resources(flattened)}
    return blocks_section(rows, build, origin), {"blocks": rows, "blocks_build": build}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl.resources", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(config_path()))
    ap.add_argument("--out", default=str(default_report(Path.cwd())))
    ap.add_argument("--legacy-abc", action="store_true", help="Yosys' default LUT mapper instead of -abc9")
    ap.add_argument("--shapes", default="", help="extra sparse PE array sizes for the JSON, e.g. 8x8,16x32")
    ap.add_argument(
        "--dense-shapes", default="", help="extra dense PE array sizes, for the equal-area baseline, e.g. 16x19,16x20"
    )
    ap.add_argument(
        "--no-cache", action="store_true", help="synthesize every build again (default: reuse build/yosys-cache)"
    )
    ap.add_argument(
        "--sweep",
        action="append",
        default=[],
        type=Path,
        help="also the sparse build of every point of this sweep file (repeatable), e.g. workloads/sweeps/pe_array.yaml",
    )
    ap.add_argument(
        "--cached-only",
        action="store_true",
        help="run no Yosys: take builds from the cache; a sweep point not there is recorded as not synthesized",
    )
    ap.add_argument(
        "--blocks",
        action="store_true",
        help="also the sparse build per block (Yosys without -flatten; runs even with --cached-only unless cached)",
    )
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
        shapes = parse_shapes(args.shapes, "--shapes")
        dense_shapes = parse_shapes(args.dense_shapes, "--dense-shapes")
        print(
            run_both(
                cfg,
                args.config,
                Path(args.out),
                abc9=not args.legacy_abc,
                shapes=shapes,
                dense_shapes=dense_shapes,
                cache=None if args.no_cache else CACHE,
                sweeps=args.sweep,
                cached_only=args.cached_only,
                blocks=args.blocks,
            )
        )
        print(f"wrote {args.out}")
        return 0
    except ArchsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
