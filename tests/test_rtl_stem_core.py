"""The stem unit in the generated core (docs/timing.md 3.1, rules ST1-ST7; Icarus, small configurations).

With `stem_unit.enabled` the LOAD reads the raw image, bnn_stem (in the read DMA) turns it into x0 and
x0 enters the LOAD path one beat per cycle. Every case: the output equals the functional model's on the
image's stem output (`archsim.functional.stem_output`, which the unit equals bit for bit), DONE, CYCLES,
every layer end and every AXI burst equal `archsim.contract.schedule`, and the x0 beats enter the LOAD
path exactly in the cycles X_j = r_last(LOAD) + lambda_stem + j of rule ST2 (a probe on the x0 register).
Streams of three images hold every image's DONE to `schedule_stream`. The tiny configurations have a
64-bit bus: 4 x0 values a beat, 12 or 16 stem channels (Q = 3 or 4 beats a position), 8 x 8 images at
most.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from archsim.contract import schedule
from archsim.program import compile_program
from tests.rtlsim.cases import INBUF, POOLED, SC, CaseSpec, built_for
from tests.rtlsim.configs import STEM
from tests.rtlsim.harness import Outcome, read_bursts, run
from tests.rtlsim.models import LayerSpec
from tests.rtlsim.stream import StreamOutcome, run_stream

pytestmark = pytest.mark.rtl

X1 = "u_core.u_rd.g_stem.x1_v"  # the x0 register: set in X_j + 1 for every x0 beat j


def over(*parts: dict) -> dict:
    """Configuration overrides merged section by section."""
    out: dict = {}
    for p in parts:
        for sect, vals in p.items():
            out.setdefault(sect, {}).update(copy.deepcopy(vals))
    return out


PROGRAM = (
    LayerSpec("c1", 12, k=1, predictor="p"),
    LayerSpec("sc", 16, k=1, **SC),
    LayerSpec("c2", 16, stride=2, k=1, predictor="p"),
    LayerSpec("c3", 16, k=2),
)

STEM_CASES: tuple[CaseSpec, ...] = (
    CaseSpec(
        "stem_program",
        "an 8 x 8 image (the unit's largest), then a predicted 3x3, a shortcut pair with predictor, a 3x3",
        cfg_over=STEM,
        c0=12,
        h=8,
        w=8,
        layers=PROGRAM,
        thresholds={0: "sparse", 2: "sparse"},
        seed=50,
    ),
    CaseSpec(
        "stem_small",
        "a 6 x 5 image on the 8 x 8 unit: the FIFO aligns (A = 8 - 4 = 4 more cycles), rows of 5 pixels",
        cfg_over=STEM,
        c0=12,
        h=6,
        w=5,
        layers=(LayerSpec("c1", 12, k=1, predictor="p"), LayerSpec("c2", 8, k=2, residual=False)),
        thresholds={0: "sparse"},
        seed=51,
    ),
    CaseSpec(
        "stem_inbuf_mask",
        "input buffer: the predicted first layer scans x0's rows as the unit delivers them (blob 1 is read"
        " meanwhile, its beats in the R-beat register while x0's are in their own)",
        cfg_over=over(STEM, INBUF),
        c0=12,
        h=8,
        w=7,
        layers=(LayerSpec("c1", 12, k=1, predictor="p"), LayerSpec("c2", 12, k=2)),
        thresholds={0: "sparse"},
        seed=52,
    ),
    CaseSpec(
        "stem_inbuf_gather",
        "input buffer, a first layer without predictor (the gather waits for x0 rows), 16 stem channels"
        " (Q = 4 beats a position), pooled STORE",
        cfg_over=over(STEM, INBUF, POOLED, {"stem_unit": {"channels": 16}}),
        c0=16,
        h=8,
        w=8,
        layers=(LayerSpec("c1", 16, k=1), LayerSpec("c2", 16, k=2, residual=False)),
        seed=53,
    ),
    CaseSpec(
        "stem_dense",
        "dense baseline with the unit: the programme unpruned",
        cfg_over=STEM,
        c0=12,
        h=8,
        w=8,
        layers=PROGRAM,
        thresholds={0: "sparse", 2: "sparse"},
        seed=54,
        mode="dense",
    ),
    CaseSpec(
        "stem_dense_inbuf",
        "dense baseline, input buffer, a 7 x 6 image",
        cfg_over=over(STEM, INBUF),
        c0=12,
        h=7,
        w=6,
        layers=(LayerSpec("c1", 12, k=1), LayerSpec("c2", 12, k=2, predictor="p")),
        thresholds={1: "sparse"},
        seed=55,
        mode="dense",
    ),
)


def spec(name: str) -> CaseSpec:
    return next(c for c in STEM_CASES if c.name == name)


_built = built_for  # one Icarus build per configuration and mode


def x0_cycles(o: Outcome) -> list[int]:
    """ST2: X_j of every x0 beat, from the contract's LOAD job."""
    load = next(j for j in o.sched.jobs if j.kind == "load")
    return [load.last_beat + o.program.stem_lead + j for j in range(o.program.x0_beats)]


def check_stem_exact(o: Outcome, probe: bool = True) -> None:
    name = o.case.name
    assert o.program.stem_unit and o.case.image is not None
    assert o.got.shape == o.expected.shape
    bad = np.argwhere(o.got != o.expected)
    assert not bad.size, f"{name}: {len(bad)} outputs differ, first at {tuple(bad[0])}"
    s = o.sched
    assert o.done == s.total_cycles, f"{name}: RTL took {o.done} cycles, archsim.contract says {s.total_cycles}"
    assert o.cycles_reg == o.done
    assert o.layer_ends == [lt.end for lt in s.layers], f"{name}: layer ends {o.layer_ends}"
    ar, r_last = read_bursts(s.jobs, o.cfg)
    assert [a[0] for a in o.result["ar"]] == ar, f"{name}: AR cycles differ from the contract"
    assert o.result["r_last"] == r_last, f"{name}: last R beats differ from the contract"
    assert o.result["w_first"] == [b[0] for b in s.store_bursts]
    assert o.result["b"] == [b[2] for b in s.store_bursts]
    # ST1: the LOAD reads the raw image, ceil(H W / (D/8)) beats
    h, w = o.case.image.shape[1:]
    assert o.program.load_beats == -(-h * w // o.cfg.beat_bytes) < o.program.x0_beats
    if probe:  # ST2: x0 beat j in the x0 register in X_j + 1, one per cycle; ST3: usable lambda_load after X_j
        xs = x0_cycles(o)
        assert o.result["probes"][X1] == [x + 1 for x in xs], f"{name}: x0 beats not in the cycles of rule ST2"
        load = next(j for j in s.jobs if j.kind == "load")
        assert load.loaded == xs[-1] + 2


@pytest.mark.parametrize("s", STEM_CASES, ids=[c.name for c in STEM_CASES])
def test_stem_case(s, tmp_path):
    o = run(_built(s), dataclasses.replace(s.make(), probes=(X1,)), tmp_path)
    check_stem_exact(o)
    if s.name == "stem_small":  # rule ST2's A term: an image smaller than the unit's largest
        st = o.cfg.stem_unit
        assert s.h < st.max_height and s.w < st.max_width


def test_stem_cases_cover_what_they_claim():
    """Saturated x0 values both ways, masks neither empty nor full, images smaller than the unit."""
    from tests.rtlsim.reference import expected_run

    sat = {1: False, -1: False}
    for s in STEM_CASES:
        c = s.make()
        sat[1] |= bool((c.x0 == 32767).any())
        sat[-1] |= bool((c.x0 == -32768).any())
        _, masks = expected_run(c.model, c.x0, s.mode, s.config())
        for m in masks:
            if m is not None and s.mode == "sparse":
                assert 0 < m.sum() < m.size, s.name
    assert all(sat.values()), "no case saturates the stem both ways"


def test_stem_back_to_back(tmp_path):
    """Three inferences without reset or reprogramming: the stem parameters stay, each image exact and
    cycle-exact."""
    s = spec("stem_program")
    c = s.make()
    rng = np.random.default_rng(77)
    more = [s.sample(c.model, rng) for _ in range(2)]
    c = dataclasses.replace(c, more_x0=tuple(x for x, _ in more), more_images=tuple(im for _, im in more))
    o = run(_built(s), c, tmp_path)
    check_stem_exact(o, probe=False)
    for i, (exp, got, done, creg, _ends, total) in enumerate(o.more):
        assert np.array_equal(got, exp), f"sample {i + 1}: output differs"
        assert done == creg == total, f"sample {i + 1}: {done} cycles, contract {total}"
    assert not np.array_equal(o.more[0][0], o.expected)


@pytest.mark.slow
@pytest.mark.parametrize("mem_seed", [1, 2])
def test_stem_backpressure_keeps_outputs_exact(mem_seed, tmp_path):
    s = spec("stem_inbuf_mask")
    o = run(_built(s), s.make(backpressure=True, mem_seed=mem_seed), tmp_path)
    bad = np.argwhere(o.got != o.expected)
    assert not bad.size, f"back-pressure seed {mem_seed}: {len(bad)} outputs differ"
    assert o.done > o.sched.total_cycles and o.cycles_reg == o.done  # the stalls really happened


def check_stream(o: StreamOutcome, name: str) -> None:
    ref = o.ref
    for i in range(len(o.got)):
        bad = np.argwhere(o.got[i] != o.expected[i])
        assert not bad.size, f"{name}: image {i}: {len(bad)} outputs differ"
    assert o.done_log == ref.dones, f"{name}: DONE log {o.done_log}, contract {ref.dones}"
    assert o.done == o.cycles_reg == ref.dones[-1]
    assert o.layer_ends == ref.layer_ends[-1]
    res = o.result
    assert [a[0] for a in res["ar"]] == [a for img in ref.ars for a in img], f"{name}: AR cycles differ"
    assert all(o.lay.load_addr_of(i) in {a[1] for a in res["ar"]} for i in range(len(o.got)))
    assert res["w_first"] == [b[0] for b in ref.store_bursts]
    assert res["b"] == [b[2] for b in ref.store_bursts]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stem_program", "stem_inbuf_gather", "stem_dense_inbuf"])
def test_stem_stream_of_three(name, tmp_path):
    """ST5: three images with one start, the unit taking one image at a time; every image's output, DONE
    (the DONE log) and AXI burst as schedule_stream says."""
    s = spec(name)
    c = s.make()
    rng = np.random.default_rng([s.seed, 99])
    samples = [(c.x0, c.image), *(s.sample(c.model, rng) for _ in range(2))]
    o = run_stream(
        _built(s), name, c.model, [x for x, _ in samples], s.mode, tmp_path, images=[im for _, im in samples]
    )
    check_stream(o, name)
    assert not np.array_equal(o.expected[0], o.expected[1])
    # each image's LOAD reads its own raw image (the stride is the raw image's, rounded to 4 KiB)
    assert o.lay.load.beats == o.program.load_beats and o.lay.load_stride == 4096


def test_stem_contract_reference_is_independent():
    """The contract's x0 train (ST2) on a case, recomputed from the config and the unit's cycle formula."""
    from archsim import stem_unit
    from tests.rtlsim.reference import expected_run

    s = spec("stem_small")
    c, cfg = s.make(), s.config()
    prog = compile_program(c.model, cfg, s.mode)
    st = cfg.stem_unit
    q = st.channels * cfg.epilogue.value_bits // cfg.axi.data_bits
    a = stem_unit.align_cycles(s.h, s.w, st.max_height, st.max_width, cfg.axi.data_bits)
    assert a > 0 and prog.stem_lead == 1 + a + s.w + q + 16
    _, masks = expected_run(c.model, c.x0, s.mode, cfg)
    sched = schedule(prog, cfg, [None if m is None else np.flatnonzero(m) for m in masks])
    load = next(j for j in sched.jobs if j.kind == "load")
    assert load.beats == prog.load_beats == 4  # 30 pixels, 8 a beat
    assert load.loaded == load.last_beat + prog.stem_lead + prog.x0_beats - 1 + 2  # ST3
    assert prog.x0_beats == s.h * s.w * q


def test_stem_bypass(tmp_path):
    """ST6: on the RTL with the unit (12 channels), a model whose stem it cannot compute (16 stem channels) runs
    with the unit bypassed (register stem_en 0): the LOAD reads x0 and the run is exact and cycle-exact against
    the contract and the SimPy model of the design without the unit, which it equals to the cycle."""
    from archsim.sim import simulate
    from tests.rtlsim.configs import with_stem
    from tests.test_rtl_layers import check_exact

    s = dataclasses.replace(
        spec("stem_inbuf_mask"),
        name="stem_bypass",
        c0=16,
        layers=(LayerSpec("c1", 16, k=1, predictor="p"), LayerSpec("c2", 16, k=2)),
    )
    o = run(_built(s), s.make(), tmp_path)
    assert not o.program.stem_unit and o.program.stem_bypassed.startswith("stem_unit.channels")
    assert o.program.load_beats == o.program.x0_beats
    check_exact(o)
    plain = with_stem(s.config(), enabled=False)
    prog = compile_program(o.case.model, plain, "sparse")
    assert simulate(prog, plain, o.active, "fast").total_cycles == o.done
