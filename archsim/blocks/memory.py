"""DDR controller seen through the AXI HP port: the slave side (docs/timing.md sections 3 and 5).

Reads: every AR is accepted at once; bursts are answered in order; a burst's
first R beat comes read_latency cycles after its AR at the earliest, and R beats
are read_beat_cycles apart on the one R channel. RREADY is always 1.
Writes: AW and W are accepted at once (no back-pressure); the B response of a
burst comes write_latency cycles after its last W beat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

from archsim.blocks.signals import NEVER, Clocked
from archsim.config import HardwareConfig
from archsim.contract import read_beat_span, write_burst_cycles


@dataclass(eq=False)
class Burst:
    """One AXI burst; `owner` is the DMA's own bookkeeping for it."""

    beats: int
    owner: Any
    done: int = 0  # beats transferred so far (cycle mode)


class FastMemory:
    """Fast mode: the channels as timelines. A DMA hands over a whole train of bursts at once
    (its AR cycles) and gets each burst's last R beat back, computed from the one rule below;
    no event per burst or beat."""

    def __init__(self, env: simpy.Environment, cfg: HardwareConfig) -> None:
        self.env = env
        ax = cfg.axi
        self.read_latency, self.write_latency, self.beat_cycles = ax.read_latency, ax.write_latency, ax.read_beat_cycles
        self.r_free = -(10**18)  # the R channel's next free beat slot

    def read(self, ar: int, beats: int) -> int:
        """AR handshake of a burst of `beats` beats at cycle `ar` (ARs come in order): the cycle of
        its last R beat. The first beat comes read_latency after the AR, and no earlier than the
        channel's next slot after the previous burst's last beat."""
        first = ar + self.read_latency
        if first < self.r_free:
            first = self.r_free
        last = first + read_beat_span(beats, self.beat_cycles)
        self.r_free = last + self.beat_cycles
        return last

    def write(self, first_w: int, beats: int) -> int:
        """AW and first W beat of a burst at `first_w`: the cycle of its B handshake."""
        return first_w + write_burst_cycles(beats) - 1 + self.write_latency


class CycleMemory(Clocked):
    """One step per clock: a timestamped AR queue, one R beat per beta cycles, B-response timers."""

    def __init__(self, env: simpy.Environment, cfg: HardwareConfig) -> None:
        super().__init__(env)
        ax = cfg.axi
        self.read_latency, self.write_latency, self.beat_cycles = ax.read_latency, ax.write_latency, ax.read_beat_cycles
        self.ars: deque[tuple[int, Burst]] = deque()  # (AR cycle, burst), in order
        self.sent = 0  # R beats of the head burst sent so far
        self.gap = 0  # cycles until the R channel may carry the next beat
        self.pending_b: deque[tuple[int, Burst]] = deque()  # (cycle of the last W beat, burst)
        self.r_beat: Callable[[Burst, int], None] = _unconnected
        self.b_response: Callable[[Burst, int], None] = _unconnected

    def connect(self, r_beat: Callable[[Burst, int], None], b_response: Callable[[Burst, int], None]) -> None:
        self.r_beat, self.b_response = r_beat, b_response

    def ar(self, burst: Burst, now: int) -> None:
        """AR handshake (the read DMA calls it in the cycle of the handshake)."""
        self.ars.append((now, burst))
        self.wake = min(self.wake, now + 1)

    def w_beat(self, burst: Burst, last: bool, now: int) -> None:
        """W handshake (the write DMA calls it for every beat)."""
        if last:
            self.pending_b.append((now, burst))
            self.wake = min(self.wake, now + 1)

    def tick(self, now: int) -> None:
        if self.gap:
            self.gap -= 1
        if self.ars and not self.gap and now - self.ars[0][0] >= self.read_latency:
            burst = self.ars[0][1]
            self.sent += 1
            self.gap = self.beat_cycles
            if self.sent == burst.beats:
                self.ars.popleft()
                self.sent = 0
            self.last_active = now
            self.r_beat(burst, now)
        while self.pending_b and now - self.pending_b[0][0] >= self.write_latency:
            self.last_active = now
            self.b_response(self.pending_b.popleft()[1], now)
        if not self.gap:  # nothing to count down: sleep until the head burst's latency has passed
            wake = self.ars[0][0] + self.read_latency if self.ars else NEVER
            self.wake = min(wake, self.pending_b[0][0] + self.write_latency) if self.pending_b else wake


def _unconnected(burst: Burst, now: int) -> None:
    raise AssertionError("memory channel used before the DMA was connected")
