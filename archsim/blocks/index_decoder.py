"""Sparse index decoder (docs/architecture.md section 5).

Every weight step carries, per PE row, the channel slot s of the kept kernel it
applies (log2 G bits); the decoder turns each into the accumulator address that
the row's PEs add into. In dense mode it is bypassed (slot = step).

It is one stage of the PE array's pipeline, between the weight-slot read in the
issue cycle and the accumulate: it decodes the step issued in the previous
cycle. Its stage is part of lambda_compute, so it adds no timing rule of its
own; it is modelled to count its work and to show where that work happens.
"""

from __future__ import annotations

from collections import deque

import simpy

from archsim.activity import Activity
from archsim.blocks.signals import NEVER, Clocked


class IndexDecoder:
    """Fast mode: the PE array reports each tile's steps."""

    def __init__(self, rows: int, sparse: bool) -> None:
        self.rows, self.sparse = rows, sparse

    def decode(self, activity: Activity, steps: int) -> None:
        if self.sparse:
            activity.index_decodes += steps * self.rows


class CycleIndexDecoder(Clocked):
    """Cycle mode: a pipeline register from the PE array's issue stage; one step decoded per cycle.

    Nothing reads its count during the run, so it need not tick in every cycle of a tile: it
    sleeps, and when woken decodes every step that has reached its stage by then, as it would have
    one per cycle. The PE array's last step of a tile comes with a register write that wakes it,
    so every step is decoded before DONE.
    """

    def __init__(self, env: simpy.Environment, rows: int, sparse: bool) -> None:
        super().__init__(env)
        self.rows, self.sparse = rows, sparse
        self.issued: deque[tuple[int, Activity]] = deque()  # (cycle it reaches this stage, layer's counters)

    def push(self, visible: int, activity: Activity) -> None:
        self.issued.append((visible, activity))

    def tick(self, now: int) -> None:
        issued = self.issued
        while issued and issued[0][0] <= now:
            activity = issued.popleft()[1]
            if self.sparse:
                activity.index_decodes += self.rows
        self.wake = NEVER
