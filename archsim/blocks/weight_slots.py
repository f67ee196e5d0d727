"""Weight ring and blob slots (docs/timing.md section 3).

A blob holds one pass: weight steps with their sparse indices (in the weight
ring, from entry wbase on, wrapping), the epilogue parameters and, on a layer's
first pass, the predictor and its threshold (in slot i mod blob_slots of their
memories; i counts passes across the whole programme). Blob i's storage is free
once it is loaded, its layer's mask scan has ended (the predictor's reader) and
the epilogue has finished the pass's last tile (the last reader of its weights
and parameters):

    free(i) = max(loaded(i), E_end(last tile of pass i), mask_end(layer of i))

Blob i may be written once blobs 0 .. need_i - 1 are free (`PassPlan.need`,
placed by archsim.program.place_blobs); blobs are freed in programme order.
The memories are storage: they do not step. Their readers count the reads.
"""

from __future__ import annotations

import simpy

from archsim.blocks.signals import Flag, done_event
from archsim.blocks.work import CycleLayer


class FastWeightSlots:
    """Fast mode: per blob a `loaded` and a `pass_done` event; `freed` joins them with the scan's end.
    A `loaded` event's value is the cycle from which the blob's data is usable (the PE array reads it)."""

    def __init__(
        self,
        env: simpy.Environment,
        owners: list[tuple[int, int]],
        needs: list[int],
        mask_end: list[simpy.Event],
        starts: list[simpy.Event | None] | None = None,
    ) -> None:
        self.env = env
        self.needs = needs
        # A stream's image n >= 1 (docs/timing.md 9, rule S3): a blob that waits for no earlier blob
        # of its image waits for the image's start S(n) instead (None: the first image, from cycle 0).
        self.starts = starts or [None] * len(owners)
        self.loaded = [env.event() for _ in owners]
        self.pass_done = [env.event() for _ in owners]
        self.freed = [
            simpy.AllOf(env, [self.loaded[i], self.pass_done[i], mask_end[layer]])
            for i, (layer, _) in enumerate(owners)
        ]

    def permit(self, blob: int) -> simpy.Event:
        """Blob `blob` may be written after this event."""
        need = self.needs[blob]
        if need:
            return self.freed[need - 1]
        start = self.starts[blob]
        return done_event(self.env) if start is None else start


class CycleWeightSlots:
    """Cycle mode: the free condition is a combinational AND of its readers' registers."""

    def __init__(self, layers: list[CycleLayer], needs: list[int]) -> None:
        self.owners = [(L, q) for L in layers for q in range(len(L.blobs))]
        self.needs = needs  # Program.stream_needs: blobs numbered on across the images of a stream
        self.freed_upto = 0  # blobs 0 .. freed_upto - 1 are known free (registers only rise)

    def free(self, blob: int, now: int) -> bool:
        if blob < self.freed_upto:
            return True
        L, q = self.owners[blob]
        if not (L.blobs[q].up(now) and L.mask_done.up(now)):
            return False
        tiles = L.tiles(now)
        if tiles is None or L.epi_done.value(now) < (q + 1) * tiles:
            return False
        self.freed_upto = blob + 1  # blobs are freed in programme order
        return True

    def writable(self, blob: int, now: int) -> bool:
        need = self.needs[blob]
        return need == 0 or self.free(need - 1, now)

    def freed_at(self, blob: int) -> int:
        """The cycle from which blob `blob`'s storage was free (read back after the run)."""
        L, q = self.owners[blob]
        flags: list[Flag] = [L.blobs[q], L.mask_done]
        times = [f.at for f in flags if f.at is not None]
        assert len(times) == len(flags), "blob never freed"
        last_tile = (q + 1) * (L.timing.tiles) - 1
        if last_tile >= 0:
            times.append(L.epi_done.times[last_tile])
        return max(times)
