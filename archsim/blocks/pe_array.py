"""PE array with its two accumulator banks (docs/timing.md section 4.2).

P_O rows x P_X columns of XNOR-popcount units. One step per cycle: every row
takes its next kept kernel of the current input channel (k_q steps per input
channel), every column its own position of the tile, so a tile costs
C_in x k_q cycles whatever its size (half that split, below). Tile u reads window buffer u % 2 and
accumulates into bank u % 2, free again once the epilogue has finished tile
u - 2; the weights come from the pass's weight slot. The accumulators are final
lambda_compute cycles after the last step.

    C_start(u) = max(C_end(u-1), W(u), E_end(u-2), loaded(blob of pass q))

W(u) is the window buffer's hand-over (rule T2 of docs/timing.md 4.2): the gather writes the tile
channel block by channel block, and the array, which reads block b from step b B_A k_q on, may
start once block 0 is written when B_A k_q >= n, else once the whole tile is.

Split tiles (`pe_array.split_tiles`, rule T3): a tile of n <= P_X // 2 positions holds each position
in column i and column i + P_X // 2, and the two halves take alternate steps, two per cycle:
C_end(u) = C_start(u) + ceil(C_in k_q / 2), and T2 compares B_A k_q with 2 n. The accumulators of
the two halves are added when the epilogue reads them, in its cycle: the epilogue is unchanged.
"""

from __future__ import annotations

from collections import deque

import simpy

from archsim.activity import Activity
from archsim.blocks.gather import FastGather
from archsim.blocks.index_decoder import CycleIndexDecoder, IndexDecoder
from archsim.blocks.signals import NEVER, Clocked
from archsim.blocks.weight_slots import FastWeightSlots
from archsim.blocks.work import CycleLayer, Tile
from archsim.config import HardwareConfig
from archsim.contract import Latencies, LayerTiming, compute_cycles, tile_split, window_reads


class FastPeArray:
    """The rule above per tile, in closed form (called by the tile pipeline, archsim/blocks/pipeline.py).
    The accumulator banks are a FIFO of the cycles from which each is free: taken here, given back by
    the epilogue."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: HardwareConfig,
        lat: Latencies,
        gather: FastGather,
        slots: FastWeightSlots,
        decoder: IndexDecoder,
    ) -> None:
        self.env, self.lat, self.gather, self.slots, self.decoder = env, lat, gather, slots, decoder
        self.rows, self.cols = cfg.pe_array.rows, cfg.pe_array.cols
        self.free_banks: deque[int] = deque([0, 0])
        self.end = 0  # C_end of the previous tile

    def compute(self, tile: Tile, windows: int) -> int:
        """Computes `tile`, whose window buffer is usable from `windows` and whose blob has been
        loaded; returns the cycle from which its accumulators are final."""
        work = tile.layer.work
        plan, act = work.plan, work.activity
        loaded = self.slots.loaded[work.first_blob + tile.q].value
        start = max(self.end, windows, self.free_banks.popleft(), loaded)
        k = plan.passes[tile.q].k
        cycles = compute_cycles(plan.c_in, k, tile.m)
        self.end = start + cycles
        self.gather.free_buffers.append(self.end)
        tile.times += [start, self.end]
        tile.layer.timing.pe_busy += cycles
        act.weight_reads += plan.c_in * k  # steps (a split tile reads two a cycle, T3)
        act.pe_ops += cycles * self.rows * self.cols
        act.pe_useful += tile.n * plan.c_in * work.useful_steps[tile.q]
        act.window_reads += tile.n * window_reads(plan.c_in, k, tile.m)
        self.decoder.decode(act, plan.c_in * k)
        return self.end + self.lat.compute


class CyclePeArray(Clocked):
    """One step per cycle from counters (input channel, kept kernel); hands each step to the index decoder."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: HardwareConfig,
        lat: Latencies,
        layers: list[CycleLayer],
        decoder: CycleIndexDecoder,
    ) -> None:
        super().__init__(env)
        self.lat, self.layers, self.decoder = lat, layers, decoder
        self.rows, self.cols = cfg.pe_array.rows, cfg.pe_array.cols
        self.split = cfg.split_by_kernel(decoder.sparse)  # kernel size -> rule T3 applies
        self.m = 1  # steps per cycle of the tile (T3)
        self.read_c = [-1, -1]  # per column half: the input channel whose window it holds in its register
        self.baw = cfg.buffers.act_word_bits  # input channels per channel block
        self.li = 0
        self.u = 0
        self.busy = False
        self.q = self.n = self.k = 0
        self.c = 0  # input channel
        self.j = 0  # kept kernel of the input channel
        self.next_block = 0  # first input channel of the next channel block to read
        self.swept: list[int] = []  # the tile's channel blocks: cycle from which each is written (gather)
        # The tile's pass: rows whose step j is a kept real kernel (plain ints, read every step).
        self.useful: list[int] = []
        self.ops = self.rows * self.cols  # PE operations per step
        self.c_in = 0
        # Set per tile from its layer, read every step.
        self.act: Activity
        self.timing: LayerTiming

    def tick(self, now: int) -> None:
        if not self.busy and not self._next_tile(now):
            self.wake = NEVER  # until a register changes
            return
        act = self.act  # the tile's layer's counters (this runs every step: no lookups through the layer)
        act.pe_ops += self.ops
        self.timing.pe_busy += 1
        self.last_active = now
        for half in range(self.m):  # T3: a split tile's halves take steps 2i and 2i + 1 in cycle i
            act.weight_reads += 1
            act.pe_useful += self.n * self.useful[self.j]
            if self.read_c[half] != self.c:  # the half's columns read the channel's window once, for its steps
                self.read_c[half] = self.c
                act.window_reads += self.n
            if self.j == 0 and self.c == self.next_block:  # a new channel block: T2 promises it is written
                b = self.c // self.baw
                if b >= len(self.swept) or self.swept[b] > now:
                    raise AssertionError(f"PE array reads channel block {b} of tile {self.u} before it is written")
                self.next_block += self.baw
            self.decoder.push(now + 1, act)
            self.j += 1
            if self.j < self.k:
                continue
            self.j = 0
            self.c += 1
            if self.c == self.c_in:
                self._tile_done(now)
                return

    def _tile_done(self, now: int) -> None:
        L = self.layers[self.li]
        L.computed.add(now + 1)
        L.acc_ready.add(now + 1 + self.lat.compute)
        L.tile_events[self.u] += [now + 1]
        self.busy = False
        self.u += 1

    def _next_tile(self, now: int) -> bool:
        while self.li + 1 < len(self.layers) and self.layers[self.li + 1].start.up(now):
            self.li += 1
            self.u = 0
        L = self.layers[self.li]
        if L.first_swept.value(now) <= self.u:
            return False  # not even the window's first channel block is gathered yet
        if self.u >= 2 and L.epi_done.value(now) < self.u - 1:
            return False  # bank u % 2 still holds tile u - 2
        q, n = L.tags[self.u]
        k = L.work.plan.passes[q].k
        m = tile_split(n, self.cols, self.split[L.work.plan.kernel])
        if not self._window_ready(L, n * m, k, now):
            return False
        if not L.blobs[q].up(now):
            return False  # weights not loaded
        self.busy, self.q, self.n, self.k, self.c, self.j, self.m = True, q, n, k, 0, 0, m
        self.read_c = [-1, -1]
        self.next_block, self.swept = 0, L.swept[self.u]
        self.useful = L.work.useful_rows[q].tolist()
        self.act, self.timing, self.c_in = L.work.activity, L.timing, L.work.plan.c_in
        L.tile_events[self.u] += [now]
        return True

    def _window_ready(self, L: CycleLayer, n: int, k: int, now: int) -> bool:
        """Rule T2 for tile u, whose first channel block is written: it reads a block in B_A k steps, the
        gather writes one in n cycles (n = positions x steps per cycle, T3); if it reads faster, it waits
        until the whole window is written."""
        return self.baw * k >= n or L.filled.value(now) > self.u
