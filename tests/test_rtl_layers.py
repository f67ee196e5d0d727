"""The generated RTL against archsim: bit-exact outputs, cycle-exact timing (Icarus, small configs).

For every case (tests/rtlsim/cases.py): the output map STOREd by the RTL equals the
expected map (docs/architecture.md), DONE equals archsim.contract.schedule().total_cycles,
every layer's end cycle (the hardware's layer-end log) equals LayerTiming.end, and every
AXI burst happens in the cycle the contract says. With random back-pressure the output
must stay exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsim.contract import schedule
from archsim.program import compile_program
from archsim.sim import simulate
from tests.rtlsim.cases import BACKPRESSURE, CASES, built_for, case
from tests.rtlsim.harness import Outcome, expected_run, read_bursts, run
from tests.rtlsim.models import random_x0

pytestmark = pytest.mark.rtl

_built = built_for  # one Icarus build per configuration and mode


def check_exact(o: Outcome) -> None:
    name = o.case.name
    assert o.got.shape == o.expected.shape
    bad = np.argwhere(o.got != o.expected)
    assert not bad.size, f"{name}: {len(bad)} outputs differ, first at (c, y, x) = {tuple(bad[0])}"
    s = o.sched
    assert o.done == s.total_cycles, f"{name}: RTL took {o.done} cycles, archsim.contract says {s.total_cycles}"
    assert o.cycles_reg == o.done, "CYCLES register disagrees with the cycles counted at the pins"
    assert o.layer_ends == [lt.end for lt in s.layers], f"{name}: layer ends {o.layer_ends}"
    # and archsim's SimPy timing model (fast mode) agrees with both
    sim = simulate(o.program, o.cfg, o.active, "fast")
    assert (sim.total_cycles, [lt.end for lt in sim.layers]) == (o.done, o.layer_ends), f"{name}: SimPy model differs"
    # DMA: every burst in the cycle the contract puts it (docs/timing.md sections 3 and 5)
    ar, r_last = contract_bursts(o)
    assert [a[0] for a in o.result["ar"]] == ar, f"{name}: AR cycles differ from the contract"
    assert o.result["r_last"] == r_last, f"{name}: last R beats differ from the contract"
    assert o.result["w_first"] == [b[0] for b in s.store_bursts]
    assert o.result["b"] == [b[2] for b in s.store_bursts]


def contract_bursts(o: Outcome) -> tuple[list[int], list[int]]:
    """AR cycle a_b and last-beat cycle r_b of every read burst, from the jobs' `allowed` times."""
    return read_bursts(o.sched.jobs, o.cfg)


@pytest.mark.parametrize("spec", CASES, ids=[c.name for c in CASES])
def test_layer_case(spec, tmp_path):
    o = run(_built(spec), spec.make(), tmp_path)
    check_exact(o)
    # a pooled case's STORE really wrote the channel sums (a vector), the others the map
    assert o.program.pooled == spec.name.startswith("pooled_") and o.got.ndim == (1 if o.program.pooled else 3)
    # the masks really are what the case says (sparse, empty, all)
    for L, m in zip(o.case.model.layers, o.masks, strict=True):
        if m is not None and L.predictor is not None:
            assert 0 <= m.sum() <= m.size


def test_mask_cases_are_what_they_claim(tmp_path):
    from tests.rtlsim.reference import expected_run

    for name, want in (("mask_empty", "empty"), ("mask_all", "all"), ("mask_sparse", "sparse")):
        spec = case(name)
        c = spec.make()
        _, masks = expected_run(c.model, c.x0, "sparse", spec.config())
        m = masks[0]
        if want == "empty":
            assert m.sum() == 0
        elif want == "all":
            assert m.all()
        else:
            assert 0 < m.sum() < m.size


@pytest.mark.parametrize("name", ["program", "inbuf_program", "pooled_program", "early_chain"])
def test_back_to_back_samples(name, tmp_path):
    """Three inferences without reset or reprogramming: each exact, each cycle-exact (with the input
    buffer too: its row counter and the sequencer's LOAD flags start again with every run; with the
    early scan, the mask unit's target and the list halves)."""
    import dataclasses

    spec = case(name)
    c = spec.make()
    rng = np.random.default_rng(99)
    others = tuple(random_x0(rng, *c.x0.shape) for _ in range(2))
    o = run(_built(spec), dataclasses.replace(c, more_x0=others), tmp_path)
    check_exact(o)
    assert len(o.more) == 2
    for i, (exp, got, done, creg, ends, total) in enumerate(o.more):
        assert np.array_equal(got, exp), f"sample {i + 1}: output differs"
        assert done == creg == total, f"sample {i + 1}: {done} cycles, contract {total}"
        assert len(ends) == len(o.program.layers) and ends[-1] < done
    assert not np.array_equal(o.more[0][0], o.expected)  # really a different sample


@pytest.mark.parametrize("mem_seed", [1, 2])
def test_backpressure_keeps_outputs_exact(mem_seed, tmp_path):
    spec = case(BACKPRESSURE)
    o = run(_built(spec), spec.make(backpressure=True, mem_seed=mem_seed), tmp_path)
    bad = np.argwhere(o.got != o.expected)
    assert not bad.size, f"back-pressure seed {mem_seed}: {len(bad)} outputs differ"
    # the stalls really happened: the run is slower than the contract's stall-free schedule
    assert o.done > o.sched.total_cycles
    assert o.cycles_reg == o.done


@pytest.mark.parametrize("name", ["ring_wrap", "slots_4", "slots_2"])
def test_placement_cases_hold_a_blob_back(name):
    """The ring and slot cases really exercise docs/timing.md section 3: some blob's first AR
    waits for `allowed` (the blobs it overwrites being freed), past when the DMA was free."""
    from archsim.contract import schedule
    from archsim.program import compile_program
    from tests.rtlsim.reference import expected_run

    spec = case(name)
    c, cfg = spec.make(), spec.config()
    program = compile_program(c.model, cfg, "sparse")
    _, masks = expected_run(c.model, c.x0, "sparse", cfg)
    active = [
        np.flatnonzero(m) if m is not None and p.mask_enabled else None
        for m, p in zip(masks, program.layers, strict=True)
    ]
    s = schedule(program, cfg, active)
    held = [
        j for prev, j in zip(s.jobs, s.jobs[1:], strict=False) if j.allowed > prev.last_beat and j.first_ar == j.allowed
    ]
    assert held, f"{name}: no blob waited for its placement"
    if name == "ring_wrap":
        passes = [p for L in program.layers for p in L.passes]
        ring = cfg.weight_ring_entries(True)
        assert any(p.wbase + p.went > ring for p in passes), "no blob wraps around the ring"
        assert any(p.need > max(0, i - cfg.buffers.blob_slots + 1) for i, p in enumerate(passes)), "ring never binds"


@pytest.mark.parametrize("name", ["inbuf_mask", "inbuf_program", "inbuf_pair", "inbuf_dense"])
def test_input_buffer_cases_wait_for_rows(name):
    """The input-buffer cases really overlap the LOAD (docs/timing.md 4.4): the first layer's first tile
    is gathered before the LOAD is over, and its mask unit (with a predictor) or gather (without) waits
    for rows: the scan, or the tiles, take longer than their busy cycles. test_layer_case holds the RTL
    to these schedules to the cycle."""
    from archsim.contract import LATENCIES, schedule
    from archsim.program import compile_program
    from tests.rtlsim.reference import expected_run

    spec = case(name)
    c, cfg = spec.make(), spec.config()
    assert cfg.buffers.input_buffer
    program = compile_program(c.model, cfg, spec.mode)
    _, masks = expected_run(c.model, c.x0, spec.mode, cfg)
    active = [
        np.flatnonzero(m) if m is not None and p.mask_enabled else None
        for m, p in zip(masks, program.layers, strict=True)
    ]
    s = schedule(program, cfg, active, keep_tiles=True)
    load = next(j for j in s.jobs if j.kind == "load")
    assert [j.kind for j in s.jobs[:2]] == ["blob", "load"]
    readers = [lt for lt, p in zip(s.layers, program.layers, strict=True) if p.reads_input]
    assert readers[0].tile_events[0].gather_start < load.loaded
    waited = []
    for lt, p in zip(s.layers, program.layers, strict=True):
        if not p.reads_input:
            continue
        if p.mask_enabled:
            waited.append(lt.mask_end - lt.mask_start > lt.mask_busy + LATENCIES.mask)
        else:
            waited.append(sum(t.gather_end - t.gather_start for t in lt.tile_events) > lt.gather_busy)
    assert any(waited)


# which layers scan early in each early_* case, and why the others do not (docs/timing.md 4.5)
EARLY_LAYERS = {
    "early_chain": [False, True, True, True],  # c2 after c1's last gather: c1 changes the channels (E4 b)
    "early_stop": [False, True, False, False, True],  # c3 after a shortcut (E2); c4 after stride 2 (E4 b)
    "early_late": [False, False, True, True],  # c3 after c2's last gather (E4 b), c4 as before (E4 a)
    "early_empty": [False, True, True],
    "early_inbuf": [False, True, False],  # c1 reads the input buffer (E2), c3 has no predictor (E1)
}


@pytest.mark.parametrize("name", list(EARLY_LAYERS))
def test_early_cases_scan_early(name):
    """The early-scan cases are what they claim: the layers that scan early, each scan starting before
    its layer, and in early_chain the scans wait for the previous layer's output rows (the scan takes
    longer than its busy cycles). test_layer_case holds the RTL to these schedules to the cycle."""
    from archsim.contract import LATENCIES, schedule
    from archsim.program import compile_program
    from tests.rtlsim.reference import expected_run

    spec = case(name)
    c, cfg = spec.make(), spec.config()
    assert cfg.buffers.early_scan
    program = compile_program(c.model, cfg, spec.mode)
    assert [p.early_scan for p in program.layers] == EARLY_LAYERS[name]
    _, masks = expected_run(c.model, c.x0, spec.mode, cfg)
    active = [
        np.flatnonzero(m) if m is not None and p.mask_enabled else None
        for m, p in zip(masks, program.layers, strict=True)
    ]
    s = schedule(program, cfg, active, keep_tiles=True)
    for i, (lt, p) in enumerate(zip(s.layers, program.layers, strict=True)):
        if p.early_scan:
            assert lt.mask_start < lt.start, f"{name}: layer {p.name} does not scan early"
        if p.late_scan:  # E4 b: not before the previous layer's last gather
            assert lt.mask_start >= s.layers[i - 1].tile_events[-1].gather_end
            if name == "early_late":  # ... which binds here
                assert lt.mask_start == s.layers[i - 1].tile_events[-1].gather_end
            if name == "early_chain" and not p.late_scan:  # a late scan starts when most rows are final
                assert lt.mask_end - lt.mask_start > lt.mask_busy + LATENCIES.mask, "the rows never bind"
    if name == "early_empty":
        assert active[1] is not None and active[1].size == 0
    if name == "early_stop":
        assert program.layers[2].role == "shortcut" and program.layers[4].copy_masked


@pytest.mark.parametrize("name", ["bg_blocks", "bg_narrow"])
def test_block_major_hand_over(name, tmp_path):
    """docs/timing.md 4.2, T1 and T2: the RTL's PE array starts every tile in the cycle C_start of the
    contract (its `go`, probed inside the design), and the case is what it claims: tiles whose start
    is bound by the first block's sweep, G1 + lambda_gather, earlier than the whole gather would
    allow; in bg_narrow (B_A k_q < n_t) also tiles that wait for the whole gather."""
    import dataclasses

    from archsim.contract import LATENCIES, schedule

    spec = case(name)
    o = run(_built(spec), dataclasses.replace(spec.make(), probes=("u_core.u_pe_ctl.go",)), tmp_path)
    check_exact(o)
    s = schedule(o.program, o.cfg, o.active, keep_tiles=True)
    events = [(e, p) for lt, p in zip(s.layers, o.program.layers, strict=True) for e in lt.tile_events]
    assert o.result["probes"]["u_core.u_pe_ctl.go"] == [e.compute_start for e, _ in events]
    ba, lam = o.cfg.buffers.act_word_bits, LATENCIES.gather
    early = late = 0
    for e, p in events:
        g1 = e.gather_end - (p.nblk - 1) * e.n  # the first sweep's end (T1; later sweeps never wait)
        if ba * p.passes[e.pass_index].k >= e.n:
            early += e.compute_start == g1 + lam < e.gather_end + lam
        else:
            late += e.compute_start == e.gather_end + lam
    assert early >= 2, f"{name}: the first block's sweep never sets a tile's start"
    if name == "bg_narrow":
        assert late >= 2, f"{name}: no tile waits for its whole gather"


@pytest.mark.parametrize("name", [c.name for c in CASES if c.name.startswith("split_")])
def test_split_cases_split(name):
    """Each split case has a tile of at most P_X / 2 positions on its critical path: the contract with split
    tiles (docs/timing.md 4.2, T3) ends earlier than without, so the RTL's DONE tests the rule."""
    spec = case(name)
    o = spec.make()
    cfg = spec.config()
    assert cfg.pe_array.split_tiles and cfg.split_pairs(3, spec.mode == "sparse")
    off = cfg.model_copy(update={"pe_array": cfg.pe_array.model_copy(update={"split_tiles": False})})
    _, masks = expected_run(o.model, o.x0, o.mode, cfg)
    active = [None if m is None else np.flatnonzero(m.reshape(-1)) for m in masks]
    with_split = schedule(compile_program(o.model, cfg, o.mode), cfg, active).total_cycles
    assert with_split < schedule(compile_program(o.model, off, o.mode), off, active).total_cycles


def test_readme_counts_the_cases():
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f"in the test suite: {len(CASES)} layer and programme cases under Icarus" in readme
