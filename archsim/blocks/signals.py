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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
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


class Flag:
    """A register bit that rises once and stays up; `at` is the first cycle readers see it."""

    __slots__ = ("at",)

    def __init__(self, at: int | None = None) -> None:
        self.at = at

    def rise(self, at: int) -> None:
        if self.at is None:
            self.at = at

    def up(self, now: int) -> bool:
        return self.at is not None and self.at <= now


class Count:
    """A counter register; each increment carries the cycle from which it is visible.

    Increments arrive in non-decreasing visibility order (each producer is a
    sequential unit) and readers ask at the current cycle, which only grows, so
    `value` advances a cursor instead of searching.
    """

    __slots__ = ("_seen", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self._seen = 0

    def add(self, at: int) -> None:
        if self.times and at < self.times[-1]:
            raise AssertionError(f"counter increment visible at {at} before the previous one ({self.times[-1]})")
        self.times.append(at)

    def value(self, now: int) -> int:
        times, seen = self.times, self._seen
        if seen < len(times) and times[seen] <= now:  # most reads find nothing new: no store then
            seen += 1
            while seen < len(times) and times[seen] <= now:
                seen += 1
            self._seen = seen
        return seen


class Clocked:
    """A block that steps once per clock: `tick(now)` is one cycle of its logic. The
    accelerator's one clock process ticks every block, in a fixed order, each cycle."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.last_active = 0  # last cycle in which the block did something (deadlock watchdog)

    def tick(self, now: int) -> None:
        raise NotImplementedError
