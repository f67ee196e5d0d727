"""archsim.functional against the slow reference in tests/reference.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from archsim.format import Trace, validate_model
from archsim.functional import (
    binary_layer,
    classifier_forward,
    compare_with_trace,
    iter_layers,
    run_model,
    sign_bits,
    stem_forward,
)
from tests.reference import random_layer, ref_layer, ref_model, ref_stem, tiny_model

# (c_in, c_out, h, w, kernel, stride): odd sizes, channel counts that are multiples of nothing,
# and more than 64 input channels so a window spans several uint64 words.
SHAPES = [
    (5, 7, 6, 5, 3, 1),
    (3, 4, 7, 9, 3, 2),
    (13, 6, 5, 5, 1, 2),
    (9, 11, 4, 7, 1, 1),
    (71, 3, 3, 4, 3, 1),
    (1, 1, 1, 1, 3, 1),
    (2, 3, 1, 2, 3, 2),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("keep_p", [1.0, 0.4])
def test_binary_layer_matches_reference(shape, keep_p):
    c_in, c_out, h, w, k, s = shape
    rng = np.random.default_rng([SHAPES.index(shape), int(keep_p * 10)])
    layer = random_layer(rng, c_in, c_out, h, w, kernel=k, stride=s, residual=False, keep_p=keep_p, role="main")
    bits = rng.random((2, c_in, h, w)) < 0.5
    z, mask = binary_layer(layer, bits, None, use_predictor=True)
    z_ref, _ = ref_layer(layer, bits, None, False)
    assert mask is None
    np.testing.assert_array_equal(z, z_ref)
    assert z.dtype == np.int16


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("threshold", [-4, 0, 3])
def test_predictor_and_residual_match_reference(stride, threshold):
    rng = np.random.default_rng([stride, threshold + 10])
    c_in, c_out, h, w = 6, 6 if stride == 1 else 9, 7, 6
    layer = random_layer(rng, c_in, c_out, h, w, stride=stride, predictor=True, threshold=threshold)
    bits = rng.random((3, c_in, h, w)) < 0.5
    res = rng.integers(-2000, 2000, (3, c_out, layer.h_out, layer.w_out)).astype(np.int16)
    z, mask = binary_layer(layer, bits, res, use_predictor=True)
    z_ref, mask_ref = ref_layer(layer, bits, res, True)
    np.testing.assert_array_equal(mask, mask_ref)
    np.testing.assert_array_equal(z, z_ref)
    assert 0 < mask.sum() < mask.size or threshold != 0  # the threshold actually splits positions
    # Skipped positions output the residual unchanged.
    np.testing.assert_array_equal(np.where(mask[:, None], 0, z), np.where(mask[:, None], 0, res))
    # Dense use of the same layer ignores the predictor.
    z_dense, m_dense = binary_layer(layer, bits, res, use_predictor=False)
    assert m_dense is None
    np.testing.assert_array_equal(z_dense, ref_layer(layer, bits, res, False)[0])


def test_saturation_both_ways():
    rng = np.random.default_rng(3)
    layer = random_layer(rng, 8, 4, 5, 5, residual=True, mult_range=1 << 15, shift=0)
    layer = dataclasses.replace(layer, bias=np.array([1 << 20, -(1 << 20), 0, 5], dtype=np.int64))
    bits = rng.random((1, 8, 5, 5)) < 0.5
    res = np.full((1, 4, 5, 5), 30000, dtype=np.int16)
    res[0, 1] = -30000
    for vb in (16, 12):
        z, _ = binary_layer(layer, bits, res, False, value_bits=vb)
        z_ref, _ = ref_layer(layer, bits, res, False, vb)
        np.testing.assert_array_equal(z, z_ref)
        assert z[0, 0].max() == (1 << (vb - 1)) - 1
        assert z[0, 1].min() == -(1 << (vb - 1))


def test_arithmetic_shift_floors_negative_values():
    rng = np.random.default_rng(4)
    layer = random_layer(rng, 4, 3, 3, 3, residual=False, shift=3)
    layer = dataclasses.replace(layer, mult=np.array([1, -1, 3], np.int32), bias=np.array([-1, 0, 1], np.int64))
    bits = rng.random((2, 4, 3, 3)) < 0.5
    z, _ = binary_layer(layer, bits, None, False)
    np.testing.assert_array_equal(z, ref_layer(layer, bits, None, False)[0])
    assert (z < 0).any()


def test_sign_of_zero_is_plus_one():
    assert sign_bits(np.array([0, -1, 1, -32768, 32767])).tolist() == [True, False, True, False, True]


def test_zero_output_feeds_next_layer_as_plus_one():
    # A layer whose mult is 0 outputs z = bias >> shift = 0 everywhere: the next layer must read +1.
    rng = np.random.default_rng(5)
    model = tiny_model(5)
    first = dataclasses.replace(
        model.layers[0], mult=np.zeros(5, np.int32), bias=np.zeros(5, np.int64), residual=False, predictor=None
    )
    model = dataclasses.replace(model, layers=(first, *model.layers[1:]))
    validate_model(model)
    inputs = rng.integers(0, 256, (1, *model.input_shape)).astype(np.uint8)
    steps = list(iter_layers(model, stem_forward(model, inputs)))
    assert (steps[0].z == 0).all()
    assert steps[1].bits_in.all()
    run = run_model(model, inputs)
    _, outs, _, _ = ref_model(model, inputs)
    for a, b in zip(run.layer_out, outs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_stem_and_classifier_match_reference():
    model = tiny_model(1, c_img=2, h=5, w=6)
    rng = np.random.default_rng(1)
    inputs = rng.integers(0, 256, (2, 2, 5, 6)).astype(np.uint8)
    x0 = stem_forward(model, inputs)
    np.testing.assert_array_equal(x0, ref_stem(model, inputs))
    x_last = rng.integers(-30000, 30000, (2, 7, 3, 3)).astype(np.int16)
    logits = classifier_forward(model, x_last)
    want = x_last.astype(np.int64).sum(axis=(2, 3)) @ model.classifier.weight.astype(np.int64).T + model.classifier.bias
    np.testing.assert_array_equal(logits, want)
    assert logits.dtype == np.int64


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_model_matches_reference(seed):
    model = tiny_model(seed)
    validate_model(model)
    rng = np.random.default_rng(100 + seed)
    inputs = rng.integers(0, 256, (2, *model.input_shape)).astype(np.uint8)
    for mode in ("sparse", "dense"):
        run = run_model(model, inputs, mode)
        x0, outs, masks, logits = ref_model(model, inputs, mode)
        np.testing.assert_array_equal(run.stem_out, x0)
        for i, (a, b) in enumerate(zip(run.layer_out, outs, strict=True)):
            np.testing.assert_array_equal(a, b, err_msg=f"layer {i} mode {mode}")
        for a, b in zip(run.masks, masks, strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(run.logits, logits)
    sparse = run_model(model, inputs, "sparse")
    assert [m is not None for m in sparse.masks] == [True, True, False, True, False]
    assert all(m is None for m in run_model(model, inputs, "dense").masks)
    # Some positions were skipped in each masked layer, some computed: the test covers both paths.
    for m in sparse.masks:
        if m is not None:
            assert 0 < m.sum() < m.size


def test_hardware_bit_sets_equal_sign_of_residual():
    """The literal bit-set bookkeeping (mask-unit copies, shortcut without swap) gives sign(z)."""
    model = tiny_model(3)
    inputs = np.random.default_rng(3).integers(0, 256, (2, *model.input_shape)).astype(np.uint8)
    steps = list(iter_layers(model, stem_forward(model, inputs)))
    for st in steps:
        np.testing.assert_array_equal(st.bits_out, st.z >= 0)
    # The main layer after the shortcut reads the same bits as the shortcut.
    assert steps[3].bits_in is steps[2].bits_in


@pytest.mark.parametrize("c_out", [5, 6])
def test_masked_layer_after_stride1_shortcut_outputs_sign_of_shortcut(c_out):
    """Skipped positions after a shortcut output the shortcut's bits, not the layer's input bits."""
    rng = np.random.default_rng(11)
    base = tiny_model(4)
    h, w = base.input_shape[1:]
    layers = (
        random_layer(rng, 5, c_out, h, w, kernel=1, role="shortcut", residual=False, name="sc1"),
        random_layer(rng, 5, c_out, h, w, predictor=True, threshold=0, name="m1"),
    )
    fc = dataclasses.replace(base.classifier, weight=base.classifier.weight[:, :1].repeat(c_out, axis=1))
    model = dataclasses.replace(base, layers=layers, classifier=fc)
    validate_model(model)
    inputs = rng.integers(0, 256, (2, *model.input_shape)).astype(np.uint8)
    steps = list(iter_layers(model, stem_forward(model, inputs)))
    assert 0 < steps[1].mask.sum() < steps[1].mask.size
    for st in steps:
        np.testing.assert_array_equal(st.bits_out, st.z >= 0)


def test_compare_with_trace_reports_first_difference():
    model = tiny_model(2)
    inputs = np.random.default_rng(2).integers(0, 256, (3, *model.input_shape)).astype(np.uint8)
    full = run_model(model, inputs)
    trace = Trace(
        model_checksum="x",
        inputs=inputs,
        labels=np.full(3, -1),
        stem_out=full.stem_out,
        layer_out=tuple(full.layer_out),
        masks=tuple(full.masks),
        logits=full.logits,
    )
    sub = run_model(model, inputs[[2, 0]])
    assert compare_with_trace(sub, trace, [2, 0]) == []
    bad_out = [o.copy() for o in sub.layer_out]
    bad_out[4][1, 3, 2, 1] += 1
    bad_mask = [None if m is None else m.copy() for m in sub.masks]
    bad_mask[1][0, 4, 0] ^= True
    bad = dataclasses.replace(sub, layer_out=bad_out, masks=bad_mask)
    found = compare_with_trace(bad, trace, [2, 0], names=[L.name for L in model.layers])
    assert len(found) == 2
    m_mask, m_out = found
    assert (m_mask.tensor, m_mask.layer, m_mask.sample, m_mask.position) == ("mask", "a2", 2, (4, 0))
    assert (m_out.tensor, m_out.layer, m_out.sample, m_out.position, m_out.count) == ("out", "b2", 0, (3, 2, 1), 1)
    assert m_out.got == m_out.expected + 1
    assert "b2" in str(m_out) and "(3, 2, 1)" in str(m_out)
    # The wrong sample order is caught too.
    assert compare_with_trace(sub, trace, [0, 2])


@pytest.mark.parametrize("threshold", [10**6, -(10**6)])
def test_no_or_every_position_active(threshold):
    rng = np.random.default_rng(9)
    layer = random_layer(rng, 6, 6, 5, 4, predictor=True, threshold=threshold)
    bits = rng.random((2, 6, 5, 4)) < 0.5
    res = rng.integers(-500, 500, (2, 6, 5, 4)).astype(np.int16)
    z, mask = binary_layer(layer, bits, res, use_predictor=True)
    assert mask.all() if threshold < 0 else not mask.any()
    np.testing.assert_array_equal(z, ref_layer(layer, bits, res, True)[0])
    if threshold > 0:
        np.testing.assert_array_equal(z, res)
