"""The programme compiler: passes, balance checks, structured indices, hardware limits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from archsim.config import load_config
from archsim.errors import ConfigError
from archsim.program import compile_program, layer_k, pass_geometry, real_rows, structured_indices
from tests.reference import random_layer, tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg():
    c = load_config(ROOT / "configs/ultra96v2.yaml")
    pe = c.pe_array.model_copy(update={"rows": 4, "acc_depth": 2})
    buf = c.buffers.model_copy(update={"act_word_bits": 8})
    return c.model_copy(update={"pe_array": pe, "buffers": buf})


def test_pass_geometry_covers_channels_once():
    geo = pass_geometry(21, rows=4, acc_depth=2)
    assert geo == [(0, 8, 2), (8, 16, 2), (16, 21, 2)]
    assert list(real_rows(5, 4, 2)) == [2, 1, 1, 1]


def balanced_keep(c_out: int, c_in: int, rows: int, depth: int, k: int, rng) -> np.ndarray:
    keep = np.zeros((c_out, c_in), bool)
    for lo, hi, g in pass_geometry(c_out, rows, depth):
        for r in range(rows):
            chans = [lo + s * rows + r for s in range(g) if lo + s * rows + r < hi]
            for c in range(c_in):
                for o in rng.choice(chans, min(k, len(chans)), replace=False):
                    keep[o, c] = True
    return keep


def test_structured_indices_list_kept_slots_then_phantoms(cfg):
    rng = np.random.default_rng(0)
    L = random_layer(rng, 3, 6, 5, 5)
    L = dataclasses.replace(L, keep=balanced_keep(6, 3, 4, 2, 2, rng))
    assert layer_k(L, cfg, "m") == 2
    (idx,) = structured_indices(L, cfg)
    assert idx.shape == (3, 2, 4)
    for c in range(3):
        for r in range(4):
            real = [s for s in range(2) if s * 4 + r < 6]
            kept = [s for s in real if L.keep[s * 4 + r, c]]
            phantom = [s for s in range(2) if s not in real]
            assert list(idx[c, :, r]) == (kept + phantom)[:2]


def test_unbalanced_keep_mask_is_rejected_with_layer_name(cfg):
    rng = np.random.default_rng(1)
    L = random_layer(rng, 3, 8, 5, 5, name="bad")
    keep = balanced_keep(8, 3, 4, 2, 1, rng)
    keep[0, 0] = keep[4, 0] = True  # row 0 keeps two kernels of channel 0, the others one
    with pytest.raises(ConfigError, match=r"layer 'bad'.*not balanced"):
        layer_k(dataclasses.replace(L, keep=keep), cfg, "m")


def test_copy_masked_only_for_identity_residual(cfg):
    rng = np.random.default_rng(2)
    base = tiny_model(4)
    h, w = base.input_shape[1:]

    def dense(L):
        return dataclasses.replace(L, keep=np.ones_like(L.keep))

    layers = (
        dense(random_layer(rng, 5, 5, h, w, predictor=True, name="ident")),
        dense(random_layer(rng, 5, 5, h, w, kernel=1, role="shortcut", residual=False, name="sc")),
        dense(random_layer(rng, 5, 5, h, w, predictor=True, name="after_sc")),
    )
    fc = dataclasses.replace(base.classifier, weight=base.classifier.weight[:, :5])
    prog = compile_program(dataclasses.replace(base, layers=layers, classifier=fc), cfg, "sparse")
    assert [p.copy_masked for p in prog.layers] == [True, False, False]
    assert [p.mask_enabled for p in prog.layers] == [True, False, True]


def test_buffer_limits_name_the_layer_and_field(cfg):
    model = tiny_model(0)
    small = cfg.model_copy(update={"buffers": cfg.buffers.model_copy(update={"res_depth": 10})})
    with pytest.raises(ConfigError, match=r"buffers\.res_depth"):
        compile_program(model, small, "sparse", "w.yaml")
    with pytest.raises(ConfigError, match="dense mode"):
        compile_program(model, cfg, "dense", "w.yaml")
