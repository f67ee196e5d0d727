"""The timing model's single entry point: `simulate(program, cfg, active, mode)`.

Two SimPy models of the same blocks (archsim/blocks, docs/simulator.md):
"fast" schedules events per DMA job, per mask scan and per layer and pass
(each tile's times computed in between) with the per-block durations of
archsim.contract; "cycle" steps every block once per clock (skipping a block
while it sleeps until a register changes) and lets durations emerge from its
counters, as an independent check.
Both must reproduce `archsim.contract.schedule()` exactly (docs/timing.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import simpy

from archsim.activity import Activity, SimLayerTiming, SimSchedule
from archsim.blocks.accelerator import CycleAccelerator, DeadlockError, FastAccelerator
from archsim.blocks.work import layer_work
from archsim.config import HardwareConfig
from archsim.contract import LATENCIES, Latencies, StreamSchedule
from archsim.errors import ArchsimError
from archsim.program import Program

SIM_MODES = ("fast", "cycle")

__all__ = [
    "SIM_MODES",
    "Activity",
    "DeadlockError",
    "SimLayerTiming",
    "SimSchedule",
    "TimingInputError",
    "simulate",
    "simulate_stream",
]


class TimingInputError(ArchsimError):
    """simulate() was given a mode or active-position lists it cannot use."""


def _check_active(program: Program, active: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
    if len(active) != len(program.layers):
        raise TimingInputError(f"active: {len(active)} entries for a programme of {len(program.layers)} layers")
    out: list[np.ndarray | None] = []
    for plan, acts in zip(program.layers, active, strict=True):
        if not plan.mask_enabled:
            out.append(None)
            continue
        where = f"active[{plan.index}] (layer '{plan.name}')"
        if acts is None:
            raise TimingInputError(f"{where}: the layer's mask unit is enabled, so its active positions are needed")
        a = np.asarray(acts)
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise TimingInputError(f"{where}: expected a 1-D array of integer raster indices, got {a.dtype} {a.shape}")
        a = a.astype(np.int64)
        if a.size and (a[0] < 0 or a[-1] >= plan.positions or np.any(np.diff(a) <= 0)):
            raise TimingInputError(f"{where}: indices must be strictly ascending within [0, {plan.positions})")
        out.append(a)
    return out


def simulate(
    program: Program,
    cfg: HardwareConfig,
    active: Sequence[np.ndarray | None],
    mode: str = "fast",
    lat: Latencies = LATENCIES,
    *,
    keep_tiles: bool = False,
) -> SimSchedule:
    """Timing and activity of one inference.

    `active[i]` holds the ascending raster indices of layer i's active output
    positions when its mask unit is enabled (ignored, may be None, otherwise).
    `keep_tiles` also records every tile's gather, compute and epilogue times.
    """
    return _run(program, cfg, [active], mode, lat, keep_tiles)[1][0]


def simulate_stream(
    program: Program,
    cfg: HardwareConfig,
    actives: Sequence[Sequence[np.ndarray | None]],
    mode: str = "fast",
    lat: Latencies = LATENCIES,
    *,
    keep_tiles: bool = False,
) -> StreamSchedule:
    """Timing and activity of a stream of images back to back (docs/timing.md 9, throughput mode).

    `actives[n]` is image n's `active` (as for `simulate`). Every image's schedule is in absolute
    cycles from the stream's start; its images are `SimSchedule`s. One image is latency mode.
    """
    if not actives:
        raise TimingInputError("a stream needs at least one image")
    starts, images = _run(program, cfg, actives, mode, lat, keep_tiles)
    return StreamSchedule(starts=starts, images=list(images))


def _run(
    program: Program,
    cfg: HardwareConfig,
    actives: Sequence[Sequence[np.ndarray | None]],
    mode: str,
    lat: Latencies,
    keep_tiles: bool,
) -> tuple[list[int], list[SimSchedule]]:
    """Each image's start S(n) and schedule."""
    if mode not in SIM_MODES:
        raise TimingInputError(f"mode must be one of {SIM_MODES}, got {mode!r}")
    blobs = program.blob_count  # blobs of one image, numbered on across images
    images = [layer_work(program, cfg, _check_active(program, a), n * blobs) for n, a in enumerate(actives)]
    env = simpy.Environment()
    model: FastAccelerator | CycleAccelerator
    if mode == "fast":
        model = FastAccelerator(env, program, cfg, lat, images)
    else:
        model = CycleAccelerator(env, program, cfg, lat, images)
    try:
        env.run(until=model.finished)
    except RuntimeError as exc:  # SimPy: no event left before `finished`
        raise DeadlockError(f"{mode} model: {exc}") from None
    return model.image_starts(), model.results(keep_tiles)
