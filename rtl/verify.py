"""Run a user's workload through the generated RTL under Verilator; check it against archsim.

    archsim verify-rtl WORKLOAD [--samples N] [--dense] [--work DIR]   (or python -m rtl.verify ...)

For each selected trace sample: generate and build the accelerator for the workload's hardware
configuration (cached by content under build/sim_cache), load the model's DDR images and the
sample's stem output (with the stem unit, the raw image), run until DONE, and check that the output map equals archsim's functional
model and the trace (bit for bit), and that DONE and every layer's end cycle equal archsim's
schedule and its SimPy model. The testbench is the one the test suite uses (tests/rtlsim, cocotb),
which the wheel ships as bnn_archsim.rtlsim, so this runs from a clone and from an installed package
(the build cache is then build/sim_cache under the working folder). With --stream N it also runs
the first N samples as one stream of images with one start (docs/timing.md 9) and checks every
image's output against the functional model and the trace, every logged DONE(n) and CYCLES against
archsim.contract.schedule_stream and archsim's SimPy stream, and the last image's layer ends.
Exit 0 all equal, 1 a difference, 2 bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from archsim.errors import ArchsimError
from archsim.format import BnnModel
from archsim.functional import classifier_forward, classifier_logits
from archsim.layout import build_layout, store_view
from archsim.program import compile_program
from archsim.sim import simulate, simulate_stream
from archsim.workload import Workload, load_workload

from .params import RtlParams

ROOT = Path(__file__).resolve().parents[1]


def _harness() -> Any:
    """The testbench's harness module: the clone's tests/rtlsim, or the copy the wheel ships as bnn_archsim.rtlsim."""
    if __package__.startswith("bnn_archsim."):
        return importlib.import_module("bnn_archsim.rtlsim.harness")
    if not (ROOT / "tests" / "rtlsim" / "harness.py").is_file():
        raise ArchsimError(f"the RTL testbench is missing: {ROOT / 'tests' / 'rtlsim'} (reinstall the package)")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.rtlsim.harness")


def check_one(
    harness: Any,
    built: Any,
    name: str,
    model: BnnModel,
    x0: np.ndarray,
    mode: str,
    want: np.ndarray | None,
    work: Path,
    logits: np.ndarray | None = None,
    image: np.ndarray | None = None,
) -> tuple[bool, str]:
    """(ok, report line) for one inference on the built RTL; `logits`, the trace's, checks the host
    classifier on what the STORE wrote (the channel sums, or the map: max-pooled, flattened). `image`: the
    raw image, which the LOAD reads when the configuration has the stem unit (docs/timing.md 3.1)."""
    o = harness.run(built, harness.Case(name, model, x0, mode=mode, image=image), work)
    sim = simulate(o.program, o.cfg, o.active, "fast")
    problems = []
    if o.got.shape != o.expected.shape or not np.array_equal(o.got, o.expected):
        bad = int(np.sum(o.got != o.expected)) if o.got.shape == o.expected.shape else -1
        problems.append(f"output differs from archsim's functional model ({bad} values)")
    if want is not None and not np.array_equal(o.got, store_view(o.program, want)):
        problems.append("output differs from the trace")
    if logits is not None:
        got = classifier_logits(model, o.got[None]) if o.program.pooled else classifier_forward(model, o.got[None])
        if not np.array_equal(got[0], logits):
            problems.append("the host classifier's logits differ from the trace")
    if o.done != o.sched.total_cycles or o.done != sim.total_cycles:
        problems.append(f"RTL {o.done} cycles, archsim schedule {o.sched.total_cycles}, SimPy {sim.total_cycles}")
    if o.layer_ends != [lt.end for lt in sim.layers]:
        problems.append("layer end cycles differ from archsim's")
    status = "PASS" if not problems else "FAIL: " + "; ".join(problems)
    return not problems, f"{name:32s} {o.done:>10,} cycles (archsim {sim.total_cycles:,})  {status}"


def check_stream(
    harness: Any,
    built: Any,
    name: str,
    model: BnnModel,
    xs: list[np.ndarray],
    mode: str,
    trace: Any,
    samples: list[int],
    work: Path,
) -> tuple[bool, str]:
    """(ok, report line) for the samples `samples` run as one stream on the built RTL (docs/timing.md 9)."""
    stream = importlib.import_module(harness.__name__.rsplit(".", 1)[0] + ".stream")
    images = [trace.inputs[s] for s in samples]  # the LOADs' raw images with the stem unit (timing.md 3.1)
    o = stream.run_stream(built, name, model, xs, mode, work, images=images)
    problems = []
    for i, s in enumerate(samples):
        if o.got[i].shape != o.expected[i].shape or not np.array_equal(o.got[i], o.expected[i]):
            problems.append(f"image {i}: output differs from archsim's functional model")
        elif not np.array_equal(o.got[i], store_view(o.program, trace.layer_out[-1][s])):
            problems.append(f"image {i}: output differs from the trace")
    want = o.ref.dones
    actives = [[None if m is None else np.flatnonzero(m.reshape(-1)) for m in ms] for ms in o.masks]
    sim = simulate_stream(o.program, o.cfg, actives, "fast")
    if o.done_log != want[: len(o.done_log)] or o.done != want[-1] or o.cycles_reg != want[-1] or sim.done != want:
        problems.append(f"DONE per image {o.done_log} (CYCLES {o.cycles_reg}), archsim {want}, SimPy {sim.done}")
    if o.layer_ends != o.ref.layer_ends[-1]:
        problems.append("the last image's layer end cycles differ from archsim's")
    status = "PASS" if not problems else "FAIL: " + "; ".join(problems)
    n = len(xs)
    period = (want[-1] - want[0]) / (n - 1) if n > 1 else float(want[0])
    return not problems, f"{name:32s} {o.done:>10,} cycles, {n} images, period {period:,.1f}  {status}"


def check_fits(wl: Workload, runs: list[tuple[str, BnnModel, Any]]) -> None:
    """The generator's limits on each programme (layers, passes, channels), before a minute of building."""
    for mode, model, _ in runs:
        prm = RtlParams(wl.config, sparse=mode == "sparse", where=f"{wl.path}: field 'hardware': {wl.config_path}")
        prm.check_layout(build_layout(model, compile_program(model, wl.config, mode), wl.config))


@contextlib.contextmanager
def quiet(log: Path) -> Iterator[None]:
    """Send the compiler's and simulator's output (file descriptors 1 and 2) to `log`; its tail on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "wb") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="archsim verify-rtl", description=__doc__.splitlines()[0])
    ap.add_argument("workload", type=Path)
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--dense", action="store_true")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--stream", type=int, default=None)
    args = ap.parse_args(argv)
    try:
        wl = load_workload(args.workload)
        harness = _harness()
        samples = list(wl.samples[: args.samples] if args.samples else wl.samples)
        runs = [("sparse", wl.model, wl.trace)]
        if args.dense:
            if wl.baseline_trace is None:
                raise ArchsimError(f"{args.workload}: field 'baseline.trace': --dense needs the baseline's trace")
            runs.append(("dense", wl.baseline, wl.baseline_trace))
        if args.stream is not None and not 1 <= args.stream <= len(wl.samples):
            raise ArchsimError(
                f"{args.workload}: --stream {args.stream}: the workload has {len(wl.samples)} samples to stream"
            )
        check_fits(wl, runs)
        ok = True
        with tempfile.TemporaryDirectory(prefix="archsim-verify-rtl-") as tmp:
            work = args.work or Path(tmp)
            for mode, model, trace in runs:
                print(f"building the {mode} RTL for '{wl.config.name}' (Verilator; cached after the first build)")
                with quiet(work / f"build-{mode}.log"):
                    built = harness.build(wl.config, sparse=mode == "sparse", sim="verilator")
                for s in samples:
                    name = f"{wl.name}-{mode}-sample{s}"
                    with quiet(work / name / "run.log"):
                        good, line = check_one(
                            harness,
                            built,
                            name,
                            model,
                            trace.stem_out[s],
                            mode,
                            trace.layer_out[-1][s],
                            work / name,
                            trace.logits[s],
                            trace.inputs[s],
                        )
                    ok &= good
                    print(line, flush=True)
                if args.stream:
                    picked = list(wl.samples[: args.stream])
                    name = f"{wl.name}-{mode}-stream{args.stream}"
                    with quiet(work / name / "run.log"):
                        good, line = check_stream(
                            harness,
                            built,
                            name,
                            model,
                            [trace.stem_out[s] for s in picked],
                            mode,
                            trace,
                            picked,
                            work / name,
                        )
                    ok &= good
                    print(line, flush=True)
    except ArchsimError as exc:
        print(f"archsim verify-rtl: error: {exc}", file=sys.stderr)
        return 2
    print(f"verify-rtl        {'PASS' if ok else 'FAIL'}: outputs and cycles of the RTL against archsim")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
