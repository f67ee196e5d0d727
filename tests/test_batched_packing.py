"""The batched model's packed products (two windows per matrix-product row) are exact at the extremes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from archsim.batched import EXACT_F32, BatchedModel
from archsim.format import load_model

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "workloads/models"


def test_packing_is_used_only_where_partial_sums_stay_exact():
    sparse = BatchedModel(load_model(MODELS / "resnet18_pruned.npz"), "sparse")
    dense = BatchedModel(load_model(MODELS / "resnet18_dense.npz"), "dense")
    assert all(lay.pack_bits for lay in sparse.layers)  # pruned kernels keep every column short
    assert any(lay.pack_bits for lay in dense.layers) and not all(lay.pack_bits for lay in dense.layers)
    for lay in (*sparse.layers, *dense.layers):
        n = int(np.count_nonzero(lay.weight, axis=0).max())
        if lay.pack_bits:
            assert (1 << lay.pack_bits) > 2 * n and n * ((1 << lay.pack_bits) + 1) < EXACT_F32
        else:
            assert n * ((1 << (2 * n).bit_length()) + 1) >= EXACT_F32  # the smallest S would be inexact


@pytest.mark.parametrize("index", [0, 6, 18])
def test_packed_products_at_the_extremes(index):
    """Weights made all +1 where kept: windows of all +1 and all -1 reach dot = +n and -n, the
    values next to the rounding boundaries of the unpacking; padded taps and random windows too."""
    model = BatchedModel(load_model(MODELS / "resnet18_pruned.npz"), "sparse")
    lay = model.layers[index]
    lay = dataclasses.replace(lay, weight=np.abs(lay.weight))
    L = lay.conv
    rng = np.random.default_rng(index)
    maps = np.stack([np.ones((L.h_in, L.w_in, L.c_in)), -np.ones((L.h_in, L.w_in, L.c_in))])
    maps = np.concatenate([maps, rng.choice([-1.0, 1.0], size=(3, L.h_in, L.w_in, L.c_in))]).astype(np.float32)
    p = L.pad
    xp = np.pad(maps, ((0, 0), (p, p), (p, p), (0, 0)))
    n, hp, wp = xp.shape[:3]
    s, k = L.stride, L.kernel
    base = np.arange(n)[:, None, None] * (hp * wp) + s * np.arange(L.h_out)[:, None] * wp + s * np.arange(L.w_out)
    rows = rng.permutation(base.reshape(-1))[:-1]  # an odd count: one half is a row shorter
    shifts = (np.arange(k)[:, None] * wp + np.arange(k)).reshape(-1)
    cols = np.take(xp.reshape(-1, L.c_in), rows[:, None] + shifts, axis=0).reshape(len(rows), -1)
    want = cols.astype(np.float64) @ lay.weight.astype(np.float64)
    n_col = np.count_nonzero(lay.weight, axis=0)
    assert (want == n_col).any() and (want == -n_col).any()  # the extremes are really reached
    for step in (len(rows), 7):  # one block, and several blocks
        got = model._packed_products(lay, xp, rows, shifts, step)
        assert got.dtype == np.int32
        assert np.array_equal(got, want)
