"""Command line: `archsim run|sweep|synth|summary|verify-rtl` (also `python -m archsim`).

Exit codes: 0 success; 1 the functional check failed (the model disagrees with its
trace); 2 bad input (one line on stderr naming the file and field, nothing written).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from archsim.errors import ArchsimError, ConfigError
from archsim.fileio import unwritable_target
from archsim.version import __version__
from archsim.yamlio import one_line, path_problem, short

if TYPE_CHECKING:
    from archsim.workload import Workload

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (and exit code 2) instead of usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {one_line(message, 500)} (see {self.prog} --help)\n")


def _density(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {short(text)}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"not a finite number: {short(text)}")
    return v


def _ints(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(v) for v in text.split(",", 16))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {short(text)}") from None


def _layer_density(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=DENSITY, got {short(text)}")
    return name, _density(value)


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {short(text)}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v}")
    return v


def _stream(text: str) -> int | str:
    if text == "all":  # every sample, or every image of the set: stream.check_stream counts them
        return text
    v = _positive(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (one image is latency mode), got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="archsim",
        description=(
            "Simulate a sparse binary-neural-network accelerator: check a pruned model bit-exactly against its "
            "trace and measure its cycles against the dense baseline on the same hardware."
        ),
        epilog=(
            "Example: archsim run workloads/resnet18_pruned.yaml --out results/. "
            "Exit codes: 0 ok, 1 functional check failed, 2 bad input. Documentation: docs/usage.md."
        ),
    )
    p.add_argument("--version", action="version", version=f"archsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    r = sub.add_parser(
        "run",
        help="check and time a workload (pruned model vs dense baseline)",
        description=(
            "Run the functional model on the workload's samples and compare every layer with the trace, then "
            "time the pruned programme (per sample, using the masks) and the dense baseline. Prints a per-layer "
            "table and a summary; --out also writes summary.json and layers.csv."
        ),
    )
    r.add_argument(
        "workload",
        help="workload YAML file (docs/formats.md section 1), or the name of a packaged workload "
        "(e.g. resnet18_half_both, the sample shipped in the package)",
    )
    r.add_argument("--out", type=Path, metavar="DIR", help="write DIR/summary.json and DIR/layers.csv")
    r.add_argument(
        "--mode",
        choices=("fast", "cycle"),
        default="fast",
        help="timing model: 'fast' (events per DMA job and pass) or 'cycle' (one step per clock); same cycles",
    )
    r.add_argument("--samples", type=_positive, metavar="N", help="use only the first N of the workload's samples")
    r.add_argument("--quiet", action="store_true", help="print only the summary, not the per-layer table")
    r.add_argument(
        "--stream",
        type=_stream,
        metavar="N",
        help="also run throughput mode: the run's first N samples (N >= 2; 'all': every one) back to back from one "
        "start, pruned and dense (docs/timing.md 9); with --images the set's first N images; reports each side's "
        "period, fps, latencies and the throughput speedup, --out adds a 'stream' block to summary.json",
    )
    r.add_argument(
        "--images",
        metavar="SET",
        help="run a whole image set instead of the trace samples: fashion-mnist:test, fashion-mnist:train or "
        "FILE.npz (docs/formats.md section 5); reports measured accuracy and the per-image cycle distribution, "
        "--out also writes images.csv; --samples N takes the first N images",
    )
    r.add_argument(
        "--baseline-accuracy",
        action="store_true",
        help="with --images: also classify every image with the dense baseline (its timing is computed once)",
    )
    r.add_argument(
        "--jobs", type=_positive, metavar="N", help="with --images: worker processes (default: the number of CPU cores)"
    )
    _add_set(r)

    w = sub.add_parser(
        "sweep",
        help="run a design-space sweep (cross product of hardware, model and workload parameters)",
        description=(
            "Run every point of SWEEP.yaml (docs/sweeps.md) as an 'archsim run', in parallel. Each finished point "
            "is written at once to DIR/points/; a rerun skips finished points. DIR/results.csv holds one row per "
            "point, in point order."
        ),
    )
    w.add_argument("sweep", type=Path, help="sweep YAML file (docs/sweeps.md)")
    w.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for points/, results.csv, sweep.json")
    w.add_argument(
        "--jobs", type=_positive, metavar="N", help="local worker processes (default: the number of CPU cores)"
    )
    w.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster instead (e.g. tcp://host:8786); needs dask.distributed",
    )
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_set(w, "every point's base ")

    s = sub.add_parser(
        "synth",
        help="generate a SYNTHETIC pruned ResNet-18 (or described network) workload (random weights)",
        description=(
            "Build a structured-pruned CIFAR ResNet-18 (or the network --network describes) with random binary weights, keep masks balanced for the "
            "hardware's PE array, spatial predictors whose thresholds meet a budget, and calibrated epilogues; "
            "write it, its dense twin, a trace of each and two workload files (NAME_pruned.yaml, NAME_dense.yaml) "
            "into --out, models under --out/models. Everything it writes is marked synthetic."
        ),
    )
    s.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the workload files")
    s.add_argument(
        "--config",
        type=Path,
        default=None,
        help="hardware configuration (default: the packaged configs/ultra96v2.yaml)",
    )
    s.add_argument("--force", action="store_true", help="overwrite existing model, trace and workload files")
    s.add_argument(
        "--name", default=None, help="file-name stem (default: the network's name; resnet18 without --network)"
    )
    s.add_argument(
        "--network",
        metavar="FILE",
        help="network description (docs/formats.md section 6), e.g. networks/reactnet.yaml, or a built-in name "
        "(resnet18, reactnet, ...); default: the built-in ResNet-18",
    )
    s.add_argument(
        "--kernel-density",
        type=_density,
        default=0.25,
        metavar="D",
        help="kept kernels / all kernels in every layer, in (0, 1] (default: %(default)s)",
    )
    s.add_argument(
        "--layer-density",
        type=_layer_density,
        action="append",
        default=[],
        metavar="NAME=D",
        help="kernel density of one layer (e.g. s4.b2.conv2=0.5); repeatable",
    )
    s.add_argument(
        "--spatial-budget",
        type=_density,
        default=0.5,
        metavar="F",
        help="target fraction of active positions in predicted layers, in (0, 1] (default: %(default)s)",
    )
    s.add_argument(
        "--predict-stages",
        type=_ints,
        default=(1, 2, 3),
        metavar="LIST",
        help="stages whose main convs get a spatial predictor, e.g. 1,2,3 or none (default: 1,2,3)",
    )
    s.add_argument(
        "--width",
        type=_density,
        default=1.0,
        help="channel multiplier on the network's channels (64/128/256/512 for ResNet-18) (default: %(default)s)",
    )
    s.add_argument(
        "--input-shape",
        type=_ints,
        metavar="C,H,W",
        help="input image shape (default: the network's, 3,32,32 for ResNet-18)",
    )
    s.add_argument("--samples", type=int, default=2, help="random images in each trace (default: %(default)s)")
    s.add_argument("--classes", type=int, default=10, help="classifier outputs (default: %(default)s)")
    s.add_argument(
        "--seed", type=int, default=0, help="random seed; same seed and options, same bytes (default: %(default)s)"
    )

    m = sub.add_parser(
        "summary",
        help="per-layer cost of a model file: shape, kept kernels, weight and index bits, MACs, predictors",
        description=(
            "Read MODEL.npz (docs/formats.md) and print, per accelerator layer, its shape, kept kernels, the bits "
            "of its binary weights and their channel-slot indices, MACs dense and after kernel pruning, and "
            "whether a spatial predictor gates it; then totals and the compression of the weights."
        ),
    )
    m.add_argument("model", type=Path, help="model file (.npz)")
    m.add_argument("--config", type=Path, default=None, help="hardware configuration (default: the packaged ultra96v2)")
    m.add_argument("--json", action="store_true", help="print JSON instead of the table")

    v = sub.add_parser(
        "verify-rtl",
        help="run a workload through the generated RTL under Verilator; check outputs and cycles against archsim",
        description=(
            "Generate the Verilog for the workload's hardware configuration, build it with Verilator, run each "
            "selected trace sample through it and check the output map bit for bit and every layer's end cycle "
            "against archsim. Needs the [rtl] extra (cocotb, verilator); the testbench ships with the package."
        ),
    )
    v.add_argument("workload", help="workload YAML file, or the name of a packaged workload")
    v.add_argument("--samples", type=_positive, metavar="N", help="use only the first N of the workload's samples")
    v.add_argument("--dense", action="store_true", help="also run the dense baseline through the dense RTL")
    v.add_argument(
        "--stream",
        type=_positive,
        metavar="N",
        help="also run the first N samples as one stream (docs/timing.md 9): every image's output and DONE",
    )
    v.add_argument(
        "--work", type=Path, metavar="DIR", help="folder for the simulation files (default: a temporary one)"
    )
    return p


def _add_set(parser: argparse.ArgumentParser, what: str = "the workload's ") -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a field of {what}hardware configuration, e.g. --set pe_array.cols=20 (dotted path, "
        "validated like the file); repeatable",
    )


def _check_out_dir(out: Path | None, option: str, files: Sequence[str] = ()) -> None:
    """Refuse an output folder (or a file in it) that cannot be written before any work is done."""
    if out is None:
        return
    why = path_problem(str(out))
    if why:
        raise ConfigError(f"{short(str(out))}: option '{option}': not a usable folder name ({why})")
    why = unwritable_target(out, list(files))
    if why:
        raise ConfigError(f"{out}: option '{option}': cannot write there ({why})")


def _cmd_run(args: argparse.Namespace) -> int:
    from archsim.config import parse_overrides
    from archsim.packaged import resolve_workload
    from archsim.results import format_mismatches, format_report, write_results
    from archsim.runner import run_workload
    from archsim.stream import check_stream, run_stream
    from archsim.workload import load_workload

    t0 = time.perf_counter()
    written = ("images.csv", "summary.json") if args.images is not None else ("summary.json", "layers.csv")
    _check_out_dir(args.out, "--out", written)
    if args.images is None and (args.baseline_accuracy or args.jobs):
        raise ConfigError("options '--baseline-accuracy' and '--jobs' need '--images'")
    if args.images is not None and "numpy" not in sys.modules:
        # One BLAS thread here: worker processes use the cores, and idle BLAS threads spinning
        # beside them slow the small matrix products of the checks down several times.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    overrides = parse_overrides(args.overrides)
    wl = load_workload(resolve_workload(args.workload), overrides)
    if args.images is not None:
        return _run_images(args, wl, t0)
    samples = list(wl.samples[: args.samples] if args.samples else wl.samples)
    if args.stream is not None:
        check_stream(args.stream, len(samples))
    res = run_workload(wl, samples, args.mode)
    if args.stream is not None:
        res.stream = run_stream(res, args.stream)
    report = format_report(res)
    if args.quiet:
        report = report[report.index("LOAD / STORE") :]
    print(report)
    if not res.functional_pass:
        print(format_mismatches(res), file=sys.stderr)
    if args.out is not None:
        try:
            files = write_results(args.out, res, args.command_line, overrides)
        except OSError as exc:
            raise ConfigError(f"{args.out}: option '--out': cannot write results ({exc.strerror or exc})") from None
        print(f"results           {', '.join(str(f) for f in files)}")
    print(f"wall time         {time.perf_counter() - t0:.2f} s")
    return EXIT_OK if res.functional_pass else EXIT_CHECK_FAILED


def _run_images(args: argparse.Namespace, wl: Workload, t0: float) -> int:
    from archsim.images import load_images
    from archsim.stream import check_stream
    from archsim.testset import format_report, run_images, write_results

    images = load_images(args.images, wl.model.input_shape, int(wl.model.classifier.weight.shape[0]))
    if args.samples:
        images = replace(images, images=images.images[: args.samples], labels=images.labels[: args.samples])
    stream = (
        None
        if args.stream is None
        else check_stream(args.stream, len(images), what="the set's images, after --samples")
    )
    res = run_images(wl, images, args.baseline_accuracy, args.mode, args.jobs, progress=not args.quiet, stream=stream)
    report = format_report(res)
    print(report[report.index("accuracy  ") :] if args.quiet else report)
    if args.out is not None:
        try:
            files = write_results(args.out, res)
        except OSError as exc:
            raise ConfigError(f"{args.out}: option '--out': cannot write results ({exc.strerror or exc})") from None
        print(f"results           {', '.join(str(f) for f in files)}")
    print(f"wall time         {time.perf_counter() - t0:.2f} s")
    return EXIT_OK if res.passed else EXIT_CHECK_FAILED


def _cmd_sweep(args: argparse.Namespace) -> int:
    from archsim.config import parse_overrides
    from archsim.sweep import check_sweep_out, load_sweep, run_sweep

    t0 = time.perf_counter()
    _check_out_dir(args.out, "--out", ("results.csv", "sweep.json"))
    check_sweep_out(args.out)
    sweep = load_sweep(args.sweep, parse_overrides(args.overrides))
    if args.jobs and args.scheduler:
        raise ConfigError("options '--jobs' and '--scheduler' exclude one another")
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.jobs or os.cpu_count()} local processes"
    print(f"sweep {sweep.spec.name}: {len(sweep.points)} points ({where}); results in {args.out}")
    stats = run_sweep(sweep, args.out, jobs=args.jobs, scheduler=args.scheduler, progress=not args.quiet)
    finished = stats.skipped + stats.computed
    print(
        f"points            {stats.total}: {stats.computed} computed, {stats.skipped} already finished, "
        f"{stats.invalid} invalid (recorded with their error), {len(stats.failed)} failed"
    )
    for index, msg in stats.failed[:10]:
        print(f"FAILED point {index}: {msg}", file=sys.stderr)
    print(f"results           {stats.table}")
    print(f"wall time         {time.perf_counter() - t0:.1f} s")
    if stats.interrupted:
        print(
            f"archsim sweep: interrupted after {finished} of {stats.total} points; run again to resume", file=sys.stderr
        )
        return 130
    return EXIT_OK if not stats.failed else EXIT_CHECK_FAILED


def _cmd_synth(args: argparse.Namespace) -> int:
    from archsim.config import load_config
    from archsim.networks import builtin, resolve_network
    from archsim.packaged import config_path
    from archsim.synthetic import SynthSpec, synthetic_outputs, write_synthetic

    network = None if args.network is None else resolve_network(args.network)
    if network is not None and network == builtin("resnet18"):
        network = None  # the same layers as the default: the same bytes and the same recorded command
    input_shape = args.input_shape
    if input_shape is None:
        input_shape = network.input_shape if network is not None else (3, 32, 32)
    name = args.name
    if name is None:
        name = network.name if network is not None else "resnet18"
    spec = SynthSpec(
        name=name,
        kernel_density=args.kernel_density,
        layer_density=tuple(args.layer_density),
        spatial_budget=args.spatial_budget,
        predict_stages=tuple(args.predict_stages),
        width=args.width,
        input_shape=tuple(input_shape),
        samples=args.samples,
        classes=args.classes,
        seed=args.seed,
        network=network,
    )
    spec.check()  # before reading anything, so a bad option is reported first
    _check_out_dir(args.out, "--out")
    existing = [f for f in synthetic_outputs(spec, args.out) if f.exists()]
    if existing and not args.force:  # e.g. --out workloads would replace the shipped trained models
        raise ConfigError(f"{existing[0]}: exists; pass --force to overwrite it, or choose another --out or --name")
    config = args.config if args.config is not None else config_path()
    cfg = load_config(config)
    try:
        files = write_synthetic(spec, cfg, config, args.out)
    except OSError as exc:
        raise ConfigError(f"{args.out}: option '--out': cannot write ({exc.strerror or exc})") from None
    print("SYNTHETIC workload written (random weights and images, not a trained network):")
    for f in files:
        print(f"  {f}")
    return EXIT_OK


def _cmd_summary(args: argparse.Namespace) -> int:
    import json

    from archsim.config import load_config
    from archsim.format import load_model
    from archsim.model_summary import format_summary, summary_dict
    from archsim.packaged import config_path

    cfg = load_config(args.config if args.config is not None else config_path())
    model = load_model(args.model)
    if args.json:
        print(json.dumps(summary_dict(model, cfg), indent=2))
    else:
        print(format_summary(model, cfg))
    return EXIT_OK


def _cmd_verify_rtl(args: argparse.Namespace) -> int:
    from archsim.verify_rtl import verify_rtl

    return verify_rtl(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad option (2, already reported on one line)
        return int(exc.code or 0)
    args.command_line = shlex.join(["archsim", *map(str, argv)])  # recorded in summary.json's provenance
    try:
        commands = {
            "run": _cmd_run,
            "sweep": _cmd_sweep,
            "synth": _cmd_synth,
            "summary": _cmd_summary,
            "verify-rtl": _cmd_verify_rtl,
        }
        return commands[args.command](args)
    except ArchsimError as exc:
        print(f"archsim {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
