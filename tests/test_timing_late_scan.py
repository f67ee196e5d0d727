"""Late early scan (docs/timing.md 4.5, rule E4 b and the last term of E8): a predicted layer that copies
centre bits after a stride-2 or reshaping layer l scans early too, but not before layer l's last gather
has ended. contract.schedule == fast mode == cycle mode == the batched contract where the term binds
and where it does not; dense mode and early scan off are unchanged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_timing_early_scan import with_early_scan
from test_timing_networks import _shipped
from timing_models import CONFIGS, ULTRA96, Spec, assert_same_schedule, check_all_modes, make_model

from archsim.batched_contract import schedule_batch
from archsim.config import HardwareConfig
from archsim.contract import Schedule, schedule
from archsim.program import Program, compile_program, early_scan_kind
from archsim.sim import simulate

# E4 b: layer l is stride 2 / changes the channels / has a larger kernel than the copying layer l + 1
STRIDE2 = [Spec(32, k=1, predictor=True), Spec(32, stride=2, k=1), Spec(32, k=1, predictor=True)]
CHANNELS = [Spec(32, k=1, predictor=True), Spec(48, k=1), Spec(48, k=1, predictor=True)]
KERNEL = [Spec(32, k=1, predictor=True), Spec(32, k=1, predictor=True), Spec(32, kernel=1, k=1, predictor=True)]


def _program(
    specs: list[Spec], early: bool = True, mode: str = "sparse", c0: int = 32
) -> tuple[HardwareConfig, Program]:
    cfg = with_early_scan(CONFIGS["small"], early)
    if mode == "dense":  # the dense baseline runs the unpruned model
        specs = [replace(s, k=None) for s in specs]
    return cfg, compile_program(make_model(cfg, c0, (12, 12), specs, np.random.default_rng(7)), cfg, mode)


def _without_term(program: Program) -> Program:
    """The same programme with E4 b's extra term dropped (the plain E8 start): what the term changes."""
    return replace(program, layers=tuple(replace(p, late_scan=False) for p in program.layers))


def _all_active(program: Program) -> list[np.ndarray | None]:
    return [np.arange(p.positions) if p.mask_enabled else None for p in program.layers]


def _check_batched(program: Program, cfg: HardwareConfig, active: list[np.ndarray | None], want: Schedule) -> None:
    masks = []
    for p, a in zip(program.layers, active, strict=True):
        if a is None:
            masks.append(None)
            continue
        m = np.zeros((2, p.positions), dtype=bool)
        m[:, a] = True
        masks.append(m)
    got = schedule_batch(program, cfg, masks, n=2)
    assert got.done.tolist() == [want.done] * 2
    assert got.layer_cycles[0].tolist() == [L.cycles for L in want.layers]


@pytest.mark.parametrize(("specs", "shape"), [(STRIDE2, "stride 2"), (CHANNELS, "channels"), (KERNEL, "kernel")])
def test_term_binds(specs: list[Spec], shape: str) -> None:
    """E4 b, E8: the third layer's scan starts exactly when the second layer's last gather ends, later
    than the plain E8 start, still before the second layer ends; all four implementations agree."""
    cfg, program = _program(specs)
    plan = program.layers[2]
    assert plan.copy_masked and plan.early_scan and plan.late_scan, shape
    active = _all_active(program)
    got = check_all_modes(program, cfg, active)["cycle"]
    want = schedule(program, cfg, active, keep_tiles=True)
    _check_batched(program, cfg, active, want)
    last_gather = want.layers[1].tile_events[-1].gather_end
    assert want.layers[2].mask_start == last_gather == got.layers[2].mask_start
    plain = schedule(_without_term(program), cfg, active)
    assert plain.layers[2].mask_start < last_gather < want.layers[1].end  # the term binds, the scan still overlaps
    _, off = _program(specs, early=False)
    assert schedule(off, cfg, active).done > want.done  # and it pays


def test_term_does_not_bind() -> None:
    """E4 b with layer l's only tile gathered long before its own scan ends (one pass of 16 channels, its
    active positions the first row's): the plain E8 start binds and the schedule is that without the term."""
    cfg, program = _program([replace(s, c_out=16) for s in KERNEL], c0=16)
    assert len(program.layers[1].passes) == 1
    assert program.layers[2].late_scan
    cols = cfg.pe_array.cols
    active = _all_active(program)
    active[1] = np.arange(cols)  # one full tile, listed and gathered while the scan goes on
    want = check_all_modes(program, cfg, active)["fast"]
    assert want.layers[1].tile_events[-1].gather_end < want.layers[1].mask_end
    assert_same_schedule(want, schedule(_without_term(program), cfg, active, keep_tiles=True))
    _check_batched(program, cfg, active, schedule(program, cfg, active))


def test_no_tiles() -> None:
    """Layer l without any active position has no gather: the term is absent (E8 as before)."""
    cfg, program = _program(KERNEL)
    active = _all_active(program)
    active[1] = np.zeros(0, dtype=np.int64)
    want = check_all_modes(program, cfg, active)["fast"]
    assert_same_schedule(want, schedule(_without_term(program), cfg, active, keep_tiles=True))


def test_dense_and_off_unchanged() -> None:
    """The dense baseline bypasses the mask unit (E1) and early scan off keeps every scan at its layer's
    start: neither has a late layer, and their schedules are those of the programme without the rule."""
    for mode, early in (("dense", True), ("sparse", False)):
        cfg, program = _program(STRIDE2, early, mode)
        assert not any(p.early_scan or p.late_scan for p in program.layers), mode
        active = _all_active(program)
        got = check_all_modes(program, cfg, active)["fast"]
        if mode == "sparse":
            assert got.layers[2].mask_start == got.layers[2].start


def test_kinds() -> None:
    """early_scan_kind, the one place that decides: E4 a (stride 1, same map, kernel not larger) is
    "early", E4 b "late", a scan without centre-bit copy "early" whatever the shapes, E3 and E5 ""."""
    _, s2 = _program(STRIDE2)
    _, k1 = _program(KERNEL)
    prev, plan = s2.layers[1:]
    assert early_scan_kind(False, prev, plan, 1) == "late"
    assert early_scan_kind(False, prev, replace(plan, copy_masked=False), 1) == "early"
    assert early_scan_kind(True, prev, plan, 1) == ""  # E3
    assert early_scan_kind(False, replace(prev, reads_input=True), plan, 2) == ""  # E5
    assert early_scan_kind(False, k1.layers[0], k1.layers[1], 1) == "early"
    assert early_scan_kind(False, k1.layers[1], k1.layers[2], 1) == "late"


def test_shipped_workload() -> None:
    """The trained ResNet-18 (sample 0) on the Ultra96v2 configuration: exactly the second convs of the
    stage-2 and stage-3 first blocks scan late, fast == contract, and those layers and DONE shrink."""
    program, active = _shipped("resnet18_pruned", ULTRA96)
    assert ULTRA96.buffers.early_scan
    assert {L.name for L in program.layers if L.late_scan} == {"s2b1c2", "s3b1c2"}
    want = schedule(program, ULTRA96, active)
    assert_same_schedule(simulate(program, ULTRA96, active, "fast"), want)
    old = schedule(
        replace(program, layers=tuple(replace(p, early_scan=p.early_scan and not p.late_scan) for p in program.layers)),
        ULTRA96,
        active,
    )
    cycles = {L.name: L.cycles for L in want.layers}
    before = {L.name: L.cycles for L in old.layers}
    assert cycles["s2b1c2"] < before["s2b1c2"] and cycles["s3b1c2"] < before["s3b1c2"]
    assert want.done < old.done


@pytest.mark.parametrize("specs", [STRIDE2, CHANNELS], ids=["stride 2", "channels"])
def test_stream(specs: list[Spec]) -> None:
    """Three images back to back (docs/timing.md 9) with a late layer in each, a different active set per
    image: schedule_stream == fast == cycle (the term counts from each image's own last gather, rule S3)."""
    from test_timing_stream import _actives, check_stream

    cfg, program = _program(specs)
    assert program.layers[2].late_scan
    check_stream(program, cfg, _actives(program, np.random.default_rng(3), 3, (0.0, 0.3, 0.7, 1.0)))
