"""Stem unit (rtl/verilog/bnn_stem.v; docs/timing.md 3.1): the stem conv on chip, between the read DMA and
the LOAD path.

With `stem_unit.enabled` the LOAD's R beats carry the raw image (rule ST1: n_raw = `Program.load_beats`
beats); the read DMA hands them to this unit and goes on to its next job without waiting for it. The unit
emits x0, the map an ordinary LOAD would have read, as `Program.x0_beats` beats in the same order (ST2):

    X_j = r_last(LOAD) + lambda_stem + j,    lambda_stem = `Program.stem_lead`

one beat per cycle, each entering the LOAD path as an R beat of x0 would: it is written lambda_load later
(ST3), so loaded(LOAD) = X_{n_x0 - 1} + lambda_load and, with an input buffer, input row r is usable from
X_{n_r - 1} + lambda_load. The unit takes one image at a time, in LOAD order (ST5).

Activity: each x0 word is written into the residual buffer (and its sign bits into the activation banks)
as an ordinary LOAD's are; the unit's own work is H W C0 9 multiply-accumulates per image (`stem_macs`).
"""

from __future__ import annotations

import simpy

from archsim.blocks.dma import ReadJob
from archsim.blocks.signals import NEVER, Clocked, Count, Flag, after, cycle
from archsim.config import HardwareConfig
from archsim.contract import Latencies, row_visible
from archsim.program import Program
from archsim.stem_unit import macs


def stem_macs(program: Program) -> int:
    """Multiply-accumulates of one image's stem (stem_unit.macs of x0's shape)."""
    return macs(*program.load_shape)


# --------------------------------------------------------------------------- fast mode


class FastStemUnit:
    """One event per x0 train: when the read DMA has laid out the raw LOAD, `train` computes X_0, every
    input row's usable cycle and loaded(LOAD) in closed form, and fires the LOAD's events."""

    def __init__(self, env: simpy.Environment, cfg: HardwareConfig, lat: Latencies, program: Program) -> None:
        self.env, self.cfg, self.lat, self.program = env, cfg, lat, program

    def train(self, run: ReadJob, last_raw: int) -> None:
        """The raw LOAD `run` ends with its R beat in cycle `last_raw` (ST1); its x0 train follows (ST2-ST3)."""
        p, lat = self.program, self.lat
        first = last_raw + p.stem_lead
        if run.rows_known is not None:
            run.row_times = row_visible(run.row_beats, [(first, p.x0_beats)], 1, lat)
            run.rows_known.succeed()
        run.activity.res_writes += run.words * run.res_copies
        run.activity.act_writes += run.words * run.act_copies
        run.activity.stem_macs += stem_macs(p)
        run.job.last_beat = last_raw
        run.job.loaded = first + p.x0_beats - 1 + lat.load
        assert run.loaded_event is not None
        after(self.env, run.job.loaded - cycle(self.env), run.loaded_event.succeed, run.job.loaded)


# --------------------------------------------------------------------------- cycle mode


class CycleStemUnit(Clocked):
    """One step per clock. It counts the raw LOAD's R beats as the read DMA receives them (`raw_beat`);
    after the last one it counts lambda_stem cycles, then emits one x0 beat per cycle: the beat's residual
    words are written, an input row completed by it becomes visible lambda_load later, and so does the
    LOAD's loaded flag with the last beat. LOADs are served in order, one image at a time (ST5)."""

    def __init__(self, env: simpy.Environment, cfg: HardwareConfig, lat: Latencies, program: Program) -> None:
        super().__init__(env)
        self.lat, self.program = lat, program
        self.data_bits, self.word_bits = cfg.axi.data_bits, cfg.res_word_bits
        self.macs_per_beat, rest = divmod(stem_macs(program), program.x0_beats)
        assert not rest, "an x0 beat holds whole positions' channel groups"
        self.loads: list[ReadJob] = []  # raw LOADs whose last beat has arrived, in order
        self.raw = Count()  # raw LOADs complete: written by the read DMA in the cycle of the last R beat
        self.serving = 0  # index of the LOAD whose x0 train is next or under way
        self.countdown: int | None = None  # cycles of lambda_stem left, None while waiting for a LOAD
        self.emitted = 0  # x0 beats of the current LOAD sent into the LOAD path

    def registers(self) -> list[Flag | Count]:
        return [self.raw]

    def raw_beat(self, run: ReadJob, now: int) -> None:
        """An R beat of a raw LOAD (the read DMA calls it in the cycle of the beat)."""
        if run.received == run.job.beats:
            run.job.last_beat = now
            self.loads.append(run)
            self.raw.add(now)  # the unit ticks after the memory: it sees the last beat in this cycle

    def tick(self, now: int) -> None:
        if self.countdown is None:
            if self.raw.value(now) <= self.serving:
                self.wake = NEVER  # no raw LOAD complete yet
                return
            # The last raw beat arrived in this cycle: X_0 = now + lambda_stem (ST2). The unit is idle by then
            # (ST5: the next image's LOAD waits for this one's loaded).
            assert self.loads[self.serving].job.last_beat == now, "stem unit: a raw LOAD ended during an x0 train"
            self.countdown, self.emitted = self.program.stem_lead, 0
        if self.countdown:
            self.countdown -= 1
            self.last_active = now
            return
        self._emit(self.loads[self.serving], now)

    def _emit(self, run: ReadJob, now: int) -> None:
        """x0 beat `emitted` enters the LOAD path in this cycle, as an R beat of x0 would (ST2-ST3)."""
        j = self.emitted = self.emitted + 1
        run.write_beat(j, now, self.data_bits, self.word_bits, self.lat.load)
        run.activity.stem_macs += self.macs_per_beat
        self.last_active = now
        if j == self.program.x0_beats:
            run.job.loaded = now + self.lat.load
            run.loaded_flag.rise(now + self.lat.load)
            self.serving += 1
            self.countdown = None
