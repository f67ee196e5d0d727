"""`python -m analysis all --results DIR [DIR ...] --out docs/figures`.

Each DIR is an `archsim run --out` folder (with `--images`: the latency histogram and the density
spread) or an `archsim sweep --out` folder; the command
makes every figure those results allow, the comparison table, and an index (README.md)
that lists each file with the results it was made from.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .compare import comparison
from .plots import (
    is_density_grid,
    is_pe_sweep,
    plot_accounting,
    plot_accuracy,
    plot_energy,
    plot_grid,
    plot_ideal,
    plot_layers,
    plot_metric,
    plot_pe,
    set_width,
)
from .readers import (
    ROOT,
    ResultsError,
    RunResults,
    SweepResults,
    load_published,
    load_resources,
    load_results,
    load_sweep_resources,
    show,
)
from .testset import is_testset_dir, load_testset, plot_density, plot_latency


def default_resources() -> Path:
    """The shipped resource report: docs/resources.json in a clone, bnn_archsim/data/ in a wheel."""
    for cand in (ROOT / "docs" / "resources.json", ROOT / "data" / "resources.json"):
        if cand.exists():
            return cand
    return ROOT / "docs" / "resources.json"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description="Figures and tables from archsim results files.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("all", help="every figure the given results allow, and the comparison table")
    a.add_argument("--results", type=Path, nargs="+", required=True, metavar="DIR", help="run or sweep result folders")
    a.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for PNG, SVG, PDF and Markdown files")
    a.add_argument(
        "--size",
        choices=("page", "column", "both"),
        default="page",
        help="figure width: 'page' 7 in (two columns), 'column' 3.5 in (files named *_column.*), or both",
    )
    a.add_argument(
        "--accuracy",
        type=Path,
        nargs="+",
        default=[],
        metavar="DIR",
        help="more run folders of trained workloads, used only for the accuracy-vs-speedup figure",
    )
    a.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="COLUMN",
        help="also plot this results.csv column over every sweep's parameters (repeatable); sweeps that no "
        "dedicated figure covers get 'speedup' by default",
    )
    a.add_argument(
        "--resources",
        type=Path,
        default=default_resources(),
        help="RTL resource report (JSON); optional, its absence is shown on the figures (default: docs/resources.json)",
    )
    a.add_argument(
        "--published",
        type=Path,
        default=Path(__file__).resolve().parent / "published.yaml",
        help="published figures with sources (default: the packaged analysis/published.yaml)",
    )
    return p


def make_all(
    results: list[Path],
    out: Path,
    resources_file: Path,
    published_file: Path,
    metrics: Sequence[str] = (),
    sizes: Sequence[str] = ("page",),
    accuracy_runs: Sequence[Path] = (),
) -> list[tuple[Path, str]]:
    """Write every figure (at each of `sizes`) and the table; returns (file, what it was made from) pairs."""
    made: list[tuple[Path, str]] = []
    for size in sizes:
        set_width(size)
        try:
            made += _figures(results, out, resources_file, published_file, metrics, accuracy_runs)
        finally:
            set_width("page")
    return list(dict.fromkeys(made))  # comparison.md is written once per size, listed once


def _figures(
    results: list[Path],
    out: Path,
    resources_file: Path,
    published_file: Path,
    metrics: Sequence[str],
    accuracy_runs: Sequence[Path] = (),
) -> list[tuple[Path, str]]:
    testsets = [load_testset(p) for p in results if is_testset_dir(p)]
    loaded = [load_results(p) for p in results if not is_testset_dir(p)]
    runs = [r for r in loaded if isinstance(r, RunResults)]
    sweeps = [r for r in loaded if isinstance(r, SweepResults)]
    published = load_published(published_file)
    resources = load_resources(resources_file)
    made: list[tuple[Path, str]] = []

    def note(files: list[Path], src: str) -> None:
        made.extend((f, src) for f in files)

    for run in runs:
        src = f"{show(run.path / 'summary.json')}, {show(run.path / 'layers.csv')}"
        note(plot_layers(run, out)[0], src)
        cycles = plot_accounting(run, out)
        if cycles is not None:
            note(cycles[0], show(run.path / "summary.json"))
        energy = plot_energy(run, out)
        if energy is not None:
            note(energy[0], show(run.path / "summary.json"))
    for ts in testsets:
        src = f"{show(ts.path / 'summary.json')}, {show(ts.path / ts.summary['per_image'])}"
        note(plot_latency(ts, out)[0], src)
        density = plot_density(ts, out)
        if density is not None:
            note(density[0], src)
    device = published.get("device", {})
    for sw in sweeps:
        src = show(sw.path / "results.csv")
        if is_density_grid(sw):
            note(plot_grid(sw, out)[0], src)
        if is_pe_sweep(sw):
            note(
                plot_pe(sw, out, resources, resources_file, device, load_sweep_resources(resources_file, sw.name))[0],
                src + (f", {show(resources_file)}" if resources else ""),
            )
        wanted = list(metrics) or ([] if is_density_grid(sw) or is_pe_sweep(sw) else ["speedup"])
        for metric in wanted:  # any sweep: its metric over its parameters, never silently nothing
            try:
                note(plot_metric(sw, out, metric)[0], src)
            except ValueError as exc:
                raise ResultsError(str(exc)) from None
    more = [load_results(p) for p in accuracy_runs]
    for p, r in zip(accuracy_runs, more, strict=True):
        if not isinstance(r, RunResults):
            raise ResultsError(f"{p}: option '--accuracy': not a run folder (summary.json)")
    acc_runs = runs + [r for r in more if isinstance(r, RunResults)]
    accuracy = plot_accuracy(acc_runs, out)
    if accuracy is not None:
        note(accuracy[0], ", ".join(show(r.path / "summary.json") for r in acc_runs))
    if runs or sweeps:
        srcs = ", ".join(show(x.path) for x in loaded)
        note(plot_ideal(runs, sweeps, published, out)[0], f"{srcs}, {show(published_file)}")
    if runs:
        _, text = comparison(runs, published, resources, resources_file)
        table = out / "comparison.md"
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text(text)
        note([table], ", ".join(show(r.path / "summary.json") for r in runs) + f", {show(published_file)}")
    return made


def _publish(stage: Path, out: Path, made: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Move the finished files from the scratch folder into `out` (each file replaced whole)."""
    if out.exists() and not out.is_dir():
        raise ResultsError(f"{out}: option '--out': not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        moved = []
        for f, src in made:
            dst = out / f.relative_to(stage)
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.copyfile(f, tmp)
            os.replace(tmp, dst)
            moved.append((dst, src))
    except OSError as exc:
        raise ResultsError(f"{out}: option '--out': cannot write ({exc.strerror or exc})") from None
    return moved


def write_index(out: Path, made: list[tuple[Path, str]], argv: Sequence[str]) -> Path:
    lines = [
        "# Figures",
        "",
        "Generated from results files by",
        "",
        f"    python -m analysis {' '.join(argv)}",
        "",
        "| file | made from |",
        "| --- | --- |",
    ]
    lines += [f"| [{f.name}]({f.name}) | {src} |" for f, src in made]
    index = out / "README.md"
    index.write_text("\n".join(lines) + "\n")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    # Everything is drawn into a scratch folder first and moved into --out only when all of it succeeded: a
    # results file refused halfway leaves --out as it was.
    stage = Path(tempfile.mkdtemp(prefix="analysis-"))
    try:
        sizes = ("page", "column") if args.size == "both" else (args.size,)
        made = make_all(args.results, stage, args.resources, args.published, args.metric, sizes, args.accuracy)
        made = _publish(stage, args.out, made)
    except ResultsError as exc:
        print(f"analysis: error: {' '.join(str(exc).split())[:2000]}", file=sys.stderr)
        return 2
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        # a value of the wrong kind deep in a results file the loaders accepted: still one line, exit 2
        where = ", ".join(str(p) for p in args.results)[:500]
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        print(f"analysis: error: {where}: malformed results ({msg})", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    index = write_index(args.out, made, argv)
    for f, _ in made:
        print(f)
    print(index)
    if not args.resources.exists():
        print(
            f"note: no RTL resource report at {show(args.resources)}: resources are shown as missing", file=sys.stderr
        )
    return 0
