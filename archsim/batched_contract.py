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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archsim.config import HardwareConfig
from archsim.contract import (
    LATENCIES,
    NEG,
    Latencies,
    burst_sizes,
    compute_cycles,
    mask_cycles,
    read_beat_span,
    store_schedule,
)
from archsim.program import Program


@dataclass
class BatchTiming:
    done: np.ndarray  # int64 [N]: DONE of every image
    layer_cycles: np.ndarray  # int64 [N, layers]: end - start of every layer
    active: np.ndarray  # int64 [N, layers]: active positions (all positions where no mask unit)


class _Reader:
    """contract.ReadEngine with one time per image; burst indices are the same for every image."""

    def __init__(self, cfg: HardwareConfig, n: int):
        self.cfg = cfg
        self.last_ar = np.full(n, NEG, np.int64)
        self.last_beat = np.full(n, NEG, np.int64)
        self.beat_done: list[np.ndarray] = []

    def run(self, beats: int, allowed: np.ndarray, lat: Latencies) -> np.ndarray:
        """Issue one job's bursts; returns the cycle from which its data is usable."""
        ax = self.cfg.axi
        o, beta = ax.max_outstanding_reads, ax.read_beat_cycles
        for nb in burst_sizes(beats, ax.max_burst_beats):
            b = len(self.beat_done)
            a = np.maximum(self.last_ar + 1, allowed)
            if b >= o:
                np.maximum(a, self.beat_done[b - o] + 1, out=a)
            r = np.maximum(a + ax.read_latency, self.last_beat + beta)
            r += read_beat_span(nb, beta)
            self.last_ar, self.last_beat = a, r
            self.beat_done.append(r)
        return self.last_beat + lat.load


def _list_ready(
    mask: np.ndarray,
    n_act: np.ndarray,
    mask_start: np.ndarray,
    mask_end: np.ndarray,
    tiles: int,
    cols: int,
    nblk: int,
    lat: Latencies,
) -> np.ndarray:
    """contract.list_ready_times for every image: int64 [N, tiles]; a full tile waits for the position
    that fills it, a partial tile (and a tile an image lacks) for the end of the scan."""
    n = len(mask)
    ready = np.repeat(mask_end[:, None], tiles, axis=1)
    img, pos = np.nonzero(mask)  # grouped by image, positions ascending
    rank = np.arange(len(img)) - np.repeat(np.cumsum(n_act) - n_act, n_act)
    fills = (rank + 1) % cols == 0
    i, p, t = img[fills], pos[fills], rank[fills] // cols
    ready[i, t] = mask_start[i] + (p + 1) * nblk + lat.mask
    assert ready.shape == (n, tiles)
    return ready


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

    prev_end = reader.run(program.load_beats, zero, lat)
    layer_cycles = np.empty((n, nl), np.int64)
    active = np.empty((n, nl), np.int64)
    for plan in program.layers:
        start = prev_end
        first_blob = len(free)
        if plan.mask_enabled:
            m = np.asarray(masks[plan.index], dtype=bool).reshape(n, -1)
            if m.shape[1] != plan.positions:
                raise ValueError(f"layer {plan.name}: masks of {m.shape[1]} positions, the layer has {plan.positions}")
            n_act = m.sum(axis=1, dtype=np.int64)
        else:
            n_act = np.full(n, plan.positions, np.int64)
        tiles = -(-n_act // cols)
        max_tiles = int(tiles.max(initial=0))
        if plan.mask_enabled:
            mask_start = np.maximum(start, loaded(first_blob))
            mask_end = mask_start + mask_cycles(plan.positions, plan.nblk) + lat.mask
            ready0 = _list_ready(m, n_act, mask_start, mask_end, max_tiles, cols, plan.nblk, lat)
        else:
            mask_start = mask_end = start
        # The last tiles' ends (gb[u-1], cb[u-1], cb[u-2], eb[u-1], eb[u-2] of the contract).
        g1, c1, c2, e1, e2 = (np.full(n, NEG, np.int64) for _ in range(5))
        for p in plan.passes:
            ready = loaded(first_blob + p.index)
            c_dur = compute_cycles(plan.c_in, p.k)
            for t in range(max_tiles):
                size = np.minimum(cols, n_act - t * cols)
                lr = ready0[:, t] if plan.mask_enabled and p.index == 0 else mask_end
                gs = np.maximum(np.maximum(start, g1), np.maximum(lr, c2))
                g_end = gs + size * plan.nblk  # gather_cycles
                cs = np.maximum(np.maximum(c1, g_end + lat.gather), np.maximum(e2, ready))
                c_end = cs + c_dur
                e_end = np.maximum(e1, c_end + lat.compute) + size * p.g  # epilogue_cycles
                has = tiles > t
                if has.all():
                    g1, c2, c1, e2, e1 = g_end, c1, c_end, e1, e_end
                else:
                    g1, c2, c1 = np.where(has, g_end, g1), np.where(has, c1, c2), np.where(has, c_end, c1)
                    e2, e1 = np.where(has, e1, e2), np.where(has, e_end, e1)
            free.append(np.maximum(np.maximum(ready, e1), mask_end))  # e1 is NEG without tiles
        er_last = np.where(tiles > 0, e1 + lat.epilogue, NEG)
        end = np.maximum(er_last, mask_end)
        for b in blobs[first_blob:]:
            end = np.maximum(end, b)
        end = end + lat.layer
        layer_cycles[:, plan.index] = end - start
        active[:, plan.index] = n_act
        prev_end = end
    # The store's recurrences only add constants to its start (freed slots count from its own bursts).
    done0, _ = store_schedule(0, program.store_beats, cfg, lat)
    return BatchTiming(done=prev_end + done0, layer_cycles=layer_cycles, active=active)
