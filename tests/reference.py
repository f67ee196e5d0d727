"""Slow, obviously-correct reference of docs/architecture.md, and random model builders for tests.

Loops over positions and output channels; the arithmetic is the +-1 integer form of
the document, with no bit packing, so it shares nothing with archsim.functional.
"""

from __future__ import annotations

import numpy as np

from archsim.format import BinaryConv, BnnModel, Classifier, Predictor, Stem


def sat(v: int, bits: int) -> int:
    lim = 1 << (bits - 1)
    return max(-lim, min(lim - 1, v))


def ref_window_sum(w_pm: np.ndarray, a_pm: np.ndarray, c_mask: np.ndarray, y0: int, x0: int, k: int) -> int:
    """sum over kept c and taps inside the map of w * a (+-1 values); a_pm is [C, H, W]."""
    _, h, w = a_pm.shape
    total = 0
    for ky in range(k):
        for kx in range(k):
            y, x = y0 + ky, x0 + kx
            if 0 <= y < h and 0 <= x < w:  # padded taps contribute nothing
                total += int((w_pm[:, ky, kx] * a_pm[:, y, x] * c_mask).sum())
    return total


def ref_layer(
    layer: BinaryConv, bits_in: np.ndarray, residual: np.ndarray | None, use_pred: bool, vb: int = 16
) -> tuple[np.ndarray, np.ndarray | None]:
    n = bits_in.shape[0]
    pad, s, k = layer.pad, layer.stride, layer.kernel
    z = np.zeros((n, layer.c_out, layer.h_out, layer.w_out), dtype=np.int64)
    mask = None
    if use_pred and layer.predictor is not None:
        mask = np.zeros((n, layer.h_out, layer.w_out), dtype=bool)
    w_pm = layer.weight.astype(np.int64) * 2 - 1
    for i in range(n):
        a_pm = bits_in[i].astype(np.int64) * 2 - 1
        for yo in range(layer.h_out):
            for xo in range(layer.w_out):
                y0, x0 = s * yo - pad, s * xo - pad
                active = True
                if mask is not None:
                    u_pm = layer.predictor.weight.astype(np.int64) * 2 - 1
                    score = ref_window_sum(u_pm, a_pm, np.ones(layer.c_in, np.int64), s * yo - 1, s * xo - 1, 3)
                    active = score >= layer.predictor.threshold
                    mask[i, yo, xo] = active
                for o in range(layer.c_out):
                    r = int(residual[i, o, yo, xo]) if residual is not None else 0
                    if not active:
                        z[i, o, yo, xo] = r
                        continue
                    dot = ref_window_sum(w_pm[o], a_pm, layer.keep[o].astype(np.int64), y0, x0, k)
                    y = (dot * int(layer.mult[o]) + int(layer.bias[o])) >> layer.shift
                    z[i, o, yo, xo] = sat(y + r, vb)
    return z.astype(np.int16), mask


def ref_stem(model: BnnModel, inputs: np.ndarray, vb: int = 16) -> np.ndarray:
    st = model.stem
    n, _c, h, w = inputs.shape
    x = inputs.astype(np.int64) - st.input_offset
    out = np.zeros((n, st.weight.shape[0], h, w), dtype=np.int64)
    for i in range(n):
        for o in range(st.weight.shape[0]):
            for y in range(h):
                for xx in range(w):
                    acc = 0
                    for ky in range(3):
                        for kx in range(3):
                            yy, xi = y + ky - 1, xx + kx - 1
                            if 0 <= yy < h and 0 <= xi < w:
                                acc += int((x[i, :, yy, xi] * st.weight[o, :, ky, kx].astype(np.int64)).sum())
                    out[i, o, y, xx] = sat((acc * int(st.mult[o]) + int(st.bias[o])) >> st.shift, vb)
    return out.astype(np.int16)


def ref_model(model: BnnModel, inputs: np.ndarray, mode: str = "sparse", vb: int = 16):
    """Reference run: output bits are sign(z) everywhere (the document's claim)."""
    x0 = ref_stem(model, inputs, vb)
    bits = x0 >= 0
    res = x0
    outs, masks = [], []
    for L in model.layers:
        z, m = ref_layer(L, bits, res if L.residual else None, mode == "sparse" and L.role == "main", vb)
        outs.append(z)
        masks.append(m)
        res = z
        if L.role == "main":
            bits = z >= 0
    pooled = res.astype(np.int64).sum(axis=(2, 3))
    logits = np.array(
        [
            [
                int(sum(int(a) * int(b) for a, b in zip(model.classifier.weight[k], p, strict=True)))
                + int(model.classifier.bias[k])
                for k in range(model.classifier.weight.shape[0])
            ]
            for p in pooled
        ],
        dtype=np.int64,
    )
    return x0, outs, masks, logits


# --------------------------------------------------------------------------- random builders


def random_layer(
    rng: np.random.Generator,
    c_in: int,
    c_out: int,
    h: int,
    w: int,
    kernel: int = 3,
    stride: int = 1,
    role: str = "main",
    residual: bool = True,
    keep_p: float = 0.6,
    predictor: bool = False,
    threshold: int | None = None,
    mult_range: int = 1 << 10,
    shift: int = 4,
    name: str = "L",
) -> BinaryConv:
    keep = rng.random((c_out, c_in)) < keep_p
    keep[:, 0] |= ~keep.any(axis=1)  # every channel keeps at least one kernel
    pred = None
    if predictor:
        pred = Predictor(
            weight=rng.random((c_in, 3, 3)) < 0.5, threshold=int(threshold if threshold is not None else 0)
        )
    return BinaryConv(
        name=name,
        role=role,
        kernel=kernel,
        stride=stride,
        c_in=c_in,
        c_out=c_out,
        h_in=h,
        w_in=w,
        weight=rng.random((c_out, c_in, kernel, kernel)) < 0.5,
        keep=keep,
        mult=rng.integers(-mult_range, mult_range, c_out).astype(np.int32),
        bias=rng.integers(-(1 << 12), 1 << 12, c_out).astype(np.int64),
        shift=shift,
        residual=residual,
        predictor=pred,
    )


def tiny_model(seed: int = 0, c_img: int = 3, h: int = 9, w: int = 7, c0: int = 5, c1: int = 7) -> BnnModel:
    """A small model with every feature: stride-1 masked layers, a shortcut, a stride-2 masked layer."""
    rng = np.random.default_rng(seed)
    h2, w2 = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    layers = (
        random_layer(rng, c0, c0, h, w, predictor=True, threshold=0, name="a1"),
        random_layer(rng, c0, c0, h, w, predictor=True, threshold=-3, name="a2"),
        random_layer(rng, c0, c1, h, w, kernel=1, stride=2, role="shortcut", residual=False, name="sc"),
        random_layer(rng, c0, c1, h, w, stride=2, predictor=True, threshold=1, name="b1"),
        random_layer(rng, c1, c1, h2, w2, name="b2"),
    )
    stem = Stem(
        weight=rng.integers(-128, 128, (c0, c_img, 3, 3)).astype(np.int8),
        mult=rng.integers(1, 1 << 8, c0).astype(np.int32),
        bias=rng.integers(-(1 << 16), 1 << 16, c0).astype(np.int64),
        shift=8,
        input_offset=128,
    )
    fc = Classifier(
        weight=rng.integers(-300, 300, (4, c1)).astype(np.int16), bias=rng.integers(-99, 99, 4).astype(np.int64)
    )
    return BnnModel("tiny", (c_img, h, w), 8, stem, layers, fc, meta={"synthetic": True})
