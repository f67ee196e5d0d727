"""Fast mode's tile pipeline: one layer's tiles through gather -> PE array -> epilogue (not a hardware block).

The three blocks' recurrences (docs/timing.md 4.2; gather.py, pe_array.py, epilogue.py) give a
tile's times from earlier tiles' times, the layer's start, the list's timing and the pass's blob
alone, so one process evaluates them tile by tile, in order, instead of stepping through an event
per block and tile. It waits only for what the rest of the accelerator decides: the scan's layout
(a masked layer) and each pass's blob being loaded. Every blob a pass waits for is permitted by
slots freed earlier in the programme, whose events are already scheduled, so waiting cannot stall
the model. What others wait on comes back as timed events (epilogue.py): a pass's weight slot done,
the layer's outputs written.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from archsim.blocks.epilogue import FastEpilogue
from archsim.blocks.gather import FastGather
from archsim.blocks.pe_array import FastPeArray
from archsim.blocks.signals import Channel
from archsim.blocks.weight_slots import FastWeightSlots
from archsim.blocks.work import FastLayer, Tile


class FastTilePipeline:
    """Events per layer and pass; every tile's G, C and E times computed in between."""

    def __init__(
        self,
        env: simpy.Environment,
        gather: FastGather,
        pe: FastPeArray,
        epilogue: FastEpilogue,
        slots: FastWeightSlots,
    ) -> None:
        self.gather, self.pe, self.epilogue, self.slots = gather, pe, epilogue, slots
        self.commands = Channel(env)  # layers, put by the accelerator at their start
        env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        gather, compute, finish = self.gather.gather, self.pe.compute, self.epilogue.finish
        while True:
            L: FastLayer = yield self.commands.get()
            if not L.sizes:
                assert L.laid is not None
                L.laid.succeed()
                continue
            passes = len(L.work.plan.passes)
            if L.work.plan.mask_enabled:
                yield L.scanned  # the list's timing
            n_tiles = len(L.sizes)
            for q in range(passes):
                yield self.slots.loaded[L.work.first_blob + q]  # its weights: the PE array reads the load time
                for t, n in enumerate(L.sizes):
                    u = q * n_tiles + t
                    last = t == n_tiles - 1
                    tile = Tile(L, q, t, n, u % 2, last, last and q == passes - 1, bank=u % 2)
                    L.tiles.append(tile)
                    finish(tile, compute(tile, gather(tile)))
            assert L.laid is not None
            L.laid.succeed()  # an early scan of the next layer reads the last pass's E_end (docs/timing.md 4.5)
