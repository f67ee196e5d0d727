"""Expected outputs of an accelerator run: docs/architecture.md section 3, in numpy.

`expected_run` returns the last map (the residual buffer after the last layer, what
STORE writes) and every layer's spatial mask. It uses archsim.functional when that
module is present (the project's functional model) and otherwise the plain +-1
formulation below, which keeps the accelerator's two activation-bit sets literally
(centre-bit copies at skipped stride-1 positions, shortcut layers not swapping).
"""

from __future__ import annotations

import numpy as np

from archsim.config import HardwareConfig
from archsim.format import BinaryConv, BnnModel


def _pm_dot(bits: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """sum over kept channels and in-map taps of w * a in +-1 form: bits [C,H,W], w int [O,C,K,K]."""
    o, _c, k, _ = w.shape
    _, h, wd = bits.shape
    pad = (k - 1) // 2
    ho = (h + 2 * pad - k) // stride + 1
    wo = (wd + 2 * pad - k) // stride + 1
    a = np.pad(bits.astype(np.int64) * 2 - 1, ((0, 0), (pad, pad), (pad, pad)))  # padded taps are 0
    out = np.zeros((o, ho, wo), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            win = a[:, ky : ky + stride * (ho - 1) + 1 : stride, kx : kx + stride * (wo - 1) + 1 : stride]
            out += np.einsum("oc,chw->ohw", w[:, :, ky, kx], win)
    return out


def _sat(v: np.ndarray, bits: int) -> np.ndarray:
    lim = 1 << (bits - 1)
    return np.clip(v, -lim, lim - 1)


def layer_dot(L: BinaryConv, bits: np.ndarray) -> np.ndarray:
    w = (L.weight.astype(np.int64) * 2 - 1) * L.keep[:, :, None, None]
    return _pm_dot(bits, w, L.stride)


def predictor_score(L: BinaryConv, bits: np.ndarray) -> np.ndarray:
    assert L.predictor is not None
    u = L.predictor.weight.astype(np.int64)[None] * 2 - 1
    return _pm_dot(bits, u, L.stride)[0]


def _own_run(model: BnnModel, x0: np.ndarray, mode: str, vb: int) -> tuple[np.ndarray, list[np.ndarray | None]]:
    z, masks, _, _ = _own_state(model, x0, mode, vb)
    return z, masks


def _own_state(model: BnnModel, x0: np.ndarray, mode: str, vb: int):
    """Run every layer; returns (last map, masks, the two bit sets, index of the current set)."""
    sets = [x0 >= 0, np.zeros_like(x0, dtype=bool)]
    cur = 0
    resid = x0.astype(np.int64)
    masks: list[np.ndarray | None] = []
    after_shortcut = False
    kept = False  # the previous main layer left the residual buffer alone (a block residual follows)
    for L in model.layers:
        bits_in = sets[cur]
        dot = layer_dot(L, bits_in)
        y = (dot * L.mult.astype(np.int64)[:, None, None] + L.bias.astype(np.int64)[:, None, None]) >> L.shift
        if L.role == "shortcut":
            z = _sat(y, vb)
            sets[1 - cur] = z >= 0
            masks.append(None)
        else:
            z = _sat(y + resid, vb) if L.residual else _sat(y, vb)
            mask = None
            if mode == "sparse" and L.predictor is not None:
                mask = predictor_score(L, bits_in) >= L.predictor.threshold
                z = np.where(mask[None], z, resid)
                # skipped positions: the shortcut's bits (after a shortcut), else the centre-bit copy;
                # after a layer that kept the residual buffer, the residual's own signs (the bits
                # that layer read, still in the set this one writes)
                prev = sets[1 - cur] if after_shortcut else (resid >= 0) if kept else bits_in
                sets[1 - cur] = np.where(mask[None], z >= 0, prev)
            else:
                sets[1 - cur] = z >= 0
            masks.append(mask)
            if L.maxpool:  # the OR of each 2x2 window of bits; an odd last row or column is dropped
                b = sets[1 - cur]
                hp, wp = b.shape[1] // 2, b.shape[2] // 2
                sets[1 - cur] = np.zeros((b.shape[0], hp, wp), dtype=bool)
                for dy in (0, 1):
                    for dx in (0, 1):
                        sets[1 - cur] |= b[:, dy : 2 * hp : 2, dx : 2 * wp : 2]
            cur = 1 - cur
        if L.res_write:
            resid = z
        after_shortcut = L.role == "shortcut"
        kept = L.role == "main" and not L.res_write
    return resid.astype(np.int16), masks, sets, cur


def expected_run(
    model: BnnModel, x0: np.ndarray, mode: str, cfg: HardwareConfig
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """(last map int16 [C,H,W], masks per layer bool [H,W] or None) of one inference from x0."""
    vb = cfg.epilogue.value_bits
    try:
        from archsim import functional  # the project's functional model, once merged
    except ImportError:
        return _own_run(model, x0, mode, vb)
    last, masks = None, []
    for step in functional.iter_layers(model, x0[None], mode, vb):
        last = step.z[0]
        masks.append(None if step.mask is None else step.mask[0])
    own, own_masks = _own_run(model, x0, mode, vb)
    # two independent formulations must agree before either is trusted
    assert np.array_equal(own, last), "tests/rtlsim/reference.py disagrees with archsim.functional"
    for a, b in zip(own_masks, masks, strict=True):
        assert (a is None) == (b is None) and (a is None or np.array_equal(a, b))
    return last, masks


def layer_inputs(model: BnnModel, x0: np.ndarray, mode: str, vb: int = 16) -> list[np.ndarray]:
    """The bit map each layer reads (bool [C,H,W]), given the thresholds set so far."""
    from dataclasses import replace

    out = []
    for i in range(len(model.layers)):
        if i == 0:
            out.append(x0 >= 0)
            continue
        prefix = replace(model, layers=model.layers[:i])
        _, _, sets, cur = _own_state(prefix, x0, mode, vb)
        out.append(sets[cur])
    return out
