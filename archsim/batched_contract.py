"""The timing contract evaluated for many images at once: an accelerator for whole-set runs.

archsim.contract.schedule times one inference with Python integers. A whole-set run times
thousands of inferences of one programme that differ only in the active positions of the
masked layers. The control flow of `schedule` (layers, passes, DMA jobs and their bursts, the
order in which blobs are issued) depends on the programme alone; only the number of tiles of a
masked layer, their sizes and their list-ready times depend on the image. So here every time is
a numpy vector over the images, the same recurrences are applied in the same order, and a tile
that an image does not have leaves that image's state unchanged.

It returns what a whole-set run records per image: DONE, each layer's cycles and active
positions. It is a second implementation, not the contract: tests hold it against
contract.schedule on many programmes and configurations, and every whole-set run checks it
against the SimPy fast model on the traced samples and on a sample of the set (archsim/testset.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from archsim.config import HardwareConfig
from archsim.contract import (
    LATENCIES,
    NEG,
    Job,
    Latencies,
    Schedule,
    burst_sizes,
    compute_cycles,
    mask_cycles,
    read_beat_span,
    row_visible,
    stem_train,
    store_schedule,
    w_end,
)
from archsim.program import LayerPlan, Program


@dataclass
class BatchTiming:
    done: np.ndarray  # int64 [N]: DONE of every image
    layer_cycles: np.ndarray  # int64 [N, layers]: end - start of every layer
    active: np.ndarray  # int64 [N, layers]: active positions (all positions where no mask unit)
    store_start: np.ndarray  # int64 [N]: end_L, the end of the last layer (the STORE's start, section 5)
    last_start: np.ndarray  # int64 [N]: start_L, the start of the last layer (rule S4 compares it)


class _Reader:
    """contract.ReadEngine with one time per image; burst indices are the same for every image."""

    def __init__(self, cfg: HardwareConfig, n: int):
        self.cfg = cfg
        self.last_ar = np.full(n, NEG, np.int64)
        self.last_beat = np.full(n, NEG, np.int64)
        self.beat_done: list[np.ndarray] = []
        self.first_beats: list[np.ndarray] = []  # f_b of the last job's bursts

    def run(self, beats: int, allowed: np.ndarray, lat: Latencies) -> np.ndarray:
        """Issue one job's bursts; returns the cycle from which its data is usable."""
        ax = self.cfg.axi
        o, beta = ax.max_outstanding_reads, ax.read_beat_cycles
        self.first_beats = []
        for nb in burst_sizes(beats, ax.max_burst_beats):
            b = len(self.beat_done)
            a = np.maximum(self.last_ar + 1, allowed)
            if b >= o:
                np.maximum(a, self.beat_done[b - o] + 1, out=a)
            f = np.maximum(a + ax.read_latency, self.last_beat + beta)
            self.first_beats.append(f)
            r = f + read_beat_span(nb, beta)
            self.last_ar, self.last_beat = a, r
            self.beat_done.append(r)
        return self.last_beat + lat.load


def _row_visible(program: Program, cfg: HardwareConfig, first_beats: list[np.ndarray], lat: Latencies) -> np.ndarray:
    """contract.row_visible for every image: int64 [N, input rows]. The LOAD's bursts have the same
    sizes for every image, so which burst completes a row is fixed; only its first beat varies."""
    sizes = burst_sizes(program.load_beats, cfg.axi.max_burst_beats)
    rows = row_visible(
        program.load_row_beats, list(zip(first_beats, sizes, strict=True)), cfg.axi.read_beat_cycles, lat
    )
    return np.stack(rows, axis=1)


def _scan_rows(mask_start: np.ndarray, ready: np.ndarray | None, h_out: int, row: int) -> np.ndarray:
    """contract.scan_row_starts for every image: M_y, int64 [N, h_out] (row = W_out nblk cycles)."""
    starts = mask_start[:, None] + row * np.arange(h_out, dtype=np.int64)
    if ready is not None:
        m = np.maximum(mask_start, ready[:, 0])
        starts[:, 0] = m
        for y in range(1, h_out):
            m = np.maximum(m + row, ready[:, y])
            starts[:, y] = m
    return starts


def _list_ready(
    mask: np.ndarray,
    n_act: np.ndarray,
    rows: np.ndarray,
    mask_end: np.ndarray,
    tiles: int,
    cols: int,
    w_out: int,
    nblk: int,
    lat: Latencies,
) -> np.ndarray:
    """contract.list_ready_times for every image: int64 [N, tiles]; a full tile waits for the position
    that fills it, a partial tile (and a tile an image lacks) for the end of the scan. `rows`: the
    scan's row starts M_y, [N, h_out]."""
    n = len(mask)
    ready = np.repeat(mask_end[:, None], tiles, axis=1)
    img, pos = np.nonzero(mask)  # grouped by image, positions ascending
    rank = np.arange(len(img)) - np.repeat(np.cumsum(n_act) - n_act, n_act)
    fills = (rank + 1) % cols == 0
    i, p, t = img[fills], pos[fills], rank[fills] // cols
    ready[i, t] = rows[i, p // w_out] + (p % w_out + 1) * nblk + lat.mask
    assert ready.shape == (n, tiles)
    return ready


def _ranked_positions(mask: np.ndarray | None, n_act: np.ndarray, slots: int) -> np.ndarray:
    """Per image, the raster index of its i-th active position (0 beyond its last): int64 [N, slots]."""
    n = len(n_act)
    if mask is None:  # every position is active, in raster order
        return np.broadcast_to(np.arange(slots, dtype=np.int64), (n, slots))
    pos = np.zeros((n, slots), np.int64)
    img, p = np.nonzero(mask)
    rank = np.arange(len(img)) - np.repeat(np.cumsum(n_act) - n_act, n_act)
    pos[img, rank] = p
    return pos


def _gather_waits(
    mask: np.ndarray | None, n_act: np.ndarray, row_ready: np.ndarray, tiles: int, cols: int, plan: LayerPlan
) -> np.ndarray:
    """The row waits of contract.gather_times for every image and tile: int64 [N, tiles].

    Its first sweep runs g = max(g, RowReady(row of p_i)) + 1 over the tile's positions p_0..p_{n-1},
    so G1 = max(start + n, max_i RowReady(row of p_i) + n - i); this returns the second term (NEG
    for a tile an image lacks)."""
    n = len(n_act)
    slots = tiles * cols
    pos = _ranked_positions(mask, n_act, slots)
    index = np.arange(slots, dtype=np.int64)
    valid = index[None, :] < n_act[:, None]
    size = np.minimum(cols, n_act[:, None] - (index // cols * cols)[None, :])  # n of the slot's tile
    rows = np.minimum(pos // plan.w_out, plan.h_out - 1)
    wait = np.take_along_axis(row_ready, rows, axis=1) + (size - index[None, :] % cols)
    wait = np.where(valid, wait, NEG)
    return wait.reshape(n, tiles, cols).max(axis=2)


def _out_rows(
    mask: np.ndarray | None, n_act: np.ndarray, last_e: np.ndarray, cols: int, plan: LayerPlan, lat: Latencies
) -> np.ndarray:
    """contract.output_rows_final for every image: OR(r), int64 [N, h_out]. `last_e`: E_end of every
    tile of the last pass, [N, tiles]. After tile t, F_t = its last position + 1 (H_out W_out after the
    image's last tile); row r waits for the first tile with F_t >= (r + 1) W_out."""
    n, tiles = last_e.shape
    hw = plan.h_out * plan.w_out
    if tiles == 0:
        return np.full((n, plan.h_out), NEG, np.int64)
    pos = _ranked_positions(mask, n_act, tiles * cols)
    t_img = -(-n_act // cols)
    f = pos[:, cols - 1 :: cols] + 1  # [N, tiles]
    f = np.where(np.arange(tiles)[None, :] >= t_img[:, None] - 1, hw, f)
    bound = (np.arange(plan.h_out, dtype=np.int64) + 1) * plan.w_out  # [h_out]
    first = (f[:, None, :] < bound[None, :, None]).sum(axis=2)  # [N, h_out]: tiles before the one that completes r
    first = np.minimum(first, tiles - 1)
    rows = np.take_along_axis(last_e, first, axis=1) + lat.epilogue
    return np.where(t_img[:, None] > 0, rows, NEG)


def schedule_batch(
    program: Program,
    cfg: HardwareConfig,
    masks: Sequence[np.ndarray | None],
    n: int | None = None,
    lat: Latencies = LATENCIES,
) -> BatchTiming:
    """contract.schedule of N images at once. masks[i]: bool [N, positions] (or [N, H, W]) of layer i's
    active positions where its mask unit is enabled; ignored (may be None) otherwise. `n` is needed
    only when no layer is masked."""
    if len(masks) != len(program.layers):
        raise ValueError(f"{len(masks)} masks for {len(program.layers)} layers")
    enabled = [p for p in program.layers if p.mask_enabled]
    if any(masks[p.index] is None for p in enabled):
        raise ValueError("schedule_batch needs a mask for every masked layer")
    sizes = {len(masks[p.index]) for p in enabled} | ({n} if n is not None else set())  # type: ignore[arg-type]
    if len(sizes) != 1:
        raise ValueError(f"masks and n give different numbers of images: {sorted(sizes)}")
    n = sizes.pop()
    nl = len(program.layers)
    cols = cfg.pe_array.cols
    reader = _Reader(cfg, n)
    zero = np.zeros(n, np.int64)
    passes = [p for plan in program.layers for p in plan.passes]
    blobs: list[np.ndarray] = []  # loaded time of every issued blob, programme order
    free: list[np.ndarray] = []  # time from which each blob's storage may be reused, same order

    def loaded(i: int) -> np.ndarray:
        while len(blobs) <= i:  # the read engine serves jobs strictly in order
            p = passes[len(blobs)]
            blobs.append(reader.run(p.blob_beats, free[p.need - 1] if p.need else zero, lat))
        return blobs[i]

    for i in range(program.pre_load):  # input buffer: these blobs go before the LOAD
        loaded(i)
    load_end = reader.run(program.load_beats, zero, lat)
    rows_in = None  # input rows' usable cycles, [N, input rows] (input buffer)
    if program.stem_unit:  # the LOAD read the raw image; x0 comes from the stem unit (docs/timing.md 3.1)
        load = Job("load", -1, 0, program.load_beats)
        load.last_beat = reader.last_beat  # type: ignore[assignment]  # a vector over images
        train = stem_train(program, load, lat)
        load_end = np.asarray(load.loaded, np.int64)
        if program.input_buffer:
            rows_in = np.stack(row_visible(program.load_row_beats, train, 1, lat), axis=1)
    elif program.input_buffer:
        rows_in = _row_visible(program, cfg, reader.first_beats, lat)
    # Input buffer: the first layer starts lambda_layer after the start, else once the LOAD is over.
    prev_end = np.full(n, lat.layer, np.int64) if program.input_buffer else load_end
    layer_cycles = np.empty((n, nl), np.int64)
    active = np.empty((n, nl), np.int64)
    prev_start = prev_mask_end = prev_g_end = np.full(n, NEG, np.int64)
    out_rows = np.zeros((n, 0), np.int64)  # OR(r) of the previous layer for an early scan (4.5)
    start = prev_end
    for plan in program.layers:
        start = prev_end
        first_blob = len(free)
        row_ready = None  # RowReady(y), [N, h_out]: output row y's input rows are loaded (4.4)
        if plan.reads_input:
            assert rows_in is not None
            row_ready = rows_in[:, [program.row_need(plan, y) for y in range(plan.h_out)]]
        if plan.mask_enabled:
            m = np.asarray(masks[plan.index], dtype=bool).reshape(n, -1)
            if m.shape[1] != plan.positions:
                raise ValueError(f"layer {plan.name}: masks of {m.shape[1]} positions, the layer has {plan.positions}")
            n_act = m.sum(axis=1, dtype=np.int64)
        else:
            n_act = np.full(n, plan.positions, np.int64)
        tiles = -(-n_act // cols)
        max_tiles = int(tiles.max(initial=0))
        if plan.early_scan:  # from the previous layer's start, each row once the rows it reads are final
            mask_start = np.maximum(np.maximum(prev_start, prev_mask_end), loaded(first_blob))
            if plan.late_scan:  # E4 b, E8: not before the previous layer's last gather has ended
                mask_start = np.maximum(mask_start, prev_g_end)
            need = [program.row_need(plan, y) for y in range(plan.h_out)]
            rows = _scan_rows(mask_start, out_rows[:, need], plan.h_out, plan.w_out * plan.nblk)
            mask_end = rows[:, -1] + mask_cycles(plan.w_out, plan.nblk) + lat.mask
            ready0 = _list_ready(m, n_act, rows, mask_end, max_tiles, cols, plan.w_out, plan.nblk, lat)
        elif plan.mask_enabled:
            mask_start = np.maximum(start, loaded(first_blob))
            rows = _scan_rows(mask_start, row_ready, plan.h_out, plan.w_out * plan.nblk)
            mask_end = rows[:, -1] + mask_cycles(plan.w_out, plan.nblk) + lat.mask
            ready0 = _list_ready(m, n_act, rows, mask_end, max_tiles, cols, plan.w_out, plan.nblk, lat)
        else:
            mask_start = mask_end = start
        waits = None  # input buffer: per tile slot, the latest row-ready wait of its positions
        if row_ready is not None:
            waits = _gather_waits(m if plan.mask_enabled else None, n_act, row_ready, max_tiles, cols, plan)
        # The last tiles' ends (gb[u-1], cb[u-1], cb[u-2], eb[u-1], eb[u-2] of the contract).
        g1, c1, c2, e1, e2 = (np.full(n, NEG, np.int64) for _ in range(5))
        last_e = np.full((n, max_tiles), NEG, np.int64)  # E_end of the last pass's tiles
        split_layer = cfg.split_pairs(plan.kernel, program.mode == "sparse")  # rule T3 may apply to this layer
        for p in plan.passes:
            ready = loaded(first_blob + p.index)
            c_dur = compute_cycles(plan.c_in, p.k)
            c_split = compute_cycles(plan.c_in, p.k, 2)  # a split tile (rule T3)
            block_steps = cfg.buffers.act_word_bits * p.k  # steps the PE array spends on one channel block
            for t in range(max_tiles):
                size = np.minimum(cols, n_act - t * cols)
                lr = ready0[:, t] if plan.mask_enabled and p.index == 0 else mask_end
                gs = np.maximum(np.maximum(start, g1), np.maximum(lr, c2))
                sweep1 = gs + size  # contract.gather_times: G1, the end of the first block's sweep
                if waits is not None:  # each position of the first sweep waits for its rows
                    np.maximum(sweep1, waits[:, t], out=sweep1)
                g_end = sweep1 + (plan.nblk - 1) * size
                per_cycle = np.where(2 * size <= cols, 2, 1) if split_layer else 1  # contract.tile_split
                win = np.where(block_steps >= size * per_cycle, sweep1, g_end) + lat.gather  # contract.window_ready
                cs = np.maximum(np.maximum(c1, win), np.maximum(e2, ready))
                c_end = cs + (np.where(per_cycle == 2, c_split, c_dur) if split_layer else c_dur)
                e_end = np.maximum(e1, c_end + lat.compute) + size * p.g  # epilogue_cycles
                has = tiles > t
                if p.index == len(plan.passes) - 1:
                    last_e[:, t] = e_end
                if has.all():
                    g1, c2, c1, e2, e1 = g_end, c1, c_end, e1, e_end
                else:
                    g1, c2, c1 = np.where(has, g_end, g1), np.where(has, c1, c2), np.where(has, c_end, c1)
                    e2, e1 = np.where(has, e1, e2), np.where(has, e_end, e1)
            free.append(np.maximum(np.maximum(ready, e1), mask_end))  # e1 is NEG without tiles
        er_last = np.where(tiles > 0, e1 + lat.epilogue, NEG)
        end = np.maximum(er_last, mask_end)
        if plan.reads_input:  # an input-reading layer also waits for the whole LOAD
            end = np.maximum(end, load_end)
        for b in blobs[first_blob:]:
            end = np.maximum(end, b)
        end = end + lat.layer
        layer_cycles[:, plan.index] = end - start
        active[:, plan.index] = n_act
        prev_end, prev_start, prev_mask_end = end, start, mask_end
        prev_g_end = g1  # G_end of the last tile (NEG without tiles)
        nxt = plan.index + 1
        if nxt < nl and program.layers[nxt].early_scan:
            out_rows = _out_rows(m if plan.mask_enabled else None, n_act, last_e, cols, plan, lat)
    # The store's recurrences only add constants to its start (freed slots count from its own bursts).
    done0, _ = store_schedule(0, program.store_beats, cfg, lat)
    return BatchTiming(
        done=prev_end + done0, layer_cycles=layer_cycles, active=active, store_start=prev_end, last_start=start
    )


# --------------------------------------------------------------------------- stream


ExactImage = Callable[[int, int, int, Sequence[tuple[int, int, int]]], Schedule]


@dataclass
class StreamTimes:
    """A stream of N images in absolute cycles (docs/timing.md 9): what contract.schedule_stream gives."""

    starts: np.ndarray  # int64 [N]: S(n), rule S2
    done: np.ndarray  # int64 [N]: DONE(n), rule S5
    exact: list[int]  # images rule S4 delayed, computed by contract.schedule itself

    @property
    def period(self) -> float:
        """(DONE(N-1) - DONE(0)) / (N - 1), rule S6 (contract.StreamSchedule.period)."""
        return float(self.done[-1] - self.done[0]) / (len(self.done) - 1)

    @property
    def latencies(self) -> np.ndarray:
        """DONE(n) - S(n), rule S6."""
        return self.done - self.starts


def stream_batch(
    program: Program,
    cfg: HardwareConfig,
    store_start: np.ndarray,
    last_start: np.ndarray,
    exact: ExactImage,
    lat: Latencies = LATENCIES,
) -> StreamTimes:
    """contract.schedule_stream of N images from their single-image times, in one O(N) pass.

    `store_start[n]` and `last_start[n]` are image n's end_L and start_L in latency mode (start 0),
    as schedule_batch returns them; `exact(n, t0, last_start_min, store_prior)` is contract.schedule
    of image n with those stream arguments, called only where rule S4 binds. Each step is exact:

    * S2: S(n) is computed from end_L(n-1) and Wend(n-1) as schedule_stream does (contract.w_end).
    * S3: in contract.schedule, t0 = S(n) enters only as allowed(LOAD), allowed(blob) of the blobs
      with need 0 and the first layer's start; every later time is a max of those, of sums with
      constants and of NEG (which stays below any real time), and the read engine starts idle
      (image n-1's last layer ends after its blobs, the last reads it issued, are loaded, so its reads
      are over by end_L(n-1) <= S(n); schedule_stream asserts it). So with no S4 constraint
      every time up to the STORE is its latency-mode time plus S(n): end_L(n) = S(n) + store_start[n],
      and the last layer's start by S3 alone is S(n) + last_start[n].
    * S4: schedule sets start_L = max(start_L by S3, last_start_min) and uses last_start_min nowhere
      else. Where Wend(n-1) <= S(n) + last_start[n] the max is the S3 value and the shift above
      holds as is; otherwise image n is not a shift, and `exact` computes it with the contract.
    * S5: STORE(n) is contract.store_schedule(end_L(n), ...) with the write engine's last O_w
      bursts as `prior`, the very call schedule makes (the recurrence reads no older burst).
    """
    n_img = len(store_start)
    if n_img < 1 or len(last_start) != n_img:
        raise ValueError("stream_batch needs the same number (>= 1) of store and last-layer starts")
    keep = cfg.axi.max_outstanding_writes
    starts = np.empty(n_img, np.int64)
    done = np.empty(n_img, np.int64)
    exact_images: list[int] = []
    prior: list[tuple[int, int, int]] = []  # the write engine's last O_w bursts
    end_prev = wend = 0
    for n, (rel_end, rel_last) in enumerate(zip(store_start.tolist(), last_start.tolist(), strict=True)):
        if n == 0:
            t0, last_min = 0, NEG
        else:
            t0 = end_prev if program.pooled else max(end_prev, wend)
            last_min = wend if program.pooled else NEG
        if last_min <= t0 + rel_last:  # S3: a shift of the single-image schedule
            end_l = t0 + rel_end
            d, bursts = store_schedule(end_l, program.store_beats, cfg, lat, prior)
        else:  # S4 binds: the contract itself
            s = exact(n, t0, last_min, prior)
            end_l, d, bursts = s.store_start, s.done, s.store_bursts
            exact_images.append(n)
        starts[n], done[n] = t0, d
        end_prev, wend = end_l, w_end(bursts, end_l)
        prior = (prior + bursts)[-keep:]
    return StreamTimes(starts=starts, done=done, exact=exact_images)
