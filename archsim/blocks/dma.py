"""AXI DMA engines, the master side (docs/timing.md sections 3 and 5).

Read engine: serves jobs strictly in order (the LOAD, then one blob per pass; with an input
buffer blob 0 first, and the LOAD also counts complete input rows, docs/timing.md 4.4);
splits each into bursts of at most max_burst_beats; issues at most one AR per
cycle and keeps at most max_outstanding_reads bursts outstanding (a burst stops
counting the cycle after its last R beat). A blob may start only when its weight
storage is free (docs/timing.md 3). A job's data is usable lambda_load cycles after its last beat.

Write engine (STORE): lambda_store cycles after it is started, streams the last
map as bursts, one W beat per cycle, at most max_outstanding_writes bursts
waiting for their B response; done the cycle after the last B response.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from archsim.activity import Activity
from archsim.blocks.memory import Burst, CycleMemory, FastMemory
from archsim.blocks.signals import NEVER, Clocked, Count, Flag, after, cycle
from archsim.config import HardwareConfig
from archsim.contract import Job, Latencies, burst_sizes, row_visible, write_burst_cycles


@dataclass(eq=False)
class ReadJob:
    """A read job as the DMA sees it. `blob` is -1 for the LOAD; `words` are the residual
    words a LOAD writes (each also writes rows sign bits into activation set 0)."""

    job: Job  # the record the schedule reports, filled in as the job runs
    blob: int
    activity: Activity
    words: int = 0
    permit: simpy.Event | None = None  # fast mode: the job may start
    loaded_event: simpy.Event | None = None  # fast mode: its data is usable
    loaded_flag: Flag = field(default_factory=Flag)  # cycle mode: its data is usable
    received: int = 0  # cycle mode: beats received
    # Input buffer (docs/timing.md 4.4), the LOAD only: per input row the beats that complete it;
    # fast mode: each row's visible cycle, known once `rows_known` fires; cycle mode: rows visible.
    row_beats: tuple[int, ...] = ()
    res_copies: int = 1  # residual buffers each LOADed word goes to (Program.load_res_copies)
    act_copies: int = 1  # activation sets its sign bits go to (Program.load_act_copies)
    row_times: list[int] = field(default_factory=list)
    rows_known: simpy.Event | None = None
    rows: Count = field(default_factory=Count)
    # Cycle mode, a stream's image n >= 1: none of its jobs starts before S(n) (docs/timing.md 9, rule S3).
    after: Flag | None = None
    # A raw LOAD (docs/timing.md 3.1): the stem unit (blocks/stem.py) that turns its beats into x0 and so
    # sets its rows, words and loaded; fast mode calls it once with the last R beat's cycle, cycle mode
    # with every R beat.
    stem: Callable[[ReadJob, int], None] | None = None

    def write_beat(self, j: int, now: int, data_bits: int, word_bits: int, lat_load: int) -> None:
        """Cycle mode: beat j (from 1) of what this job writes reaches its memories in cycle `now` (an R beat, or
        the stem unit's x0 beat): the residual words it completes with their sign bits, and the input rows
        it completes, usable lat_load later (docs/timing.md 4.4)."""
        if self.words:
            words = _words_after(j, data_bits, word_bits, self.words)
            words -= _words_after(j - 1, data_bits, word_bits, self.words)
            self.activity.res_writes += words * self.res_copies
            self.activity.act_writes += words * self.act_copies
        while len(self.rows.times) < len(self.row_beats) and self.row_beats[len(self.rows.times)] == j:
            self.rows.add(now + lat_load)  # an input row is complete (the LOAD with an input buffer)


def _words_after(beats: int, data_bits: int, word_bits: int, words: int) -> int:
    """Residual words complete after `beats` beats of a LOAD (words are packed across beats)."""
    return min(words, beats * data_bits // word_bits)


# --------------------------------------------------------------------------- fast mode


class FastReadDma:
    """One event per job: once its permit fires, the job's bursts are laid out as a train.

    Burst b's AR goes out at a_b = max(a_{b-1} + 1, permit, r_{b-O_r} + 1): one AR per cycle,
    at most O_r bursts outstanding, each counting until the cycle after its last R beat. The
    memory returns each burst's last beat r_b. The job's data is usable lambda_load after its
    last beat; that is the job's one event.
    """

    def __init__(
        self, env: simpy.Environment, cfg: HardwareConfig, lat: Latencies, memory: FastMemory, jobs: list[ReadJob]
    ) -> None:
        self.env, self.memory, self.jobs, self.lat = env, memory, jobs, lat
        self.max_burst = cfg.axi.max_burst_beats
        self.max_outstanding = cfg.axi.max_outstanding_reads
        self.beta = cfg.axi.read_beat_cycles
        self.last_ar = -(10**18)
        self.retired: list[int] = []  # r_b + 1 of every burst so far: when its outstanding slot frees
        env.process(self._issue())

    def _issue(self) -> Generator[simpy.Event, Any, None]:
        env, o, read, retired = self.env, self.max_outstanding, self.memory.read, self.retired
        for run in self.jobs:
            assert run.permit is not None
            yield run.permit  # the blobs it overwrites are free
            earliest = cycle(env)
            last, a, first = 0, self.last_ar, True
            keep = run.rows_known is not None
            beats = []  # (first R beat, beats) per burst, for the input rows
            # One pass per burst, on plain locals: this loop runs about 1,800 times per inference.
            for n in burst_sizes(run.job.beats, self.max_burst):
                b = len(retired)
                a = max(a + 1, earliest, retired[b - o]) if b >= o else max(a + 1, earliest)
                if first:
                    run.job.first_ar, first = a, False
                last = read(a, n)
                retired.append(last + 1)
                if keep:
                    beats.append((last - self.beta * (n - 1), n))
            self.last_ar = a
            if run.stem is not None:  # ST1: the read engine goes on; the unit makes the x0 train (ST2-ST3)
                run.activity.ddr_read_beats += run.job.beats
                run.stem(run, last)
                continue
            if run.rows_known is not None:
                run.row_times = row_visible(run.row_beats, beats, self.beta, self.lat)
                run.rows_known.succeed()
            run.activity.ddr_read_beats += run.job.beats
            run.activity.res_writes += run.words * run.res_copies
            run.activity.act_writes += run.words * run.act_copies
            run.job.last_beat = last
            run.job.loaded = last + self.lat.load
            assert run.loaded_event is not None
            after(env, run.job.loaded - cycle(env), run.loaded_event.succeed, run.job.loaded)


class FastWriteDma:
    """One event per STORE: its bursts as a train, W beats back to back.

    Burst b's first W beat (and AW) is s_b = max(start + lambda_store, s_{b-1} + n_{b-1},
    B_{b-O_w} + 1); the memory returns its B handshake B_b; done the cycle after the last.
    In a stream (docs/timing.md 9, rule S5) it serves one STORE per image, in image order, and the
    recurrence runs on across them; `wends[n]` fires the cycle after STORE(n)'s last W beat (rule S2).
    """

    def __init__(
        self,
        env: simpy.Environment,
        cfg: HardwareConfig,
        lat: Latencies,
        memory: FastMemory,
        beats: int,
        words: int,
        activities: list[Activity],
    ) -> None:
        self.env, self.memory, self.lat = env, memory, lat
        self.beats, self.words, self.activities = beats, words, activities
        self.max_burst = cfg.axi.max_burst_beats
        self.max_outstanding = cfg.axi.max_outstanding_writes
        images = len(activities)
        self.starts = [env.event() for _ in range(images)]  # STORE(n) may start (end_L(n))
        self.dones = [env.event() for _ in range(images)]  # DONE(n)
        self.wends = [env.event() for _ in range(images)]  # Wend(n): STORE(n)'s W beats all sent
        self.done_at = [0] * images
        self.bursts: list[list[list[int]]] = [[] for _ in range(images)]  # per image: [first W beat, beats, B]
        env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        env, o = self.env, self.max_outstanding
        sent: list[list[int]] = []  # every burst so far, all images: at most O_w without B response
        s_next = -(10**18)
        for image, activity in enumerate(self.activities):
            yield self.starts[image]
            now = cycle(env)
            s_next = max(s_next, now + self.lat.store)
            for n in burst_sizes(self.beats, self.max_burst):
                b = len(sent)
                s = max(s_next, sent[b - o][2] + 1) if b >= o else s_next
                burst = [s, n, self.memory.write(s, n)]
                sent.append(burst)
                self.bursts[image].append(burst)
                s_next = s + write_burst_cycles(n)
            activity.ddr_write_beats += self.beats
            activity.res_reads += self.words
            own = self.bursts[image]
            self.done_at[image] = (own[-1][2] if own else now) + 1
            after(env, (s_next if own else now) - now, self.wends[image].succeed)
            after(env, self.done_at[image] - now, self.dones[image].succeed)


# --------------------------------------------------------------------------- cycle mode


class CycleReadDma(Clocked):
    """One step per clock: an AR per cycle at most, an outstanding-burst counter, R beats one by one."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: HardwareConfig,
        lat: Latencies,
        memory: CycleMemory,
        jobs: list[ReadJob],
        writable: Callable[[int, int], bool],
    ) -> None:
        super().__init__(env)
        self.memory, self.jobs, self.lat, self.writable = memory, jobs, lat, writable
        ax = cfg.axi
        self.max_burst, self.max_outstanding = ax.max_burst_beats, ax.max_outstanding_reads
        self.data_bits, self.word_bits = ax.data_bits, cfg.res_word_bits
        self.next = 0  # job whose ARs are being issued
        self.left = jobs[0].job.beats if jobs else 0  # its beats not yet requested
        self.issued = 0
        self.retired = Count()  # bursts whose last beat has arrived, visible the cycle after

    def registers(self) -> list[Flag | Count]:
        return [self.retired]

    def tick(self, now: int) -> None:
        if self.next == len(self.jobs):
            self.wake = NEVER
            return
        run = self.jobs[self.next]
        if run.after is not None and not run.after.up(now):
            self.wake = NEVER  # the image has not started
            return
        if run.blob >= 0 and not self.writable(run.blob, now):
            self.wake = NEVER  # until a register changes
            return
        if self.issued - self.retired.value(now) >= self.max_outstanding:
            self.wake = NEVER
            return
        if self.left == run.job.beats:
            run.job.first_ar = now
        n = min(self.max_burst, self.left)
        self.memory.ar(Burst(n, run), now)
        self.issued += 1
        self.left -= n
        self.last_active = now
        if self.left == 0:
            self.next += 1
            if self.next < len(self.jobs):
                self.left = self.jobs[self.next].job.beats

    def r_beat(self, burst: Burst, now: int) -> None:
        """R handshake (the memory calls it in the cycle of the beat)."""
        run: ReadJob = burst.owner
        burst.done += 1
        run.received += 1
        run.activity.ddr_read_beats += 1
        if burst.done == burst.beats:
            self.retired.add(now + 1)
        if run.stem is not None:  # a raw image beat: the stem unit writes x0 (docs/timing.md 3.1)
            run.stem(run, now)
            return
        run.write_beat(run.received, now, self.data_bits, self.word_bits, self.lat.load)
        if run.received == run.job.beats:
            run.job.last_beat = now
            run.job.loaded = now + self.lat.load
            run.loaded_flag.rise(now + self.lat.load)


class CycleWriteDma(Clocked):
    """One step per clock: a lambda_store countdown, then one W beat per cycle while credits last.
    In a stream (docs/timing.md 9, rule S5) the STOREs follow one another in image order, the
    credits counting the bursts of earlier images; `sent[n]` is visible the cycle after STORE(n)'s
    last W beat (Wend, rule S2), `done[n]` the cycle after its last B response."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: HardwareConfig,
        lat: Latencies,
        memory: CycleMemory,
        beats: int,
        words: int,
        activities: list[Activity],
        starts: list[Flag],
    ) -> None:
        super().__init__(env)
        self.memory, self.lat, self.activities, self.start_flags = memory, lat, activities, starts
        ax = cfg.axi
        self.max_burst, self.max_outstanding = ax.max_burst_beats, ax.max_outstanding_writes
        self.data_bits, self.word_bits = ax.data_bits, cfg.res_word_bits
        self.beats, self.words = beats, words
        self.image = 0  # image whose STORE runs (or is next)
        self.wait: int | None = None  # lambda_store countdown, None until started
        self.left = beats  # beats not yet sent
        self.in_burst = 0  # beats left in the current burst
        self.burst: Burst | None = None
        self.issued = 0
        self.responded = 0
        self.last_bursts: list[int] = []  # per image whose beats are all sent: bursts issued up to its last
        self.retired = Count()  # B responses, visible the cycle after
        self.bursts: list[list[list[int]]] = [[] for _ in starts]  # per image: [first W beat, beats, B]
        self.done = [Flag() for _ in starts]
        self.sent = [Flag() for _ in starts]

    def registers(self) -> list[Flag | Count]:
        return [self.retired, *self.done, *self.sent]

    def tick(self, now: int) -> None:
        if self.image == len(self.start_flags):
            self.wake = NEVER
            return
        if self.wait is None:
            if not self.start_flags[self.image].up(now):
                self.wake = NEVER
                return
            self.wait = self.lat.store
        if self.wait:
            self.wait -= 1
            return
        if not self.in_burst:
            if not self.left or self.issued - self.retired.value(now) >= self.max_outstanding:
                self.wake = NEVER
                return
            n = min(self.max_burst, self.left)
            record = [now, n, 0]
            self.bursts[self.image].append(record)
            self.burst = Burst(n, record)
            self.in_burst = n
            self.issued += 1
        assert self.burst is not None
        sent = self.beats - self.left
        self.in_burst -= 1
        self.left -= 1
        activity = self.activities[self.image]
        activity.ddr_write_beats += 1
        activity.res_reads += _words_after(sent + 1, self.data_bits, self.word_bits, self.words) - _words_after(
            sent, self.data_bits, self.word_bits, self.words
        )
        self.last_active = now
        self.memory.w_beat(self.burst, self.in_burst == 0, now)
        if not self.left:  # the image's last W beat: the next image's STORE may follow
            self.sent[self.image].rise(now + 1)
            self.last_bursts.append(self.issued)
            self.image += 1
            self.wait, self.left = None, self.beats

    def b_response(self, burst: Burst, now: int) -> None:
        """B handshake (the memory calls it in the cycle of the response)."""
        burst.owner[2] = now
        self.retired.add(now + 1)
        self.responded += 1
        finished = sum(f.at is not None for f in self.done)
        if finished < len(self.last_bursts) and self.responded == self.last_bursts[finished]:
            self.done[finished].rise(now + 1)
