"""Plumbing shared by the block models (not a hardware block itself).

Fast mode: blocks are SimPy processes that hand work over through Channels (FIFO
queues) and Events; `after` makes something happen a latency later without a
process of its own.

Cycle mode: blocks are `Clocked` and step once per clock (the accelerator's one
clock process ticks them in a fixed order). What one
block tells another goes through a `Flag` or a `Count`: a register write that
carries the first cycle in which readers see it. A write made in cycle t is
visible from t + 1 + lambda (a lambda-stage valid pipeline ending in a
register), so the outcome of a cycle does not depend on the order in which the
blocks run within it. The only writes visible in the cycle that makes them are
the zero-latency paths of docs/timing.md (lambda_load = 0, lambda_layer = 0);
the blocks that make them tick first (see accelerator.CycleAccelerator).

A block that can do nothing until some register changes may sleep (`Clocked.wake`):
the clock skips its tick. Registers report to `Wakeups` the cycle each write becomes
visible, and in that cycle the clock wakes every block, so a sleeper re-checks its
conditions in every cycle in which any of them can have changed: skipping the other
cycles changes no outcome. A block that never sleeps simply ticks every cycle.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import fields
from heapq import heappush
from typing import Any

import simpy


def cycle(env: simpy.Environment) -> int:
    """The current cycle. Every delay in these models is an integer, so simulated time is too."""
    return int(env.now)


def after(env: simpy.Environment, delay: int, action: Callable[..., Any], *args: Any) -> None:
    """Call `action(*args)` `delay` cycles from now (0: later in this same cycle)."""
    env.timeout(delay).callbacks.append(lambda _event: action(*args))


def done_event(env: simpy.Environment) -> simpy.Event:
    """An event that has already happened: a condition that always holds."""
    event = env.event()
    event.succeed()
    return event


class Channel:
    """A FIFO hand-over between fast-mode blocks (what simpy.Store does, with less bookkeeping):
    `put` never blocks; `get` returns an event that fires, in FIFO order of the getters, with the
    oldest item, at once when one is waiting."""

    __slots__ = ("env", "items", "waiters")

    def __init__(self, env: simpy.Environment, items: Iterable[Any] = ()) -> None:
        self.env = env
        self.items: deque[Any] = deque(items)
        self.waiters: deque[simpy.Event] = deque()

    def put(self, item: Any) -> None:
        if self.waiters:
            self.waiters.popleft().succeed(item)
        else:
            self.items.append(item)

    def get(self) -> simpy.Event:
        event = self.env.event()
        if self.items:
            event.succeed(self.items.popleft())
        else:
            self.waiters.append(event)
        return event


class Wakeups:
    """The cycles in which register writes become visible (cycle mode): the clock wakes every
    block then. A write visible in the cycle that makes it (a zero-latency path) wakes them at once,
    so the blocks that tick after its writer see it in the same cycle."""

    __slots__ = ("blocks", "now", "pending")

    def __init__(self) -> None:
        self.blocks: list[Clocked] = []
        self.now = 0  # the cycle the clock is in
        self.pending: list[int] = []  # heap of visibility cycles still ahead

    def push(self, at: int) -> None:
        if at > self.now:
            heappush(self.pending, at)
        else:
            for block in self.blocks:
                block.wake = self.now


# A register written before `watch` connected it could leave a sleeping block asleep.
UNWATCHED = "a register written without a Wakeups: list it in its block's registers() (signals.watch)"


class Flag:
    """A register bit that rises once and stays up; `at` is the first cycle readers see it."""

    __slots__ = ("at", "wakeups")

    def __init__(self, at: int | None = None) -> None:
        self.at = at
        self.wakeups: Wakeups | None = None

    def rise(self, at: int) -> None:
        if self.at is None:
            self.at = at
            if self.wakeups is None:
                raise AssertionError(UNWATCHED)
            self.wakeups.push(at)

    def up(self, now: int) -> bool:
        return self.at is not None and self.at <= now


class Count:
    """A counter register; each increment carries the cycle from which it is visible.

    Increments arrive in non-decreasing visibility order (each producer is a
    sequential unit) and readers ask at the current cycle, which only grows, so
    `value` advances a cursor instead of searching.
    """

    __slots__ = ("_seen", "times", "wakeups")

    def __init__(self) -> None:
        self.times: list[int] = []
        self._seen = 0
        self.wakeups: Wakeups | None = None

    def add(self, at: int) -> None:
        if self.times and at < self.times[-1]:
            raise AssertionError(f"counter increment visible at {at} before the previous one ({self.times[-1]})")
        self.times.append(at)
        if self.wakeups is None:
            raise AssertionError(UNWATCHED)
        self.wakeups.push(at)

    def value(self, now: int) -> int:
        times, seen = self.times, self._seen
        if seen < len(times) and times[seen] <= now:  # most reads find nothing new: no store then
            seen += 1
            while seen < len(times) and times[seen] <= now:
                seen += 1
            self._seen = seen
        return seen


NEVER = 1 << 62  # Clocked.wake of a block asleep until a register write wakes it


class Clocked:
    """A block that steps once per clock: `tick(now)` is one cycle of its logic. The
    accelerator's one clock process ticks every block, in a fixed order, each cycle in
    which the block is awake (`wake <= now`)."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.last_active = 0  # last cycle in which the block did something (deadlock watchdog)
        # First cycle of its next tick: a block that finds nothing to do until a register changes
        # sets NEVER (Wakeups wakes it), or the cycle of a timer of its own; otherwise it stays awake.
        self.wake = 0

    def tick(self, now: int) -> None:
        raise NotImplementedError

    def registers(self) -> list[Flag | Count]:
        """The registers this block holds itself (not those of layers or jobs): writes to them wake
        sleeping blocks."""
        return []


def watch(wakeups: Wakeups, holders: Iterable[object]) -> None:
    """Connects every register that `holders` hold to `wakeups` and schedules the wake-up of those
    already written (a register set at build). A holder is a dataclass (its fields, or lists of
    them, that are registers) or a Clocked block (its `registers()`). Never vars(holder): that
    would turn the instance's attributes into a plain dict, and every later access slower."""
    seen: set[int] = set()
    for holder in holders:
        if isinstance(holder, Clocked):
            values: list[Any] = holder.registers()
        else:
            values = [getattr(holder, f.name) for f in fields(holder)]  # type: ignore[arg-type]
        for value in values:
            for reg in value if isinstance(value, list) else [value]:
                if not isinstance(reg, (Flag, Count)) or id(reg) in seen:
                    continue
                seen.add(id(reg))
                reg.wakeups = wakeups
                for at in [reg.at] if isinstance(reg, Flag) else reg.times:
                    if at is not None:
                        wakeups.push(at)
