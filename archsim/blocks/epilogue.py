"""Epilogue (docs/timing.md section 4.2).

Per cycle one position and one channel slot, that is P_O channels: multiply by
mult, add bias, shift, add the residual (read from the residual buffer), saturate,
write the result back and its sign bits into the output activation set. A tile
of n positions in a pass with g_q slots costs n x g_q cycles. When it has
finished tile u, accumulator bank u % 2 is free; after the pass's last tile the
pass's weight slot is (as far as the epilogue is concerned). Outputs are written
lambda_epilogue cycles after the last cycle.

    E_start(u) = max(E_end(u-1), C_end(u) + lambda_compute)
"""

from __future__ import annotations

import simpy

from archsim.blocks.pe_array import FastPeArray
from archsim.blocks.signals import NEVER, Clocked, after, cycle
from archsim.blocks.weight_slots import FastWeightSlots
from archsim.blocks.work import CycleLayer, Tile
from archsim.contract import Latencies, epilogue_cycles


class FastEpilogue:
    """The rule above per tile, in closed form (called by the tile pipeline, archsim/blocks/pipeline.py);
    what others wait on (a pass's weight slot done, the layer's outputs written) becomes a timed event."""

    def __init__(self, env: simpy.Environment, lat: Latencies, pe: FastPeArray, slots: FastWeightSlots) -> None:
        self.env, self.lat, self.pe, self.slots = env, lat, pe, slots
        self.end = 0  # E_end of the previous tile

    def finish(self, tile: Tile, acc_ready: int) -> None:
        """Runs `tile`, whose accumulators are final from `acc_ready`."""
        env = self.env
        L = tile.layer
        plan, act = L.work.plan, L.work.activity
        start = max(self.end, acc_ready)
        cycles = epilogue_cycles(tile.n, plan.passes[tile.q].g)
        self.end = start + cycles
        self.pe.free_banks.append(self.end)
        tile.times += [start, self.end]
        L.timing.epilogue_busy += cycles
        act.param_reads += cycles
        act.epilogue_ops += tile.n * plan.passes[tile.q].channels
        act.res_reads += cycles if plan.residual else 0
        act.res_writes += cycles if plan.res_write else 0
        act.act_writes += cycles
        if tile.last_in_pass:
            after(env, self.end - cycle(env), self.slots.pass_done[L.work.first_blob + tile.q].succeed)
        if tile.last_in_layer:
            after(env, self.end + self.lat.epilogue - cycle(env), L.written.succeed)


class CycleEpilogue(Clocked):
    """One (position, channel slot) per cycle from counters."""

    def __init__(self, env: simpy.Environment, lat: Latencies, layers: list[CycleLayer]) -> None:
        super().__init__(env)
        self.lat, self.layers = lat, layers
        self.li = 0
        self.u = 0
        self.busy = False
        self.q = self.n = self.g = 0
        self.i = 0  # position within the tile
        self.s = 0  # channel slot
        self.channels: list[int] = []  # the tile's pass: real output channels per slot (plain ints, read per cycle)

    def tick(self, now: int) -> None:
        if not self.busy and not self._next_tile(now):
            self.wake = NEVER  # until a register changes
            return
        L = self.layers[self.li]
        plan, act = L.work.plan, L.work.activity
        act.param_reads += 1
        act.epilogue_ops += self.channels[self.s]
        if plan.residual:
            act.res_reads += 1
        if plan.res_write:
            act.res_writes += 1
        act.act_writes += 1
        L.timing.epilogue_busy += 1
        self.last_active = now
        self.s += 1
        if self.s < self.g:
            return
        self.s = 0
        self.i += 1
        if self.i < self.n:
            return
        L.epi_done.add(now + 1)
        L.written.add(now + 1 + self.lat.epilogue)
        if L.feeds_early and self.q == len(plan.passes) - 1:
            self._count_rows(L, now + 1 + self.lat.epilogue, now)
        L.tile_events[self.u] += [now + 1]
        self.busy = False
        self.u += 1

    def _count_rows(self, L: CycleLayer, at: int, now: int) -> None:
        """Row counter of the layer's output for an early scan of the next layer (docs/timing.md 4.5, E7):
        once a last-pass tile is written, every position up to its last one is final; after the last
        tile, every position (the rest were skipped, final since the layer's scan)."""
        plan = L.work.plan
        tiles = L.tiles(now)  # known for a pass q >= 1; for pass 0 only once the scan is over
        t = self.u - self.q * (tiles or 0)
        if tiles is not None and t == tiles - 1:
            f = plan.positions
        else:
            f = int(L.work.active[t * L.cols + self.n - 1]) + 1
            if tiles is None and self.n == L.cols:  # perhaps the last tile: the mask unit completes the rows
                L.last_written = (self.u, at)
        while L.rows_out < f // plan.w_out:
            L.out_rows.add(at)
            L.rows_out += 1

    def _next_tile(self, now: int) -> bool:
        while self.li + 1 < len(self.layers) and self.layers[self.li + 1].start.up(now):
            self.li += 1
            self.u = 0
        L = self.layers[self.li]
        if L.acc_ready.value(now) <= self.u:
            return False
        self.q, self.n = L.tags[self.u]
        self.busy, self.g, self.i, self.s = True, L.work.plan.passes[self.q].g, 0, 0
        self.channels = L.work.slot_channels[self.q].tolist()
        L.tile_events[self.u] += [now]
        return True
