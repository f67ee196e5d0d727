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

This module is the report of the flattened builds and the command; the per-block build is
rtl/resources_blocks.py, the Yosys runs, the cache and the reading of `stat` rtl/yosys_stats.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
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

from .resources_blocks import block_report  # noqa: E402
from .yosys_stats import (  # noqa: E402
    CACHE,
    NotCached,
    Usage,
    parse_stat,
    read_command,
    resource_fields,
    run_yosys,
    usage_of,
    verilog_key,
    yosys_version,
)

# xczu3eg (Ultra96v2) totals
DEVICE = {"part": "xczu3eg", "LUT": 70_560, "FF": 141_120, "BRAM36": 216, "DSP": 360}
BUDGET = 0.80  # the sparse design must fit in 80 % of LUTs and BRAM
# A hand-written section of the report (per-block analysis) that regeneration carries over.
PROSE_HEAD = "## Where the LUTs go"


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
        **resource_fields(u),
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
Yosys does no timing analysis; `python -m rtl.depth` counts the logic levels between registers, docs/depth.md).
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


def parse_shapes(text: str, option: str) -> list[tuple[int, int]]:
    try:
        shapes = [tuple(int(v) for v in s.lower().split("x")) for s in text.split(",") if s.strip()]
        if any(len(s) != 2 or min(s) < 1 for s in shapes):
            raise ValueError
    except ValueError:
        raise ConfigError(f"option '{option}': expected ROWSxCOLS[,ROWSxCOLS...], got {text[:80]!r}") from None
    return [(r, c) for r, c in shapes]


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
