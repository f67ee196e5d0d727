"""Small seeded BNN models for layout and RTL tests.

Keep masks are balanced the way the PE array needs (docs/architecture.md section 5):
for every (pass, row, input channel) exactly min(k, real slots of the row) kernels are
kept. Predictor thresholds are chosen from the actual scores so a mask is sparse,
dense or empty on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from archsim.config import HardwareConfig
from archsim.format import BinaryConv, BnnModel, Classifier, Predictor, Stem
from archsim.program import pass_geometry, real_rows


def balanced_keep(rng: np.random.Generator, c_out: int, c_in: int, k: int, cfg: HardwareConfig) -> np.ndarray:
    rows, depth = cfg.pe_array.rows, cfg.pe_array.acc_depth
    keep = np.zeros((c_out, c_in), dtype=bool)
    for lo, hi, g in pass_geometry(c_out, rows, depth):
        n_real = real_rows(hi - lo, rows, g)
        for r in range(rows):
            slots = [s for s in range(g) if s * rows + r < hi - lo]
            for c in range(c_in):
                for s in rng.permutation(slots)[: min(k, n_real[r])]:
                    keep[lo + s * rows + r, c] = True
    return keep


@dataclass(frozen=True)
class LayerSpec:
    name: str
    c_out: int
    kernel: int = 3
    stride: int = 1
    role: str = "main"
    residual: bool = True
    res_write: bool = True  # writes the residual buffer (model format version 2 may say no)
    k: int | None = None  # kept kernels per (row, input channel); None = dense
    predictor: str | None = None  # None, "all" (every position active), "sparse", "empty"
    mult_range: int = 3000
    shift: int = 8
    maxpool: bool = False  # 2x2 max-pool of the output (model format version 2)


def make_layer(rng: np.random.Generator, cfg: HardwareConfig, spec: LayerSpec, c_in: int, h: int, w: int) -> BinaryConv:
    k = spec.kernel
    keep = (
        np.ones((spec.c_out, c_in), dtype=bool) if spec.k is None else balanced_keep(rng, spec.c_out, c_in, spec.k, cfg)
    )
    weight = rng.random((spec.c_out, c_in, k, k)) < 0.5
    mult = rng.integers(-spec.mult_range, spec.mult_range + 1, spec.c_out).astype(np.int32)
    mult[mult == 0] = 1
    bias = rng.integers(-(1 << 14), 1 << 14, spec.c_out).astype(np.int64)
    pred = None
    if spec.predictor is not None:
        pred = Predictor(weight=rng.random((c_in, 3, 3)) < 0.5, threshold=0)  # threshold set later
    return BinaryConv(
        name=spec.name,
        role=spec.role,
        kernel=k,
        stride=spec.stride,
        c_in=c_in,
        c_out=spec.c_out,
        h_in=h,
        w_in=w,
        weight=weight,
        keep=keep,
        mult=mult,
        bias=bias,
        shift=spec.shift,
        residual=spec.residual,
        predictor=pred,
        res_write=spec.res_write,
        maxpool=spec.maxpool,
    )


def make_model(
    cfg: HardwareConfig,
    c0: int,
    h: int,
    w: int,
    specs: list[LayerSpec],
    seed: int,
    name: str = "tiny",
    classifier: str = "sum_pool_linear",
) -> BnnModel:
    """A model whose binary layers follow `specs`; predictor thresholds are placeholders (0)."""
    rng = np.random.default_rng(seed)
    layers = []
    c, hh, ww = c0, h, w
    for s in specs:
        L = make_layer(rng, cfg, s, c, hh, ww)
        layers.append(L)
        if s.role == "main":
            c, hh, ww = L.pooled_shape
    stem = Stem(
        weight=rng.integers(-3, 4, (c0, 1, 3, 3)).astype(np.int8),
        mult=np.ones(c0, np.int32),
        bias=np.zeros(c0, np.int64),
        shift=0,
        input_offset=0,
    )
    features = c * hh * ww if classifier == "flatten_linear" else c
    clf = Classifier(
        weight=rng.integers(-5, 6, (4, features)).astype(np.int16), bias=np.zeros(4, np.int64), kind=classifier
    )
    return BnnModel(
        name=name,
        input_shape=(1, h, w),
        frac_bits=8,
        stem=stem,
        layers=tuple(layers),
        classifier=clf,
        balance=(cfg.pe_array.rows, cfg.pe_array.acc_depth),
        meta={"synthetic": True},
    )


def random_x0(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    """A stem output with both signs, zeros and the saturation limits represented."""
    x = rng.integers(-3000, 3000, (c, h, w)).astype(np.int16)
    flat = x.reshape(-1)
    pick = rng.choice(flat.size, size=min(4, flat.size), replace=False)
    flat[pick] = np.array([0, -1, 32767, -32768][: len(pick)], dtype=np.int16)
    return x


def with_thresholds(model: BnnModel, thresholds: dict[int, int]) -> BnnModel:
    """A copy of `model` whose layer i's predictor threshold is thresholds[i]."""
    layers = list(model.layers)
    for i, t in thresholds.items():
        L = layers[i]
        assert L.predictor is not None
        layers[i] = replace(L, predictor=Predictor(weight=L.predictor.weight, threshold=int(t)))
    return replace(model, layers=tuple(layers))


def unit_stem(rng: np.random.Generator, c0: int, shift: int = 8, offset: int = 128) -> Stem:
    """A stem the stem unit computes (docs/timing.md 3.1): int8 weights over their whole range, |mult| <
    2**shift (M = mult << (34 - shift) fits the unit's 35 bits), biases of both signs; x0 saturates both ways
    on bright and dark patches."""
    mult = rng.integers(-(1 << shift) + 1, 1 << shift, c0).astype(np.int32)
    mult[mult == 0] = 1
    return Stem(
        weight=rng.integers(-128, 128, (c0, 1, 3, 3)).astype(np.int8),
        mult=mult,
        bias=rng.integers(-(1 << 19), 1 << 19, c0).astype(np.int64),
        shift=shift,
        input_offset=offset,
    )


def random_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A raw image uint8 [1, H, W] with the extreme pixel values represented."""
    img = rng.integers(0, 256, (1, h, w)).astype(np.uint8)
    flat = img.reshape(-1)
    pick = rng.choice(flat.size, size=min(2, flat.size), replace=False)
    flat[pick] = np.array([0, 255][: len(pick)], dtype=np.uint8)
    return img
