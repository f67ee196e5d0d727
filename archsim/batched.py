"""The functional model batched over many images, for whole-test-set runs.

It computes what archsim.functional computes (docs/architecture.md), bit for bit, with a
different evaluation strategy chosen for throughput:

* maps are kept channels-last (N, H, W, C), so a window of all channels is one slice;
* a binary dot product is a float32 matrix product of +-1 operands (0 at padded taps and at
  pruned kernels). Every partial sum is an integer of magnitude at most C_in x K x K, far below
  2^24, so float32 adds it exactly; `BatchedModel` checks that bound for every layer;
* two windows share one row of the matrix product where that stays exact: the product of
  (window a + S window b) with a column of weights is dot_a + S dot_b, and with |dot| <= n (n the
  column's nonzero weights) and S a power of two above 2 n, dot_b = round(D / S) and
  dot_a = D - S dot_b. Every partial sum is at most n (S + 1) in magnitude; where that is below
  2^24 (`BatchedModel` checks it per layer) float32 adds it exactly, so this halves the
  multiply-adds of the pruned layers (whose zero kernels keep n small) at no cost in exactness;
* the predictor is evaluated first and only the active positions' windows are gathered and
  multiplied (spatial skipping); skipped positions take the residual, as in the hardware;
* layers are processed in blocks of images so that no temporary exceeds `block_bytes`.

The two activation-bit sets are kept literally, as archsim.functional.BitSets does. Tests hold
this module against archsim.functional.run_model, and every test-set run checks it against the
workload's trace (archsim/testset.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from archsim.format import BinaryConv, BnnModel, next_residual_bits
from archsim.functional import classifier_features, max_pool2

EXACT_F32 = 1 << 24  # integers below this add exactly in float32
BLOCK_BYTES = 48 << 20  # largest window matrix built at once


@dataclass
class BatchRun:
    logits: np.ndarray  # int64 [N, n_classes]
    masks: list[np.ndarray | None]  # bool [N, H_out, W_out] where the predictor ran, else None
    stem_out: np.ndarray | None = None  # int16 [N, C0, H, W] (only with keep_maps)
    layer_out: list[np.ndarray] | None = None  # int16 [N, C, H, W] per layer (only with keep_maps)

    @property
    def predictions(self) -> np.ndarray:
        """Top-1 class per image (the lowest index among tied logits)."""
        return np.argmax(self.logits, axis=1)


@dataclass(frozen=True)
class _Layer:
    conv: BinaryConv
    weight: np.ndarray  # float32 [(ky, kx, c_in), C_out]: +-1, 0 at pruned kernels
    predictor: np.ndarray | None  # float32 [c_in, (ky, kx)]: +-1
    mult: np.ndarray  # [C_out], of the epilogue's integer type
    bias: np.ndarray  # [C_out], same type
    pack_bits: int  # two windows per product row with S = 2^pack_bits (module docstring); 0: one window per row


def _pm1(bits: np.ndarray) -> np.ndarray:
    return np.where(bits, np.float32(1), np.float32(-1))


class BatchedModel:
    """A BnnModel prepared for batched inference: `run(images)` in mode "sparse" or "dense"."""

    def __init__(self, model: BnnModel, mode: str = "sparse", value_bits: int = 16, block_bytes: int = BLOCK_BYTES):
        if mode not in ("sparse", "dense"):
            raise ValueError(f"mode must be 'sparse' or 'dense', got {mode!r}")
        if not 2 <= value_bits <= 16:
            raise ValueError(f"value_bits must be in [2, 16] (outputs are int16), got {value_bits}")
        self.model, self.mode, self.vb, self.block_bytes = model, mode, value_bits, block_bytes
        st = model.stem
        c_img = model.input_shape[0]
        if 256 * 128 * 9 * c_img >= EXACT_F32:
            raise ValueError(f"stem: {c_img} input channels make float32 partial sums inexact")
        self.stem_w = st.weight.astype(np.float32).reshape(st.weight.shape[0], -1).T.copy()  # [(c, ky, kx), C0]
        self.layers: list[_Layer] = []
        for L in model.layers:
            if L.c_in * L.kernel * L.kernel >= EXACT_F32:
                raise ValueError(f"layer {L.name}: {L.c_in} x {L.kernel}^2 terms make float32 sums inexact")
            w = _pm1(L.weight) * L.keep[:, :, None, None]
            pred = None
            if mode == "sparse" and L.role == "main" and L.predictor is not None:
                pred = np.ascontiguousarray(_pm1(L.predictor.weight).reshape(L.c_in, 9))
            # int32 arithmetic (half the memory traffic) where |dot mult + bias| provably fits, with
            # room to add a residual after the shift; int64 otherwise.
            bound = L.c_in * L.kernel * L.kernel * int(np.abs(L.mult.astype(np.int64)).max())
            bound += int(np.abs(L.bias.astype(np.int64)).max())
            itype = np.int32 if bound < (1 << 31) - (1 << 16) else np.int64
            n_max = int(np.count_nonzero(w, axis=(1, 2, 3)).max(initial=0))
            pack_bits = (2 * n_max).bit_length()  # 2^pack_bits > 2 n_max
            if n_max * ((1 << pack_bits) + 1) >= EXACT_F32:
                pack_bits = 0
            self.layers.append(
                _Layer(
                    conv=L,
                    weight=np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, L.c_out), dtype=np.float32),
                    predictor=pred,
                    mult=L.mult.astype(itype),
                    bias=L.bias.astype(itype),
                    pack_bits=pack_bits,
                )
            )

    # ----------------------------------------------------------------------- pieces

    def stem(self, images: np.ndarray) -> np.ndarray:
        """x0 int16 [N, H, W, C0] (channels last)."""
        st = self.model.stem
        x = images.astype(np.float32) - np.float32(st.input_offset)  # [N, C, H, W]
        n, c, h, w = x.shape
        xp = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (1, 1), (1, 1), (0, 0)))
        cols = sliding_window_view(xp, (3, 3), axis=(1, 2)).reshape(n * h * w, c * 9)  # (c, ky, kx)
        y = self._epilogue(cols @ self.stem_w, st.mult.astype(np.int64), st.bias.astype(np.int64), st.shift, None)
        return y.reshape(n, h, w, -1)

    def _epilogue(
        self, dot: np.ndarray, mult: np.ndarray, bias: np.ndarray, shift: int, residual: np.ndarray | None
    ) -> np.ndarray:
        """int16 sat(((dot * mult + bias) >> shift) [+ residual]), in place on one buffer of mult's type."""
        y = dot.astype(mult.dtype, copy=False)  # in place when dot is already of this type (packed products)
        y *= mult
        y += bias
        y >>= shift
        if residual is not None:
            y += residual
        lim = 1 << (self.vb - 1)
        np.clip(y, -lim, lim - 1, out=y)
        return y.astype(np.int16)

    def _padded(self, bits: np.ndarray, pad: int) -> np.ndarray:
        """+-1 float32 map [N, H + 2 pad, W + 2 pad, C], 0 outside the map."""
        n, h, w, c = bits.shape
        xp = np.zeros((n, h + 2 * pad, w + 2 * pad, c), np.float32)
        inner = xp[:, pad : pad + h, pad : pad + w]
        np.multiply(bits, np.float32(2), out=inner)
        inner -= 1
        return xp

    def _layer(
        self, lay: _Layer, bits: np.ndarray, residual: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """z int16 [N, Ho, Wo, C_out] and the mask (or None) of one layer on a block of images.

        Windows are gathered as rows of the padded map flattened to [N Hp Wp, C]: output
        position (n, y, x) reads rows base + ky Wp + kx, base = n Hp Wp + s y Wp + s x.
        """
        L = lay.conv
        n = bits.shape[0]
        k, s, ho, wo = L.kernel, L.stride, L.h_out, L.w_out
        xp = self._padded(bits, L.pad)
        hp, wp = xp.shape[1:3]
        flat = xp.reshape(-1, L.c_in)
        base = (np.arange(n)[:, None, None] * (hp * wp) + s * np.arange(ho)[:, None] * wp + s * np.arange(wo)).reshape(
            -1
        )
        shifts = (np.arange(k)[:, None] * wp + np.arange(k)).reshape(-1)
        mask = None
        if lay.predictor is not None:
            g = (flat @ lay.predictor).reshape(n, hp, wp, 9)  # each tap's channel sum at every row
            score = np.zeros((n, ho, wo), np.float32)
            for t in range(9):
                ky, kx = divmod(t, 3)
                score += g[:, ky : ky + s * (ho - 1) + 1 : s, kx : kx + s * (wo - 1) + 1 : s, t]
            mask = score.astype(np.int64) >= L.predictor.threshold  # type: ignore[union-attr]
            pos = np.flatnonzero(mask)  # active output positions, flat over (n, y, x)
        else:
            pos = None
        rows = base if pos is None else base[pos]
        kk = k * k * L.c_in
        step = max(1, self.block_bytes // (kk * 4))
        if lay.pack_bits:
            dot = self._packed_products(lay, xp, rows, shifts, step)
        else:
            dot = np.empty((len(rows), L.c_out), np.float32)
            for a in range(0, len(rows), step):
                cols = np.take(flat, rows[a : a + step, None] + shifts, axis=0)  # [m, K K, C_in]
                np.matmul(cols.reshape(-1, kk), lay.weight, out=dot[a : a + step])
        if residual is None:
            return self._epilogue(dot, lay.mult, lay.bias, L.shift, None).reshape(n, ho, wo, L.c_out), mask
        r = residual.reshape(-1, L.c_out)
        if pos is None:
            return self._epilogue(dot, lay.mult, lay.bias, L.shift, r).reshape(n, ho, wo, L.c_out), mask
        z = r.copy()  # skipped positions output the residual
        z[pos] = self._epilogue(dot, lay.mult, lay.bias, L.shift, r[pos])
        return z.reshape(n, ho, wo, L.c_out), mask

    def _packed_products(
        self, lay: _Layer, xp: np.ndarray, rows: np.ndarray, shifts: np.ndarray, step: int
    ) -> np.ndarray:
        """Window products of `rows`, int32 [len(rows), C_out]: the first half of the rows at weight 1
        and the second half at weight S = 2^pack_bits in the same product rows (module docstring)."""
        c_in, bits = lay.conv.c_in, lay.pack_bits
        flat = xp.reshape(-1, c_in)
        flat_s = (xp * np.float32(1 << bits)).reshape(-1, c_in)
        half = -(-len(rows) // 2)
        lo, hi = rows[:half], rows[half:]
        dot = np.empty((len(rows), lay.weight.shape[1]), np.int32)
        for a in range(0, half, step):
            cols = np.take(flat, lo[a : a + step, None] + shifts, axis=0)  # [m, K K, C_in]
            b = hi[a : a + step]
            if len(b):
                cols[: len(b)] += np.take(flat_s, b[:, None] + shifts, axis=0)
            d = np.matmul(cols.reshape(len(cols), -1), lay.weight).astype(np.int32)  # exact: |d| < 2^24
            top = d + np.int32(1 << (bits - 1))
            top >>= bits  # round(d / S): the second window's product
            d -= top << bits
            dot[a : a + len(d)] = d
            dot[half + a : half + a + len(b)] = top[: len(b)]
        return dot

    # ----------------------------------------------------------------------- whole model

    def run(self, images: np.ndarray, keep_maps: bool = False) -> BatchRun:
        """Inference of uint8 images [N, C_img, H, W]. `keep_maps` also returns every layer's
        output (channels first, as archsim.functional.ModelRun holds them)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.model.input_shape):
            raise ValueError(f"images of shape {images.shape}, the model expects [N, {self.model.input_shape}]")
        x0 = self.stem(images)
        residual = x0
        sets = [x0 >= 0, np.zeros(x0.shape, bool)]  # the two activation-bit sets (sign(0) = +1)
        cur, where = 0, "input"  # where sign(residual) is: archsim.format.residual_bits
        masks: list[np.ndarray | None] = []
        outs: list[np.ndarray] = []
        for lay in self.layers:
            L = lay.conv
            bits_in = sets[cur]
            if L.role == "shortcut":
                z, mask = self._layer(lay, bits_in, None)
                sets[1 - cur] = z >= 0
            else:
                z, mask = self._layer(lay, bits_in, residual if L.residual else None)
                if mask is None:
                    out = z >= 0
                else:
                    # Skipped positions keep the shortcut's bits (after a shortcut layer) or the mask
                    # unit's copies of the input bits (identity residual), as the hardware does.
                    prev = sets[1 - cur] if where == "other" else bits_in
                    pos = np.flatnonzero(mask)
                    out = prev.copy()
                    out.reshape(-1, L.c_out)[pos] = z.reshape(-1, L.c_out)[pos] >= 0
                if L.maxpool:  # NHWC: pool H and W, the OR of the sign bits
                    out = max_pool2(out.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
                sets[1 - cur] = out
                cur = 1 - cur
            if L.res_write:
                residual = z
            where = next_residual_bits(where, L)
            masks.append(mask)
            if keep_maps:
                outs.append(np.ascontiguousarray(z.transpose(0, 3, 1, 2)))
        cl = self.model.classifier
        feats = classifier_features(self.model, residual.transpose(0, 3, 1, 2))
        logits = feats @ cl.weight.astype(np.int64).T + cl.bias.astype(np.int64)
        if not keep_maps:
            return BatchRun(logits, masks)
        return BatchRun(logits, masks, np.ascontiguousarray(x0.transpose(0, 3, 1, 2)), outs)
