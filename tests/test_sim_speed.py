"""The speed devices of the SimPy model change no result (docs/simulator.md, "Fast mode and cycle mode").

Cycle mode lets a block sleep until a register changes; fast mode evaluates a layer's tiles in one
process with events per layer and pass. Both must give what the plain versions give: cycle mode
with every block ticking every cycle, and the contract.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from timing_models import ULTRA96, Spec, assert_same_schedule, make_model, random_active, resnet18

from archsim.blocks.accelerator import CycleAccelerator
from archsim.blocks.signals import Count, Flag
from archsim.config import HardwareConfig
from archsim.contract import LATENCIES, Latencies, schedule
from archsim.program import Program, compile_program
from archsim.sim import simulate

ZERO = Latencies(load=0, mask=0, gather=0, compute=0, epilogue=0, store=0, layer=0)


def _network(seed: int, cfg: HardwareConfig = ULTRA96) -> tuple[Program, list[np.ndarray | None]]:
    rng = np.random.default_rng(seed)
    specs = [
        Spec(32, k=2, predictor=True),
        Spec(48, kernel=1, stride=2, k=2, role="shortcut"),
        Spec(48, stride=2, k=2, predictor=True),
        Spec(48, k=3),
        Spec(48, k=1, predictor=True),
    ]
    program = compile_program(make_model(cfg, 32, (8, 8), specs, rng), cfg, "sparse")
    active = [random_active(rng, p.positions, 0.4) if p.mask_enabled else None for p in program.layers]
    return program, active


def _everything(s: object) -> tuple:
    """A schedule's every field, per-layer activity and tile events included."""
    return repr(vars(s)), [repr(vars(L)) for L in s.layers]  # type: ignore[attr-defined]


@pytest.mark.parametrize("lat", [LATENCIES, ZERO], ids=["latencies", "zero-latencies"])
@pytest.mark.parametrize("seed", [0, 1])
def test_sleeping_blocks_change_nothing_in_cycle_mode(
    monkeypatch: pytest.MonkeyPatch, seed: int, lat: Latencies
) -> None:
    program, active = _network(seed)
    slept = simulate(program, ULTRA96, active, "cycle", lat, keep_tiles=True)
    monkeypatch.setattr(CycleAccelerator, "sleep", False)
    ticked = simulate(program, ULTRA96, active, "cycle", lat, keep_tiles=True)
    assert _everything(slept) == _everything(ticked)
    assert_same_schedule(slept, schedule(program, ULTRA96, active, lat, keep_tiles=True))


def test_fast_mode_schedules_events_per_layer_and_pass_not_per_tile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A regression guard: the event count follows layers, passes and DMA jobs, not tiles."""
    rng = np.random.default_rng(3)
    program = compile_program(resnet18(ULTRA96, rng, k=4), ULTRA96, "sparse")
    active = [random_active(rng, p.positions, 0.6) if p.mask_enabled else None for p in program.layers]
    steps = 0
    step = simpy.Environment.step

    def counted(env: simpy.Environment) -> None:
        nonlocal steps
        steps += 1
        step(env)

    monkeypatch.setattr(simpy.Environment, "step", counted)
    got = simulate(program, ULTRA96, active, "fast", keep_tiles=True)
    assert_same_schedule(got, schedule(program, ULTRA96, active, keep_tiles=True))
    passes = sum(len(p.passes) for p in program.layers)
    tiles = sum(L.tiles * len(p.passes) for L, p in zip(got.layers, program.layers, strict=True))
    assert tiles > 4 * passes  # the network has many more tiles than passes: the bound below means something
    assert steps <= 8 * (len(program.layers) + passes) + 4 * len(got.jobs)


def test_a_register_that_no_block_watches_cannot_be_written() -> None:
    """A register the clock does not know of could leave a sleeping block asleep: writing it fails."""
    with pytest.raises(AssertionError, match="without a Wakeups"):
        Flag().rise(3)
    with pytest.raises(AssertionError, match="without a Wakeups"):
        Count().add(3)
