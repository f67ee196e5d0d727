"""Throughput mode of `archsim run --stream N`: the run's first N samples back to back (docs/timing.md 9).

Both sides stream: the pruned programme with each sample's own active positions, and the dense
baseline (index decoder and mask unit bypassed) on the same hardware under the same rules S1-S6.
Figures are FINN's (rule S6): period P = (DONE(N-1) - DONE(0)) / (N - 1) cycles per image, fps =
clock / P, latency = DONE(0), and each image's own latency DONE(n) - S(n). The throughput speedup is
P_dense / P_pruned; its ideal is the run's (dense work / pruned work) over images 1 .. N - 1, the ones
whose time the period measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from archsim.batched_contract import StreamTimes
from archsim.contract import StreamSchedule
from archsim.errors import ConfigError
from archsim.sim import simulate_stream

if TYPE_CHECKING:
    from archsim.workload import Workload

ALL = "all"  # --stream all: every sample (trace mode) or every image of the set (--images)
STREAM_FAIRNESS = (
    "the dense baseline streams the same number of images the same way: same hardware, same rules "
    "(docs/timing.md 9), index decoder and mask unit bypassed"
)
SYSTEM_RULE = (
    "period = max(host time, accelerator period), the host's stem (unless on chip) and classifier of other "
    "images overlapped with the accelerator (docs/usage.md)"
)
OVERLAP = (
    "STORE(n-1) overlaps image n: with a map STORE its B responses (image n starts after its last W beat, "
    "rule S2), with a pooled STORE its W beats too (image n starts when image n-1's last layer ends; only "
    "image n's last layer waits for them, rule S4). Image n's LOAD and layers do not overlap image n-1's "
    "layers: the LOAD writes the residual buffer, which image n-1 uses until its last layer"
)


def check_stream(
    images: Any, available: int, option: str = "--stream", what: str = "the workload's samples, or --samples"
) -> int:
    """The number of images to stream: an integer from 2 to the `available` images of the run (`what`
    they are), or "all" (every one of them, at least 2); else ConfigError."""
    if images == ALL:
        if available < 2:
            raise ConfigError(f"option '{option}': 'all' is {available} image(s) here ({what}); a stream needs 2")
        return available
    if not isinstance(images, int) or isinstance(images, bool) or images < 2:
        raise ConfigError(
            f"option '{option}': expected an integer >= 2 (one image is latency mode) or 'all', got {images!r}"
        )
    if images > available:
        raise ConfigError(f"option '{option}': {images} images asked, but the run has only {available} ({what})")
    return images


class _Periodic(Protocol):
    @property
    def period(self) -> float: ...


class _Figures:
    """Rule S6's figures from both sides' periods, shared by a stream of trace samples (StreamResult)
    and one of an image set (SetStream); the dataclasses below hold the attributes."""

    dense: _Periodic
    sparse: _Periodic
    dense_work: int  # per image: every kernel at every position
    sparse_work: Sequence[int] | np.ndarray  # per streamed image: kept kernels x active positions
    clock_hz: float
    host_us: float  # the host's time per image, stem (unless on chip) and classifier (docs/timing.md 6)

    @property
    def speedup(self) -> float:
        """Throughput speedup, P_dense / P_pruned (rule S6)."""
        return self.dense.period / self.sparse.period

    @property
    def ideal_speedup(self) -> float:
        """Work ratio over the images the period measures: DONE(N-1) - DONE(0) is the time of images 1 .. N-1."""
        return self.dense_work / float(np.mean(self.sparse_work[1:]))

    @property
    def achieved_over_ideal(self) -> float:
        return self.speedup / self.ideal_speedup

    def fps(self, side: _Periodic) -> float:
        return self.clock_hz / side.period

    # With the host: it computes image n+1's stem and image n-1's classifier while the accelerator runs
    # image n, so at best the slower of the two sets the pace (one host core at host.macs_per_second).
    def system_period_us(self, side: _Periodic) -> float:
        return max(self.host_us, side.period / self.clock_hz * 1e6)

    def system_fps(self, side: _Periodic) -> float:
        return 1e6 / self.system_period_us(side)

    @property
    def system_speedup(self) -> float:
        return self.system_period_us(self.dense) / self.system_period_us(self.sparse)

    def system_summary(self) -> dict[str, Any]:
        """summary.json's `stream.system` block."""
        return {
            "host_us": self.host_us,
            "dense_period_us": self.system_period_us(self.dense),
            "sparse_period_us": self.system_period_us(self.sparse),
            "dense_fps": self.system_fps(self.dense),
            "sparse_fps": self.system_fps(self.sparse),
            "speedup": self.system_speedup,
            "rule": SYSTEM_RULE,
        }

    def system_line(self) -> str:
        """The report's line on the system with the host."""
        d, p = self.dense, self.sparse
        bound = "host-bound" if self.host_us >= p.period / self.clock_hz * 1e6 else "accelerator-bound"
        return (
            f"  with the host   at best dense {self.system_fps(d):,.0f}   pruned {self.system_fps(p):,.0f} fps "
            f"({self.system_speedup:.2f}x, pruned {bound}): {SYSTEM_RULE}"
        )


@dataclass
class StreamResult(_Figures):
    samples: list[int]  # trace indices of the streamed images, in stream order
    mode: str
    dense: StreamSchedule
    sparse: StreamSchedule
    dense_work: int  # per image: every kernel at every position
    sparse_work: list[int]  # per image: kept kernels x active positions
    clock_hz: float
    host_us: float


class LatencyRun(Protocol):
    """What a stream needs of a latency-mode run (runner.RunResult, which imports this module)."""

    workload: Workload
    mode: str
    samples: list[int]
    actives: list[list[np.ndarray | None]]

    @property
    def dense_work(self) -> int: ...

    @property
    def sparse_work(self) -> list[int]: ...

    @property
    def host_time_us(self) -> float: ...


def run_stream(res: LatencyRun, images: int | str) -> StreamResult:
    """Stream the first `images` samples of a latency-mode run (runner.RunResult, which keeps each sample's
    active positions) through the pruned and the dense programme, in the run's timing mode."""
    wl = res.workload
    images = check_stream(images, len(res.samples))
    cfg = wl.config
    dense = simulate_stream(wl.baseline_program, cfg, [[None] * len(wl.baseline_program.layers)] * images, res.mode)
    sparse = simulate_stream(wl.program, cfg, res.actives[:images], res.mode)
    return StreamResult(
        samples=list(res.samples[:images]),
        mode=res.mode,
        dense=dense,
        sparse=sparse,
        dense_work=res.dense_work,
        sparse_work=res.sparse_work[:images],
        clock_hz=cfg.clock_hz,
        host_us=res.host_time_us,
    )


def _side(s: StreamResult, side: StreamSchedule, clock_mhz: float) -> dict[str, Any]:
    return {
        "period_cycles": side.period,
        "fps": s.fps(side),
        "latency_cycles": side.done[0],
        "latency_us": side.done[0] / clock_mhz,
        "total_cycles": side.total_cycles,
        "image_start": list(side.starts),
        "image_done": list(side.done),
        "image_latency_cycles": list(side.latencies),
    }


def stream_summary(s: StreamResult, clock_mhz: float) -> dict[str, Any]:
    """summary.json's `stream` block (docs/formats.md)."""
    return {
        "images": len(s.samples),
        "samples": list(s.samples),
        "timing_mode": s.mode,
        "dense": _side(s, s.dense, clock_mhz),
        "sparse": _side(s, s.sparse, clock_mhz),
        "speedup": s.speedup,
        "ideal_speedup": s.ideal_speedup,
        "achieved_over_ideal": s.achieved_over_ideal,
        "system": s.system_summary(),
        "fairness": STREAM_FAIRNESS,
        "overlap": OVERLAP,
    }


def _cycles(values: list[int]) -> str:
    return ", ".join(f"{v:,}" for v in values)


def stream_lines(s: StreamResult, clock_mhz: float) -> list[str]:
    """The printed report's stream section."""
    d, p = s.dense, s.sparse
    n = len(s.samples)
    return [
        f"stream            {n} images back to back from one start (samples {', '.join(map(str, s.samples))}; "
        "throughput mode, docs/timing.md 9)",
        f"  period          dense {d.period:,.1f}   pruned {p.period:,.1f} cycles per image   "
        "(DONE(N-1) - DONE(0)) / (N - 1)",
        f"  fps             dense {s.fps(d):,.0f}   pruned {s.fps(p):,.0f}   (accelerator alone at {clock_mhz:g} MHz)",
        f"  latency         dense {d.done[0]:,}   pruned {p.done[0]:,} cycles   (first image, DONE(0); "
        f"{d.done[0] / clock_mhz:,.2f} / {p.done[0] / clock_mhz:,.2f} us)",
        f"  image latency   dense {_cycles(d.latencies)}   pruned {_cycles(p.latencies)} cycles   (DONE(n) - S(n))",
        f"  speedup         {s.speedup:.2f}x = P_dense / P_pruned   (ideal {s.ideal_speedup:.2f}x over images "
        f"1..N-1; achieved / ideal = {s.achieved_over_ideal:.3f})",
        s.system_line(),
        f"  fairness        {STREAM_FAIRNESS}",
        f"  overlap         {OVERLAP}",
    ]


# --------------------------------------------------------------------------- a whole image set (--images)


@dataclass
class SetStream(_Figures):
    """Throughput mode over the first `images` images of a set (`archsim run --images SET --stream N`): both
    sides' S(n) and DONE(n), the contract's (batched_contract.stream_batch, checked against
    contract.schedule_stream on the first images by archsim.testset)."""

    images: int
    dense: StreamTimes
    sparse: StreamTimes
    dense_work: int  # per image: every kernel at every position
    sparse_work: np.ndarray  # per streamed image: kept kernels x active positions
    clock_hz: float
    host_us: float


def _set_side(s: SetStream, side: StreamTimes, clock_mhz: float) -> dict[str, Any]:
    lat = side.latencies
    return {
        "period_cycles": side.period,
        "fps": s.fps(side),
        "latency_cycles": int(side.done[0]),
        "latency_us": int(side.done[0]) / clock_mhz,
        "total_cycles": int(side.done[-1]),
        "image_latency_cycles": {
            "mean": float(lat.mean()),
            "p99": int(np.percentile(lat, 99, method="inverted_cdf")),
            "max": int(lat.max()),
        },
        "s4_images": len(side.exact),
    }


def set_stream_summary(s: SetStream, clock_mhz: float) -> dict[str, Any]:
    """The `stream` block of an images run's summary.json (docs/formats.md, docs/usage.md)."""
    return {
        "images": s.images,
        "first_image": 0,
        "dense": _set_side(s, s.dense, clock_mhz),
        "sparse": _set_side(s, s.sparse, clock_mhz),
        "speedup": s.speedup,
        "ideal_speedup": s.ideal_speedup,
        "achieved_over_ideal": s.achieved_over_ideal,
        "per_image": "images.csv columns stream_start (S(n)) and stream_done (DONE(n)), pruned side",
        "system": s.system_summary(),
        "fairness": STREAM_FAIRNESS,
        "overlap": OVERLAP,
    }


def set_stream_lines(s: SetStream, clock_mhz: float) -> list[str]:
    """The images-mode report's stream section: rule S6's figures, per-image latencies as statistics."""
    d, p = s.dense, s.sparse
    dl, pl = (_set_side(s, x, clock_mhz)["image_latency_cycles"] for x in (d, p))
    s4 = len(p.exact) + len(d.exact)
    return [
        f"stream            images 0..{s.images - 1} of the set back to back from one start "
        "(throughput mode, docs/timing.md 9)",
        f"  period          dense {d.period:,.1f}   pruned {p.period:,.1f} cycles per image   "
        "(DONE(N-1) - DONE(0)) / (N - 1)",
        f"  fps             dense {s.fps(d):,.0f}   pruned {s.fps(p):,.0f}   (accelerator alone at {clock_mhz:g} MHz)",
        f"  latency         dense {int(d.done[0]):,}   pruned {int(p.done[0]):,} cycles   (first image, DONE(0); "
        f"{int(d.done[0]) / clock_mhz:,.2f} / {int(p.done[0]) / clock_mhz:,.2f} us)",
        f"  image latency   DONE(n) - S(n): dense mean {dl['mean']:,.1f} p99 {dl['p99']:,} max {dl['max']:,}   "
        f"pruned mean {pl['mean']:,.1f} p99 {pl['p99']:,} max {pl['max']:,} cycles",
        f"  speedup         {s.speedup:.2f}x = P_dense / P_pruned   (ideal {s.ideal_speedup:.2f}x over images "
        f"1..N-1; achieved / ideal = {s.achieved_over_ideal:.3f})",
        f"  rule S4         delayed {s4} image(s) (pruned {len(p.exact)}, dense {len(d.exact)}); "
        "computed by the contract itself",
        s.system_line(),
        f"  fairness        {STREAM_FAIRNESS}",
        f"  overlap         {OVERLAP}",
    ]
