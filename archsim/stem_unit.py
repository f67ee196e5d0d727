"""The on-chip stem unit (rtl/verilog/bnn_stem.v) in numpy: its fixed-point parameters, the parameter beats
it loads, its arithmetic and its cycle formula. The timing contract's rule for it is docs/timing.md 3.1
(config section `stem_unit`).

The unit computes the stem of `archsim.functional.stem_output` for one image channel:

    acc = sum_{dy,dx} w[c][dy][dx] * (pix[y+dy-1][x+dx-1] - OFF)      (0 outside the image)
    x0  = sat_VB((acc * M[c] + B[c]) >> S)

with a fixed hardware shift S and M = mult << (S - shift), B = bias << (S - shift): numerator and
denominator scaled by the same power of two, so x0 is bit for bit the model's. `normalise` computes
(M, B) and refuses what the unit's widths cannot hold; `pack_params` lays the weights, M and B into
the D-bit beats of the unit's parameter port in the order bnn_stem.v taps them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACC_BITS = 20  # |acc| <= 9 * 128 * 255 < 2**19
M_LO_BITS = 17  # M = M_hi * 2**17 + M_lo, M_lo unsigned (the DSP48E2's 17-bit cascade shift)
M_HI_BITS = 18  # signed, the DSP48E2's B input
B_FIELD = 48  # bits of a bias field in the parameter beats (the DSP48E2's C input)
B_LIMIT = 1 << 46  # |B| below it keeps acc * M_lo + B inside the 48-bit accumulator
WEIGHT_FIELD = 8
M_FIELD = 18
LATENCY_TAIL = 16  # lambda_S = A + w + Q + 16 (first_beat_latency)
SHIFT = 34  # S, the unit's fixed shift (bnn_stem.v parameter S): every model stem normalises to it
INPUT_STAGE = 1  # the read DMA's R-beat register between the AXI port and the unit's image port


def normalise(mult: np.ndarray, bias: np.ndarray, shift: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, B) int64 per channel for the hardware shift `s`; ValueError naming the field that does not fit."""
    if s < M_LO_BITS or s > 47:
        raise ValueError(f"S: {s} outside [{M_LO_BITS}, 47]")
    if not 0 <= shift <= s:
        raise ValueError(f"stem.shift: {shift} outside [0, S = {s}]")
    up = s - shift
    mult = np.asarray(mult, dtype=object)
    bias = np.asarray(bias, dtype=object)
    m = [int(v) << up for v in mult.ravel()]
    b = [int(v) << up for v in bias.ravel()]
    lim_m = 1 << (M_LO_BITS + M_HI_BITS - 1)
    for i, v in enumerate(m):
        if not -lim_m <= v < lim_m:
            raise ValueError(
                f"stem.mult: channel {i}: M = mult << {up} = {v} does not fit {M_LO_BITS + M_HI_BITS} bits"
            )
    for i, v in enumerate(b):
        if not -B_LIMIT <= v < B_LIMIT:
            raise ValueError(f"stem.bias: channel {i}: B = bias << {up} = {v} outside +-2**46")
    return np.array(m, dtype=np.int64), np.array(b, dtype=np.int64)


def unit_output(
    weight: np.ndarray, m: np.ndarray, b: np.ndarray, s: int, off: int, image: np.ndarray, vb: int = 16
) -> np.ndarray:
    """x0 int64 [C, H, W] of one image uint8 [H, W] as the unit computes it (two 17-bit steps, exact)."""
    ch = weight.shape[0]
    h, w = image.shape
    x = np.pad(image.astype(np.int64) - off, 1)
    wt = weight.reshape(ch, 3, 3).astype(np.int64)
    acc = np.zeros((ch, h, w), dtype=np.int64)
    for dy in range(3):
        for dx in range(3):
            acc += wt[:, dy, dx, None, None] * x[None, dy : dy + h, dx : dx + w]
    m_lo, m_hi = m & ((1 << M_LO_BITS) - 1), m >> M_LO_BITS
    p1 = acc * m_lo[:, None, None] + b[:, None, None]
    p2 = acc * m_hi[:, None, None] + (p1 >> M_LO_BITS)
    lim = 1 << (vb - 1)
    return np.clip(p2 >> (s - M_LO_BITS), -lim, lim - 1)


@dataclass(frozen=True)
class Layout:
    """Where bnn_stem.v taps its parameter chain. Stage j holds beat (beats - 1 - j) after the last beat."""

    ch: int
    d: int

    @property
    def wfields(self) -> int:
        return self.d // WEIGHT_FIELD

    @property
    def mfields(self) -> int:
        return self.d // M_FIELD

    @property
    def bfields(self) -> int:
        return self.d // B_FIELD

    @property
    def w_rows(self) -> int:
        return -(-3 * self.ch // self.wfields)

    @property
    def m_rows(self) -> int:
        return -(-self.ch // self.mfields)

    @property
    def b_rows(self) -> int:
        return -(-self.ch // self.bfields)

    @property
    def m_base(self) -> int:
        return 3 * self.w_rows

    @property
    def b_base(self) -> int:
        return self.m_base + 2 * self.m_rows

    @property
    def beats(self) -> int:
        return self.b_base + self.b_rows


def _put(beats: list[int], stage: int, offset: int, width: int, value: int) -> None:
    i = len(beats) - 1 - stage
    beats[i] |= (value & ((1 << width) - 1)) << offset


def pack_params(weight: np.ndarray, m: np.ndarray, b: np.ndarray, d: int) -> list[int]:
    """The parameter beats (D-bit integers, in the order sent) for weights int [C, 1, 3, 3] and (M, B).

    Slice (c, dx) of the MAC (index q = 3 c + dx) taps field q mod (D/8) of stages 3 r (A1 = the weight
    of kernel row 1, A2 = row 2) and 3 r + 2 (D = row 0), r = q div (D/8). Channel c's affine slice taps
    18-bit field c mod (D/18) of stage m_base + 2 r (B1 = M_lo, B2 = M_hi) and 48-bit field c mod (D/48)
    of stage b_base + r (C = B)."""
    ch = weight.shape[0]
    if weight.shape[1:] != (1, 3, 3):
        raise ValueError(f"stem.weight: shape {weight.shape}, the unit takes one image channel and 3x3 kernels")
    if d % 8 or d < B_FIELD:
        raise ValueError(f"D: {d} is not a multiple of 8 of at least {B_FIELD}")
    wt = weight.reshape(ch, 3, 3).astype(np.int64)
    if wt.min() < -128 or wt.max() > 127:
        raise ValueError("stem.weight: outside int8")
    lay = Layout(ch, d)
    beats = [0] * lay.beats
    for c in range(ch):
        for dx in range(3):
            q = 3 * c + dx
            f, r = q % lay.wfields, q // lay.wfields
            _put(beats, 3 * r, 8 * f, 8, int(wt[c, 1, dx]))
            _put(beats, 3 * r + 1, 8 * f, 8, int(wt[c, 2, dx]))
            _put(beats, 3 * r + 2, 8 * f, 8, int(wt[c, 0, dx]))
        mv = int(m[c])
        f, r = c % lay.mfields, c // lay.mfields
        _put(beats, lay.m_base + 2 * r, M_FIELD * f, M_FIELD, mv & ((1 << M_LO_BITS) - 1))
        _put(beats, lay.m_base + 2 * r + 1, M_FIELD * f, M_FIELD, mv >> M_LO_BITS)
        f, r = c % lay.bfields, c // lay.bfields
        _put(beats, lay.b_base + r, B_FIELD * f, B_FIELD, int(b[c]))
    return beats


def image_beats(image: np.ndarray, d: int) -> list[int]:
    """The raw image uint8 [H, W] as D-bit beats: byte i of beat j is pixel j * (D/8) + i (raster order)."""
    flat = np.asarray(image, dtype=np.uint8).ravel()
    bpb = d // 8
    pad = np.zeros(-(-flat.size // bpb) * bpb, dtype=np.uint8)
    pad[: flat.size] = flat
    return [int.from_bytes(pad[i : i + bpb].tobytes(), "little") for i in range(0, pad.size, bpb)]


def align_cycles(h: int, w: int, hmax: int, wmax: int, d: int) -> int:
    """Cycles that bring an h x w image's first beat to the head of the unit's FIFO (built for hmax x wmax)."""
    bpb = d // 8
    return -(-hmax * wmax // bpb) - -(-h * w // bpb)


def first_beat_latency(w: int, q: int, align: int = 0) -> int:
    """lambda_S: cycles from the last image beat to the first x0 beat (bnn_stem.v header): W + 1 column steps
    fill the line buffers (one a cycle), one step of Q cycles reads the first column, then the pipeline
    (column register, MAC chain, affine, two output registers); `align` (align_cycles) before them for an image
    smaller than the unit's maxima."""
    return align + w + q + LATENCY_TAIL


def x0_beat_cycles(h: int, w: int, ch: int, lanes: int, align: int = 0) -> list[int]:
    """Cycle of every x0 beat after the cycle of the last image beat: one per cycle from lambda_S on."""
    n = h * w * (ch // lanes)
    first = first_beat_latency(w, ch // lanes, align)
    return [first + i for i in range(n)]


def macs(c0: int, h: int, w: int) -> int:
    """Multiply-accumulates of one image's stem on the unit: nine taps per x0 value (C0 x H x W), padding
    taps included (the unit's MAC chain runs them with a zero pixel)."""
    return 9 * c0 * h * w


def lead(h: int, w: int, q: int, hmax: int, wmax: int, d: int) -> int:
    """lambda_stem (docs/timing.md 3.1): cycles from the LOAD's last R beat to the first x0 beat entering the
    LOAD path: the R-beat register, then lambda_S of an h x w image on a unit built for hmax x wmax."""
    return INPUT_STAGE + first_beat_latency(w, q, align_cycles(h, w, hmax, wmax, d))
