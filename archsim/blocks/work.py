"""What the programme asks of the blocks: one descriptor per layer (not a hardware block).

SCALE-Sim's split: the programme (archsim/program.py) and the active positions
generate the compute demand described here; the block models service it. These
are the values the host writes into the layer descriptors, plus what the
activity counters need. They hold no durations: each mode derives its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import simpy

from archsim.activity import Activity
from archsim.blocks.signals import Count, Flag
from archsim.config import HardwareConfig
from archsim.contract import LayerTiming
from archsim.program import LayerPlan, Program, ceil_div, real_rows


@dataclass
class LayerWork:
    plan: LayerPlan
    active: np.ndarray  # ascending raster indices of the active positions (all when the mask unit is bypassed)
    first_blob: int  # global pass index of its pass 0 (blob i: slot i mod blob_slots)
    useful_rows: tuple[np.ndarray, ...]  # per pass, per step j < k_q: rows whose step j is a kept real kernel
    slot_channels: tuple[np.ndarray, ...]  # per pass, per channel slot s < g_q: real output channels
    activity: Activity = field(default_factory=Activity)

    @property
    def n_active(self) -> int:
        return len(self.active)

    @cached_property
    def useful_steps(self) -> list[int]:
        """Per pass: (row, step) pairs that apply a kept real kernel (useful_rows summed)."""
        return [int(u.sum()) for u in self.useful_rows]


@lru_cache(maxsize=4096)
def _pass_tables(channels: int, g: int, k: int, k_layer: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A pass's useful_rows and slot_channels (LayerWork). They depend on the pass's shape only, so
    they are computed once per shape instead of once per inference; read-only, as they are shared."""
    n_r = real_rows(channels, rows, g)  # real output channels per PE row
    kept = np.minimum(k_layer, n_r)  # balanced pruning: every (row, input channel) keeps this many
    useful = (np.arange(k)[:, None] < kept[None, :]).sum(axis=1)
    slots = np.minimum(rows, channels - np.arange(g) * rows)
    useful.setflags(write=False)
    slots.setflags(write=False)
    return useful, slots


def layer_work(
    program: Program, cfg: HardwareConfig, active: list[np.ndarray | None], first_blob: int = 0
) -> list[LayerWork]:
    """One image's layers; `first_blob` numbers its blobs after those of earlier images of a stream."""
    rows = cfg.pe_array.rows
    works = []
    blob = first_blob
    for plan in program.layers:
        acts = active[plan.index]
        if plan.mask_enabled and acts is not None:
            positions = np.asarray(acts, dtype=np.int64)
        else:
            positions = np.arange(plan.positions, dtype=np.int64)
        tables = [_pass_tables(p.channels, p.g, p.k, plan.k_layer, rows) for p in plan.passes]
        works.append(LayerWork(plan, positions, blob, tuple(u for u, _ in tables), tuple(c for _, c in tables)))
        blob += len(plan.passes)
    return works


def new_timing(work: LayerWork) -> LayerTiming:
    """A LayerTiming record that the blocks fill in as they run."""
    plan = work.plan
    return LayerTiming(plan.index, plan.name, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


# --------------------------------------------------------------------------- fast mode


@dataclass(eq=False)
class FastLayer:
    """A layer in fast mode: its tiles and the events its blocks hand over."""

    work: LayerWork
    timing: LayerTiming
    sizes: list[int]  # positions of each tile of a pass
    mask_end: simpy.Event  # scan ended: every list entry visible (at start when bypassed)
    scanned: simpy.Event  # the scan's timing is laid out (`listed_at`, `timing.mask_end`)
    written: simpy.Event  # the last tile's outputs are written
    listed_at: list[int] = field(default_factory=list)  # pass 0, full tile t: its last list entry visible
    tiles: list[Tile] = field(default_factory=list)  # every tile gathered so far, for the report
    ready: list[int] | None = None  # input-reading layer: RowReady(y) per output row (docs/timing.md 4.4)
    laid: simpy.Event | None = None  # every tile's times laid out (for an early scan of the next layer, 4.5)
    prev: FastLayer | None = None  # early scan: the layer whose output rows it waits for

    @staticmethod
    def build(env: simpy.Environment, work: LayerWork, cols: int) -> FastLayer:
        n = work.n_active
        sizes = [min(cols, n - lo) for lo in range(0, n, cols)]
        return FastLayer(work, new_timing(work), sizes, env.event(), env.event(), env.event(), laid=env.event())

    def list_ready(self, q: int, t: int) -> int:
        """Cycle from which tile t of pass q may be gathered (LR in docs/timing.md 4.2): known once
        the scan is laid out (at the layer's start when the mask unit is bypassed)."""
        return self.listed_at[t] if q == 0 and t < len(self.listed_at) else self.timing.mask_end


@dataclass(eq=False)
class Tile:
    """A tile on its way through gather -> PE array -> epilogue (fast mode)."""

    layer: FastLayer
    q: int  # pass
    t: int  # tile within the pass
    n: int  # positions
    buffer: int  # window buffer it was gathered into (u % 2)
    last_in_pass: bool
    last_in_layer: bool
    bank: int = -1  # accumulator bank (u % 2)
    m: int = 1  # steps per cycle (docs/timing.md 4.2, rule T3), set by the gather
    times: list[int] = field(default_factory=list)  # G start/end, C start/end, E start/end


# --------------------------------------------------------------------------- cycle mode


@dataclass(eq=False)
class CycleLayer:
    """A layer in cycle mode: the registers through which its blocks talk."""

    work: LayerWork
    timing: LayerTiming
    cols: int
    start: Flag  # the layer may start (layer 0: the LOAD's data is usable)
    blobs: list[Flag]  # blob of pass q loaded
    mask_done: Flag  # scan ended (the start flag itself when the mask unit is bypassed)
    entries: Count = field(default_factory=Count)  # active-list entries
    filled: Count = field(default_factory=Count)  # window buffers filled (gather -> PE array)
    first_swept: Count = field(default_factory=Count)  # tiles whose first channel block is written (4.2 T2)
    swept: list[list[int]] = field(default_factory=list)  # per tile u: cycle each channel block is usable from
    gathered: Count = field(default_factory=Count)  # tiles whose gather has ended (a late early scan, 4.5 E4)
    computed: Count = field(default_factory=Count)  # tiles computed: window buffer free again (PE -> gather)
    acc_ready: Count = field(default_factory=Count)  # accumulators final (PE -> epilogue)
    epi_done: Count = field(default_factory=Count)  # tiles through the epilogue: bank and parameters free
    written: Count = field(default_factory=Count)  # tiles whose outputs are written
    tags: list[tuple[int, int]] = field(default_factory=list)  # (pass, positions) of tile u, set by the gather
    tile_events: list[list[int]] = field(default_factory=list)  # per tile u: G, C, E start/end
    n_tiles: int | None = None  # tiles(), kept once known: the list's length is final when the scan has ended
    input_rows: Count | None = None  # input-reading layer: the LOAD's complete rows (docs/timing.md 4.4)
    # Early scan (docs/timing.md 4.5): final rows of this layer's output, counted by the epilogue for
    # the next layer's scan (its `input_rows`), and that layer's predecessor (this one's `prev`).
    out_rows: Count = field(default_factory=Count)
    rows_out: int = 0  # increments of out_rows made so far
    last_written: tuple[int, int] | None = None  # (u, outputs written) of a tile not yet known to be the last
    feeds_early: bool = False
    prev: CycleLayer | None = None

    def rows_ready(self, p: int, now: int) -> bool:
        """Input buffer: the input rows that output position p's window needs are loaded."""
        if self.input_rows is None:
            return True
        plan = self.work.plan
        return self.input_rows.value(now) > plan.row_need(p // plan.w_out)

    def tiles(self, now: int) -> int | None:
        """Tiles per pass, known once the scan has ended (from the list's final length)."""
        if self.n_tiles is None:
            if not self.mask_done.up(now):
                return None
            n = self.entries.value(now) if self.work.plan.mask_enabled else self.work.plan.positions
            self.n_tiles = ceil_div(n, self.cols)
        return self.n_tiles
