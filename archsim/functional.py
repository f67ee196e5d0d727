"""Functional model: what the accelerator computes, bit for bit (docs/architecture.md).

Vectorized numpy. A binary conv is evaluated as a masked XNOR-popcount over bit
vectors packed into uint64 words: for output channel o and position p,

    dot = kept[o] * valid[p] - 2 * (popcount((W_o ^ A_p) & K_o) - padW[o, p])

where A_p holds the window bits of position p (0 at padded taps), W_o the kernel
bits, K_o the keep mask expanded over the taps, kept[o] the number of kept
kernels, valid[p] the number of taps inside the map, and padW[o, p] the kept
weight bits that fall on padded taps (there W ^ 0 = W counted a difference that
does not exist). This equals sum_c keep * (2 popcount(XNOR(w, a) & m) - popcount(m))
of the architecture document.

The model also keeps the accelerator's two activation-bit sets literally (mask
unit copies at skipped positions of identity-residual layers, shortcut layers not swapping), so a
disagreement with "output bits are sign(z)" would show up, not be assumed away.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from archsim.format import BinaryConv, BnnModel, Stem, Trace, next_residual_bits

MODES = ("sparse", "dense")
_CHUNK_WORDS = 1 << 21  # uint64 words per temporary in the popcount loop (16 MiB)


@dataclass
class ModelRun:
    stem_out: np.ndarray  # int16 [N, C0, H, W]
    layer_out: list[np.ndarray]  # int16 [N, C_out, H_out, W_out]: each layer's z (in the residual buffer if res_write)
    masks: list[np.ndarray | None]  # bool [N, H_out, W_out] where the predictor ran, else None
    logits: np.ndarray  # int64 [N, n_classes]


# --------------------------------------------------------------------------- helpers


def saturate(v: np.ndarray, value_bits: int) -> np.ndarray:
    """Clamp to the signed `value_bits` range (sat() of docs/architecture.md)."""
    lim = 1 << (value_bits - 1)
    return np.clip(v, -lim, lim - 1)


def sign_bits(x: np.ndarray) -> np.ndarray:
    """Bit of a value: 1 (+1) if x >= 0, else 0; sign(0) is +1."""
    return x >= 0


def windows(bits: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Window taps of every output position.

    bits [N, C, H, W] -> taps [N, P, C, K*K] (zeros at padded taps, tap n = ky K + kx)
    and valid bool [P, K*K] (tap inside the map), P = H_out W_out in raster order.
    """
    n, c, h, w = bits.shape
    pad = (kernel - 1) // 2
    ho = (h + 2 * pad - kernel) // stride + 1
    wo = (w + 2 * pad - kernel) // stride + 1
    padded = np.pad(bits, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    inside = np.pad(np.ones((h, w), dtype=bool), pad)
    taps, valid = [], []
    for ky in range(kernel):
        for kx in range(kernel):
            ys = slice(ky, ky + stride * (ho - 1) + 1, stride)
            xs = slice(kx, kx + stride * (wo - 1) + 1, stride)
            taps.append(padded[:, :, ys, xs])
            valid.append(inside[ys, xs])
    t = np.stack(taps, axis=-1)  # [N, C, Ho, Wo, KK]
    t = t.transpose(0, 2, 3, 1, 4).reshape(n, ho * wo, c, kernel * kernel)
    v = np.stack(valid, axis=-1).reshape(ho * wo, kernel * kernel)
    return t, v


def pack_words(bits: np.ndarray) -> np.ndarray:
    """Pack the last axis of a bool array into little-endian uint64 words."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    extra = -packed.shape[-1] % 8
    if extra:
        packed = np.concatenate([packed, np.zeros((*packed.shape[:-1], extra), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view("<u8")


def _popcount_xor(w: np.ndarray, k: np.ndarray | None, a: np.ndarray) -> np.ndarray:
    """popcount((w[o] ^ a[p]) & k[o]) for every (o, p): w, k [O, Wd], a [P, Wd] -> int64 [O, P]."""
    o, wd = w.shape
    p = a.shape[0]
    out = np.empty((o, p), dtype=np.int64)
    step = max(1, _CHUNK_WORDS // max(1, o * wd))
    for p0 in range(0, p, step):
        x = np.bitwise_xor(w[:, None, :], a[None, p0 : p0 + step, :])
        if k is not None:
            x &= k[:, None, :]
        out[:, p0 : p0 + step] = np.bitwise_count(x).sum(axis=-1, dtype=np.int64)
    return out


def masked_dot(weight: np.ndarray, keep: np.ndarray, taps: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Masked XNOR-popcount of kept kernels over windows.

    weight bool [O, C, KK], keep bool [O, C], taps bool [M, C, KK] (zeros at padded
    taps), valid bool [M, KK] -> dot int64 [O, M].
    """
    o, c, kk = weight.shape
    w = pack_words(weight.reshape(o, c * kk))
    k = None if keep.all() else pack_words(np.repeat(keep, kk, axis=1))  # keep mask over [C*KK]
    a = pack_words(taps.reshape(taps.shape[0], c * kk))
    diff = _popcount_xor(w, k, a)
    # Kept weight bits on padded taps: W ^ 0 counted them as differences.
    wk_tap = (weight & keep[:, :, None]).sum(axis=1, dtype=np.int64)  # [O, KK]
    pad_w = wk_tap @ (~valid).T.astype(np.int64)  # [O, M]
    kept = keep.sum(axis=1, dtype=np.int64)[:, None]
    n_valid = valid.sum(axis=1, dtype=np.int64)[None, :]
    return kept * n_valid - 2 * (diff - pad_w)


def layer_dot(layer: BinaryConv, bits_in: np.ndarray) -> np.ndarray:
    """dot[n, o, y, x] of a binary layer at every output position (int64)."""
    taps, valid = windows(bits_in, layer.kernel, layer.stride)
    n, p = taps.shape[:2]
    kk = layer.kernel * layer.kernel
    w = layer.weight.reshape(layer.c_out, layer.c_in, kk)
    dot = masked_dot(w, layer.keep, taps.reshape(n * p, layer.c_in, kk), np.tile(valid, (n, 1)))
    return dot.reshape(layer.c_out, n, layer.h_out, layer.w_out).transpose(1, 0, 2, 3)


def predictor_score(layer: BinaryConv, bits_in: np.ndarray) -> np.ndarray:
    """score[n, y, x] of the layer's spatial predictor (a 1-output binary 3x3 conv)."""
    assert layer.predictor is not None
    taps, valid = windows(bits_in, 3, layer.stride)
    n, p = taps.shape[:2]
    u = layer.predictor.weight.reshape(1, layer.c_in, 9)
    score = masked_dot(u, np.ones((1, layer.c_in), bool), taps.reshape(n * p, layer.c_in, 9), np.tile(valid, (n, 1)))
    return score.reshape(n, layer.h_out, layer.w_out)


def epilogue(dot: np.ndarray, layer: BinaryConv, channel_axis: int) -> np.ndarray:
    """y = (dot * mult + bias) >> shift, per output channel (int64, arithmetic shift)."""
    shape = [1] * dot.ndim
    shape[channel_axis] = -1
    mult = layer.mult.astype(np.int64).reshape(shape)
    bias = layer.bias.astype(np.int64).reshape(shape)
    return (dot * mult + bias) >> layer.shift


# --------------------------------------------------------------------------- layers


def binary_layer(
    layer: BinaryConv,
    bits_in: np.ndarray,
    residual: np.ndarray | None,
    use_predictor: bool,
    value_bits: int = 16,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One binary conv on the accelerator: returns (z int16 [N, C_out, Ho, Wo], mask or None).

    `bits_in` is the bool bit map [N, C_in, H, W] the layer reads, `residual` the
    residual buffer's content (required iff layer.residual). With `use_predictor`
    and a predictor, only active positions are computed; the others output r.
    """
    if layer.residual != (residual is not None):
        raise ValueError(f"layer {layer.name}: residual given iff the layer has one")
    n = bits_in.shape[0]
    mask = None
    if use_predictor and layer.predictor is not None:
        mask = predictor_score(layer, bits_in) >= layer.predictor.threshold
    kk = layer.kernel * layer.kernel
    taps, valid = windows(bits_in, layer.kernel, layer.stride)  # [N, P, C, KK], [P, KK]
    taps = taps.reshape(n * taps.shape[1], layer.c_in, kk)
    valid = np.tile(valid, (n, 1))
    sel = np.ones(len(taps), dtype=bool) if mask is None else mask.reshape(-1)
    w = layer.weight.reshape(layer.c_out, layer.c_in, kk)
    dot = masked_dot(w, layer.keep, taps[sel], valid[sel])  # [O, active]
    y = epilogue(dot, layer, channel_axis=0)
    # Output in [N*P, O] order, then back to [N, O, Ho, Wo].
    if residual is None:
        z_act = saturate(y, value_bits).T
        out = np.zeros((n * layer.h_out * layer.w_out, layer.c_out), dtype=np.int64)
    else:
        r = residual.astype(np.int64).transpose(0, 2, 3, 1).reshape(-1, layer.c_out)
        z_act = saturate(y.T + r[sel], value_bits)
        out = r.copy()  # skipped positions keep the residual (the shortcut alone)
    out[sel] = z_act
    z = out.reshape(n, layer.h_out, layer.w_out, layer.c_out).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(z).astype(np.int16), mask


def stem_conv(stem: Stem, inputs: np.ndarray) -> np.ndarray:
    """conv3x3(pixels - input_offset, W_stem), zero padding: int64 [N, H, W, C0]."""
    x = inputs.astype(np.int64) - stem.input_offset
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, ky : ky + h, kx : kx + w] for ky in range(3) for kx in range(3)], axis=-1)
    cols = cols.transpose(0, 2, 3, 1, 4).reshape(n * h * w, c * 9)  # [(N, y, x), (c, n)]
    acc = cols @ stem.weight.astype(np.int64).reshape(-1, c * 9).T  # [(N, y, x), C0]
    return acc.reshape(n, h, w, -1)


def stem_forward(model: BnnModel, inputs: np.ndarray, value_bits: int = 16) -> np.ndarray:
    """Host stem: x0 = sat(((conv3x3(pixels - offset) * mult + bias) >> shift)), int16 [N, C0, H, W]."""
    return stem_output(model.stem, inputs, value_bits)


def stem_output(st: Stem, inputs: np.ndarray, value_bits: int = 16) -> np.ndarray:
    """stem_forward for a bare Stem."""
    acc = stem_conv(st, inputs)
    y = (acc * st.mult.astype(np.int64) + st.bias.astype(np.int64)) >> st.shift
    x0 = saturate(y, value_bits).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x0).astype(np.int16)


def max_pool2(x: np.ndarray) -> np.ndarray:
    """2x2 stride-2 max over the last two axes (an odd last row or column is dropped). On bits
    (bool) it is the OR of the four: max of +-1 values is +1 iff one of them is."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    v = x[..., :h, :w]
    return np.maximum(
        np.maximum(v[..., 0::2, 0::2], v[..., 0::2, 1::2]), np.maximum(v[..., 1::2, 0::2], v[..., 1::2, 1::2])
    )


def pooled_sums(x_last: np.ndarray) -> np.ndarray:
    """Per-channel sums over positions of the last map, int64 [N, C]: what a pooled STORE writes
    (`Program.pooled`, docs/timing.md 5) and all a sum-pool classifier reads of the map."""
    return x_last.astype(np.int64).sum(axis=(2, 3))


def classifier_features(model: BnnModel, x_last: np.ndarray) -> np.ndarray:
    """What the host classifier multiplies, int64 [N, features], from the STOREd last map
    [N, C, H, W]: max-pooled first if the last layer pools, then summed over positions
    (sum_pool_linear) or flattened in (c, y, x) order (flatten_linear)."""
    x = x_last.astype(np.int64)
    if model.layers[-1].maxpool:
        x = max_pool2(x)
    if model.classifier.kind == "flatten_linear":
        return x.reshape(x.shape[0], -1)
    return pooled_sums(x)


def classifier_logits(model: BnnModel, features: np.ndarray) -> np.ndarray:
    """Host classifier from its features [N, F] (the pooled sums a pooled STORE wrote, or
    `classifier_features`): logits = W_fc @ features + b_fc, int64 [N, n_classes]."""
    return features.astype(np.int64) @ model.classifier.weight.astype(np.int64).T + model.classifier.bias.astype(
        np.int64
    )


def classifier_forward(model: BnnModel, x_last: np.ndarray) -> np.ndarray:
    """Host classifier: logits = W_fc @ features(x_L) + b_fc, int64 [N, n_classes]."""
    return classifier_logits(model, classifier_features(model, x_last))


# --------------------------------------------------------------------------- whole model


@dataclass
class LayerStep:
    """What one layer did: its residual-buffer output, mask, and the activation-bit sets after it."""

    index: int
    z: np.ndarray
    mask: np.ndarray | None
    bits_in: np.ndarray  # the set the layer read
    bits_out: np.ndarray  # the other set after the layer wrote it (next layer's input after a swap)


class BitSets:
    """The accelerator's state between layers: two activation-bit sets and the residual buffer.

    LOAD writes x0 to the residual buffer and sign(x0) to set 0. A main layer reads the
    current set, writes the other one and swaps; a shortcut layer writes the other set
    without swapping, so the main layer after it reads the same input bits.
    """

    def __init__(self, x0: np.ndarray, value_bits: int = 16):
        self.sets: list[np.ndarray] = [sign_bits(x0), np.zeros_like(x0, dtype=bool)]
        self.cur = 0
        self.residual = x0
        self.value_bits = value_bits
        self.where = "input"  # where sign(residual buffer) is: archsim.format.residual_bits

    @property
    def bits(self) -> np.ndarray:
        """The bit map the next layer reads."""
        return self.sets[self.cur]

    def step(self, index: int, L: BinaryConv, use_predictor: bool) -> LayerStep:
        bits_in = self.bits
        if L.role == "shortcut":
            z, mask = binary_layer(L, bits_in, None, False, self.value_bits)
            self.sets[1 - self.cur] = sign_bits(z)
            out = self.sets[1 - self.cur]
        else:
            z, mask = binary_layer(L, bits_in, self.residual if L.residual else None, use_predictor, self.value_bits)
            if mask is None:
                out = sign_bits(z)
            else:
                # The epilogue writes sign(z) at active positions only; elsewhere the output
                # set holds the shortcut's output bits (after a shortcut layer) or the mask
                # unit's centre-bit copies of the input (identity residual); after a main layer
                # that left the residual buffer alone, its input bits (block residual).
                assert self.where != "none", "validate_model refuses a predictor without the residual's bits"
                prev = self.sets[1 - self.cur] if self.where == "other" else bits_in
                out = np.where(mask[:, None], sign_bits(z), prev)
            if L.maxpool:
                out = max_pool2(out)  # the epilogue ORs each position's bits into its pooled word
            self.sets[1 - self.cur] = out
            self.cur = 1 - self.cur
        if L.res_write:
            self.residual = z
        self.where = next_residual_bits(self.where, L)
        return LayerStep(index, z, mask, bits_in, out)


def iter_layers(model: BnnModel, x0: np.ndarray, mode: str = "sparse", value_bits: int = 16) -> Iterator[LayerStep]:
    """Run the binary layers one by one, keeping both activation-bit sets as the hardware does."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    state = BitSets(x0, value_bits)
    for i, L in enumerate(model.layers):
        yield state.step(i, L, mode == "sparse")


def run_model(model: BnnModel, inputs: np.ndarray, mode: str = "sparse", value_bits: int = 16) -> ModelRun:
    """Bit-exact inference of `inputs` (uint8 [N, C_img, H, W]).

    mode "sparse": predictors decide the active positions; "dense": predictors are
    ignored (every position active) while keep masks still apply as stored.
    """
    if not 2 <= value_bits <= 16:
        raise ValueError(f"value_bits must be in [2, 16] (outputs are int16), got {value_bits}")
    if inputs.ndim != 4 or tuple(inputs.shape[1:]) != tuple(model.input_shape):
        raise ValueError(f"inputs of shape {inputs.shape}, model expects [N, {model.input_shape}]")
    x0 = stem_forward(model, inputs, value_bits)
    outs: list[np.ndarray] = []
    masks: list[np.ndarray | None] = []
    last = x0
    for step in iter_layers(model, x0, mode, value_bits):
        outs.append(step.z)
        masks.append(step.mask)
        last = step.z
    return ModelRun(stem_out=x0, layer_out=outs, masks=masks, logits=classifier_forward(model, last))


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Mismatch:
    """First difference between a functional run and a trace for one tensor and sample."""

    tensor: str  # "stem_out", "out", "mask" or "logits"
    layer: str  # layer name, "stem" or "classifier"
    layer_index: int | None
    sample: int  # index into the trace
    position: tuple[int, ...]  # (c, y, x) for maps, (y, x) for masks, (class,) for logits
    expected: int
    got: int
    count: int  # differing elements in this tensor and sample

    def __str__(self) -> str:
        where = {"out": "(c, y, x)", "stem_out": "(c, y, x)", "mask": "(y, x)", "logits": "(class,)"}[self.tensor]
        lay = self.layer if self.layer_index is None else f"L{self.layer_index} '{self.layer}'"
        return (
            f"{lay} {self.tensor}, sample {self.sample}: first difference at {where} = {self.position}: "
            f"expected {self.expected}, got {self.got} ({self.count} elements differ)"
        )


def _diff(
    tensor: str, layer: str, index: int | None, samples: Sequence[int], expected: np.ndarray, got: np.ndarray
) -> list[Mismatch]:
    out = []
    for j, s in enumerate(samples):
        e, g = np.asarray(expected[s]), np.asarray(got[j])
        if e.shape != g.shape:
            out.append(Mismatch(tensor, layer, index, s, (), -1, -1, -1))
            continue
        bad = e != g
        if bad.any():
            pos = tuple(int(v) for v in np.unravel_index(int(np.flatnonzero(bad)[0]), e.shape))
            out.append(Mismatch(tensor, layer, index, s, pos, int(e[pos]), int(g[pos]), int(bad.sum())))
    return out


def compare_with_trace(
    run: ModelRun, trace: Trace, samples: Sequence[int], names: Sequence[str] | None = None
) -> list[Mismatch]:
    """Compare a run of trace samples `samples` (in that order) with the trace's expected tensors.

    Checks the stem output, every layer's output and mask, and the logits; `names`
    labels the layers in messages. A mask present on one side only is reported at
    position () with expected/got 1/0 (1 = present).
    """
    samples = list(samples)
    res = _diff("stem_out", "stem", None, samples, trace.stem_out, run.stem_out)
    for i, (exp, got) in enumerate(zip(trace.layer_out, run.layer_out, strict=True)):
        name = names[i] if names is not None else f"L{i}"
        res += _diff("out", name, i, samples, exp, got)
        em, gm = trace.masks[i], run.masks[i]
        if (em is None) != (gm is None):
            res += [Mismatch("mask", name, i, s, (), int(em is not None), int(gm is not None), -1) for s in samples]
        elif em is not None and gm is not None:
            res += _diff("mask", name, i, samples, em.astype(np.int64), gm.astype(np.int64))
    res += _diff("logits", "classifier", None, samples, trace.logits, run.logits)
    return res
