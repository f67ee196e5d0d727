"""Fold a trained float model into the hardware's fixed-point form, and run it in integer mode.

`fold` turns BN, the weight scales and the input normalisation into the per-channel
`(dot * mult + bias) >> shift` epilogue of docs/architecture.md; `run_int` computes, in
int64 torch tensors, exactly what the accelerator and the host compute (sections 3-4).
The binary dot products and the stem conv go through float32 `conv2d` on +-1/0 (or
small-integer) operands: every partial sum is an integer below 2^24, so the result is
exact, which `run_int` asserts from the layer sizes before relying on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from archsim.config import HardwareConfig
from archsim.format import BinaryConv, BnnModel, Classifier, Predictor, Stem

from .model import BiRealResNet18, fake_quant_int8

EXACT_F32 = 1 << 24  # integers below this add exactly in float32


@dataclass(frozen=True)
class IntRun:
    stem_out: Tensor  # int64 [N, C0, H, W]
    layer_out: list[Tensor]  # int64 [N, C_out, H_out, W_out]
    masks: list[Tensor | None]  # bool [N, H_out, W_out]
    logits: Tensor  # int64 [N, n_classes]


# --------------------------------------------------------------------------- folding


def _bn_affine(bn: torch.nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode BN as y = A x + B (float64)."""
    var = bn.running_var.double().numpy()
    a = bn.weight.detach().double().numpy() / np.sqrt(var + bn.eps)
    b = bn.bias.detach().double().numpy() - a * bn.running_mean.double().numpy()
    return a, b


def fixed_point(m: np.ndarray, b: np.ndarray, mult_bits: int, bias_bits: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(mult, bias, shift) with (v * mult + bias) >> shift ~= round(v * m + b), as exactly as the widths allow.

    The largest shift (most precision) for which every mult fits `mult_bits` and every
    bias fits `bias_bits` (signed). The bias carries +2^(shift-1) so that the
    hardware's floor shift rounds to nearest.
    """
    mlim, blim = (1 << (mult_bits - 1)) - 1, (1 << (bias_bits - 1)) - 1
    for shift in range(62, -1, -1):
        mult = np.round(m * 2.0**shift)
        bias = np.round(b * 2.0**shift) + (1 << shift >> 1)
        if np.abs(mult).max(initial=0) <= mlim and np.abs(bias).max(initial=0) <= blim:
            return mult.astype(np.int64), bias.astype(np.int64), shift
    raise ValueError(f"no shift makes the epilogue fit mult_bits={mult_bits}, bias_bits={bias_bits} (|bias| too large)")


def fold(
    net: BiRealResNet18,
    cfg: HardwareConfig,
    frac_bits: int,
    name: str,
    balance: tuple[int, int] | None,
    meta: dict[str, Any],
) -> BnnModel:
    """The integer model the hardware runs, from the trained float network (eval-mode BN)."""
    one = 2.0**frac_bits
    # Stem: x0 = BN(conv(p - offset, W_q) / scale), W_q = W_int * s_w[o].
    w_q, s_w = fake_quant_int8(net.stem_weight.detach())
    w_int = torch.round(w_q / s_w[:, None, None, None]).to(torch.int8).numpy()
    a, b = _bn_affine(net.stem_bn)
    mult, bias, shift = fixed_point(a * s_w.double().numpy() / net.input_scale * one, b * one, 31, 63)
    stem = Stem(weight=w_int, mult=mult.astype(np.int32), bias=bias, shift=shift, input_offset=net.input_offset)

    layers = []
    ep = cfg.epilogue
    for spec, conv in net.binary_convs():
        a, b = _bn_affine(conv.bn)
        alpha = conv.alpha().detach().double().numpy()
        mult, bias, shift = fixed_point(a * alpha * one, b * one, ep.mult_bits, ep.bias_bits)
        pred = None
        if spec.name in net.predictors:
            p = net.predictors[spec.name]
            pred = Predictor(weight=(p.weight.detach()[0] >= 0).numpy(), threshold=p.threshold())
        layers.append(
            BinaryConv(
                name=spec.name,
                role=spec.role,
                kernel=spec.kernel,
                stride=spec.stride,
                c_in=spec.c_in,
                c_out=spec.c_out,
                h_in=spec.h_in,
                w_in=spec.w_in,
                weight=(conv.weight.detach() >= 0).numpy(),
                keep=(conv.keep > 0).numpy(),
                mult=mult.astype(np.int32),
                bias=bias,
                shift=shift,
                residual=spec.residual,
                predictor=pred,
                res_write=spec.res_write,
                maxpool=spec.maxpool,
            )
        )
    # Classifier: logits_int = q 2^f P logits_float with q scaling W_fc onto int16.
    w_fc = net.fc.weight.detach().double().numpy()
    q = 32767.0 / max(float(np.abs(w_fc).max()), 1e-12)
    # sum-pool: the float model averages over P positions, the host sums; flatten: no P
    last = net.specs[-1]
    if net.classifier_kind == "flatten_linear":
        positions = 1
    else:
        positions = (last.h_out // 2) * (last.w_out // 2) if last.maxpool else last.positions
    classifier = Classifier(
        weight=np.round(w_fc * q).astype(np.int16),
        bias=np.round(net.fc.bias.detach().double().numpy() * q * one * positions).astype(np.int64),
        kind=net.classifier_kind,
    )
    return BnnModel(
        name=name,
        input_shape=(net.c_img, net.size, net.size),
        frac_bits=frac_bits,
        stem=stem,
        layers=tuple(layers),
        classifier=classifier,
        balance=balance,
        meta=meta,
    )


@torch.no_grad()
def calibrate_frac_bits(net: BiRealResNet18, pixels: Tensor, value_bits: int = 16, headroom: float = 2.0) -> int:
    """Most fractional bits for which the largest residual-stream value seen on `pixels`,
    times `headroom`, still fits the signed `value_bits` range."""
    net.eval()
    peak = 0.0
    x = net.stem(pixels.float())
    peak = max(peak, float(x.abs().max()))
    res = x
    pool = False
    for spec, conv in net.binary_convs():
        bits = torch.where(x >= 0, 1.0, -1.0)
        if pool:
            bits = F.max_pool2d(bits, 2)
        y = conv(bits)
        if spec.role == "shortcut":
            res = y
            peak = max(peak, float(y.abs().max()))
            continue
        if spec.name in net.predictors:
            y = y * net.predictors[spec.name](bits)[:, None]
        x = res + y if spec.residual else y
        res = x if spec.res_write else res
        pool = spec.maxpool
        peak = max(peak, float(x.abs().max()))
    limit = 2.0 ** (value_bits - 1) - 1
    return max(0, min(value_bits - 2, math.floor(math.log2(limit / (peak * headroom)))))


# --------------------------------------------------------------------------- integer inference


def _sat(v: Tensor, value_bits: int) -> Tensor:
    return v.clamp(-(1 << (value_bits - 1)), (1 << (value_bits - 1)) - 1)


def _pm1(bits: np.ndarray) -> Tensor:
    return torch.from_numpy(np.where(bits, 1.0, -1.0).astype(np.float32))


def _exact_conv(x: Tensor, w: Tensor, stride: int, pad: int, bound: int, where: str) -> Tensor:
    """conv2d on small-integer float32 operands, exact because every partial sum is below 2^24."""
    if bound >= EXACT_F32:
        raise ValueError(f"{where}: |partial sums| up to {bound} are not exact in float32")
    return F.conv2d(x, w, stride=stride, padding=pad).round().to(torch.int64)


class IntModel:
    """A BnnModel prepared for repeated integer inference (weights unpacked once)."""

    def __init__(self, model: BnnModel, value_bits: int = 16) -> None:
        self.model, self.vb = model, value_bits
        st = model.stem
        self.stem_w = torch.from_numpy(st.weight.astype(np.float32))
        c_img = model.input_shape[0]
        self.stem_bound = 255 * 127 * 9 * c_img
        self.layers = []
        for L in model.layers:
            w = _pm1(L.weight) * torch.from_numpy(L.keep.astype(np.float32))[:, :, None, None]
            u = None if L.predictor is None else _pm1(L.predictor.weight)[None]
            self.layers.append((L, w, u, torch.from_numpy(L.mult.astype(np.int64)), torch.from_numpy(L.bias)))

    def run(self, pixels: Tensor) -> IntRun:
        """pixels: uint8 [N, C_img, H, W]."""
        m, vb = self.model, self.vb
        st = m.stem
        xs = pixels.to(torch.int64) - st.input_offset
        acc = _exact_conv(xs.float(), self.stem_w, 1, 1, self.stem_bound, "stem")
        mult = torch.from_numpy(st.mult.astype(np.int64))[None, :, None, None]
        bias = torch.from_numpy(st.bias)[None, :, None, None]
        x = _sat((acc * mult + bias) >> st.shift, vb)
        stem_out = x
        outs: list[Tensor] = []
        masks: list[Tensor | None] = []
        res = x  # the residual buffer
        pool = False
        for L, w, u, mult, bias in self.layers:
            bits = torch.where(x >= 0, 1.0, -1.0)  # sign(0) = +1
            if pool:  # the OR of each 2x2 window of bits: max of +-1
                bits = F.max_pool2d(bits, 2)
            dot = _exact_conv(bits, w, L.stride, L.pad, L.c_in * L.kernel**2, L.name)
            y = (dot * mult[None, :, None, None] + bias[None, :, None, None]) >> L.shift
            if L.role == "shortcut":
                res = _sat(y, vb)
                outs.append(res)
                masks.append(None)
                continue  # no swap: the next main layer reads the same bits
            r = res
            z = _sat(y + r, vb) if L.residual else _sat(y, vb)
            mask = None
            if u is not None:
                score = _exact_conv(bits, u, L.stride, 1, L.c_in * 9, L.name + " predictor")[:, 0]
                mask = score >= L.predictor.threshold  # type: ignore[union-attr]
                z = torch.where(mask[:, None], z, r)
            outs.append(z)
            masks.append(mask)
            x = z
            if L.res_write:
                res = z
            pool = L.maxpool
        if pool:  # the host pools the last map's values (max of int64: exact)
            h, w = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
            x = x[:, :, :h, :w].unflatten(3, (w // 2, 2)).unflatten(2, (h // 2, 2)).amax(dim=(3, 5))
        feats = x.flatten(1) if m.classifier.kind == "flatten_linear" else x.sum(dim=(2, 3))
        fc_w = torch.from_numpy(m.classifier.weight.astype(np.int64))
        logits = feats @ fc_w.T + torch.from_numpy(m.classifier.bias)[None]
        return IntRun(stem_out, outs, masks, logits)


def run_int(model: BnnModel, pixels: Tensor, value_bits: int = 16) -> IntRun:
    return IntModel(model, value_bits).run(pixels)
