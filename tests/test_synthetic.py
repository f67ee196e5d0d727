"""Synthetic workload generator: structure, balance, calibration, determinism, errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from archsim.config import load_config
from archsim.errors import ConfigError
from archsim.format import check_trace_matches, load_model, load_trace, model_checksum, validate_model
from archsim.functional import compare_with_trace, run_model
from archsim.program import compile_program, kept_counts, layer_k, pass_geometry, real_rows
from archsim.synthetic import SynthSpec, balanced_keep, generate, pick_threshold, skeleton
from tests.synth_helpers import SMALL, ULTRA96, make_workload, small_config


def test_skeleton_is_the_cifar_resnet18():
    layers = skeleton(1.0, (3, 32, 32))
    assert len(layers) == 19
    assert [L.name for L in layers if L.role == "shortcut"] == ["s2.b1.shortcut", "s3.b1.shortcut", "s4.b1.shortcut"]
    mains = [L for L in layers if L.role == "main"]
    assert len(mains) == 16 and all(L.kernel == 3 and L.residual for L in mains)
    assert [L.c_out for L in mains] == [64] * 4 + [128] * 4 + [256] * 4 + [512] * 4
    assert [L.h_in for L in mains] == [32] * 5 + [16] * 4 + [8] * 4 + [4] * 3
    assert [L.stride for L in mains] == [1] * 4 + [2, 1, 1, 1] * 3
    for i, L in enumerate(layers):
        if L.role == "shortcut":  # 1x1 stride 2, same input as the main layer after it
            nxt = layers[i + 1]
            assert (L.kernel, L.stride, L.residual) == (1, 2, False)
            assert (L.c_in, L.c_out, L.h_in) == (nxt.c_in, nxt.c_out, nxt.h_in) and nxt.stride == 2
    odd = skeleton(0.3, (1, 9, 7))
    assert [L.c_out for L in odd if L.role == "main"][::4] == [19, 38, 77, 154]
    assert odd[-1].h_in == 2 and odd[-1].w_in == 1


@pytest.mark.parametrize(
    ("c_out", "c_in", "k", "rows", "depth"), [(64, 5, 1, 16, 8), (37, 3, 2, 4, 4), (200, 2, 3, 16, 8), (5, 4, 3, 4, 4)]
)
def test_balanced_keep_passes_the_programme_check(c_out, c_in, k, rows, depth):
    keep = balanced_keep(np.random.default_rng(0), c_out, c_in, k, rows, depth)
    for (lo, hi, g), cnt in zip(pass_geometry(c_out, rows, depth), kept_counts(keep, rows, depth), strict=True):
        want = np.minimum(k, real_rows(hi - lo, rows, g))
        np.testing.assert_array_equal(cnt, np.broadcast_to(want[:, None], cnt.shape))
    if not keep.all():  # a real choice was made: another seed chooses differently
        assert not np.array_equal(balanced_keep(np.random.default_rng(1), c_out, c_in, k, rows, depth), keep)


def test_pick_threshold_meets_budget():
    score = np.arange(-50, 50)
    assert (score >= pick_threshold(score, 0.3)).mean() == pytest.approx(0.3)
    assert (score >= pick_threshold(score, 1.0)).all()
    ties = np.array([0] * 90 + [5] * 10)
    assert pick_threshold(ties, 0.5) == 5  # 10 % is nearer 50 % than 100 %


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    files = make_workload(out)
    return out, files


def test_writes_models_traces_and_workloads(small):
    out, files = small
    names = sorted(f.relative_to(out).as_posix() for f in files)
    assert names == [
        "models/small_dense.npz",
        "models/small_dense.trace.npz",
        "models/small_pruned.npz",
        "models/small_pruned.trace.npz",
        "small_dense.yaml",
        "small_pruned.yaml",
    ]
    text = (out / "small_pruned.yaml").read_text()
    assert text.startswith("# SYNTHETIC") and "hardware: " in text and "baseline:" in text
    assert sum(f.stat().st_size for f in files) < 500_000


def test_models_are_balanced_valid_and_marked_synthetic(small):
    out, _ = small
    cfg = load_config(ULTRA96)
    pruned = load_model(out / "models/small_pruned.npz")
    dense = load_model(out / "models/small_dense.npz")
    validate_model(pruned)
    prog = compile_program(pruned, cfg, "sparse")
    compile_program(dense, cfg, "dense")
    assert pruned.synthetic and dense.synthetic
    assert pruned.balance == (16, 8)
    # Width 0.25: 16/32/64/128 channels -> 1/2/4/8 slots per row; density 0.25 -> k = 1, 1, 1, 2.
    ks = {L.name: layer_k(L, cfg, "x") for L in pruned.layers}
    assert ks["s1.b1.conv1"] == 1 and ks["s2.b2.conv1"] == 1 and ks["s3.b2.conv1"] == 1 and ks["s4.b2.conv2"] == 2
    dens = {L.name: L.kernel_density for L in pruned.layers}
    assert dens["s1.b1.conv1"] == 1.0 and dens["s2.b1.conv2"] == 0.5
    assert dens["s3.b1.conv2"] == 0.25 and dens["s4.b2.conv2"] == 0.25
    assert [p.k_layer for p in prog.layers] == [ks[L.name] for L in pruned.layers]
    # Predictors exactly on the main convs of stages 1-3.
    assert [L.name for L in pruned.layers if L.predictor is not None] == [
        L.name for L in pruned.layers if L.role == "main" and L.name[1] in "123"
    ]
    # The dense twin: every kernel kept, no predictor, same weights where the pruned model keeps them.
    for p, d in zip(pruned.layers, dense.layers, strict=True):
        assert d.keep.all() and d.predictor is None
        np.testing.assert_array_equal(p.weight, d.weight & p.keep[:, :, None, None])
        assert not p.weight[~p.keep].any()  # pruned kernels stored as zeros


def test_traces_match_the_functional_model(small):
    out, _ = small
    for tag in ("pruned", "dense"):
        mpath = out / f"models/small_{tag}.npz"
        model, trace = load_model(mpath), load_trace(out / f"models/small_{tag}.trace.npz")
        check_trace_matches(trace, model, model_checksum(mpath), "t")
        assert trace.meta["synthetic"] is True and trace.n_samples == 3
        assert compare_with_trace(run_model(model, trace.inputs), trace, [0, 1, 2]) == []
        assert (trace.labels == -1).all()


def test_residual_stream_is_healthy_and_masks_meet_budget(small):
    out, _ = small
    model = load_model(out / "models/small_pruned.npz")
    trace = load_trace(out / "models/small_pruned.trace.npz")
    health = model.meta["provenance"]["health"]
    assert health["max_saturated_fraction"] < 0.01
    assert 0.01 < health["min_bit_flip_fraction"] <= health["max_bit_flip_fraction"] < 0.6
    for i, (L, z) in enumerate(zip(model.layers, trace.layer_out, strict=True)):
        assert z.std() > 2, L.name  # not stuck
        assert 0.2 < (z >= 0).mean() < 0.8, L.name  # both signs, so the bits carry information
        assert np.abs(z.astype(np.int64)).max() < 2**15 - 1, L.name  # no saturation
        m = trace.masks[i]
        if m is not None:
            assert abs(m.mean() - SMALL.spatial_budget) < 0.15, L.name


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    spec = replace(SMALL, samples=2)
    a = make_workload(tmp_path / "a", spec)
    first = {f.name: f.read_bytes() for f in a}
    for f in a:
        f.unlink()
    again = make_workload(tmp_path / "a", spec)
    assert {f.name: f.read_bytes() for f in again} == first
    other = make_workload(tmp_path / "b", replace(spec, seed=12))
    other_bytes = {f.name: f.read_bytes() for f in other}
    assert other_bytes["small_pruned.npz"] != first["small_pruned.npz"]


def test_other_hardware_balances_for_its_own_array(tmp_path):
    cfg_path = small_config(tmp_path)
    cfg = load_config(cfg_path)
    spec = SynthSpec(
        width=0.125, input_shape=(2, 9, 11), samples=2, kernel_density=0.5, layer_density=(("s4.b2.conv2", 0.25),)
    )
    syn = generate(spec, cfg)
    prog = compile_program(syn.pruned, cfg, "sparse")
    by_name = {p.name: p for p in prog.layers}
    assert by_name["s4.b2.conv2"].k_layer == 1 and by_name["s4.b1.conv2"].k_layer == 2  # 64 channels: 4 passes of g=4
    assert len(by_name["s4.b2.conv2"].passes) == 4
    with pytest.raises(ConfigError, match="not balanced"):
        compile_program(syn.pruned, load_config(ULTRA96), "sparse")  # balanced for 4x4, not 16x8


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"kernel_density": 0.0}, "--kernel-density"),
        ({"kernel_density": 1.5}, "--kernel-density"),
        ({"kernel_density": -0.2}, "--kernel-density"),
        ({"spatial_budget": 0.0}, "--spatial-budget"),
        ({"spatial_budget": 1.01}, "--spatial-budget"),
        ({"layer_density": (("s1.b1.conv1", 2.0),)}, "--layer-density"),
        ({"layer_density": (("nope", 0.5),)}, "--layer-density"),
        ({"width": 0.0}, "--width"),
        ({"input_shape": (3, 0, 32)}, "--input-shape"),
        ({"predict_stages": (5,)}, "--predict-stages"),
        ({"samples": 0}, "--samples"),
    ],
)
def test_bad_options_are_rejected_before_anything_is_written(tmp_path, change, option):
    with pytest.raises(ConfigError, match=f"option '{option}'"):
        make_workload(tmp_path / "o", replace(SMALL, **change))
    assert not (tmp_path / "o").exists()


def test_model_too_big_for_the_hardware_writes_nothing(tmp_path):
    cfg_path = small_config(tmp_path, rows=16, cols=16, depth=8, word=64, **{"res_depth: 4096": "res_depth: 100"})
    with pytest.raises(ConfigError, match="res_depth"):
        make_workload(tmp_path / "o", SMALL, cfg_path)
    assert not (tmp_path / "o").exists()
