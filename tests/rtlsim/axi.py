"""Cycle-level AXI models for cocotb: DDR memory (AXI4 slave) and a host (AXI4-Lite master).

The memory follows docs/timing.md sections 3 and 5 exactly when back-pressure is off:
every AR is accepted at once; burst b's first R beat comes at
max(a_b + L_r, r_{b-1} + beta), then one beat every beta cycles, in order; AW and W
are accepted at once and the B response comes L_w cycles after a burst's last W beat.
With back-pressure on (seeded), ARREADY, AWREADY and WREADY drop at random and R beats
and B responses are delayed at random, which must not change the accelerator's output.

Everything is sampled once per cycle: drive at the falling edge, sample in the
ReadOnly phase after it, so a handshake observed there happens in that cycle.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field


@dataclass
class MemTiming:
    read_latency: int
    write_latency: int
    beat_cycles: int
    data_bits: int
    backpressure: bool = False
    seed: int = 0
    p_stall: float = 0.3  # probability of a stall per cycle and channel when back-pressure is on


@dataclass
class Burst:
    addr: int
    beats: int
    t_ar: int
    sent: int = 0


@dataclass
class MemStats:
    ar: list[tuple[int, int, int]] = field(default_factory=list)  # (cycle, addr, beats)
    r_last: list[int] = field(default_factory=list)  # cycle of each burst's last R beat
    aw: list[tuple[int, int, int]] = field(default_factory=list)
    w_first: list[int] = field(default_factory=list)
    b: list[int] = field(default_factory=list)


class AxiMemory:
    """DDR behind an AXI4 slave port. `step(t, sig)` runs one cycle."""

    def __init__(self, size: int, timing: MemTiming):
        self.mem = bytearray(size)
        self.t = timing
        self.beat_bytes = timing.data_bits // 8
        self.rng = random.Random(timing.seed)
        self.reads: deque[Burst] = deque()
        self.last_r = -(10**9)  # cycle of the last R beat delivered
        self.next_r = None  # cycle the head burst's next beat is due
        self.aws: deque[Burst] = deque()
        self.w_beats = 0  # beats received of the head AW burst
        self.w_pending: deque[int] = deque()  # W beats received before their AW (data)
        self.bq: deque[int] = deque()  # due cycles of B responses
        self.stats = MemStats()

    def new_run(self) -> None:
        """Each run counts cycles from its start: forget the previous run's beat times."""
        assert not self.reads and not self.aws and not self.bq and not self.w_pending, "AXI traffic left over"
        self.last_r = -(10**9)
        self.next_r = None
        self.stats = MemStats()

    def write(self, addr: int, data: bytes) -> None:
        self.mem[addr : addr + len(data)] = data

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.mem[addr : addr + n])

    def _stall(self) -> bool:
        return self.t.backpressure and self.rng.random() < self.t.p_stall

    # ------------------------------------------------------------------ per cycle
    def drive(self, t: int) -> dict[str, int]:
        """Outputs for cycle t, decided from handshakes up to cycle t-1."""
        out = {"arready": 0 if self._stall() else 1, "awready": 0 if self._stall() else 1, "wready": 1}
        out["wready"] = 0 if self._stall() else 1
        out["rvalid"] = 0
        out["rlast"] = 0
        out["rdata"] = None
        if self.reads:
            head = self.reads[0]
            if self.next_r is None:
                self.next_r = max(head.t_ar + self.t.read_latency, self.last_r + self.t.beat_cycles)
            if t >= self.next_r and not self._stall():
                a = head.addr + head.sent * self.beat_bytes
                out["rvalid"] = 1
                out["rlast"] = int(head.sent == head.beats - 1)
                out["rdata"] = int.from_bytes(self.mem[a : a + self.beat_bytes], "little")
        out["bvalid"] = int(bool(self.bq) and t >= self.bq[0] and not self._stall())
        return out

    def sample(self, t: int, out: dict[str, int], s: dict[str, int]) -> None:
        """Handshakes of cycle t: `out` what we drove, `s` what the DUT drove."""
        if out["arvalid_hs"]:
            self.reads.append(Burst(s["araddr"], s["arlen"] + 1, t))
            self.stats.ar.append((t, s["araddr"], s["arlen"] + 1))
        if out["rvalid"] and s["rready"]:
            head = self.reads[0]
            head.sent += 1
            self.last_r = t
            if head.sent == head.beats:
                self.reads.popleft()
                self.stats.r_last.append(t)
                self.next_r = None
            else:
                self.next_r = t + self.t.beat_cycles
        if out["awvalid_hs"]:
            self.aws.append(Burst(s["awaddr"], s["awlen"] + 1, t))
            self.stats.aw.append((t, s["awaddr"], s["awlen"] + 1))
        if s["wvalid"] and out["wready"]:
            self.w_pending.append(s["wdata"])
        # match W beats to AW bursts in order
        while self.aws and self.w_pending:
            head = self.aws[0]
            data = self.w_pending.popleft()
            a = head.addr + self.w_beats * self.beat_bytes
            self.mem[a : a + self.beat_bytes] = data.to_bytes(self.beat_bytes, "little")
            if self.w_beats == 0:
                self.stats.w_first.append(t)
            self.w_beats += 1
            if self.w_beats == head.beats:
                self.aws.popleft()
                self.w_beats = 0
                self.bq.append(t + self.t.write_latency)
        if out["bvalid"] and s["bready"]:
            self.bq.popleft()
            self.stats.b.append(t)
