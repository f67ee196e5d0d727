"""Spatial mask unit (docs/timing.md section 4.1).

Once its layer has started and the predictor (in pass 0's blob) is loaded, it
scans the output positions in raster order, one channel block per cycle (a
9 x B_A-bit XNOR-popcount over the nine neighbour words, read at once), and
appends each active position to the active list lambda_mask cycles after the
position's last block. For stride-1 layers it also copies each position's centre
bits to the output set (one word per cycle). The scan ends lambda_mask cycles
after its last evaluation. A layer that reads the input buffer waits before each position
until its window's input rows are LOADed (docs/timing.md 4.4: row starts M_y). With an early
scan (docs/timing.md 4.5) it scans a layer from the previous layer's start, once its own previous
scan is over, each row once the previous layer's output rows it reads are final; a late one (rule
E4 b) not before the previous layer's last gather has ended. A layer
without predictor bypasses the unit; the
accelerator then marks the list complete at the layer's start.

Which positions are active is an input (the predictor's outcome, from the trace
or the functional model); this model times the scan, it does not evaluate it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from archsim.blocks.signals import NEVER, Channel, Clocked, after, cycle
from archsim.blocks.weight_slots import FastWeightSlots
from archsim.blocks.work import CycleLayer, FastLayer
from archsim.config import ACT_BANKS
from archsim.contract import Latencies, mask_cycles, output_rows_final, scan_row_starts


class FastMaskUnit:
    """Events per scan: it starts once its predictor is loaded, lays out when every full tile of
    the list is complete (`FastLayer.listed_at`, for the gather) and ends with one timed event."""

    def __init__(self, env: simpy.Environment, lat: Latencies, slots: FastWeightSlots, cols: int) -> None:
        self.env, self.lat, self.slots, self.cols = env, lat, slots, cols
        self.commands = Channel(env)  # layers to scan, put by the accelerator at their start
        env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        env, lam = self.env, self.lat.mask
        scanned: FastLayer | None = None  # the layer scanned last
        while True:
            L: FastLayer = yield self.commands.get()
            plan, act = L.work.plan, L.work.activity
            if scanned is not None:
                yield scanned.mask_end  # one unit: the previous scan is over
            if L.prev is not None:  # early scan (4.5): the previous layer's own scan is over
                yield L.prev.mask_end
            yield self.slots.loaded[L.work.first_blob]  # the predictor
            if plan.late_scan:  # E4 b: not before the previous layer's last gather has ended
                assert L.prev is not None and L.prev.laid is not None
                yield L.prev.laid  # fires by its last blob's load, before this layer's predictor is loaded
                g_end = L.prev.tiles[-1].times[1] if L.prev.tiles else 0
                if g_end > cycle(env):
                    yield env.timeout(g_end - cycle(env))
            start = cycle(env)
            L.timing.mask_start = start
            ready = L.ready  # each output row waits for its input rows (4.4), or the previous layer's (4.5)
            if L.prev is not None:
                P = L.prev
                assert P.laid is not None
                yield P.laid  # its last pass's tile times (all in the future of this event)
                q = len(P.work.plan.passes) - 1
                ends = [t.times[5] for t in P.tiles if t.q == q]
                final = output_rows_final(P.work.plan, P.work.active, ends, self.cols, self.lat)
                ready = [final[plan.row_need(y)] for y in range(plan.h_out)]
            rows = scan_row_starts(plan, start, ready)
            w = plan.w_out
            # Full tile t is listed when its last position's entry becomes visible.
            last = L.work.active[self.cols - 1 :: self.cols]
            L.listed_at = (rows[last // w] + mask_cycles(last % w + 1, plan.nblk) + lam).tolist()
            scan = mask_cycles(plan.positions, plan.nblk)
            L.timing.mask_end = int(rows[-1]) + mask_cycles(w, plan.nblk) + lam
            L.timing.mask_busy = scan
            act.mask_evals += scan
            act.list_writes += L.work.n_active
            act.act_reads += ACT_BANKS * scan
            if plan.copy_masked:
                act.act_writes += scan
            L.scanned.succeed()
            after(env, L.timing.mask_end - cycle(env), L.mask_end.succeed)
            scanned = L


class CycleMaskUnit(Clocked):
    """One (position, channel block) evaluation per cycle; list entries timestamped lambda_mask later."""

    def __init__(self, env: simpy.Environment, lat: Latencies, layers: list[CycleLayer]) -> None:
        super().__init__(env)
        self.lat = lat
        self.layers = [L for L in layers if L.work.plan.mask_enabled]
        self.li = 0  # layer being (or next to be) scanned
        self.busy = False
        self.p = 0  # position
        self.blk = 0  # channel block
        self.is_active = np.zeros(0, dtype=bool)

    def tick(self, now: int) -> None:
        if not self.busy:
            if self.li == len(self.layers):
                self.wake = NEVER
                return
            L = self.layers[self.li]
            if L.prev is not None:  # early scan (4.5): from the previous layer's start and its scan's end
                ok = L.prev.start.up(now) and L.prev.mask_done.up(now) and L.blobs[0].up(now)
                if ok and L.work.plan.late_scan:  # E4 b: and once its last gather has ended
                    ok = L.prev.gathered.value(now) == len(L.prev.work.plan.passes) * (L.prev.tiles(now) or 0)
            else:
                ok = L.start.up(now) and L.blobs[0].up(now)
            if not ok:
                self.wake = NEVER  # until a register changes
                return
            if L.prev is not None:
                self._trailing_rows(L.prev, now)
            self.busy, self.p, self.blk = True, 0, 0
            L.timing.mask_start = now
            self.is_active = np.zeros(L.work.plan.positions, dtype=bool)
            self.is_active[L.work.active] = True
        L = self.layers[self.li]
        if not self.blk and not L.rows_ready(self.p, now):
            self.wake = NEVER
            return  # input buffer: the position's input rows are not loaded yet
        plan, act = L.work.plan, L.work.activity
        act.mask_evals += 1
        act.act_reads += ACT_BANKS
        if plan.copy_masked:
            act.act_writes += 1
        L.timing.mask_busy += 1
        self.last_active = now
        self.blk += 1
        if self.blk < plan.nblk:
            return
        self.blk = 0
        visible = now + 1 + self.lat.mask
        if self.is_active[self.p]:
            L.entries.add(visible)
            act.list_writes += 1
        self.p += 1
        if self.p == plan.positions:
            L.mask_done.rise(visible)
            L.timing.mask_end = visible
            self.busy = False
            self.li += 1

    @staticmethod
    def _trailing_rows(P: CycleLayer, now: int) -> None:
        """The rows after the last active position of the previous layer P (4.5, E7) are final once its last
        tile is written; its scan is over now, so the list length is known. Without tiles they are
        final with the scan (now); if the epilogue wrote the last tile before it could tell it was the
        last, from that write; otherwise the epilogue adds them when it writes that tile."""
        h = P.work.plan.h_out
        tiles = P.tiles(now)
        assert tiles is not None
        at = now
        if tiles:
            last_u = (len(P.work.plan.passes) - 1) * tiles + tiles - 1
            if P.last_written is None or P.last_written[0] != last_u:
                return  # not written yet: the epilogue, knowing it is the last now, adds the rows
            at = max(now, P.last_written[1])
        while P.rows_out < h:
            P.out_rows.add(at)
            P.rows_out += 1
