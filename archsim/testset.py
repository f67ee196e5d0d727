"""`archsim run WORKLOAD --images SET`: accuracy and the latency distribution over a whole image set.

Every image goes through the batched functional model (archsim/batched.py) of the pruned
network; its predictor masks give each layer's active positions, and the timing contract
times that image, evaluated for a whole chunk of images at once by
archsim/batched_contract.py (the same recurrences as `archsim.contract.schedule`, the single
source of truth for cycles, on vectors of images). The dense baseline's timing does not depend
on the input and is computed once; with `baseline_accuracy` its batched functional model also
classifies every image.

Images are processed in chunks by worker processes (results in image order, so a run is
deterministic whatever the number of workers); each chunk returns only per-image numbers,
so memory stays bounded. Every run also checks, before its figures are trusted:

* the traced samples: the reference functional model (archsim/functional.py) and the batched
  one both equal the trace in every layer, mask and logit, and the SimPy model's cycles equal
  both the contract's and the batched contract's for their masks (this is `archsim run` on the
  trace samples);
* a seeded sample of the set: the reference functional model gives the same masks, layer
  outputs and logits as the batched one, and the SimPy model timing those masks gives the
  cycles the run recorded for those images.

With `--stream N` the set's first N images are also streamed (throughput mode, docs/timing.md 9)
from their single-image times (batched_contract.stream_batch), and the run checks the stream's
first images against contract.schedule_stream.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from archsim.batched import BatchedModel, BatchRun
from archsim.batched_contract import schedule_batch, stream_batch
from archsim.config import HardwareConfig
from archsim.contract import Schedule, schedule, schedule_stream
from archsim.fileio import atomic_write_files
from archsim.format import BnnModel
from archsim.functional import ModelRun, compare_with_trace, run_model
from archsim.images import ImageSet
from archsim.program import Program
from archsim.results import trained_accuracy
from archsim.runner import RunResult, host_macs, host_time_us, run_workload, stem_where
from archsim.sim import simulate
from archsim.stream import SetStream, set_stream_lines, set_stream_summary
from archsim.workload import Workload

CHUNK = 256  # images per work item: long vectors for the batched contract, few messages between processes
# images per functional-model call: enough rows for efficient matrix products, maps small enough for the caches
BLOCK = 16
CHECK_IMAGES = 8  # images of the set re-run through the reference models every run
CHECK_SEED = 0
STREAM_CHECK_IMAGES = 8  # first images of a set stream re-timed by contract.schedule_stream every run
SLOWEST = 10  # slowest images listed in the summary
PERCENTILES = (50, 90, 99)
IMAGES_CSV = "images.csv"
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------- per chunk (worker side)


@dataclass
class ChunkResult:
    start: int
    predictions: np.ndarray  # int64 [n]
    baseline_predictions: np.ndarray | None  # int64 [n]
    cycles: np.ndarray  # int64 [n]
    layer_cycles: np.ndarray  # int64 [n, layers]
    active: np.ndarray  # int64 [n, layers]: active positions (all positions where no mask unit)
    store_start: np.ndarray  # int64 [n]: end_L in latency mode (for a stream, batched_contract.stream_batch)
    last_start: np.ndarray  # int64 [n]: start_L in latency mode


class ChunkRunner:
    """Everything a worker needs: the batched models and the programme to time."""

    def __init__(self, model: BnnModel, baseline: BnnModel | None, program: Program, cfg: HardwareConfig):
        vb = cfg.epilogue.value_bits
        self.model = BatchedModel(model, "sparse", vb)
        self.baseline = None if baseline is None else BatchedModel(baseline, "dense", vb)
        self.program, self.cfg = program, cfg

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent to workers as the models (bits) rather than their float32 weight matrices.
        base = None if self.baseline is None else self.baseline.model
        return ChunkRunner, (self.model.model, base, self.program, self.cfg)

    def active_lists(self, run: BatchRun, j: int) -> list[np.ndarray | None]:
        """Image j's active positions per layer, as `schedule` takes them."""
        return [
            np.flatnonzero(run.masks[i][j]) if plan.mask_enabled and run.masks[i] is not None else None
            for i, plan in enumerate(self.program.layers)
        ]

    def masks(self, run: BatchRun) -> list[np.ndarray | None]:
        """Every image's active positions per layer, as `schedule_batch` takes them."""
        return [
            m.reshape(len(m), -1) if plan.mask_enabled and m is not None else None
            for plan, m in zip(self.program.layers, run.masks, strict=True)
        ]

    def __call__(self, start: int, images: np.ndarray) -> ChunkResult:
        n = len(images)
        preds, base, masks = [], [], []
        for a in range(0, n, BLOCK):
            run = self.model.run(images[a : a + BLOCK])
            preds.append(run.predictions)
            masks.append(self.masks(run))
            if self.baseline is not None:
                base.append(self.baseline.run(images[a : a + BLOCK]).predictions)
        per_layer = [None if m[0] is None else np.concatenate(m) for m in zip(*masks, strict=True)]
        t = schedule_batch(self.program, self.cfg, per_layer, n=n)
        return ChunkResult(
            start,
            np.concatenate(preds),
            np.concatenate(base) if base else None,
            t.done,
            t.layer_cycles,
            t.active,
            t.store_start,
            t.last_start,
        )


_WORKER: ChunkRunner | None = None


def _init_worker(runner: ChunkRunner) -> None:
    global _WORKER
    _WORKER = runner


def _work(item: tuple[int, np.ndarray]) -> ChunkResult:
    assert _WORKER is not None
    return _WORKER(*item)


def _chunks(images: np.ndarray, size: int) -> Iterator[tuple[int, np.ndarray]]:
    for a in range(0, len(images), size):
        yield a, images[a : a + size]


@contextlib.contextmanager
def chunk_mapper(
    runner: ChunkRunner, jobs: int
) -> Iterator[Callable[[Iterable[tuple[int, np.ndarray]]], Iterator[ChunkResult]]]:
    """A lazy, order-keeping map of chunks over `jobs` processes (1: in this process)."""
    if jobs == 1:
        yield lambda items: (runner(*item) for item in items)
        return
    # Fresh interpreters with one BLAS thread each: the workers already use every core, and
    # spinning BLAS threads on a busy machine slow the products down several times.
    saved = {k: os.environ.get(k) for k in _BLAS_THREADS}
    os.environ.update(dict.fromkeys(_BLAS_THREADS, "1"))
    try:
        pool = mp.get_context("spawn").Pool(jobs, initializer=_init_worker, initargs=(runner,))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with pool:
        yield lambda items: pool.imap(_work, items)


# --------------------------------------------------------------------------- checks


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    problems: list[str] = field(default_factory=list)


def _as_model_run(run: BatchRun) -> ModelRun:
    assert run.stem_out is not None and run.layer_out is not None
    return ModelRun(stem_out=run.stem_out, layer_out=run.layer_out, masks=run.masks, logits=run.logits)


def _same_run(ref: ModelRun, got: BatchRun) -> list[str]:
    """Differences between a reference functional run and a batched one (same images)."""
    assert got.stem_out is not None and got.layer_out is not None
    probs = []
    if not np.array_equal(ref.stem_out, got.stem_out):
        probs.append("stem output differs")
    for i, (a, b) in enumerate(zip(ref.layer_out, got.layer_out, strict=True)):
        if not np.array_equal(a, b):
            probs.append(f"layer {i} output differs")
    for i, (a, b) in enumerate(zip(ref.masks, got.masks, strict=True)):
        if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
            probs.append(f"layer {i} mask differs")
    if not np.array_equal(ref.logits, got.logits):
        probs.append("logits differ")
    return probs


def _same_timing(contract: Schedule, sim: Any) -> bool:
    return contract.done == sim.done and [lt.cycles for lt in contract.layers] == [lt.cycles for lt in sim.layers]


def check_trace(wl: Workload, runner: ChunkRunner, mode: str) -> tuple[list[Check], RunResult]:
    """The traced samples: reference and batched functional models against the trace; SimPy timing
    (`mode`) against the contract on their masks."""
    samples = list(range(wl.trace.n_samples))
    names = [L.name for L in wl.model.layers]
    ref = run_workload(wl, samples, mode, progress=False)  # reference model vs trace, SimPy timing
    checks = [
        Check(
            "trace: reference functional model",
            ref.check.passed,
            f"{len(samples)} samples",
            [str(m) for m in ref.check.mismatches[:10]],
        )
    ]
    if ref.baseline_check.checked:
        checks.append(
            Check(
                "trace: reference functional model (baseline)",
                ref.baseline_check.passed,
                f"{len(samples)} samples",
                [str(m) for m in ref.baseline_check.mismatches[:10]],
            )
        )
    got = runner.model.run(wl.trace.inputs, keep_maps=True)
    mism = compare_with_trace(_as_model_run(got), wl.trace, samples, names)
    checks.append(
        Check("trace: batched functional model", not mism, f"{len(samples)} samples", [str(m) for m in mism[:10]])
    )
    if runner.baseline is not None and wl.baseline_trace is not None:
        bt = wl.baseline_trace
        bgot = runner.baseline.run(bt.inputs, keep_maps=True)
        bm = compare_with_trace(_as_model_run(bgot), bt, list(range(bt.n_samples)), names)
        checks.append(
            Check(
                "trace: batched functional model (baseline)",
                not bm,
                f"{bt.n_samples} samples",
                [str(m) for m in bm[:10]],
            )
        )
    bad = []
    fast = schedule_batch(wl.program, wl.config, runner.masks(got), n=len(samples))
    for j, s in enumerate(samples):
        c = schedule(wl.program, wl.config, runner.active_lists(got, j))
        if not _same_timing(c, ref.sparse[j]):
            bad.append(f"sample {s}: contract {c.done} cycles, SimPy {mode} model {ref.sparse[j].done}")
        sim_layers = [lt.cycles for lt in ref.sparse[j].layers]
        if fast.done[j] != ref.sparse[j].done or fast.layer_cycles[j].tolist() != sim_layers:
            bad.append(f"sample {s}: batched contract {fast.done[j]} cycles, SimPy {mode} model {ref.sparse[j].done}")
    checks.append(
        Check(f"trace: contract = batched contract = SimPy {mode} model", not bad, f"{len(samples)} samples", bad)
    )
    return checks, ref


def check_set_sample(
    wl: Workload, runner: ChunkRunner, images: ImageSet, picks: np.ndarray, res: TestsetRun, mode: str
) -> list[Check]:
    """A seeded sample of the set through the reference models: same masks, maps and logits as the
    batched model, and the SimPy model's cycles equal what the run recorded for those images."""
    vb = wl.config.epilogue.value_bits
    x = images.images[picks]
    ref = run_model(wl.model, x, "sparse", vb)
    got = runner.model.run(x, keep_maps=True)
    func = [f"images {picks.tolist()}: {p}" for p in _same_run(ref, got)]
    pred = np.argmax(ref.logits, axis=1)
    for i, p in zip(picks, pred, strict=True):
        if p != res.predictions[i]:
            func.append(f"image {int(i)}: reference predicts {int(p)}, the run recorded {int(res.predictions[i])}")
    checks = [Check("set sample: reference = batched functional model", not func, f"images {picks.tolist()}", func)]
    if res.baseline_predictions is not None and runner.baseline is not None:
        bref = run_model(wl.baseline, x, "dense", vb)
        bgot = runner.baseline.run(x, keep_maps=True)
        bf = [f"images {picks.tolist()}: {p}" for p in _same_run(bref, bgot)]
        for i, p in zip(picks, np.argmax(bref.logits, axis=1), strict=True):
            if p != res.baseline_predictions[i]:
                bf.append(
                    f"image {int(i)}: reference baseline predicts {int(p)}, the run recorded "
                    f"{int(res.baseline_predictions[i])}"
                )
        checks.append(
            Check("set sample: reference = batched functional model (baseline)", not bf, f"images {picks.tolist()}", bf)
        )
    bad = []
    for j, i in enumerate(picks):
        active = [
            np.flatnonzero(ref.masks[k][j]) if plan.mask_enabled and ref.masks[k] is not None else None
            for k, plan in enumerate(wl.program.layers)
        ]
        sim = simulate(wl.program, wl.config, active, mode)
        if sim.done != res.cycles[i] or [lt.cycles for lt in sim.layers] != res.layer_cycles[i].tolist():
            bad.append(f"image {int(i)}: SimPy {mode} model {sim.done} cycles, the run recorded {int(res.cycles[i])}")
    checks.append(Check(f"set sample: SimPy {mode} model = recorded cycles", not bad, f"images {picks.tolist()}", bad))
    return checks


# --------------------------------------------------------------------------- the run


@dataclass
class TestsetRun:
    workload: Workload
    images: ImageSet
    mode: str  # SimPy model used by the checks
    dense: Schedule
    predictions: np.ndarray
    baseline_predictions: np.ndarray | None
    cycles: np.ndarray
    layer_cycles: np.ndarray
    active: np.ndarray
    store_start: np.ndarray  # end_L of every image in latency mode
    last_start: np.ndarray  # start_L of every image in latency mode
    stream: SetStream | None = None  # throughput mode over the first images (--stream N)
    checks: list[Check] = field(default_factory=list)
    check_images: list[int] = field(default_factory=list)
    jobs: int = 1
    chunk: int = CHUNK
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def labels(self) -> np.ndarray:
        return self.images.labels

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predictions == self.labels))

    @property
    def baseline_accuracy(self) -> float | None:
        if self.baseline_predictions is None:
            return None
        return float(np.mean(self.baseline_predictions == self.labels))

    @property
    def kept(self) -> np.ndarray:
        return np.array([p.kept_kernels for p in self.workload.program.layers], np.int64)

    @property
    def work(self) -> np.ndarray:
        """Per image: kept kernels x active positions, summed over layers."""
        return self.active @ self.kept

    @property
    def dense_work(self) -> int:
        return int(sum(p.kept_kernels * p.positions for p in self.workload.baseline_program.layers))


def resolve_jobs(jobs: int | None, n_images: int, chunk: int) -> int:
    n_chunks = -(-n_images // chunk)
    return max(1, min(jobs or os.cpu_count() or 1, n_chunks))


def run_images(
    wl: Workload,
    images: ImageSet,
    baseline_accuracy: bool = False,
    mode: str = "fast",
    jobs: int | None = None,
    chunk: int = CHUNK,
    progress: bool = True,
    stream: int | None = None,
) -> TestsetRun:
    """Run every image of `images`; with `stream` (a checked count, stream.check_stream) also stream the
    first `stream` of them (throughput mode, docs/timing.md 9)."""
    t0 = time.perf_counter()
    runner = ChunkRunner(wl.model, wl.baseline if baseline_accuracy else None, wl.program, wl.config)
    n_jobs = resolve_jobs(jobs, len(images), chunk)
    bar = tqdm(total=len(images), desc="images", unit="img", disable=not progress or None, delay=0.5, leave=False)
    with chunk_mapper(runner, n_jobs) as imap:
        pending = imap(_chunks(images.images, chunk))  # workers start while the checks run here
        trace_checks, _ = check_trace(wl, runner, mode)
        layers = [None] * len(wl.baseline_program.layers)
        dense = schedule(wl.baseline_program, wl.config, layers)
        dsim = simulate(wl.baseline_program, wl.config, layers, mode)
        dense_ok = _same_timing(dense, dsim)
        parts = []
        for part in pending:
            parts.append(part)
            bar.update(len(part.predictions))
    bar.close()
    res = TestsetRun(
        workload=wl,
        images=images,
        mode=mode,
        dense=dense,
        predictions=np.concatenate([p.predictions for p in parts]),
        baseline_predictions=None
        if not baseline_accuracy
        else np.concatenate([p.baseline_predictions for p in parts if p.baseline_predictions is not None]),
        cycles=np.concatenate([p.cycles for p in parts]),
        layer_cycles=np.concatenate([p.layer_cycles for p in parts]),
        active=np.concatenate([p.active for p in parts]),
        store_start=np.concatenate([p.store_start for p in parts]),
        last_start=np.concatenate([p.last_start for p in parts]),
        jobs=n_jobs,
        chunk=chunk,
    )
    rng = np.random.default_rng(CHECK_SEED)
    picks = np.sort(rng.choice(len(images), size=min(CHECK_IMAGES, len(images)), replace=False))
    res.check_images = picks.tolist()
    res.checks = [
        *trace_checks,
        Check(
            f"dense baseline: contract = SimPy {mode} model",
            dense_ok,
            f"{dense.done} cycles",
            [] if dense_ok else [f"contract {dense.done}, SimPy {dsim.done}"],
        ),
        *check_set_sample(wl, runner, images, picks, res, mode),
    ]
    if stream is not None:
        res.stream = stream_set(res, runner, stream)
        res.checks.append(check_stream_prefix(res, runner))
    res.seconds = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------- throughput mode


def _active_lists(runner: ChunkRunner, images: np.ndarray) -> list[list[np.ndarray | None]]:
    """Each image's active positions per layer (the batched functional model's masks), as `schedule` takes them."""
    run = runner.model.run(images)
    return [runner.active_lists(run, j) for j in range(len(images))]


def stream_set(res: TestsetRun, runner: ChunkRunner, n: int) -> SetStream:
    """The first `n` images streamed, pruned and dense, from their latency-mode times (batched_contract.stream_batch,
    exact); an image whose last layer rule S4 delays is timed by contract.schedule on its own masks."""
    wl, cfg = res.workload, res.workload.config
    x = res.images.images

    def sparse_exact(i: int, t0: int, last_min: int, prior: Sequence[tuple[int, int, int]]) -> Schedule:
        (active,) = _active_lists(runner, x[i : i + 1])
        return schedule(wl.program, cfg, active, t0=t0, last_start_min=last_min, store_prior=prior)

    dense_layers = [None] * len(wl.baseline_program.layers)

    def dense_exact(i: int, t0: int, last_min: int, prior: Sequence[tuple[int, int, int]]) -> Schedule:
        return schedule(wl.baseline_program, cfg, dense_layers, t0=t0, last_start_min=last_min, store_prior=prior)

    d = res.dense
    sparse = stream_batch(wl.program, cfg, res.store_start[:n], res.last_start[:n], sparse_exact)
    dense = stream_batch(
        wl.baseline_program,
        cfg,
        np.full(n, d.store_start, np.int64),
        np.full(n, d.layers[-1].start, np.int64),
        dense_exact,
    )
    return SetStream(
        images=n,
        dense=dense,
        sparse=sparse,
        dense_work=res.dense_work,
        sparse_work=res.work[:n],
        clock_hz=cfg.clock_hz,
        host_us=host_time_us(cfg.host, *host_macs(wl.model, wl.program.stem_unit)),
    )


def check_stream_prefix(res: TestsetRun, runner: ChunkRunner) -> Check:
    """The stream's first images, both sides, against contract.schedule_stream on the same images: S(n) and
    DONE(n) of images 0..k-1 depend on those images alone, so they must be equal to the cycle."""
    assert res.stream is not None
    wl = res.workload
    k = min(res.stream.images, STREAM_CHECK_IMAGES)
    bad = []
    sides = (
        ("pruned", res.stream.sparse, wl.program, _active_lists(runner, res.images.images[:k])),
        ("dense", res.stream.dense, wl.baseline_program, [[None] * len(wl.baseline_program.layers)] * k),
    )
    for name, got, program, actives in sides:
        want = schedule_stream(program, wl.config, actives)
        if got.starts[:k].tolist() != want.starts or got.done[:k].tolist() != want.done:
            bad.append(
                f"{name}: S(n) {got.starts[:k].tolist()} DONE(n) {got.done[:k].tolist()}, contract "
                f"S(n) {want.starts} DONE(n) {want.done}"
            )
    return Check("stream: contract.schedule_stream = recorded S(n), DONE(n)", not bad, f"images 0..{k - 1}", bad)


# --------------------------------------------------------------------------- results


def _pick(values: np.ndarray, q: float) -> int:
    """Nearest-rank percentile: the value of an actual image."""
    return int(np.percentile(values, q, method="inverted_cdf"))


def masked_layers(res: TestsetRun) -> list[int]:
    return [p.index for p in res.workload.program.layers if p.mask_enabled]


def summary(res: TestsetRun) -> dict[str, Any]:
    wl, cfg = res.workload, res.workload.config
    c, d = res.cycles, res.dense.done
    stats = {"mean": float(c.mean()), "std": float(c.std()), "min": int(c.min())}
    stats.update({f"p{q}": _pick(c, q) for q in PERCENTILES})
    stats["max"] = int(c.max())
    order = np.lexsort((np.arange(len(c)), -c))[:SLOWEST]  # slowest first, ties by index
    layers = []
    for p in wl.program.layers:
        frac = res.active[:, p.index] / p.positions
        layers.append(
            {
                "layer": p.name,
                "kind": p.role,
                "positions": p.positions,
                "masked": p.mask_enabled,
                "density_mean": float(frac.mean()),
                "density_std": float(frac.std()),
                "density_min": float(frac.min()),
                "density_p1": float(np.percentile(frac, 1, method="inverted_cdf")),
                "density_p50": float(np.percentile(frac, 50, method="inverted_cdf")),
                "density_p99": float(np.percentile(frac, 99, method="inverted_cdf")),
                "density_max": float(frac.max()),
                "dense_cycles": res.dense.layers[p.index].cycles,
                "cycles_mean": float(res.layer_cycles[:, p.index].mean()),
                "cycles_max": int(res.layer_cycles[:, p.index].max()),
            }
        )
    work = res.work
    return {
        "kind": "archsim-testset",
        "workload": wl.name,
        "workload_file": str(wl.path),
        "config": cfg.name,
        "config_file": str(wl.config_path),
        "model": wl.model.name,
        "baseline": wl.baseline.name,
        "clock_mhz": cfg.clock_mhz,
        "stem": stem_where(wl.program),  # where the stem conv runs: "host" or "on chip (stem_unit)"
        "synthetic": wl.synthetic,
        "images": {"source": res.images.source, "files": list(res.images.files), "count": len(res.images)},
        "accuracy": {
            "model": res.accuracy,
            "model_correct": int((res.predictions == res.labels).sum()),
            "baseline": res.baseline_accuracy,
            "baseline_correct": None
            if res.baseline_predictions is None
            else int((res.baseline_predictions == res.labels).sum()),
            "recorded": trained_accuracy(wl),
            "note": "top-1 of the bit-exact integer model, measured on these images by this run",
        },
        "cycles": {"dense": d, **stats, "percentiles": "nearest rank (the cycles of an actual image)"},
        "speedup": {
            "at_mean": d / stats["mean"],
            "at_p99": d / stats["p99"],
            "at_max": d / stats["max"],
            "ideal": res.dense_work / float(work.mean()),
        },
        "work": {"dense": res.dense_work, "mean": float(work.mean())},
        "slowest": [
            {
                "index": int(i),
                "cycles": int(c[i]),
                "label": int(res.labels[i]),
                "prediction": int(res.predictions[i]),
            }
            for i in order
        ],
        "layers": layers,
        "functional_check": "pass" if res.passed else "fail",
        "checks": [
            {"name": ch.name, "status": "pass" if ch.passed else "fail", "detail": ch.detail, "problems": ch.problems}
            for ch in res.checks
        ],
        "check_images": res.check_images,
        "per_image": IMAGES_CSV,
        "run": {"jobs": res.jobs, "chunk": res.chunk, "seconds": res.seconds},
    } | ({} if res.stream is None else {"stream": set_stream_summary(res.stream, cfg.clock_mhz)})


def images_csv(res: TestsetRun) -> str:
    """One row per image: index, label, prediction(s), cycles, work, active positions per masked layer; with a
    stream, the pruned side's S(n) and DONE(n) (empty for the images after the streamed ones)."""
    names = [res.workload.program.layers[i].name for i in masked_layers(res)]
    head = ["index", "label", "prediction", "correct", "cycles", "work"]
    if res.baseline_predictions is not None:
        head.append("baseline_prediction")
    head += [f"active.{n}" for n in names]
    if res.stream is not None:
        head += ["stream_start", "stream_done"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    cols: list[np.ndarray] = [
        np.arange(len(res.labels)),
        res.labels,
        res.predictions,
        (res.predictions == res.labels).astype(np.int64),
        res.cycles,
        res.work,
    ]
    if res.baseline_predictions is not None:
        cols.append(res.baseline_predictions)
    cols += [res.active[:, i] for i in masked_layers(res)]
    table = np.stack(cols, axis=1).tolist()
    if res.stream is not None:
        st = res.stream.sparse
        times = np.stack([st.starts, st.done], axis=1).tolist()
        table = [row + (times[j] if j < len(times) else ["", ""]) for j, row in enumerate(table)]
    w.writerows(table)
    return buf.getvalue()


def write_results(out_dir: str | Path, res: TestsetRun) -> list[Path]:
    """DIR/images.csv and DIR/summary.json together: both or neither (fileio.atomic_write_files)."""
    text = json.dumps(summary(res), indent=2, allow_nan=False) + "\n"
    return atomic_write_files(Path(out_dir), {IMAGES_CSV: images_csv(res), "summary.json": text})


def format_report(res: TestsetRun) -> str:
    s = summary(res)
    wl = res.workload
    cyc, sp, acc = s["cycles"], s["speedup"], s["accuracy"]
    lines = [
        f"workload  {wl.name} ({wl.path})",
        f"images    {len(res.images):,} from {res.images.source}; {res.jobs} worker process"
        f"{'es' if res.jobs > 1 else ''}, {res.chunk} images per chunk",
        "",
        "layer         positions  spatial density: mean   std    min    p50    p99    max   cycles mean / dense",
    ]
    for L in s["layers"]:
        dens = (
            f"{L['density_mean']:>6.3f} {L['density_std']:>6.3f} {L['density_min']:>6.3f} {L['density_p50']:>6.3f} "
            f"{L['density_p99']:>6.3f} {L['density_max']:>6.3f}"
            if L["masked"]
            else f"{'(no predictor: every position)':>41}"
        )
        lines.append(
            f"{L['layer']:<12}  {L['positions']:>9}                  {dens}   {L['cycles_mean']:>10,.0f} / "
            f"{L['dense_cycles']:,}"
        )
    lines += [
        "",
        f"accuracy          pruned {100 * acc['model']:.2f} % ({acc['model_correct']:,} / {len(res.images):,})"
        + (
            f"   dense {100 * acc['baseline']:.2f} % ({acc['baseline_correct']:,} / {len(res.images):,})"
            if acc["baseline"] is not None
            else "   dense: not measured (--baseline-accuracy)"
        )
        + "   measured top-1 of the integer models",
    ]
    rec = acc["recorded"]
    if rec:
        lines.append(
            "recorded          "
            + "   ".join(
                f"{'pruned' if r == 'model' else 'dense'} {100 * a['int_accuracy']:.2f} %" for r, a in rec.items()
            )
            + "   (the trainer's integer mode at export)"
        )
    lines += [
        f"cycles per image  mean {cyc['mean']:,.1f}  min {cyc['min']:,}  p50 {cyc['p50']:,}  p90 {cyc['p90']:,}  "
        f"p99 {cyc['p99']:,}  max {cyc['max']:,}   (dense baseline {cyc['dense']:,}, every image)",
        f"speedup           {sp['at_mean']:.2f}x at the mean, {sp['at_p99']:.2f}x at p99, {sp['at_max']:.2f}x at the "
        f"max   (ideal {sp['ideal']:.2f}x = dense work / mean pruned work)",
        "slowest images    " + ", ".join(f"{e['index']} ({e['cycles']:,})" for e in s["slowest"]),
        f"stem              {s['stem']}",
    ]
    if res.stream is not None:
        lines += set_stream_lines(res.stream, wl.config.clock_mhz)
    lines.append(f"checks            {'PASS' if res.passed else 'FAIL'}")
    for ch in res.checks:
        lines.append(f"  {'pass' if ch.passed else 'FAIL'}  {ch.name} ({ch.detail})")
        lines += [f"        {p}" for p in ch.problems[:5]]
    return "\n".join(lines)
