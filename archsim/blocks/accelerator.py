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
from archsim.blocks.stem import CycleStemUnit, FastStemUnit
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
    tile pipeline (blocks/pipeline.py), which evaluates the gather, PE array and epilogue per tile.

    `images` holds each image's layer work (one list: latency mode). A stream (docs/timing.md 9) runs
    them back to back through the same blocks: the controller starts image n at S(n) (rule S2), from
    which its jobs and layers run as one image's (S3), its last layer not before Wend(n-1) with a
    pooled STORE (S4); the write DMA serves the STOREs in order (S5)."""

    def __init__(
        self,
        env: simpy.Environment,
        program: Program,
        cfg: HardwareConfig,
        lat: Latencies,
        images: list[list[LayerWork]],
    ) -> None:
        self.env, self.program, self.lat, self.images = env, program, lat, images
        self.works = [w for works in images for w in works]
        cols = cfg.pe_array.cols
        self.layers = [FastLayer.build(env, w, cols) for w in self.works]
        owners = [(li, q) for li, w in enumerate(self.works) for q in range(len(w.plan.passes))]
        per_image = program.blob_count
        # S(n): image 0 starts at cycle 0, image n >= 1 when the controller fires its event
        self.image_start = [env.event() for _ in images]
        self.starts = [0] * len(images)
        starts = [self.image_start[n] if n else None for n in range(len(images)) for _ in range(per_image)]
        needs = program.stream_needs(len(images))
        self.slots = FastWeightSlots(env, owners, needs, [L.mask_end for L in self.layers], starts)
        self.memory = FastMemory(env, cfg)
        self.load_activity = [Activity() for _ in images]
        self.store_activity = [Activity() for _ in images]
        self.loads: list[ReadJob] = []
        self.image_jobs: list[list[ReadJob]] = []
        self.stem = FastStemUnit(env, cfg, lat, program) if program.stem_unit else None
        for n, works in enumerate(images):
            load = ReadJob(
                Job("load", -1, 0, program.load_beats),
                -1,
                self.load_activity[n],
                words=_map_words(program.load_shape, cfg),
                permit=self.image_start[n] if n else done_event(env),
                loaded_event=env.event(),
                row_beats=program.load_row_beats,
                res_copies=program.load_res_copies,
                act_copies=program.load_act_copies,
                rows_known=env.event() if program.input_buffer else None,
                stem=self.stem.train if self.stem is not None else None,
            )
            self.loads.append(load)
            base = n * per_image
            blobs = [
                ReadJob(
                    Job("blob", li, q, works[li].plan.passes[q].blob_beats),
                    base + i,
                    works[li].activity,
                    permit=self.slots.permit(base + i),
                    loaded_event=self.slots.loaded[base + i],
                )
                for i, (li, q) in enumerate(owners[:per_image])
            ]
            self.image_jobs.append([load if i < 0 else blobs[i] for i in program.job_order()])
        self.jobs = [run for jobs in self.image_jobs for run in jobs]  # the read engine serves images in order
        for run in self.jobs:
            assert run.permit is not None
            run.permit.callbacks.append(self._allowed_recorder(run.job))
        self.read_dma = FastReadDma(env, cfg, lat, self.memory, self.jobs)
        self.mask = FastMaskUnit(env, lat, self.slots, cols)
        split = cfg.split_by_kernel(program.mode == "sparse")
        self.gather = FastGather(env, lat, cfg.buffers.act_word_bits, cols, split)
        self.pe = FastPeArray(
            env, cfg, lat, self.gather, self.slots, IndexDecoder(cfg.pe_array.rows, program.mode == "sparse")
        )
        self.epilogue = FastEpilogue(env, lat, self.pe, self.slots)
        self.tiles = FastTilePipeline(env, self.gather, self.pe, self.epilogue, self.slots)
        self.write_dma = FastWriteDma(
            env, cfg, lat, self.memory, program.store_beats, program.store_res_reads, self.store_activity
        )
        self.finished = env.process(self._programme())
        self.store_start = [0] * len(images)

    def _allowed_recorder(self, job: Job) -> Callable[[simpy.Event], None]:
        """Callback for a job's permit: the cycle it happens is the job's `allowed`."""

        def record(_event: simpy.Event) -> None:
            job.allowed = cycle(self.env)

        return record

    def _programme(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for n in range(len(self.images)):
            if n:  # S2: image n starts at end_L(n-1), after STORE(n-1)'s last W beat with a map STORE
                if not self.program.pooled:
                    yield self.write_dma.wends[n - 1]
                self.starts[n] = cycle(env)
                self.image_start[n].succeed()
            yield from self._image(n)
        yield self.write_dma.dones[-1]

    def _image(self, n: int) -> Generator[simpy.Event, Any, None]:
        """One image from its start S(n) (S3): LOAD, layers, and the STORE started."""
        env, slots, load = self.env, self.slots, self.loads[n]
        count = len(self.program.layers)
        layers = self.layers[n * count : (n + 1) * count]
        if self.program.input_buffer:  # the first layer starts lambda_layer after the start (4.4)
            yield env.timeout(self.lat.layer)
            assert load.rows_known is not None
            yield load.rows_known
            for L in layers:
                if L.work.plan.reads_input:
                    L.ready = [load.row_times[self.program.row_need(L.work.plan, y)] for y in range(L.work.plan.h_out)]
        else:
            assert load.loaded_event is not None
            yield load.loaded_event
        for L in layers:
            plan, first = L.work.plan, L.work.first_blob
            if n and self.program.pooled and plan.index == count - 1:
                yield self.write_dma.wends[n - 1]  # S4: STORE(n-1) has read the sum store
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
            nxt = layers[plan.index + 1] if plan.index + 1 < count else None
            if nxt is not None and nxt.work.plan.early_scan:  # it scans from this layer's start (4.5)
                nxt.prev = L
                self.mask.commands.put(nxt)
            waits = [L.mask_end, *(slots.loaded[first + q] for q in range(len(plan.passes)))]
            if plan.reads_input:  # an input-reading layer ends after the whole LOAD
                assert load.loaded_event is not None
                waits.append(load.loaded_event)
            if L.sizes:
                waits.append(L.written)
            yield simpy.AllOf(env, waits)
            yield env.timeout(self.lat.layer)
            L.timing.end = cycle(env)
        self.store_start[n] = cycle(env)
        self.write_dma.starts[n].succeed()

    def result(self, keep_tiles: bool) -> SimSchedule:
        """The schedule of one inference (latency mode)."""
        assert len(self.images) == 1
        return self.results(keep_tiles)[0]

    def image_starts(self) -> list[int]:
        """S(n) of every image (rule S2)."""
        return list(self.starts)

    def results(self, keep_tiles: bool) -> list[SimSchedule]:
        """Each image's schedule, in absolute cycles."""
        for L in self.layers:
            L.timing.n_active, L.timing.tiles, L.timing.dma_beats = (
                L.work.n_active,
                len(L.sizes),
                L.work.plan.blob_beats,
            )
            if keep_tiles:
                L.timing.tile_events = [TileEvents(t.q, t.t, t.n, *t.times) for t in L.tiles]
        count = len(self.program.layers)
        return [
            _result(
                "fast",
                self.write_dma.done_at[n],
                self.store_start[n],
                [L.timing for L in self.layers[n * count : (n + 1) * count]],
                works,
                [run.job for run in self.image_jobs[n]],
                self.write_dma.bursts[n],
                self.load_activity[n],
                self.store_activity[n],
            )
            for n, works in enumerate(self.images)
        ]


class CycleAccelerator(Clocked):
    """Cycle mode: every block steps once per clock. This class is also the controller's FSM.

    Blocks tick in a fixed order within a cycle: memory, stem unit, controller, read DMA, mask
    unit, gather, PE array, index decoder, epilogue, write DMA. Every register
    write is visible from a later cycle, except lambda_load = 0 (made by the read
    DMA when the memory delivers a beat, or by the stem unit) and lambda_layer = 0 (made by the
    controller): those blocks tick first, so their readers see such writes in time.
    """

    sleep = True  # False: every block ticks every cycle (the tests check that sleeping changes nothing)

    def __init__(
        self,
        env: simpy.Environment,
        program: Program,
        cfg: HardwareConfig,
        lat: Latencies,
        images: list[list[LayerWork]],
    ) -> None:
        super().__init__(env)
        self.program, self.lat, self.images = program, lat, images
        self.works = [w for works in images for w in works]
        cols = cfg.pe_array.cols
        count = len(program.layers)
        self.load_activity = [Activity() for _ in images]
        self.store_activity = [Activity() for _ in images]
        # S(n) (docs/timing.md 9, rule S2): image 0 at cycle 0; the controller raises the others
        self.image_start = [Flag(0) if n == 0 else Flag() for n in range(len(images))]
        self.first_start: list[Flag] = []  # per image: its layer 1 may start (what `start` is at cycle 0)
        # S4, with a pooled STORE: a last layer of image n >= 1 -> the flag its start would be without
        # the rule; the controller raises its start once that flag and Wend(n-1) are both visible
        self.held: dict[int, Flag] = {}
        self.store_start = [Flag() for _ in images]
        self.loads: list[ReadJob] = []
        self.layers: list[CycleLayer] = []
        self.stem = CycleStemUnit(env, cfg, lat, program) if program.stem_unit else None
        for n, works in enumerate(images):
            load = ReadJob(
                Job("load", -1, 0, program.load_beats),
                -1,
                self.load_activity[n],
                words=_map_words(program.load_shape, cfg),
                row_beats=program.load_row_beats,
                res_copies=program.load_res_copies,
                act_copies=program.load_act_copies,
                after=self.image_start[n] if n else None,
                stem=self.stem.raw_beat if self.stem is not None else None,
            )
            self.loads.append(load)
            for li, w in enumerate(works):
                # start_1 = loaded(LOAD), or lambda_layer with an input buffer (docs/timing.md 4.4)
                if li == 0:
                    first = (Flag(lat.layer) if n == 0 else Flag()) if program.input_buffer else load.loaded_flag
                    self.first_start.append(first)
                start = first if li == 0 else Flag()
                if n and program.pooled and li == count - 1:  # S4: the controller holds its start
                    self.held[len(self.layers)] = start
                    start = Flag()
                blobs = [Flag() for _ in w.plan.passes]
                mask_done = Flag() if w.plan.mask_enabled else start  # bypassed: list complete at the start
                L = CycleLayer(w, new_timing(w), cols, start, blobs, mask_done)
                if w.plan.reads_input:
                    L.input_rows = load.rows
                if w.plan.early_scan:  # its scan waits for the previous layer's output rows (4.5)
                    P = self.layers[-1]
                    L.prev, L.input_rows, P.feeds_early = P, P.out_rows, True
                self.layers.append(L)
        per_image = program.blob_count
        self.slots = CycleWeightSlots(self.layers, program.stream_needs(len(images)))
        self.image_jobs: list[list[ReadJob]] = []
        for n in range(len(images)):
            blob_jobs = []
            for i in range(n * per_image, (n + 1) * per_image):
                L, q = self.slots.owners[i]
                job = Job("blob", L.work.plan.index, q, L.work.plan.passes[q].blob_beats)
                after = self.image_start[n] if n else None
                blob_jobs.append(ReadJob(job, i, L.work.activity, loaded_flag=L.blobs[q], after=after))
            self.image_jobs.append([self.loads[n] if i < 0 else blob_jobs[i] for i in program.job_order()])
        self.jobs = [run for jobs in self.image_jobs for run in jobs]
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
            *([self.stem] if self.stem is not None else []),  # its x0 beats, like R beats, may be seen at once
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
        self.next_image: tuple[int, int] | None = None  # (image, end_L of the one before) until it starts
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
        return [*self.store_start, *self.image_start, *self.first_start, *self.held.values()]

    def tick(self, now: int) -> None:
        count = len(self.program.layers)
        self._next_image(now)
        if self.li < len(self.layers):
            L = self.layers[self.li]
            tiles = L.tiles(now)
            # Cheapest tests first: the last tile's outputs written, then the LOAD (an input-reading
            # layer ends after it), then the blobs loaded.
            if (
                tiles is not None
                and L.written.value(now) >= tiles * len(L.blobs)
                and (L.input_rows is None or self.loads[self.li // count].loaded_flag.up(now))
                and all(f.up(now) for f in L.blobs)
            ):
                end = now + self.lat.layer
                L.timing.end = end
                n = self.li // count
                self.li += 1
                if self.li % count:
                    nxt = self.li
                    self.held.get(nxt, self.layers[nxt].start).rise(end)
                else:  # the image's last layer: its STORE (S5), and the next image (S2)
                    self.store_start[n].rise(end)
                    if self.li < len(self.layers):
                        self.next_image = (n + 1, end)
                        self._next_image(now)
                self.last_active = now
            else:
                self.wake = NEVER  # until a register changes
        elif self.write_dma.done[-1].up(now):
            self.done = now
            self.stopped = True
        else:
            self.wake = NEVER
        self._held(now)

    def _next_image(self, now: int) -> None:
        """S2: image n starts at max(end_L(n-1), Wend(n-1)), or end_L(n-1) with a pooled STORE."""
        if self.next_image is None:
            return
        n, end = self.next_image
        if self.program.pooled or self.write_dma.sent[n - 1].up(now):
            start = max(now, end)
            self.image_start[n].rise(start)
            if self.program.input_buffer:  # S3: layer 1 from S(n) + lambda_layer
                self.first_start[n].rise(start + self.lat.layer)
            self.next_image = None
            self.last_active = now

    def _held(self, now: int) -> None:
        """S4: a held last layer starts once it could start without the rule and Wend(n-1) is visible."""
        count = len(self.program.layers)
        for li, base in self.held.items():  # the earliest image's first
            if base.up(now) and self.write_dma.sent[li // count - 1].up(now):
                self.layers[li].start.rise(now)
                del self.held[li]
            return

    def result(self, keep_tiles: bool) -> SimSchedule:
        """The schedule of one inference (latency mode)."""
        assert len(self.images) == 1
        return self.results(keep_tiles)[0]

    def image_starts(self) -> list[int]:
        """S(n) of every image (rule S2)."""
        out = [f.at for f in self.image_start]
        assert all(at is not None for at in out)
        return [int(at) for at in out if at is not None]

    def results(self, keep_tiles: bool) -> list[SimSchedule]:
        """Each image's schedule, in absolute cycles."""
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
        for n, jobs in enumerate(self.image_jobs):
            start = self.image_start[n].at
            assert start is not None
            for run in jobs:
                need = self.slots.needs[run.blob] if run.blob >= 0 else 0
                run.job.allowed = self.slots.freed_at(need - 1) if need else start
        count = len(self.program.layers)
        out = []
        for n, works in enumerate(self.images):
            store = self.store_start[n].at
            done = self.write_dma.done[n].at
            assert store is not None and done is not None
            out.append(
                _result(
                    "cycle",
                    done,
                    store,
                    [L.timing for L in self.layers[n * count : (n + 1) * count]],
                    works,
                    [run.job for run in self.image_jobs[n]],
                    self.write_dma.bursts[n],
                    self.load_activity[n],
                    self.store_activity[n],
                )
            )
        return out
