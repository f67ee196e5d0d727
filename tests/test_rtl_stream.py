"""A stream of images through the generated RTL with one `start` (docs/timing.md 9, rules S1-S6; Icarus).

Every case runs N = 3 images, each with its own input map (so its own masks): every image's
output equals the functional model's, every DONE(n) (the hardware's DONE log) and the last
image's layer ends (the layer-end log) equal archsim.contract.schedule_stream and archsim's
SimPy stream (fast mode), and every AXI burst of the whole stream happens in the cycle the
contract puts it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from archsim.contract import schedule
from archsim.sim import simulate_stream
from tests.rtlsim.cases import POOLED, CaseSpec, built_for, case
from tests.rtlsim.harness import build, run
from tests.rtlsim.models import LayerSpec, random_x0
from tests.rtlsim.stream import S4Binds, StreamOutcome, own_stream_schedule, run_stream

pytestmark = pytest.mark.rtl

_built = built_for  # one Icarus build per configuration and mode


BOTH = {"buffers": {"pooled_store": True, "input_buffer": True}}

# one-layer pooled stream with the input buffer: image n's only layer would start at S(n) + 1, long
# before STORE(n-1) has sent its sums (rule S4 binds: it starts at Wend(n-1)); nothing of the layer
# could act before then (its blob and the LOAD's rows come later), so the hold changes no later cycle
# here: s5_slow_b below is where it does (the test fails there without the hold)
S4_ONE = CaseSpec(
    "s4_one_layer",
    "pooled STORE, input buffer, one 3x3 layer of 16 channels: S4 holds every later image's layer",
    cfg_over=BOTH,
    c0=8,
    h=4,
    w=4,
    layers=(LayerSpec("c1", 16, k=1, residual=False),),
    seed=31,
)

# the same with slow write responses: STORE(n-1)'s B responses are still outstanding when STORE(n)
# begins, and count against its outstanding-write limit (rule S5)
S5_SLOW = dataclasses.replace(
    S4_ONE,
    name="s5_slow_b",
    what="S4_ONE with a write latency of 200 cycles: STOREs overlap in their B responses",
    cfg_over={**BOTH, "axi": {"write_latency": 200}},
)

STREAM_SPECS = {
    "map": case("program"),  # (b) map STORE, no input buffer, predictors
    "pooled": case("pooled_program"),  # (a) pooled STORE, no input buffer
    "inbuf_map": case("inbuf_program"),  # (c) input buffer on, map STORE
    "inbuf_pooled": dataclasses.replace(case("pooled_program"), name="pooled_inbuf_program", cfg_over=BOTH),
    "early": case("early_chain"),  # the early mask scan across image boundaries
    "dense_pooled_inbuf": case("pooled_inbuf_dense"),  # the dense baseline streams the same way
    "s4_one_layer": S4_ONE,  # (d) S4 binds
    "s5_slow_b": S5_SLOW,
}


def stream_inputs(spec: CaseSpec, n: int) -> tuple[object, list[np.ndarray]]:
    c = spec.make()
    rng = np.random.default_rng([spec.seed, 99])
    return c, [c.x0, *(random_x0(rng, *c.x0.shape) for _ in range(n - 1))]


def check_stream(o: StreamOutcome, name: str) -> None:
    ref = o.ref
    n = len(o.got)
    for i in range(n):
        assert o.got[i].shape == o.expected[i].shape
        bad = np.argwhere(o.got[i] != o.expected[i])
        assert not bad.size, f"{name}: image {i}: {len(bad)} outputs differ, first at {tuple(bad[0])}"
    assert o.done_log == ref.dones[:16], f"{name}: DONE log {o.done_log}, contract {ref.dones}"
    assert o.done == o.cycles_reg == ref.dones[-1], f"{name}: done {o.done}, CYCLES {o.cycles_reg}, {ref.dones}"
    assert o.layer_ends == ref.layer_ends[-1], f"{name}: last image's layer ends {o.layer_ends}"
    # and archsim's SimPy model of the stream (fast mode) agrees with both
    sim = simulate_stream(o.program, o.cfg, [s_active(o, i) for i in range(n)], "fast")
    assert sim.done == ref.dones and [lt.end for lt in sim.images[-1].layers] == o.layer_ends, f"{name}: SimPy differs"
    res = o.result
    assert [a[0] for a in res["ar"]] == [a for img in ref.ars for a in img], f"{name}: AR cycles differ"
    # S1: image n's LOAD reads from load_addr + n load_stride (its outputs, read at store_addr + n
    # store_stride, are checked above)
    ar_addrs = {a[1] for a in res["ar"]}
    assert all(o.lay.load_addr_of(i) in ar_addrs for i in range(n)), f"{name}: a LOAD is not at its stride"
    assert res["w_first"] == [b[0] for b in ref.store_bursts], f"{name}: W bursts differ (S5)"
    assert res["b"] == [b[2] for b in ref.store_bursts], f"{name}: B responses differ (S5)"


@pytest.mark.parametrize("key", list(STREAM_SPECS))
def test_stream_of_three(key, tmp_path):
    """Rules S1-S5 on N = 3 images: outputs exact per image, DONE(n), the last image's layer ends,
    every AR, W and B cycle equal to the contract's stream schedule."""
    spec = STREAM_SPECS[key]
    c, xs = stream_inputs(spec, 3)
    o = run_stream(_built(spec), spec.name, c.model, xs, spec.mode, tmp_path)
    check_stream(o, key)
    # each image really is its own: different inputs, and (with predictors) different masks
    assert not np.array_equal(o.expected[0], o.expected[1])
    if any(m is not None for m in o.masks[0]):
        assert any(a is not None and not np.array_equal(a, b) for a, b in zip(o.masks[0], o.masks[1], strict=True)), (
            "the images' masks are all equal"
        )
    ref = o.ref
    ends = [e[-1] for e in ref.layer_ends]
    per = len(ref.store_bursts) // 3  # bursts per STORE
    w_ends = [ref.store_bursts[(i + 1) * per - 1][0] + ref.store_bursts[(i + 1) * per - 1][1] for i in range(3)]
    for i in (1, 2):
        if o.program.pooled:
            assert ref.starts[i] == ends[i - 1], "S2, pooled: S(n) = end_L(n-1)"
        else:
            # S2, map STORE: the STORE's W beats bind, S(n) = Wend(n-1) > end_L(n-1)
            assert ref.starts[i] == w_ends[i - 1] > ends[i - 1]
    if key == "s5_slow_b":
        # S5: STORE(n) starts before STORE(n-1)'s last B response, and its bursts wait for them
        for i in (1, 2):
            assert ends[i] < ref.dones[i - 1] - 1
        assert any(ref.store_bursts[i * per][0] > ends[i] + 2 for i in (1, 2)), "the limit never binds"
    if key in ("s4_one_layer", "s5_slow_b"):
        # S4 binds: image n's layer starts at Wend(n-1), after S(n) + 1 where S3 alone would start it
        for i in (1, 2):
            assert ref.last_starts[i] == w_ends[i - 1] > ref.starts[i] + 1
        with pytest.raises(S4Binds):
            own_stream_schedule(o.program, o.cfg, [[None] * len(o.program.layers)] * 3)
    else:
        # S3: where S4 does not bind, image n is its single-image schedule shifted by S(n)
        own = own_stream_schedule(o.program, o.cfg, [s_active(o, i) for i in range(3)])
        assert (own.starts, own.dones, own.layer_ends, own.store_bursts) == (
            ref.starts,
            ref.dones,
            ref.layer_ends,
            ref.store_bursts,
        )


def s_active(o: StreamOutcome, i: int) -> list:
    return [None if m is None else np.flatnonzero(m.reshape(-1)) for m in o.masks[i]]


@pytest.mark.parametrize("name", ["program", "pooled_program"])
def test_stream_of_one_is_latency_mode(name, tmp_path):
    """S1: n_images = 1 is today's run, to the cycle: the same output, DONE, layer ends and bursts as
    the single-image harness and archsim.contract.schedule."""
    spec = case(name)
    c = spec.make()
    o = run_stream(_built(spec), name, c.model, [c.x0], spec.mode, tmp_path / "s")
    one = run(_built(spec), c, tmp_path / "one")
    check_stream(o, name)
    assert np.array_equal(o.got[0], one.got)
    assert o.done_log == [one.done] == [schedule(one.program, one.cfg, one.active).total_cycles]
    assert o.layer_ends == one.layer_ends
    assert o.result["ar"] == one.result["ar"] and o.result["b"] == one.result["b"]


@pytest.mark.parametrize("key,mem_seed", [("pooled", 3), ("map", 4), ("s5_slow_b", 5)])
def test_stream_with_backpressure_stays_exact(key, mem_seed, tmp_path):
    """With random AXI back-pressure (stalled handshakes, late R beats and B responses) every image's
    output stays exact and the DONE log still has one entry per image, in order; the stream is slower
    than the contract's stall-free schedule."""
    spec = STREAM_SPECS[key]
    c, xs = stream_inputs(spec, 3)
    o = run_stream(_built(spec), spec.name, c.model, xs, spec.mode, tmp_path, backpressure=True, mem_seed=mem_seed)
    for i in range(3):
        assert np.array_equal(o.got[i], o.expected[i]), f"{key}: image {i} differs under back-pressure"
    assert len(o.done_log) == 3 and o.done_log == sorted(o.done_log) and o.done_log[-1] == o.done == o.cycles_reg
    assert o.done > o.ref.dones[-1]


def test_done_log_holds_sixteen_images(tmp_path):
    """A stream longer than the DONE log: the first 16 images' DONE cycles are logged, CYCLES is the
    last image's (rule S5), every output exact."""
    spec = dataclasses.replace(S4_ONE, cfg_over=POOLED, name="long_stream")
    c, xs = stream_inputs(spec, 18)
    o = run_stream(_built(spec), spec.name, c.model, xs, spec.mode, tmp_path)
    assert len(o.done_log) == 16 and len(o.ref.dones) == 18
    check_stream(o, "long_stream")


@pytest.mark.slow
def test_shipped_trained_resnet18_stream_verilator(tmp_path):
    """Issue 10's check at full size: the shipped trained ResNet-18 on the Ultra96v2 RTL (Verilator), three
    trace images back to back with one start. Every image's STOREd result equals the trainer's integer
    mode (the trace), every DONE(n) equals archsim.contract.schedule_stream's (rules S2-S5), the last
    image's layer ends too, and every image's masks equal the trainer's."""
    from archsim.layout import store_view
    from tests.rtlsim.configs import ultra96
    from tests.test_rtl_fullsize import _shipped

    model, trace = _shipped()
    if model.synthetic:
        pytest.skip("the shipped workload is synthetic")
    assert trace.n_samples >= 3
    built = build(ultra96(), sparse=True, sim="verilator")
    xs = [trace.stem_out[i] for i in range(3)]
    # the raw images go to DDR when the shipped configuration has the stem unit (docs/timing.md 3.1)
    images = [trace.inputs[i] for i in range(3)]
    o = run_stream(built, "trained_resnet18_stream", model, xs, "sparse", tmp_path, images=images)
    check_stream(o, "trained_resnet18_stream")
    for i in range(3):
        want = store_view(o.program, trace.layer_out[-1][i])
        assert np.array_equal(o.got[i], want), f"image {i}: RTL output differs from the trainer's integer mode"
        for got, w in zip(o.masks[i], trace.masks, strict=True):
            assert (got is None) == (w is None)
            assert got is None or np.array_equal(got.reshape(w[i].shape), w[i])
    # the stream overlaps: image n begins at end_L(n-1) (pooled) before STORE(n-1) is done
    assert o.program.pooled and all(o.ref.starts[i] < o.ref.dones[i - 1] for i in (1, 2))
