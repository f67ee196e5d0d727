"""The input buffer (`buffers.input_buffer`, docs/timing.md 3 and 4.4): the first layer starts from the
first LOADed rows. contract.schedule == fast mode == cycle mode with it, and the waits really bind."""

from __future__ import annotations

import numpy as np
import pytest
from test_timing_layers import CASES, build, busy_by_formula
from test_timing_networks import _shipped, check_random_network
from timing_models import CONFIGS, ULTRA96, Spec, assert_same_schedule, check_all_modes, make_model

from archsim.config import HardwareConfig
from archsim.contract import LATENCIES, schedule
from archsim.program import Program, compile_program
from archsim.sim import simulate


def with_input_buffer(cfg: HardwareConfig, on: bool = True) -> HardwareConfig:
    data = cfg.model_dump()
    data["buffers"]["input_buffer"] = on
    return HardwareConfig.model_validate(data, context={"rtl_limits": False})


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("case", list(CASES))
def test_single_layer_all_modes_agree(case: str, config: str) -> None:
    cfg = with_input_buffer(CONFIGS[config])
    program, active = build(case, cfg)
    assert program.layers[0].reads_input and program.pre_load == 1
    got = check_all_modes(program, cfg, active)["cycle"]
    for L, plan in zip(got.layers, program.layers, strict=True):
        assert (L.pe_busy, L.gather_busy, L.epilogue_busy, L.mask_busy) == busy_by_formula(
            plan, L.n_active, cfg, program.mode == "sparse"
        )
    assert got.layers[0].start == LATENCIES.layer
    assert [j.kind for j in got.jobs[:2]] == ["blob", "load"]


@pytest.mark.parametrize("seed", range(40))
def test_randomized(seed: int) -> None:
    """The randomized networks of test_timing_networks (same seeds), with an input buffer."""
    check_random_network(seed, with_input_buffer)


def _overlap_case(mode: str, on: bool) -> tuple[HardwareConfig, Program, list[np.ndarray | None]]:
    """Two 3x3 stride-1 layers on a map whose LOAD is long next to the first layer's work."""
    cfg = with_input_buffer(CONFIGS["small"], on)
    rng = np.random.default_rng(3)
    k = 1 if mode == "sparse" else None  # the dense baseline runs an unpruned model
    program = compile_program(
        make_model(cfg, 32, (8, 6), [Spec(32, k=k, predictor=True), Spec(32, k=k)], rng), cfg, mode
    )
    active = [np.arange(p.positions) if p.mask_enabled else None for p in program.layers]
    return cfg, program, active


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_units_wait_for_rows(mode: str) -> None:
    """The first layer's mask unit (sparse) or gather (dense) waits for rows: its first tile starts
    before the LOAD is over, it ends after it, and the inference ends earlier than without the buffer."""
    cfg, program, active = _overlap_case(mode, True)
    sched = check_all_modes(program, cfg, active)["fast"]
    load = next(j for j in sched.jobs if j.kind == "load")
    first = sched.layers[0]
    assert first.tile_events[0].gather_start < load.loaded < first.end
    if mode == "sparse":  # the scan took far longer than its evaluations: it waited for rows
        assert first.mask_end - first.mask_start > first.mask_busy + 8 * LATENCIES.mask
    else:  # the gather's tiles took longer than n nblk cycles each
        assert sum(t.gather_end - t.gather_start for t in first.tile_events) > first.gather_busy
    cfg0, program0, _ = _overlap_case(mode, False)
    old = schedule(program0, cfg0, active)
    assert old.layers[0].start == old.load_done
    assert sched.done < old.done


@pytest.mark.parametrize("name", ["resnet18_pruned", "resnet18_dense"])
def test_shipped_workload_fast(name: str) -> None:
    program, active = _shipped(name, with_input_buffer(ULTRA96))
    assert_same_schedule(simulate(program, program_cfg(), active, "fast"), schedule(program, program_cfg(), active))


def program_cfg() -> HardwareConfig:
    return with_input_buffer(ULTRA96)


@pytest.mark.slow
def test_shipped_workload_cycle() -> None:
    program, active = _shipped("resnet18_pruned", program_cfg())
    assert_same_schedule(simulate(program, program_cfg(), active, "cycle"), schedule(program, program_cfg(), active))


def test_off_is_the_default() -> None:
    """A configuration without the field has no input buffer: the LOAD first, then layer 1 (today's rule)."""
    data = ULTRA96.model_dump()
    del data["buffers"]["input_buffer"]
    plain = HardwareConfig.model_validate(data)
    assert ULTRA96.buffers.input_buffer and not plain.buffers.input_buffer
    program, active = _shipped("resnet18_pruned", plain)
    assert program == _shipped("resnet18_pruned", with_input_buffer(ULTRA96, on=False))[0]
    assert program.job_order()[0] == -1 and program.pre_load == 0
    s = schedule(program, plain, active)
    assert s.layers[0].start == s.load_done
