"""The programme compiler: passes, balance checks, structured indices, hardware limits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from archsim.config import load_config
from archsim.errors import ConfigError
from archsim.program import compile_program, layer_k, pass_geometry, place_blobs, real_rows, structured_indices
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


def test_place_blobs_ring_and_slots():
    """docs/timing.md section 3: bases wrap modulo the ring; need comes from the ring or the slot."""
    # Ring of 8 entries, plenty of slots: blob i waits for the blobs its span overwrites.
    assert place_blobs([4, 4, 4, 4], ring=8, slots=16) == [(0, 0), (4, 0), (0, 1), (4, 2)]
    # A blob that wraps: 6 + 3 > 8, so blob 2 occupies entries 6, 7, 0 and overwrites blob 0.
    assert place_blobs([3, 3, 3], ring=8, slots=16) == [(0, 0), (3, 0), (6, 1)]
    # Small blobs: only the slots limit (blob i reuses the slot of blob i - slots).
    assert place_blobs([1] * 6, ring=64, slots=4) == [(i, max(0, i - 3)) for i in range(6)]
    # Two slots and blobs of at most half the ring: the two alternating slots (blob i waits for i - 2).
    went = [5, 8, 1, 8, 8, 3]
    assert [need for _, need in place_blobs(went, ring=16, slots=2)] == [0, 0, 1, 2, 3, 4]


def test_program_places_every_blob():
    """compile_program fills went, wbase and need of every pass from the configuration."""
    from timing_models import CONFIGS, Spec, make_model

    cfg = CONFIGS["small"]
    data = cfg.model_dump()
    data["buffers"].update(weight_depth=64, blob_slots=4)
    cfg = type(cfg).model_validate(data)
    specs = [Spec(16, k=2, predictor=True), Spec(24, kernel=1, stride=2, k=1, role="shortcut"), Spec(24, stride=2, k=3)]
    prog = compile_program(make_model(cfg, 16, (6, 6), specs, np.random.default_rng(3)), cfg, "sparse")
    assert sum(len(L.passes) for L in prog.layers) == 5
    passes = [(L, p) for L in prog.layers for p in L.passes]
    ring = cfg.weight_ring_entries(True)
    went = [-(-L.c_in * p.k // cfg.steps_per_entry(L.kernel, True)) for L, p in passes]
    assert [p.went for _, p in passes] == went
    placed = place_blobs(went, ring, cfg.buffers.blob_slots)
    assert [(p.wbase, p.need) for _, p in passes] == placed
    assert any(need for _, need in placed)  # the placement limits bind in this case


def test_weight_ring_geometry_of_the_ultra96v2():
    """The numbers rtl/params.py builds the weight memory from (256-bit beats: E = 384 bits, two 3x3 steps
    or six 1x1 steps per entry, 2 x 2048 entries: the same 1.5 Mbit as 2 x 4096 x 192 at 128 bits)."""
    c = load_config(ROOT / "configs/ultra96v2.yaml")
    assert c.axi.data_bits == 256
    assert c.step_bits(3, True) == 16 * (9 + 3)
    assert c.weight_entry_bits(True) == 384
    assert (c.steps_per_entry(1, True), c.steps_per_entry(3, True)) == (6, 2)
    assert c.weight_ring_entries(True) == 2 * 2048
    assert c.buffers.blob_slots == 16


def test_blob_slots_must_be_a_power_of_two():
    c = load_config(ROOT / "configs/ultra96v2.yaml")
    data = c.model_dump()
    data["buffers"]["blob_slots"] = 6
    with pytest.raises(ValueError, match="blob_slots must be a power of two"):
        type(c).model_validate(data)


# --------------------------------------------------------------------------- pooled STORE (docs/timing.md 5.1)


def _pooled_model(h: int, w: int, c_out: int = 12, predictor: str | None = None, value_bits: int = 16):
    from tests.rtlsim.configs import tiny
    from tests.rtlsim.models import LayerSpec, make_model

    cfg = tiny(buffers={"pooled_store": True, "res_depth": 4096}, epilogue={"value_bits": value_bits})
    layers = [LayerSpec("c1", 8, k=1), LayerSpec("c2", c_out, k=1, residual=False, predictor=predictor)]
    return make_model(cfg, 8, h, w, layers, 0, name="pooled"), cfg


def test_pooled_store_beats_words_and_the_choice():
    model, cfg = _pooled_model(8, 8)
    prog = compile_program(model, cfg, "sparse")
    # 12 channels: 3 rows of 4 int32 sums = 48 bytes = 12 beats of 32 bits, 6 words of 4 x 16 bits
    assert prog.pooled and (prog.store_beats, prog.store_words, prog.store_res_reads) == (12, 6, 0)
    off = cfg.model_copy(update={"buffers": cfg.buffers.model_copy(update={"pooled_store": False})})
    plain = compile_program(model, off, "sparse")
    assert not plain.pooled and (plain.store_beats, plain.store_words) == (64 * 3 * 4 * 16 // 32, 64 * 3)
    # a last layer with a mask unit keeps the map STORE (skipped positions never reach the epilogue)
    masked, _ = _pooled_model(8, 8, predictor="p")
    assert compile_program(masked, cfg, "sparse").layers[-1].mask_enabled
    assert not compile_program(masked, cfg, "sparse").pooled
    # the layout and the register flag follow the programme
    from archsim.layout import build_layout

    lay = build_layout(model, prog, cfg)
    assert lay.pooled and lay.store.beats == 12 and lay.store.words == 6


def test_pooled_store_refuses_what_the_sum_store_cannot_hold():
    model, cfg = _pooled_model(9, 8)  # 72 positions: value_bits + 7 bits, the lanes have + 6
    with pytest.raises(ConfigError, match=r"buffers.pooled_store: the sum of 72 positions needs 23 bits"):
        compile_program(model, cfg, "sparse")
    model, cfg = _pooled_model(2, 2, c_out=132)  # 33 rows of channels, the sum store has 32
    with pytest.raises(ConfigError, match=r"the last layer's 132 channels exceed the sum store's 128"):
        compile_program(model, cfg, "sparse")


def test_pooled_store_needs_whole_int32_sums_per_word(tmp_path):
    import yaml

    from tests.rtlsim.configs import tiny_dict

    d = tiny_dict(buffers={"pooled_store": True}, epilogue={"value_bits": 12}, pe_array={"rows": 8})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match=r"buffers.pooled_store.*needs epilogue.value_bits of 4, 8 or 16") as e:
        load_config(tmp_path / "c.yaml")
    assert "\n" not in str(e.value)
    d["buffers"]["pooled_store"] = False
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(d))
    assert load_config(tmp_path / "c.yaml").epilogue.value_bits == 12
