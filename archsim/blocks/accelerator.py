"""Top level: wires the blocks and runs the programme LOAD, layers, STORE (docs/timing.md section 2).

The read DMA runs ahead on its own job list (prefetching blobs as weight slots
free up); the controller starts layer l when layer l - 1 has ended:

    end_l = max(E_end(last tile) + lambda_epilogue, mask_end, loaded(every blob of l)) + lambda_layer

and starts the STORE after the last layer. `FastAccelerator` and
`CycleAccelerator` build the fast and the cycle models of the same blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from heapq import heappop
from typing import Any

import simpy

from archsim.activity import Activity, SimLayerTiming, SimSchedule
from archsim.blocks.dma import CycleReadDma, CycleWriteDma, FastReadDma, FastWriteDma, ReadJob
from archsim.blocks.epilogue import CycleEpilogue, FastEpilogue
from archsim.blocks.gather import CycleGather, FastGather
from archsim.blocks.index_decoder import CycleIndexDecoder, IndexDecoder
from archsim.blocks.mask_unit import CycleMaskUnit, FastMaskUnit
from archsim.blocks.memory import CycleMemory, FastMemory
from archsim.blocks.pe_array import CyclePeArray, FastPeArray
from archsim.blocks.pipeline import FastTilePipeline
from archsim.blocks.signals import NEVER, Clocked, Count, Flag, Wakeups, cycle, done_event, watch
from archsim.blocks.weight_slots import CycleWeightSlots, FastWeightSlots
from archsim.blocks.work import CycleLayer, FastLayer, LayerWork, new_timing
from archsim.config import HardwareConfig
from archsim.contract import Job, Latencies, LayerTiming, TileEvents
from archsim.errors import ArchsimError
from archsim.program import Program, ceil_div


class DeadlockError(ArchsimError):
    """The timing model stopped making progress before `done` (a bug in a block model)."""


def _map_words(shape: tuple[int, int, int], cfg: HardwareConfig) -> int:
    """Residual-buffer words of a (C, H, W) map: H W ceil(C / rows) (docs/formats.md 4.1)."""
    c, h, w = shape
    return h * w * ceil_div(c, cfg.pe_array.rows)


def _result(
    mode: str,
    done: int,
    store_start: int,
    timings: list[LayerTiming],
    works: list[LayerWork],
    jobs: list[Job],
    bursts: list[list[int]],
    load_activity: Activity,
    store_activity: Activity,
) -> SimSchedule:
    layers = [SimLayerTiming(**vars(t), activity=w.activity) for t, w in zip(timings, works, strict=True)]
    return SimSchedule(
        total_cycles=done,
        load_done=next(j.loaded for j in jobs if j.kind == "load"),
        store_start=store_start,
        done=done,
        layers=layers,  # type: ignore[arg-type]
        jobs=jobs,
        store_bursts=[(s, n, b) for s, n, b in bursts],
        mode=mode,
        load_activity=load_activity,
        store_activity=store_activity,
    )


class FastAccelerator:
    """Fast mode: SimPy processes with events per DMA job, per mask scan and per layer and pass of the
    tile pipeline (blocks/pipeline.py), which evaluates the gather, PE array and epilogue per tile."""

    def __init__(
        self, env: simpy.Environment, program: Program, cfg: HardwareConfig, lat: Latencies, works: list[LayerWork]
    ) -> None:
        self.env, self.program, self.lat, self.works = env, program, lat, works
        cols = cfg.pe_array.cols
        self.layers = [FastLayer.build(env, w, cols) for w in works]
        owners = [(li, q) for li, w in enumerate(works) for q in range(len(w.plan.passes))]
        needs = [p.need for w in works for p in w.plan.passes]
        self.slots = FastWeightSlots(env, owners, needs, [L.mask_end for L in self.layers])
        self.memory = FastMemory(env, cfg)
        self.load_activity, self.store_activity = Activity(), Activity()
        load = ReadJob(
            Job("load", -1, 0, program.load_beats),
            -1,
            self.load_activity,
            words=_map_words(program.load_shape, cfg),
            permit=done_event(env),
            loaded_event=env.event(),
            row_beats=program.load_row_beats,
            res_copies=program.load_res_copies,
            act_copies=program.load_act_copies,
            rows_known=env.event() if program.input_buffer else None,
        )
        self.load = load
        blobs = [
            ReadJob(
                Job("blob", li, q, works[li].plan.passes[q].blob_beats),
                i,
                works[li].activity,
                permit=self.slots.permit(i),
                loaded_event=self.slots.loaded[i],
            )
            for i, (li, q) in enumerate(owners)
        ]
        self.jobs = [load if i < 0 else blobs[i] for i in program.job_order()]
        for run in self.jobs:
            assert run.permit is not None
            run.permit.callbacks.append(self._allowed_recorder(run.job))
        self.read_dma = FastReadDma(env, cfg, lat, self.memory, self.jobs)
        self.mask = FastMaskUnit(env, lat, self.slots, cols)
        self.gather = FastGather(env, lat)
        self.pe = FastPeArray(
            env, cfg, lat, self.gather, self.slots, IndexDecoder(cfg.pe_array.rows, program.mode == "sparse")
        )
        self.epilogue = FastEpilogue(env, lat, self.pe, self.slots)
        self.tiles = FastTilePipeline(env, self.gather, self.pe, self.epilogue, self.slots)
        self.write_dma = FastWriteDma(
            env, cfg, lat, self.memory, program.store_beats, program.store_res_reads, self.store_activity
        )
        self.finished = env.process(self._programme())
        self.store_start = 0

    def _allowed_recorder(self, job: Job) -> Callable[[simpy.Event], None]:
        """Callback for a job's permit: the cycle it happens is the job's `allowed`."""

        def record(_event: simpy.Event) -> None:
            job.allowed = cycle(self.env)

        return record

    def _programme(self) -> Generator[simpy.Event, Any, None]:
        env, slots = self.env, self.slots
        if self.program.input_buffer:  # the first layer starts lambda_layer after the start (4.4)
            yield env.timeout(self.lat.layer)
            assert self.load.rows_known is not None
            yield self.load.rows_known
            for L in self.layers:
                if L.work.plan.reads_input:
                    L.ready = [
                        self.load.row_times[self.program.row_need(L.work.plan, y)] for y in range(L.work.plan.h_out)
                    ]
        else:
            assert self.load.loaded_event is not None
            yield self.load.loaded_event
        for L in self.layers:
            plan, first = L.work.plan, L.work.first_blob
            L.timing.start = cycle(env)
            if plan.mask_enabled:
                if not plan.early_scan:  # else put at the previous layer's start
                    self.mask.commands.put(L)
            else:  # bypassed: every position listed at the start
                L.timing.mask_start = L.timing.mask_end = cycle(env)
                L.mask_end.succeed()
            if not L.sizes:  # no tile will ever release the slots: only the scan's end gates them
                for q in range(len(plan.passes)):
                    slots.pass_done[first + q].succeed()
            self.tiles.commands.put(L)
            nxt = self.layers[plan.index + 1] if plan.index + 1 < len(self.layers) else None
            if nxt is not None and nxt.work.plan.early_scan:  # it scans from this layer's start (4.5)
                nxt.prev = L
                self.mask.commands.put(nxt)
            waits = [L.mask_end, *(slots.loaded[first + q] for q in range(len(plan.passes)))]
            if plan.reads_input:  # an input-reading layer ends after the whole LOAD
                assert self.load.loaded_event is not None
                waits.append(self.load.loaded_event)
            if L.sizes:
                waits.append(L.written)
            yield simpy.AllOf(env, waits)
            yield env.timeout(self.lat.layer)
            L.timing.end = cycle(env)
        self.store_start = cycle(env)
        self.write_dma.start.succeed()
        yield self.write_dma.done

    def result(self, keep_tiles: bool) -> SimSchedule:
        for L in self.layers:
            L.timing.n_active, L.timing.tiles, L.timing.dma_beats = (
                L.work.n_active,
                len(L.sizes),
                L.work.plan.blob_beats,
            )
            if keep_tiles:
                L.timing.tile_events = [TileEvents(t.q, t.t, t.n, *t.times) for t in L.tiles]
        return _result(
            "fast",
            self.write_dma.done_at,
            self.store_start,
            [L.timing for L in self.layers],
            self.works,
            [run.job for run in self.jobs],
            self.write_dma.bursts,
            self.load_activity,
            self.store_activity,
        )


class CycleAccelerator(Clocked):
    """Cycle mode: every block steps once per clock. This class is also the controller's FSM.

    Blocks tick in a fixed order within a cycle: memory, controller, read DMA, mask
    unit, gather, PE array, index decoder, epilogue, write DMA. Every register
    write is visible from a later cycle, except lambda_load = 0 (made by the read
    DMA when the memory delivers a beat) and lambda_layer = 0 (made by the
    controller): those blocks tick first, so their readers see such writes in time.
    """

    sleep = True  # False: every block ticks every cycle (the tests check that sleeping changes nothing)

    def __init__(
        self, env: simpy.Environment, program: Program, cfg: HardwareConfig, lat: Latencies, works: list[LayerWork]
    ) -> None:
        super().__init__(env)
        self.program, self.lat, self.works = program, lat, works
        cols = cfg.pe_array.cols
        self.load_activity, self.store_activity = Activity(), Activity()
        load = ReadJob(
            Job("load", -1, 0, program.load_beats),
            -1,
            self.load_activity,
            words=_map_words(program.load_shape, cfg),
            row_beats=program.load_row_beats,
            res_copies=program.load_res_copies,
            act_copies=program.load_act_copies,
        )
        self.layers: list[CycleLayer] = []
        for li, w in enumerate(works):
            # start_1 = loaded(LOAD), or lambda_layer with an input buffer (docs/timing.md 4.4)
            first = Flag(lat.layer) if program.input_buffer else load.loaded_flag
            start = first if li == 0 else Flag()
            blobs = [Flag() for _ in w.plan.passes]
            mask_done = Flag() if w.plan.mask_enabled else start  # bypassed: list complete at the start
            L = CycleLayer(w, new_timing(w), cols, start, blobs, mask_done)
            if w.plan.reads_input:
                L.input_rows = load.rows
            if w.plan.early_scan:  # its scan waits for the previous layer's output rows (4.5)
                P = self.layers[-1]
                L.prev, L.input_rows, P.feeds_early = P, P.out_rows, True
            self.layers.append(L)
        self.load_flag = load.loaded_flag
        self.slots = CycleWeightSlots(self.layers)
        blob_jobs = []
        for i, (L, q) in enumerate(self.slots.owners):
            job = Job("blob", L.work.plan.index, q, L.work.plan.passes[q].blob_beats)
            blob_jobs.append(ReadJob(job, i, L.work.activity, loaded_flag=L.blobs[q]))
        self.jobs = [load if i < 0 else blob_jobs[i] for i in program.job_order()]
        self.store_start = Flag()
        self.memory = CycleMemory(env, cfg)
        self.read_dma = CycleReadDma(env, cfg, lat, self.memory, self.jobs, self.slots.writable)
        self.write_dma = CycleWriteDma(
            env,
            cfg,
            lat,
            self.memory,
            program.store_beats,
            program.store_res_reads,
            self.store_activity,
            self.store_start,
        )
        self.memory.connect(self.read_dma.r_beat, self.write_dma.b_response)
        self.mask = CycleMaskUnit(env, lat, self.layers)
        self.gather = CycleGather(env, lat, self.layers, cols)
        self.decoder = CycleIndexDecoder(env, cfg.pe_array.rows, program.mode == "sparse")
        self.pe = CyclePeArray(env, cfg, lat, self.layers, self.decoder)
        self.epilogue = CycleEpilogue(env, lat, self.layers)
        self.blocks: list[Clocked] = [
            self.memory,
            self,
            self.read_dma,
            self.mask,
            self.gather,
            self.pe,
            self.decoder,
            self.epilogue,
            self.write_dma,
        ]
        ax = cfg.axi
        # No block waits longer than this without any block acting, unless the model is stuck.
        self.patience = 2 * (ax.read_latency + ax.write_latency + ax.read_beat_cycles + sum(vars(lat).values())) + 64
        self.li = 0
        self.done = 0
        self.stopped = False  # DONE seen: the clock stops after this cycle
        self.finished = env.event()
        self.wakeups = Wakeups()
        self.wakeups.blocks = self.blocks
        watch(self.wakeups, [*self.layers, *self.jobs, *self.blocks])
        env.process(self._clock_all())

    def _clock_all(self) -> Generator[simpy.Event, Any, None]:
        """One clock for every block: each cycle, tick them in the fixed order above. The clock is a
        plain loop over cycles: nothing in cycle mode waits on a SimPy event (blocks talk through
        registers), so one SimPy timeout at the end brings simulated time to DONE instead of one
        timeout per cycle. The same ticks run in the same order in every cycle, except that a
        sleeping block's tick is skipped (signals.Wakeups): the clock wakes every block in each cycle
        in which a register write becomes visible."""
        env, blocks, wakeups, awake = self.env, self.blocks, self.wakeups, not self.sleep
        pending = wakeups.pending
        now = cycle(env)
        watchdog = now + 1024
        while not self.stopped:
            if awake or (pending and pending[0] <= now):  # a register changes in this cycle
                while pending and pending[0] <= now:
                    heappop(pending)
                for block in blocks:
                    block.wake = now
            wakeups.now = now
            for block in blocks:
                if block.wake <= now:
                    block.tick(now)
            now += 1
            if now >= watchdog:  # every 1,024 cycles
                watchdog = now + 1024
                if now - max(b.last_active for b in blocks) > self.patience:
                    raise DeadlockError(
                        f"cycle model: no block has acted since cycle {now - self.patience} (layer {self.li})"
                    )
        yield env.timeout(self.done - cycle(env))
        self.finished.succeed()

    def registers(self) -> list[Flag | Count]:
        return [self.store_start]

    def tick(self, now: int) -> None:
        if self.li < len(self.layers):
            L = self.layers[self.li]
            tiles = L.tiles(now)
            # Cheapest tests first: the last tile's outputs written, then the LOAD (an input-reading
            # layer ends after it), then the blobs loaded.
            if (
                tiles is not None
                and L.written.value(now) >= tiles * len(L.blobs)
                and (L.input_rows is None or self.load_flag.up(now))
                and all(f.up(now) for f in L.blobs)
            ):
                end = now + self.lat.layer
                L.timing.end = end
                self.li += 1
                (self.layers[self.li].start if self.li < len(self.layers) else self.store_start).rise(end)
                self.last_active = now
            else:
                self.wake = NEVER  # until a register changes
        elif self.write_dma.done.up(now):
            self.done = now
            self.stopped = True
        else:
            self.wake = NEVER

    def result(self, keep_tiles: bool) -> SimSchedule:
        assert not self.decoder.issued, "index decoder: steps left undecoded at DONE"
        for L in self.layers:
            t, plan = L.timing, L.work.plan
            assert L.start.at is not None and L.mask_done.at is not None
            t.start, t.mask_end = L.start.at, L.mask_done.at
            if not plan.mask_enabled:
                t.mask_start = t.start
            t.n_active = L.entries.value(self.done) if plan.mask_enabled else plan.positions
            t.tiles = ceil_div(t.n_active, L.cols)
            t.dma_beats = plan.blob_beats
            if keep_tiles:
                t.tile_events = [
                    TileEvents(q, u - q * t.tiles, n, *ev)
                    for u, ((q, n), ev) in enumerate(zip(L.tags, L.tile_events, strict=True))
                ]
        for run in self.jobs:
            if run.blob < 0:
                continue
            need = self.slots.needs[run.blob]
            if need:
                run.job.allowed = self.slots.freed_at(need - 1)
        assert self.store_start.at is not None
        return _result(
            "cycle",
            self.done,
            self.store_start.at,
            [L.timing for L in self.layers],
            self.works,
            [run.job for run in self.jobs],
            self.write_dma.bursts,
            self.load_activity,
            self.store_activity,
        )
