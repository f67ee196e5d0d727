"""Window gather and the two window buffers (docs/timing.md section 4.2).

For each tile of up to P_X active positions, the gather copies every position's
window (3x3, or 1x1 for a 1x1 layer), one (position, channel block) per cycle (the nine
activation banks are read in parallel), into a window buffer, block-major (rule T1): block 0
of every position of the tile, then block 1, and so on. Every pass gathers all tiles again.
Tile u uses window buffer u % 2, free again once the PE array has finished tile u - 2. A tile
may start once its positions are listed: for pass 0 of a masked layer, a full tile as soon as
its last entry is visible, the final partial tile (and every tile of a later pass) once the
scan has ended.

    G_start(u) = max(start_l, G_end(u-1), LR(u), C_end(u-2))
    G1(u) = G_start(u) + n,   G_end(u) = G1(u) + (nblk - 1) n

The PE array may start lambda_gather cycles after the first sweep (G1) when it reads a block
no faster than the gather writes one, B_A k_q >= n m, else lambda_gather after G_end (rule T2; m = 2
for a split tile, rule T3, whose positions the gather writes into both halves of the columns at once).
A layer that reads the input buffer waits, in the first sweep, before each position until its
window's input rows are LOADed (docs/timing.md 4.4), so G1(u) may exceed G_start(u) + n.
"""

from __future__ import annotations

from collections import deque

import simpy

from archsim.blocks.signals import NEVER, Clocked
from archsim.blocks.work import CycleLayer, Tile
from archsim.contract import Latencies, gather_cycles, gather_times, tile_split, window_ready


class FastGather:
    """The rule above per tile, in closed form (the tile pipeline, archsim/blocks/pipeline.py, calls it
    in tile order). The window buffers are a FIFO of the cycles from which each is free: taken here,
    given back by the PE array."""

    def __init__(
        self, env: simpy.Environment, lat: Latencies, act_word_bits: int, cols: int, split: dict[int, bool]
    ) -> None:
        self.env, self.lat, self.act_word_bits = env, lat, act_word_bits
        self.cols, self.split = cols, split  # split: kernel size -> rule T3 applies (HardwareConfig.split_by_kernel)
        self.free_buffers: deque[int] = deque([0, 0])
        self.end = 0  # G_end of the previous tile

    def gather(self, tile: Tile) -> int:
        """Gathers `tile`; returns the cycle from which its window buffer is usable by the PE array."""
        L = tile.layer
        plan, act = L.work.plan, L.work.activity
        start = max(L.timing.start, self.end, L.list_ready(tile.q, tile.t), self.free_buffers.popleft())
        cycles = gather_cycles(tile.n, plan.nblk)
        if L.ready is None:  # no input rows to wait for: the slice below is not needed
            g1, self.end = start + tile.n, start + cycles  # first sweep, whole window (rule T1)
        else:
            lo = tile.t * L.sizes[0]
            g1, self.end = gather_times(start, L.work.active[lo : lo + tile.n], plan, L.ready)
        tile.times += [start, self.end]
        L.timing.gather_busy += cycles
        act.act_reads += plan.kernel**2 * cycles  # a 3x3 window reads all nine banks, 1x1 one
        act.window_writes += cycles
        if plan.mask_enabled:
            act.list_reads += cycles  # every sweep reads the tile's entries from the list again, as the RTL does
        tile.m = tile_split(tile.n, self.cols, self.split[plan.kernel])  # T3: a split tile fills both halves
        return window_ready(g1, self.end, tile.n * tile.m, plan.passes[tile.q].k, self.act_word_bits, self.lat)


class CycleGather(Clocked):
    """One (position, channel block) copy per cycle, block-major (rule T1); tile boundaries from the
    active list's registers. It counts the tiles whose first sweep is written (`first_swept`, g_first)
    beside those wholly written (`filled`, g_ready), and records when each block of a tile is written
    (`swept`), which the PE array checks against what it reads (rule T2)."""

    def __init__(self, env: simpy.Environment, lat: Latencies, layers: list[CycleLayer], cols: int) -> None:
        super().__init__(env)
        self.lat, self.layers, self.cols = lat, layers, cols
        self.li = 0  # layer
        self.q = 0  # pass
        self.t = 0  # tile within the pass
        self.u = 0  # tile within the layer
        self.busy = False
        self.n = 0  # positions of the current tile
        self.i = 0  # position within the tile
        self.blk = 0  # channel block (the sweep)

    def tick(self, now: int) -> None:
        if not self.busy and not self._next_tile(now):
            self.wake = NEVER  # until a register changes
            return
        L = self.layers[self.li]
        first = not self.blk
        if first and not L.rows_ready(int(L.work.active[self.t * self.cols + self.i]), now):
            self.wake = NEVER
            return  # input buffer: the position's input rows are not loaded yet (the later sweeps find them)
        act = L.work.activity
        act.act_reads += L.work.plan.kernel**2  # a 3x3 window reads all nine banks, 1x1 one
        act.window_writes += 1
        L.timing.gather_busy += 1
        if L.work.plan.mask_enabled:
            act.list_reads += 1  # each sweep reads the position's raster index from the list again
        self.last_active = now
        self.i += 1
        if self.i < self.n:
            return
        # Sweep done: this block of every position of the tile is in the window buffer.
        self.i = 0
        written = now + 1 + self.lat.gather
        L.swept[self.u].append(written)
        if first:
            L.first_swept.add(written)
        self.blk += 1
        if self.blk < L.work.plan.nblk:
            return
        L.filled.add(written)
        L.gathered.add(now + 1)
        L.tile_events[self.u][1] = now + 1  # G_end (the PE array may have started the tile already)
        self.busy = False
        self.t += 1
        self.u += 1

    def _tile_size(self, L: CycleLayer, now: int) -> int | None:
        """Positions of tile t of pass q: None while unknown, 0 when the pass has no more tiles."""
        lo = self.t * self.cols
        if L.work.plan.mask_enabled:
            listed, complete = L.entries.value(now), L.mask_done.up(now)
        else:
            listed, complete = L.work.plan.positions, True
        if self.q == 0 and listed >= lo + self.cols:
            return self.cols
        if not complete:
            return None
        return max(0, min(self.cols, listed - lo))

    def _next_tile(self, now: int) -> bool:
        while self.li + 1 < len(self.layers) and self.layers[self.li + 1].start.up(now):
            self.li += 1
            self.q = self.t = self.u = 0
        L = self.layers[self.li]
        if not L.start.up(now):
            return False
        passes = len(L.work.plan.passes)
        while self.q < passes:
            n = self._tile_size(L, now)
            if n is None:
                return False
            if n:
                break
            self.q += 1
            self.t = 0
        else:
            return False
        if self.u >= 2 and L.computed.value(now) < self.u - 1:
            return False  # window buffer u % 2 still holds tile u - 2
        L.tags.append((self.q, n))
        L.tile_events.append([now, -1])  # G_start; G_end once the last sweep is written
        L.swept.append([])
        self.busy, self.n, self.i, self.blk = True, n, 0, 0
        return True
