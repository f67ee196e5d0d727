"""Early mask scan (`buffers.early_scan`, docs/timing.md 4.5): the mask unit scans layer l + 1 while
layer l runs, each output row once the rows of layer l's output it reads are final (rule E7).
contract.schedule == fast mode == cycle mode == the batched contract with it, the overlap really
binds, and the hazard rules E2, E3 and E5 switch it off where it would be unsafe (E4 b, the scan after the
last gather, is in test_timing_late_scan.py)."""

from __future__ import annotations

import numpy as np
import pytest
from test_timing_input_buffer import with_input_buffer
from test_timing_networks import _random_config, _shipped, check_random_network
from timing_models import CONFIGS, ULTRA96, Spec, assert_same_schedule, check_all_modes, make_model

from archsim.batched_contract import schedule_batch
from archsim.config import HardwareConfig
from archsim.contract import Latencies, schedule
from archsim.program import Program, compile_program
from archsim.sim import simulate


def with_early_scan(cfg: HardwareConfig, on: bool = True) -> HardwareConfig:
    data = cfg.model_dump()
    data["buffers"]["early_scan"] = on
    return HardwareConfig.model_validate(data, context={"rtl_limits": False})


@pytest.mark.parametrize("seed", range(40))
def test_randomized(seed: int) -> None:
    """The randomized networks of test_timing_networks (same seeds), with early scan (and an input
    buffer on even seeds): contract == fast == cycle, tile for tile."""
    check_random_network(seed, lambda c: with_early_scan(with_input_buffer(c, seed % 2 == 0)))


def _random_chain(seed: int) -> tuple[HardwareConfig, Program, list[np.ndarray | None], Latencies]:
    """Random folding, AXI timing and latencies; a chain of 2-5 predicted layers of random kernel
    (1 or 3) and channels, with the first layers of blocks (stride 2, new channels) in between, so
    that rules E2-E4 both allow and stop the early scan; masks from none to all."""
    rng = np.random.default_rng(2000 + seed)
    cfg = with_early_scan(with_input_buffer(_random_config(rng, seed), seed % 2 == 0))
    c0 = c = int(rng.integers(1, 24))
    specs = []
    for _ in range(int(rng.integers(2, 6))):
        k = int(rng.integers(1, cfg.pe_array.acc_depth + 1))
        if rng.random() < 0.25:  # no residual, so no predictor
            c = int(rng.integers(1, 24))
            specs.append(Spec(c, stride=int(rng.choice([1, 2])), k=k))
        else:
            specs.append(Spec(c, kernel=int(rng.choice([1, 3, 3])), k=k, predictor=True))
    model = make_model(cfg, c0, (int(rng.integers(2, 13)), int(rng.integers(2, 13))), specs, rng)
    program = compile_program(model, cfg, "sparse")
    active = [
        np.flatnonzero(rng.random(p.positions) < rng.choice([0.0, 0.2, 0.6, 1.0])) if p.mask_enabled else None
        for p in program.layers
    ]
    lat = Latencies(*(int(x) for x in rng.integers(0, 6, 7))) if rng.random() < 0.5 else Latencies()
    return cfg, program, active, lat


@pytest.mark.parametrize("seed", range(30))
def test_random_predicted_chains(seed: int) -> None:
    """E1-E8 on chains of predicted layers: contract == fast == cycle, tile for tile, equal activity."""
    cfg, program, active, lat = _random_chain(seed)
    want = schedule(program, cfg, active, lat, keep_tiles=True)
    got = [simulate(program, cfg, active, mode, lat, keep_tiles=True) for mode in ("fast", "cycle")]
    for sched in got:
        assert_same_schedule(sched, want)
    assert got[0].total_activity() == got[1].total_activity()


def test_random_chains_do_scan_early() -> None:
    """The chains above exercise both kinds of E4: many layers scan early from the previous layer's start,
    many only after its last gather (a stride-2 or reshaping previous layer, E4 b)."""
    plans = [L for seed in range(30) for L in _random_chain(seed)[1].layers[1:] if L.mask_enabled]
    assert all(L.early_scan for L in plans)  # E1-E3 and E5 never stop it in these chains
    late = sum(L.late_scan for L in plans)
    assert len(plans) - late >= 20 and late >= 5


@pytest.mark.parametrize("seed", range(40))
def test_batched_contract(seed: int) -> None:
    """archsim.batched_contract == contract.schedule with early scan, image by image (masks from none to all)."""
    cfg, program, _, _ = _random_chain(seed)
    rng = np.random.default_rng(seed)
    lat = Latencies(*(int(x) for x in rng.integers(0, 6, 7))) if rng.random() < 0.5 else Latencies()
    n = 10
    masks: list[np.ndarray | None] = []
    for p in program.layers:
        frac = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0], size=(n, 1))
        masks.append(rng.random((n, p.positions)) < frac if p.mask_enabled else None)
    got = schedule_batch(program, cfg, masks, n=n, lat=lat)
    for j in range(n):
        want = schedule(program, cfg, [None if m is None else np.flatnonzero(m[j]) for m in masks], lat)
        assert got.done[j] == want.done, f"image {j}"
        assert got.layer_cycles[j].tolist() == [L.cycles for L in want.layers], f"image {j}"


def _chain(specs: list[Spec], on: bool, hw: tuple[int, int] = (8, 8)) -> tuple[HardwareConfig, Program]:
    cfg = with_early_scan(CONFIGS["small"], on)
    rng = np.random.default_rng(5)
    return cfg, compile_program(make_model(cfg, 32, hw, specs, rng), cfg, "sparse")


def _blank_border(program: Program) -> list[np.ndarray | None]:
    """Active positions only inside a border of two blank rows and columns (a Fashion-MNIST-like map)."""
    out: list[np.ndarray | None] = []
    for p in program.layers:
        y, x = np.divmod(np.arange(p.positions), p.w_out)
        inner = (y >= 2) & (y < p.h_out - 2) & (x >= 2) & (x < p.w_out - 2)
        out.append(np.flatnonzero(inner) if p.mask_enabled else None)
    return out


def test_overlap_binds() -> None:
    """E7/E8: two predicted 3x3 stride-1 layers. Layer 2 scans while layer 1 runs: its scan starts
    before layer 1 ends, waits for layer 1's rows (it takes longer than its evaluations), its first
    tile starts right after the layer's start, and DONE is earlier than without the overlap."""
    specs = [Spec(32, k=1, predictor=True), Spec(32, k=1, predictor=True), Spec(32, k=1, predictor=True)]
    cfg, program = _chain(specs, True, (12, 12))
    assert [L.early_scan for L in program.layers] == [False, True, True]
    active = _blank_border(program)
    got = check_all_modes(program, cfg, active)["cycle"]
    first, second = got.layers[0], got.layers[1]
    assert first.start <= second.mask_start < first.end
    assert second.mask_start >= first.mask_end  # one mask unit: layer 1's own scan came first (E8)
    assert second.mask_end - second.mask_start > second.mask_busy + cfg.pe_array.cols  # waited for rows
    assert second.tile_events[0].gather_start == second.start  # its first tile's list was ready
    cfg0, program0 = _chain(specs, False, (12, 12))
    old = schedule(program0, cfg0, active)
    assert old.layers[1].mask_start == old.layers[1].start
    assert got.done < old.done
    assert [L.n_active for L in got.layers] == [L.n_active for L in old.layers]


@pytest.mark.parametrize(
    ("specs", "why"),
    [
        # E2: after a shortcut layer the main layer reads the shortcut's input, not its output
        ([Spec(32, kernel=1, stride=2, role="shortcut"), Spec(32, k=1, stride=2, predictor=True)], "E2"),
        # E1: no predictor, no scan
        ([Spec(32, k=1, predictor=True), Spec(32, k=1)], "E1"),
    ],
)
def test_hazard_rules_stop_it(specs: list[Spec], why: str) -> None:
    """Where a hazard rule applies the second layer scans from its own start as without early scan,
    and all modes still agree."""
    cfg, program = _chain(specs, True)
    assert not program.layers[1].early_scan, why
    active = [np.arange(p.positions) if p.mask_enabled else None for p in program.layers]
    got = check_all_modes(program, cfg, active)["fast"]
    if program.layers[1].mask_enabled:
        assert got.layers[1].mask_start >= got.layers[1].start
    cfg0, program0 = _chain(specs, False)
    assert schedule(program0, cfg0, active).done == got.done


def test_dense_mode_never_scans_early() -> None:
    """The dense baseline bypasses the mask unit, so the lever cannot apply to it (fairness note)."""
    cfg = with_early_scan(CONFIGS["small"])
    model = make_model(cfg, 32, (8, 8), [Spec(32, predictor=True), Spec(32, predictor=True)], np.random.default_rng(2))
    assert not any(L.early_scan for L in compile_program(model, cfg, "dense").layers)


def test_rtl_generator_builds_it() -> None:
    """The generated RTL has the early scan (EARLY, with a mask unit); the dense build has no mask unit (E1)."""
    from rtl.params import RtlParams

    assert RtlParams(with_early_scan(ULTRA96)).verilog()["EARLY"] == 1
    assert RtlParams(with_early_scan(ULTRA96), sparse=False).verilog()["EARLY"] == 0


def test_off_is_the_default() -> None:
    data = ULTRA96.model_dump()
    del data["buffers"]["early_scan"]
    assert not HardwareConfig.model_validate(data).buffers.early_scan


def test_shipped_workload_fast() -> None:
    """The trained ResNet-18 (sample 0) with early scan: fast == contract, and the stage-1 layers after
    the first scan early and end sooner."""
    cfg = with_early_scan(ULTRA96)
    program, active = _shipped("resnet18_pruned", cfg)
    assert {"s1b1c2", "s1b2c1", "s1b2c2"} <= {L.name for L in program.layers if L.early_scan}
    want = schedule(program, cfg, active)
    assert_same_schedule(simulate(program, cfg, active, "fast"), want)
    program0, _ = _shipped("resnet18_pruned", with_early_scan(ULTRA96, False))
    old = schedule(program0, ULTRA96, active)
    assert want.done < old.done


@pytest.mark.parametrize("network", ["resnet20", "vgg_small"])
def test_block_residual_and_maxpool_networks(network: str, tmp_path) -> None:
    """Synthetic ResNet-20 (block residuals: layer 1 leaves the residual buffer alone, so with the input
    buffer the LOAD writes set 0 too, E5) and VGG-small (max-pools, E3) with early scan on the
    Ultra96v2 configuration: the rules stop it where they say, and contract == fast == cycle."""
    from archsim.cli import main
    from archsim.format import load_model
    from archsim.functional import run_model

    args = ["--width", "0.25", "--input-shape", "3,16,16", "--samples", "1", "--network", network]
    assert main(["synth", "--out", str(tmp_path), "--name", "n", *args]) == 0
    model = load_model(tmp_path / "models" / "n_pruned.npz")
    cfg = with_early_scan(ULTRA96)
    program = compile_program(model, cfg, "sparse")
    masks = run_model(model, np.random.default_rng(4).integers(0, 256, (1, *model.input_shape), dtype=np.uint8)).masks
    active = [np.flatnonzero(masks[i][0]) if p.mask_enabled else None for i, p in enumerate(program.layers)]
    for prev, L, layer in zip(program.layers, program.layers[1:], model.layers, strict=False):
        if layer.maxpool:
            assert not L.early_scan  # E3
        if prev.reads_input and program.load_act_copies == 2 and L.copy_masked:
            assert not L.early_scan  # E5
    # ResNet-20's second convs (block residuals, no centre-bit copy) scan early; VGG-small has no predictor
    assert any(L.early_scan for L in program.layers) == (network == "resnet20")
    check_all_modes(program, cfg, active)


def test_rules_e3_e5_directly() -> None:
    """early_scan_applies on a pair of predicted 3x3 layers that E1-E4 allow: a max-pool before (E3) or
    the LOAD's second sign-bit copy into set 0 when the layer copies centre bits (E5) stop it."""
    from dataclasses import replace

    from archsim.program import early_scan_applies

    _, program = _chain([Spec(32, k=1, predictor=True), Spec(32, k=1, predictor=True)], True)
    prev, plan = program.layers
    assert plan.copy_masked and plan.early_scan
    assert early_scan_applies(False, prev, plan, 1)
    assert not early_scan_applies(True, prev, plan, 1)  # E3
    first = replace(prev, reads_input=True)
    assert early_scan_applies(False, first, plan, 1)
    assert not early_scan_applies(False, first, plan, 2)  # E5
    assert early_scan_applies(False, first, replace(plan, copy_masked=False), 2)  # no copy, no E5
