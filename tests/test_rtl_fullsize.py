"""The full-size Ultra96v2 accelerator (16x16 PEs) under Verilator on ResNet-18 layers.

The first block of stage 3 of the CIFAR ResNet-18 (docs/architecture.md section 1):
the 1x1 stride-2 shortcut 128 -> 256, the 3x3 stride-2 conv 128 -> 256 and the 3x3
conv 256 -> 256, a quarter of the kernels kept, both convs with a spatial predictor
(about half the positions active). Checked exactly like the small cases: bit-exact
output, DONE and every layer end equal to archsim.contract.schedule().
Then the whole shipped trained ResNet-18 on each of its trace images.
Verilator build about a minute, simulation a few seconds per case.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from archsim.contract import schedule
from archsim.format import BnnModel, Trace, load_model, load_trace
from archsim.layout import store_view
from archsim.workload import load_workload
from tests.rtlsim.cases import choose_thresholds
from tests.rtlsim.configs import ultra96, with_split
from tests.rtlsim.harness import Case, build, run
from tests.rtlsim.models import LayerSpec, make_model, random_x0
from tests.synth_helpers import ROOT
from tests.test_rtl_layers import check_exact

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

STAGE3_BLOCK1 = (
    LayerSpec("s3.b1.shortcut", 256, kernel=1, stride=2, role="shortcut", residual=False, k=2),
    LayerSpec("s3.b1.conv1", 256, stride=2, k=2, predictor="p"),
    LayerSpec("s3.b1.conv2", 256, k=2, predictor="p"),
)


def stage3_case() -> Case:
    cfg = ultra96()
    model = make_model(cfg, 128, 16, 16, list(STAGE3_BLOCK1), seed=2022, name="resnet18-s3b1")
    x0 = random_x0(np.random.default_rng(2023), 128, 16, 16)
    model = choose_thresholds(model, x0, {1: "sparse", 2: "sparse"})
    return Case("resnet18_s3b1", model, x0)


def test_ultra96_stage3_block_verilator(tmp_path):
    built = build(ultra96(), sparse=True, sim="verilator")
    o = run(built, stage3_case(), tmp_path)
    check_exact(o)
    active = [int(m.sum()) for m in o.masks if m is not None]
    assert all(0 < a < 64 for a in active), active  # the predictors really prune


SHIPPED = ROOT / "workloads/models/resnet18_pruned"


@functools.cache
def _shipped() -> tuple[BnnModel, Trace]:
    return load_model(SHIPPED.with_suffix(".npz")), load_trace(SHIPPED.with_suffix(".trace.npz"))


def trained_case(sample: int) -> Case | None:
    """The shipped trained model on trace image `sample` (None while the shipped model is synthetic)."""
    model, trace = _shipped()
    if model.synthetic:
        return None
    # the raw image is what the LOAD reads when the shipped configuration has the stem unit (docs/timing.md 3.1)
    return Case(f"trained_resnet18_{sample}", model, trace.stem_out[sample], image=trace.inputs[sample])


@pytest.mark.parametrize("sample", range(4))
def test_shipped_trained_resnet18_verilator(sample, tmp_path):
    """The whole shipped trained network (19 layers, its own kernel masks and predictors) on the full-size
    RTL: the output map equals the trainer's integer-mode output recorded in the trace (PyTorch), and
    every layer end equals archsim's schedule and its SimPy model; archsim's masks equal the trainer's.
    The validation ladder on a real model, end to end."""
    c = trained_case(sample)
    if c is None:
        pytest.skip("the shipped workload is synthetic")
    trace = _shipped()[1]
    assert sample < trace.n_samples
    o = run(build(ultra96(), sparse=True, sim="verilator"), c, tmp_path)
    check_exact(o)
    # the STORE's output (the pooled sums with buffers.pooled_store) from the trainer's last map
    want = store_view(o.program, trace.layer_out[-1][sample])
    assert np.array_equal(o.got, want), "RTL output differs from the trainer's integer mode"
    for got, want in zip(o.masks, trace.masks, strict=True):
        assert (got is None) == (want is None)
        assert got is None or np.array_equal(got.reshape(want[sample].shape), want[sample])


def test_shipped_trained_resnet18_without_split_tiles_verilator(tmp_path):
    """The full-size array without split tiles (docs/timing.md 4.2, T3), which the shipped configuration has:
    the trained ResNet-18 on trace image 1 (the most partial tiles of the four) on the build with SPLIT = 0;
    output equal to the trainer's integer mode, DONE and every layer end equal to archsim, which takes more
    cycles than with the rule."""
    c = trained_case(1)
    if c is None:
        pytest.skip("the shipped workload is synthetic")
    cfg = ultra96()
    assert cfg.pe_array.split_tiles and cfg.split_pairs(3, True) and cfg.split_pairs(1, True)
    o = run(build(with_split(cfg, False), sparse=True, sim="verilator"), c, tmp_path)
    check_exact(o)
    assert np.array_equal(o.got, store_view(o.program, _shipped()[1].layer_out[-1][1]))
    on = schedule(o.program, cfg, o.active).total_cycles  # the same programme with the rule
    assert o.done > on


def test_shipped_dense_baseline_verilator(tmp_path):
    """The dense baseline of the headline speedup on the full-size dense build (index decoder and mask unit
    bypassed, the same stem unit): the shipped dense ResNet-18 on trace image 0, its output equal to the
    trainer's integer mode and DONE, every layer end and every burst equal to archsim (the quoted dense
    cycles are the RTL's)."""
    dense = ROOT / "workloads/models/resnet18_dense"
    model, trace = load_model(dense.with_suffix(".npz")), load_trace(dense.with_suffix(".trace.npz"))
    if model.synthetic:
        pytest.skip("the shipped workload is synthetic")
    c = Case("trained_resnet18_dense", model, trace.stem_out[0], mode="dense", image=trace.inputs[0])
    o = run(build(ultra96(), sparse=False, sim="verilator"), c, tmp_path)
    check_exact(o)
    assert o.program.stem_unit == ultra96().stem_unit.enabled
    assert np.array_equal(o.got, store_view(o.program, trace.layer_out[-1][0])), "RTL differs from the trainer"


def test_equal_area_dense_build_verilator(tmp_path):
    """The equal-area dense baseline (workloads/resnet18_pruned.yaml `baseline.equal_area_cols`, the widest
    dense build within the sparse build's LUTs, docs/resources.md) on the full-size RTL: the shipped dense
    ResNet-18 on trace image 0 on 16 x 20 PEs, whose 8x8 maps leave tiles of 4 positions that rule T3 splits.
    Output equal to the trainer's integer mode, DONE and every layer end equal to archsim: the equal-area
    cycles `archsim run` reports are the RTL's."""
    wl = load_workload(ROOT / "workloads/resnet18_pruned.yaml")
    if wl.baseline.synthetic or wl.equal_area is None:
        pytest.skip("the shipped workload is synthetic or names no equal-area build")
    cfg, prog = wl.equal_area
    assert cfg.pe_array.cols != ultra96().pe_array.cols and cfg.pe_array.split_tiles
    trace = wl.baseline_trace
    assert trace is not None
    c = Case("trained_resnet18_dense_equal_area", wl.baseline, trace.stem_out[0], mode="dense", image=trace.inputs[0])
    o = run(build(cfg, sparse=False, sim="verilator"), c, tmp_path)
    check_exact(o)
    assert np.array_equal(o.got, store_view(o.program, trace.layer_out[-1][0])), "RTL differs from the trainer"
    dense_acts = [None] * len(prog.layers)
    assert o.done == schedule(prog, cfg, dense_acts).total_cycles
    assert o.done < schedule(prog, with_split(cfg, False), dense_acts).total_cycles  # its partial tiles split


@functools.cache
def _resnet20() -> tuple[BnnModel, np.ndarray]:
    """A full-width ResNet-20 from its description (`archsim synth --network resnet20`, 32x32)."""
    from archsim.functional import stem_forward
    from archsim.networks import builtin
    from archsim.synthetic import SynthSpec, generate

    syn = generate(SynthSpec(name="resnet20", samples=1, seed=3, network=builtin("resnet20")), ultra96())
    return syn.pruned, stem_forward(syn.pruned, syn.inputs)[0]


def test_full_width_resnet20_verilator(tmp_path):
    """Block residuals at full size: nine conv1 layers leave the residual buffer holding the block's
    input (two of them after a projecting block's shortcut), the conv2 layers add it, predictors on
    the seven conv2 of non-projecting blocks. Output and every layer end as archsim says."""
    model, x0 = _resnet20()
    assert len(model.layers) == 20 and sum(not L.res_write for L in model.layers) == 9
    o = run(build(ultra96(), sparse=True, sim="verilator"), Case("resnet20_full", model, x0), tmp_path)
    check_exact(o)
    assert any(m is not None and 0 < m.sum() < m.size for m in o.masks)  # the predictors really prune


@functools.cache
def _vgg_small() -> tuple[BnnModel, BnnModel, np.ndarray]:
    """VGG-small from its description (`archsim synth --network vgg_small --width 0.5`, 32x32): the widest
    that fits the Ultra96v2 buffers (at 0.75 the 96x32x32 stem map needs 6144 residual words, res_depth
    is 4096). Pruned (kernel-sparse) and dense, and the synthetic image; its convs have no residual, so
    no predictor."""
    from archsim.networks import builtin
    from archsim.synthetic import SynthSpec, generate

    syn = generate(SynthSpec(name="vgg", samples=1, seed=3, width=0.5, network=builtin("vgg_small")), ultra96())
    return syn.pruned, syn.dense, syn.inputs


@pytest.mark.parametrize("kind", ["pruned", "dense"])
def test_vgg_small_verilator(kind, tmp_path):
    """The 2x2 max-pool at full size: three pooled layers (32x32 -> 16x16 -> 8x8 -> 4x4, the last one
    pooled by the host before the flatten classifier), 64 to 256 channels in one to four passes. The
    pruned model's sparse programme and the dense model (every kernel kept) on the same sparse build:
    output map, DONE and every layer end as archsim says, and the logits from the STOREd map equal
    archsim's functional model's."""
    from archsim.functional import classifier_forward, run_model, stem_forward

    pruned, dense, images = _vgg_small()
    model = pruned if kind == "pruned" else dense
    assert [L.maxpool for L in model.layers] == [True, False, True, False, True]
    assert [L.c_out for L in model.layers] == [64, 128, 128, 256, 256] and model.layers[0].h_out == 32
    x0 = stem_forward(model, images)[0]
    o = run(build(ultra96(), sparse=True, sim="verilator"), Case(f"vgg_small_{kind}", model, x0), tmp_path)
    check_exact(o)
    assert not o.program.pooled and o.got.shape == (256, 8, 8)  # a flatten classifier needs the map
    logits = classifier_forward(model, o.got[None])[0]
    assert np.array_equal(logits, run_model(model, images, "sparse").logits[0])


@pytest.mark.parametrize("name", ["resnet20_pruned", "vgg_small_pruned"])
def test_shipped_trained_networks_verilator(name, tmp_path):
    """The shipped trained ResNet-20 (block residuals, predictors) and VGG-small (max-pool, flatten) on the
    full-size RTL, trace image 0: output, DONE and every layer end as archsim says, the STOREd result equal
    to the trainer's integer mode, and the RTL's masks equal the trainer's."""
    base = ROOT / "workloads/models" / name
    model, trace = load_model(base.with_suffix(".npz")), load_trace(base.with_suffix(".trace.npz"))
    assert not model.synthetic
    o = run(build(ultra96(), sparse=True, sim="verilator"), Case(f"trained_{name}", model, trace.stem_out[0]), tmp_path)
    check_exact(o)
    assert np.array_equal(o.got, store_view(o.program, trace.layer_out[-1][0])), "RTL differs from the trainer"
    for got, want in zip(o.masks, trace.masks, strict=True):
        assert (got is None) == (want is None)
        assert got is None or np.array_equal(got.reshape(want[0].shape), want[0])


def test_shipped_trained_resnet18_stem_unit_verilator(tmp_path):
    """The stem unit at full size (docs/timing.md 3.1): the shipped trained ResNet-18 on the Ultra96v2 RTL with
    `stem_unit.enabled` (64 channels, 32 x 32 images, 256 DSP48E2), whatever the shipped configuration says.
    The LOAD reads trace image 0's raw pixels; the STOREd result equals the trainer's integer mode, DONE and
    every layer end and AXI burst equal archsim.contract.schedule (x0 from the unit, rules ST1-ST3)."""
    from tests.rtlsim.configs import with_stem
    from tests.test_rtl_stem_core import check_stem_exact

    c = trained_case(0)
    if c is None:
        pytest.skip("the shipped workload is synthetic")
    cfg = with_stem(ultra96())
    o = run(build(cfg, sparse=True, sim="verilator"), c, tmp_path)
    check_stem_exact(o, probe=False)
    assert o.program.stem_lead == 53 and o.program.load_beats == 32  # 1024 pixels, 32 a beat
    assert np.array_equal(o.got, store_view(o.program, _shipped()[1].layer_out[-1][0])), "RTL differs from trainer"


def test_shipped_trained_resnet18_stem_unit_stream_verilator(tmp_path):
    """Three trace images back to back with one start on the full-size RTL with the stem unit: every image's
    output equals the trainer's integer mode, every DONE(n) (the DONE log) and AXI burst equals
    archsim.contract.schedule_stream's (rule ST5: the unit takes one image at a time)."""
    from tests.rtlsim.configs import with_stem
    from tests.rtlsim.stream import run_stream
    from tests.test_rtl_stem_core import check_stream

    model, trace = _shipped()
    if model.synthetic:
        pytest.skip("the shipped workload is synthetic")
    built = build(with_stem(ultra96()), sparse=True, sim="verilator")
    xs = [trace.stem_out[i] for i in range(3)]
    images = [trace.inputs[i] for i in range(3)]
    o = run_stream(built, "trained_resnet18_stem_stream", model, xs, "sparse", tmp_path, images=images)
    check_stream(o, "trained_resnet18_stem_stream")
    assert o.program.stem_unit and all(o.ref.starts[i] < o.ref.dones[i - 1] for i in (1, 2))
    for i in range(3):
        want = store_view(o.program, trace.layer_out[-1][i])
        assert np.array_equal(o.got[i], want), f"image {i}: RTL output differs from the trainer's integer mode"
