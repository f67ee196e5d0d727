"""The timing contract in code: closed-form recurrences, one per block.

This is the executable form of docs/timing.md. archsim's SimPy models (fast and
per-cycle) and the generated RTL must all reproduce the cycle numbers computed
here exactly; tests hold each of them against this module. Keep it plain
Python, free of SimPy, so a reader can check every rule against the document.

Conventions: every time is an integer cycle. "Visible at t" means a consumer
that checks a condition in cycle t sees it hold. A job that starts at s and is
busy for D cycles occupies [s, s + D); the next job of the same block may start
at s + D. NEG stands for "no constraint".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from archsim.config import HardwareConfig
from archsim.program import LayerPlan, Program, ceil_div

NEG = -(10**18)


@dataclass(frozen=True)
class Latencies:
    """Pipeline latencies of the generated RTL (docs/timing.md, "Latency constants")."""

    load: int = 2  # last R beat of a job -> its data usable by consumers
    mask: int = 3  # last cycle of a position's evaluation -> its list entry visible
    gather: int = 2  # end of a tile's gather -> window buffer usable by the PE array
    compute: int = 4  # last PE issue of a tile -> accumulators final
    epilogue: int = 4  # last epilogue cycle of a tile -> its outputs written
    store: int = 2  # STORE start -> first W beat
    layer: int = 1  # last completion of a layer -> next layer may start


LATENCIES = Latencies()


# --------------------------------------------------------------------------- per-block formulas


def burst_sizes(beats: int, max_burst: int) -> list[int]:
    """A job of `beats` beats is split into full bursts and one final partial burst."""
    full, rest = divmod(beats, max_burst)
    return [max_burst] * full + ([rest] if rest else [])


def read_beat_span(beats: int, beat_cycles: int) -> int:
    """Memory: a burst's R beats come beta cycles apart; cycles from its first beat to its last."""
    return beat_cycles * (beats - 1)


def write_burst_cycles(beats: int) -> int:
    """Write DMA: one W beat per cycle (WREADY = 1); a burst occupies the W channel this long."""
    return beats


def gather_cycles(n_positions: int, nblk: int) -> int:
    """Window gather: one (position, channel block) per cycle, nine banks read at once."""
    return n_positions * nblk


def compute_cycles(c_in: int, k: int, m: int = 1) -> int:
    """PE array: m steps per cycle (m = tile_split: 2 for a split tile, else 1), k steps per input
    channel, all columns of a group in lock-step."""
    return -(-c_in * k // m)


def tile_split(n_positions: int, cols: int, split: bool) -> int:
    """Rule T3: steps per cycle of a tile, 2 when split tiles apply to its layer (`split`:
    HardwareConfig.split_pairs) and it has at most cols // 2 positions (each half of the columns
    takes every other step), else 1."""
    return 2 if split and 2 * n_positions <= cols else 1


def window_reads(c_in: int, k: int, m: int) -> int:
    """Window-buffer reads of one position in a tile: one per (column, input channel) for the channel's k
    steps. Split (m = 2, T3): with k = 1 each half reads every other channel, with k >= 2 both halves
    take steps of every channel and read it."""
    return c_in if m == 1 or k == 1 else m * c_in


def epilogue_cycles(n_positions: int, g: int) -> int:
    """Epilogue: one position and one channel slot (all rows) per cycle."""
    return n_positions * g


def mask_cycles(positions: int, nblk: int) -> int:
    """Spatial mask unit: one (position, channel block) per cycle, in raster order."""
    return positions * nblk


# --------------------------------------------------------------------------- results


@dataclass
class Job:
    """One DMA read job: the LOAD of the input map, or the blob of one pass."""

    kind: str  # "load" or "blob"
    layer: int  # -1 for the load
    pass_index: int
    beats: int
    allowed: int = 0  # may issue its first AR from this cycle
    first_ar: int = 0
    last_beat: int = 0
    loaded: int = 0  # data usable from this cycle


@dataclass
class TileEvents:
    pass_index: int
    tile: int
    n: int
    gather_start: int
    gather_end: int
    compute_start: int
    compute_end: int
    epilogue_start: int
    epilogue_end: int


@dataclass
class LayerTiming:
    index: int
    name: str
    start: int
    end: int
    mask_start: int
    mask_end: int
    n_active: int
    tiles: int  # tiles per pass
    pe_busy: int  # cycles the PE array issues steps
    gather_busy: int
    epilogue_busy: int
    mask_busy: int
    dma_beats: int
    tile_events: list[TileEvents] = field(default_factory=list)

    @property
    def cycles(self) -> int:
        return self.end - self.start


@dataclass
class Schedule:
    total_cycles: int
    load_done: int
    store_start: int
    done: int
    layers: list[LayerTiming]
    jobs: list[Job]
    store_bursts: list[tuple[int, int, int]]  # (first W beat, beats, B response)


# --------------------------------------------------------------------------- DMA


class ReadEngine:
    """AXI read DMA (docs/timing.md, "Read DMA"): bursts in job order.

    a_b = max(a_{b-1} + 1, allowed(job), r_{b-O} + 1)   AR handshake
    f_b = max(a_b + L_r, r_{b-1} + beta)                first R beat
    r_b = f_b + beta * (n_b - 1)                         last R beat
    """

    def __init__(self, cfg: HardwareConfig):
        self.cfg = cfg
        self.last_ar = NEG
        self.last_beat = NEG
        self.beat_done: list[int] = []  # r_b of every burst so far

    def run(self, job: Job, lat: Latencies) -> list[tuple[int, int]]:
        """Lays out the job's bursts; returns (first R beat, beats) of each."""
        ax = self.cfg.axi
        o, beta = ax.max_outstanding_reads, ax.read_beat_cycles
        first = True
        out = []
        for n in burst_sizes(job.beats, ax.max_burst_beats):
            b = len(self.beat_done)
            freed = self.beat_done[b - o] + 1 if b >= o else NEG
            a = max(self.last_ar + 1, job.allowed, freed)
            f = max(a + ax.read_latency, self.last_beat + beta)
            r = f + read_beat_span(n, beta)
            if first:
                job.first_ar, first = a, False
            self.last_ar, self.last_beat = a, r
            self.beat_done.append(r)
            out.append((f, n))
        job.last_beat = self.last_beat
        job.loaded = self.last_beat + lat.load
        return out


def stem_train(program: Program, load: Job, lat: Latencies) -> list[tuple[int, int]]:
    """Stem unit (docs/timing.md 3.1, rules ST2-ST3): x0 beat j enters the LOAD path in cycle
    X_j = r_last(LOAD) + lambda_stem + j, and the LOAD's data is usable lambda_load after the last one.
    Sets `load.loaded`; returns the x0 train as one run of beats one cycle apart, (X_0, x0 beats), for
    `row_visible`. `load.last_beat` may be a numpy vector over images (archsim.batched_contract)."""
    first = load.last_beat + program.stem_lead
    load.loaded = first + program.x0_beats - 1 + lat.load
    return [(first, program.x0_beats)]


def row_visible(
    row_beats: tuple[int, ...], bursts: list[tuple[int, int]], beat_cycles: int, lat: Latencies
) -> list[int]:
    """Input buffer: the cycle from which each input row of the LOAD is usable (docs/timing.md 4.4).

    Row r is complete with the LOAD's beat number row_beats[r] - 1 (`Program.load_row_beats`)
    and visible lambda_load later. `bursts` are the LOAD's (first R beat, beats); the first beats may
    also be numpy vectors over images (archsim.batched_contract), the burst sizes are ints.
    """
    out = []
    b, before = 0, 0  # burst holding the beat, beats of the bursts before it
    for n in row_beats:
        j = n - 1
        while j >= before + bursts[b][1]:
            before += bursts[b][1]
            b += 1
        out.append(bursts[b][0] + beat_cycles * (j - before) + lat.load)
    return out


def scan_row_starts(plan: LayerPlan, mask_start: int, ready: list[int] | None) -> np.ndarray:
    """M_y: the cycle the mask unit starts output row y (docs/timing.md 4.1 and 4.4).

    M_y = max(M_{y-1} + W_out nblk, RowReady(y)); without an input buffer RowReady is no
    constraint and M_y = mask_start + y W_out nblk.
    """
    row = plan.w_out * plan.nblk
    starts = mask_start + row * np.arange(plan.h_out, dtype=np.int64)
    if ready is not None:
        m = NEG
        for y in range(plan.h_out):
            m = max(m + row if y else mask_start, ready[y])
            starts[y] = m
    return starts


def gather_times(start: int, positions: np.ndarray, plan: LayerPlan, ready: list[int] | None) -> tuple[int, int]:
    """(G1, G_end) of a tile gathered from `start` (docs/timing.md 4.2, rule T1): channel block by
    channel block, one position per cycle; G1 ends the first block's sweep, in which each position
    waits for its input rows (4.4); the later sweeps take n cycles each."""
    n = len(positions)
    if ready is None:
        g1 = start + n
    else:
        g1 = start
        for p in positions.tolist():
            g1 = max(g1, ready[p // plan.w_out]) + 1
    return g1, g1 + (plan.nblk - 1) * n


def window_ready(g1: int, g_end: int, n: int, k: int, act_word_bits: int, lat: Latencies) -> int:
    """The cycle from which the PE array may start a tile (docs/timing.md 4.2, rule T2): after the
    first block's sweep when it reads a block (act_word_bits x k steps) no faster than the gather
    writes one (n cycles; n = the tile's positions x tile_split, rule T3), else after the whole gather."""
    return (g1 if act_word_bits * k >= n else g_end) + lat.gather


def output_rows_final(
    plan: LayerPlan, active: np.ndarray, last_pass_ends: list[int], cols: int, lat: Latencies
) -> list[int]:
    """OR(r): the cycle from which output row r of a layer is final, for an early scan of the next
    layer (docs/timing.md 4.5, rule E7). Once the last pass's tile t is written, every position
    up to its last one is final (F_t = that position + 1; after the last tile F = H_out W_out),
    and rows r < floor(F_t / W_out) are complete. NEG: no tile needed (the row has no active
    position up to it and no tile before; it is final with the layer's scan, which the next scan
    waits for anyway)."""
    h, w = plan.h_out, plan.w_out
    out = [NEG] * h
    done = 0  # rows final so far
    last = len(last_pass_ends) - 1
    for t, e in enumerate(last_pass_ends):
        f = int(active[(t + 1) * cols - 1]) + 1 if t < last else h * w
        for r in range(done, f // w):
            out[r] = e + lat.epilogue
        done = max(done, f // w)
    return out


def store_schedule(
    start: int,
    beats: int,
    cfg: HardwareConfig,
    lat: Latencies,
    prior: Sequence[tuple[int, int, int]] = (),
) -> tuple[int, list[tuple[int, int, int]]]:
    """AXI write DMA: returns (done cycle, bursts). docs/timing.md, "Write DMA".

    `prior` are the bursts the engine wrote before (earlier images of a stream, section 9 rule S5):
    the recurrence runs on across them (W beats in order, at most O_w bursts without B response)."""
    ax = cfg.axi
    bursts: list[tuple[int, int, int]] = list(prior)
    first = len(bursts)
    s_next = start + lat.store
    if bursts:
        s_next = max(s_next, bursts[-1][0] + write_burst_cycles(bursts[-1][1]))
    for n in burst_sizes(beats, ax.max_burst_beats):
        b = len(bursts)
        freed = bursts[b - ax.max_outstanding_writes][2] + 1 if b >= ax.max_outstanding_writes else NEG
        s = max(s_next, freed)
        resp = s + write_burst_cycles(n) - 1 + ax.write_latency  # L_w after the last W beat
        bursts.append((s, n, resp))
        s_next = s + write_burst_cycles(n)
    done = (bursts[-1][2] if len(bursts) > first else start) + 1
    return done, bursts[first:]


def w_end(bursts: Sequence[tuple[int, int, int]], store_start: int) -> int:
    """Wend: the cycle after a STORE's last W beat (docs/timing.md 9, rule S2); its start without beats."""
    if not bursts:
        return store_start
    s, n, _ = bursts[-1]
    return s + write_burst_cycles(n)


# --------------------------------------------------------------------------- layers


def list_ready_times(plan: LayerPlan, active: np.ndarray, rows: np.ndarray, cols: int, lat: Latencies) -> np.ndarray:
    """Pass-0 tile t may be gathered once its last list entry is visible.

    A full tile waits for the position that fills it; a final partial tile waits for
    the end of the scan (only then is it known that no more positions follow).
    `rows` are the scan's row starts M_y (scan_row_starts).
    """
    n = len(active)
    tiles = ceil_div(n, cols)
    end = int(rows[-1]) + mask_cycles(plan.w_out, plan.nblk) + lat.mask
    ready = np.full(tiles, end, dtype=np.int64)
    full = n // cols
    if full:
        last_pos = active[cols - 1 :: cols][:full]
        ready[:full] = rows[last_pos // plan.w_out] + (last_pos % plan.w_out + 1) * plan.nblk + lat.mask
    return ready


def schedule(
    program: Program,
    cfg: HardwareConfig,
    active: list[np.ndarray | None],
    lat: Latencies = LATENCIES,
    keep_tiles: bool = False,
    *,
    t0: int = 0,
    last_start_min: int = NEG,
    store_prior: Sequence[tuple[int, int, int]] = (),
) -> Schedule:
    """Cycle-exact schedule of one inference.

    `active[i]` holds the raster indices (ascending) of layer i's active output
    positions when its mask unit is enabled, and is ignored otherwise.
    In a stream (docs/timing.md 9) `t0` is the image's start S(n) (rule S3), `last_start_min`
    the earliest start of its last layer (rule S4) and `store_prior` the write engine's earlier
    bursts (rule S5); the defaults are one image in latency mode.
    """
    cols = cfg.pe_array.cols
    reader = ReadEngine(cfg)
    load = Job("load", -1, 0, program.load_beats, allowed=t0)
    jobs: list[Job] = []
    blobs: list[Job] = []  # programme (global pass) order
    free: list[int] = []  # time from which every blob's storage may be reused, same order
    timings = []

    def loaded(i: int) -> int:
        """Blob i loads once blobs 0 .. need_i - 1 are free (ring and slot placement, section 3)."""
        while len(blobs) <= i:  # the read engine serves jobs strictly in order
            j = len(blobs)
            plan_j, pass_j = passes[j]
            allowed = free[pass_j.need - 1] if pass_j.need else t0
            job = Job("blob", plan_j, pass_j.index, pass_j.blob_beats, allowed=allowed)
            reader.run(job, lat)
            blobs.append(job)
            jobs.append(job)
        return blobs[i].loaded

    passes = [(plan.index, p) for plan in program.layers for p in plan.passes]
    for i in range(program.pre_load):  # input buffer: these blobs go before the LOAD (section 3)
        loaded(i)
    load_bursts, beat_cycles = reader.run(load, lat), cfg.axi.read_beat_cycles
    if program.stem_unit:  # the LOAD's beats carry the raw image; x0 comes from the stem unit (section 3.1)
        load_bursts, beat_cycles = stem_train(program, load, lat), 1
    jobs.insert(program.pre_load, load)
    # Input buffer: the first layer starts lambda_layer after the start; else once the LOAD is over.
    prev_end = t0 + lat.layer if program.input_buffer else load.loaded
    rows_in = row_visible(program.load_row_beats, load_bursts, beat_cycles, lat) if program.input_buffer else []
    prev_start = prev_mask_end = prev_gather_end = NEG
    out_rows: list[int] = []  # OR(r) of the previous layer, when the next one scans early (4.5)
    for plan in program.layers:
        start = max(prev_end, last_start_min) if plan.index == len(program.layers) - 1 else prev_end
        # RowReady(y): output row y's input rows are loaded (input-reading layers only, section 4.4)
        row_ready = [rows_in[program.row_need(plan, y)] for y in range(plan.h_out)] if plan.reads_input else None
        first_blob = len(free)
        # Mask unit.
        if plan.mask_enabled:
            acts = np.asarray(active[plan.index], dtype=np.int64)
        else:
            acts = np.arange(plan.positions, dtype=np.int64)
        n_act = len(acts)
        tiles = ceil_div(n_act, cols)
        sizes = [min(cols, n_act - t * cols) for t in range(tiles)]

        if plan.early_scan:  # 4.5: from the previous layer's start, each row once the rows it reads are final
            mask_start = max(prev_start, prev_mask_end, loaded(first_blob))
            if plan.late_scan:  # E4 b, E8: its centre-bit copies wait for the previous layer's last gather
                mask_start = max(mask_start, prev_gather_end)
            scan_ready = [out_rows[program.row_need(plan, y)] for y in range(plan.h_out)]
            row_starts = scan_row_starts(plan, mask_start, scan_ready)
            mask_end = int(row_starts[-1]) + mask_cycles(plan.w_out, plan.nblk) + lat.mask
            ready0 = list_ready_times(plan, acts, row_starts, cols, lat)
        elif plan.mask_enabled:
            mask_start = max(start, loaded(first_blob))
            row_starts = scan_row_starts(plan, mask_start, row_ready)
            mask_end = int(row_starts[-1]) + mask_cycles(plan.w_out, plan.nblk) + lat.mask
            ready0 = list_ready_times(plan, acts, row_starts, cols, lat)
        else:
            mask_start = mask_end = start
            ready0 = np.full(tiles, start, dtype=np.int64)
        gb: list[int] = []
        cb: list[int] = []
        eb: list[int] = []
        er_last = NEG
        events: list[TileEvents] = []
        pe_busy = g_busy = e_busy = 0
        split = cfg.split_pairs(plan.kernel, program.mode == "sparse")  # rule T3
        for p in plan.passes:
            bi = first_blob + p.index
            ready = loaded(bi)
            for t in range(tiles):
                u = len(gb)
                n = sizes[t]
                lr = int(ready0[t]) if p.index == 0 else mask_end
                gs = max(start, gb[u - 1] if u else NEG, lr, cb[u - 2] if u >= 2 else NEG)
                g1, g_end = gather_times(gs, acts[t * cols : t * cols + n], plan, row_ready)
                m = tile_split(n, cols, split)
                gr = window_ready(g1, g_end, n * m, p.k, cfg.buffers.act_word_bits, lat)
                cs = max(cb[u - 1] if u else NEG, gr, eb[u - 2] if u >= 2 else NEG, ready)
                c_end = cs + compute_cycles(plan.c_in, p.k, m)
                cr = c_end + lat.compute
                es = max(eb[u - 1] if u else NEG, cr)
                e_end = es + epilogue_cycles(n, p.g)
                er_last = e_end + lat.epilogue
                gb.append(g_end)
                cb.append(c_end)
                eb.append(e_end)
                pe_busy += c_end - cs
                g_busy += gather_cycles(n, plan.nblk)
                e_busy += e_end - es
                if keep_tiles:
                    events.append(TileEvents(p.index, t, n, gs, g_end, cs, c_end, es, e_end))
            pass_end = eb[-1] if tiles else NEG
            free.append(max(ready, pass_end, mask_end))
        # an input-reading layer also waits for the whole LOAD (it may not need the last rows)
        load_end = load.loaded if plan.reads_input else NEG
        end = max(er_last, mask_end, load_end, *(b.loaded for b in blobs[first_blob:])) + lat.layer
        timings.append(
            LayerTiming(
                index=plan.index,
                name=plan.name,
                start=start,
                end=end,
                mask_start=mask_start,
                mask_end=mask_end,
                n_active=n_act,
                tiles=tiles,
                pe_busy=pe_busy,
                gather_busy=g_busy,
                epilogue_busy=e_busy,
                mask_busy=mask_cycles(plan.positions, plan.nblk) if plan.mask_enabled else 0,
                dma_beats=plan.blob_beats,
                tile_events=events,
            )
        )
        prev_end, prev_start, prev_mask_end = end, start, mask_end
        prev_gather_end = gb[-1] if gb else NEG
        nxt = plan.index + 1
        if nxt < len(program.layers) and program.layers[nxt].early_scan:
            out_rows = output_rows_final(plan, acts, eb[len(eb) - tiles :], cols, lat)
    # STORE: the map, or the pooled sums (section 5.1: the last epilogue's sums are final with its
    # outputs, so end_L covers them and only the beat count differs)
    done, bursts = store_schedule(prev_end, program.store_beats, cfg, lat, store_prior)
    return Schedule(
        total_cycles=done,
        load_done=load.loaded,
        store_start=prev_end,
        done=done,
        layers=timings,
        jobs=jobs,
        store_bursts=bursts,
    )


# --------------------------------------------------------------------------- stream


@dataclass
class StreamSchedule:
    """N images back to back (docs/timing.md 9): each image's schedule in absolute cycles."""

    starts: list[int]  # S(n), rule S2
    images: list[Schedule]

    @property
    def done(self) -> list[int]:
        """DONE(n) of every image (rule S5)."""
        return [s.done for s in self.images]

    @property
    def total_cycles(self) -> int:
        return self.images[-1].done

    @property
    def period(self) -> float:
        """Cycles per image in steady state, (DONE(N-1) - DONE(0)) / (N - 1) (rule S6); the latency for N = 1."""
        d = self.done
        return (d[-1] - d[0]) / (len(d) - 1) if len(d) > 1 else float(d[0])

    @property
    def latencies(self) -> list[int]:
        """Each image's own latency, DONE(n) - S(n) (rule S6)."""
        return [s.done - t for s, t in zip(self.images, self.starts, strict=True)]


def schedule_stream(
    program: Program,
    cfg: HardwareConfig,
    actives: Sequence[list[np.ndarray | None]],
    lat: Latencies = LATENCIES,
    keep_tiles: bool = False,
) -> StreamSchedule:
    """Cycle-exact schedule of a stream of images (docs/timing.md 9, rules S1-S6).

    `actives[n]` is image n's `active` list (as for `schedule`). Image n starts at
    S(n) = end_L(n-1), and not before STORE(n-1)'s last W beat + 1 when the STORE reads the
    residual buffer (S2); it runs as one image from there (S3), its last layer not before
    STORE(n-1)'s last W beat + 1 with a pooled STORE (S4); the write engine runs on across
    images (S5)."""
    if not actives:
        raise ValueError("a stream needs at least one image")
    starts: list[int] = []
    images: list[Schedule] = []
    prior: list[tuple[int, int, int]] = []
    for n, active in enumerate(actives):
        if n == 0:
            t0, last_min = 0, NEG
        else:
            prev = images[-1]
            wend = w_end(prev.store_bursts, prev.store_start)
            t0 = prev.store_start if program.pooled else max(prev.store_start, wend)
            last_min = wend if program.pooled else NEG
        # S3: image n-1's read jobs are all over by end_L(n-1) <= S(n), so a fresh read engine is exact
        assert n == 0 or max(j.last_beat for j in images[-1].jobs) < t0
        sched = schedule(
            program,
            cfg,
            active,
            lat,
            keep_tiles,
            t0=t0,
            last_start_min=last_min,
            store_prior=prior[-cfg.axi.max_outstanding_writes :],
        )
        prior.extend(sched.store_bursts)
        starts.append(t0)
        images.append(sched)
    return StreamSchedule(starts=starts, images=images)
