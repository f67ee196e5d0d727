"""cocotb unit tests of single blocks against numpy (run by tests/test_rtl_units.py).

Parameters of the block under test come in $BNN_UNIT (JSON).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly


def _params() -> dict:
    return json.loads(os.environ.get("BNN_UNIT", "{}"))


def _bits(v: int, n: int) -> list[int]:
    return [(v >> i) & 1 for i in range(n)]


def _int(bits) -> int:
    return sum(int(b) << i for i, b in enumerate(bits))


# --------------------------------------------------------------------------- gearbox


@cocotb.test()
async def gearbox(dut):
    """Sections of steps of two widths, idle cycles, a flush of partial entries."""
    p = _params()
    in_w, out_w, cbs = p["IN_W"], p["OUT_W"], (p["CB_A"], p["CB_B"])
    sbs = p["SB"]  # step bits for sel 0 and 1
    rng = random.Random(p.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for s in ("rst", "in_valid", "in_first", "sel_b", "flush"):
        getattr(dut, s).value = 0
    dut.in_data.value = 0
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    got, want = [], []
    for _section in range(12):
        sel = rng.randrange(2)
        sb, cb = sbs[sel], cbs[sel]
        m = cb // sb
        steps = rng.randrange(1, 4 * m + 2)
        stream = [rng.randrange(2) for _ in range(steps * sb)]
        stream += [0] * (-len(stream) % in_w)
        entries = -(-steps // m)
        for e in range(entries):
            lo = e * cb
            want.append(stream[lo : min(lo + cb, steps * sb)])
        beats = [stream[i : i + in_w] for i in range(0, len(stream), in_w)]
        emitted = 0
        for bi, beat in enumerate(beats):
            while rng.random() < 0.3:  # idle cycle
                await FallingEdge(dut.clk)
                dut.in_valid.value = 0
                await ReadOnly()
                assert int(dut.out_valid.value) == 0
            await FallingEdge(dut.clk)
            dut.in_valid.value = 1
            dut.in_first.value = int(bi == 0)
            dut.sel_b.value = sel
            dut.in_data.value = _int(beat)
            await ReadOnly()
            if int(dut.out_valid.value):
                got.append(_bits(int(dut.out_data.value), out_w))
                emitted += 1
        await FallingEdge(dut.clk)
        dut.in_valid.value = 0
        if emitted < entries:  # the DMA flushes a partial entry the cycle after the section
            dut.flush.value = 1
            await ReadOnly()
            assert int(dut.out_valid.value) == 1
            got.append(_bits(int(dut.out_data.value), out_w))
            await FallingEdge(dut.clk)
            dut.flush.value = 0
    assert len(got) == len(want), f"{len(got)} entries emitted, {len(want)} expected"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g[: len(w)] == w, f"entry {i} differs"


# --------------------------------------------------------------------------- position generator + window addresses


@cocotb.test()
async def posgen(dut):
    p = _params()
    aaw = p["AAW"]
    rng = random.Random(p.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for h_in, w_in, s, k in p["maps"]:
        pad = 1 if k == 3 else 0
        h_out = (h_in + 2 * pad - k) // s + 1
        w_out = (w_in + 2 * pad - k) // s + 1
        nblk_in, nblk_out, nwo = rng.randrange(1, 4), rng.randrange(1, 4), rng.randrange(1, 5)
        w3n_in = -(-w_in // 3) * nblk_in
        w3n_out = -(-w_out // 3) * nblk_out
        vals = dict(
            s2=int(s == 2),
            k3=int(k == 3),
            h_in=h_in,
            w_in=w_in,
            h_out=h_out,
            w_out=w_out,
            nblk_in=nblk_in,
            w3n_in=w3n_in,
            nblk_out=nblk_out,
            w3n_out=w3n_out,
            nwo=nwo,
        )
        await FallingEdge(dut.clk)
        for n, v in vals.items():
            getattr(dut, n).value = v
        dut.adv.value = 0
        dut.blk.value = 0
        dut.init.value = 1
        await FallingEdge(dut.clk)
        dut.init.value = 0
        for p_idx in range(2 * h_out * w_out):  # twice: it wraps after the last position
            pp = p_idx % (h_out * w_out)
            yo, xo = divmod(pp, w_out)
            yc, xc = s * yo, s * xo
            blk = rng.randrange(nblk_in)
            dut.blk.value = blk
            dut.adv.value = 1
            await ReadOnly()
            assert (int(dut.yc.value), int(dut.xc.value)) == (yc, xc)
            assert (int(dut.ycm.value), int(dut.xcm.value)) == (yc % 3, xc % 3)
            assert int(dut.ibase.value) == (yc // 3) * w3n_in + (xc // 3) * nblk_in
            assert int(dut.rbase.value) == pp * nwo
            assert int(dut.obank.value) == (yo % 3) * 3 + xo % 3
            assert int(dut.obase.value) == (yo // 3) * w3n_out + (xo // 3) * nblk_out
            addr = int(dut.addr.value)
            valid = int(dut.valid.value)
            for ky in range(3):
                for kx in range(3):
                    y, x = yc + ky - 1, xc + kx - 1
                    inside = 0 <= y < h_in and 0 <= x < w_in
                    tap = ky * 3 + kx
                    want_valid = inside if k == 3 else tap == 4
                    assert (valid >> tap) & 1 == int(want_valid), f"pad mask of tap {tap} at {(yo, xo)}"
                    if inside:
                        b = (y % 3) * 3 + x % 3
                        a = ((y // 3) * w3n_in + (x // 3) * nblk_in + blk) % (1 << aaw)
                        assert (addr >> (b * aaw)) & ((1 << aaw) - 1) == a, f"bank {b} address at {(yo, xo)}"
            await FallingEdge(dut.clk)
        dut.adv.value = 0


# --------------------------------------------------------------------------- popcount and rotation


@cocotb.test()
async def comb(dut):
    rng = random.Random(3)
    for _ in range(300):
        v64, v9 = rng.getrandbits(64), rng.getrandbits(9)
        bank = rng.getrandbits(36)
        ym, xm = rng.randrange(3), rng.randrange(3)
        dut.v64.value, dut.v9.value, dut.bank.value, dut.ym.value, dut.xm.value = v64, v9, bank, ym, xm
        await ReadOnly()
        assert int(dut.c64.value) == bin(v64).count("1")
        assert int(dut.c9.value) == bin(v9).count("1")
        tap = int(dut.tap.value)
        for ty in range(3):
            for tx in range(3):
                b = ((ym + ty - 1) % 3) * 3 + (xm + tx - 1) % 3
                assert (tap >> (4 * (ty * 3 + tx))) & 15 == (bank >> (4 * b)) & 15
        await cocotb.triggers.Timer(1, unit="ns")


# --------------------------------------------------------------------------- multiply-add


@cocotb.test()
async def dsp_madd(dut):
    """p(t+2) = a(t) b(t) + c(t), signed, for random and extreme operands, one new triple per cycle."""
    p = _params()
    aw, bw, cw, pw = p["AW"], p["BW"], p["CW"], p["PW"]
    rng = random.Random(p.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    def sval(v: int, n: int) -> int:
        return v - (1 << n) if v >> (n - 1) else v

    ext = (
        [-(1 << (aw - 1)), (1 << (aw - 1)) - 1],
        [-(1 << (bw - 1)), (1 << (bw - 1)) - 1],
        [
            -(1 << (cw - 1)),
            (1 << (cw - 1)) - 1,
        ],
    )
    sent: list[int] = []
    for i in range(400):
        await FallingEdge(dut.clk)
        if i >= 2 and len(sent) >= 2:
            assert sval(int(dut.p.value), pw) == sent[-2], f"cycle {i}"
        if i % 5 == 0:
            a, b, c = (rng.choice(e) for e in ext)
        else:
            a, b, c = (rng.randrange(-(1 << (n - 1)), 1 << (n - 1)) for n in (aw, bw, cw))
        dut.a.value, dut.b.value, dut.c.value = a & ((1 << aw) - 1), b & ((1 << bw) - 1), c & ((1 << cw) - 1)
        sent.append(a * b + c)


# --------------------------------------------------------------------------- PE array


@cocotb.test()
async def pe_array(dut):
    """Tiles of steps straight into the array (stage t+2 inputs); accumulators read back."""
    p = _params()
    rows, cols, g, ib, accw = p["ROWS"], p["COLS"], p["G"], p["IB"], p["ACC_W"]
    m1, m3 = p["M1"], p["M3"]
    rng = np.random.default_rng(p.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.layer_init.value = 1
    for s in (
        "p2_v",
        "p2_sub",
        "p2_j",
        "p2_bank",
        "p2_first",
        "p2_last",
        "wentry",
        "win",
        "msk",
        "e_bank",
        "e_slot",
        "e_col",
        "k3",
    ):
        getattr(dut, s).value = 0
    await FallingEdge(dut.clk)
    dut.layer_init.value = 0
    for tile in range(4):
        k3 = int(tile != 2)
        bank = tile % 2
        c_in, k = int(rng.integers(1, 6)), int(rng.integers(1, 3))
        kk = 9 if k3 else 1
        slots = rng.integers(0, g, (c_in, k, rows))
        if ib == 0:  # dense: the index decoder is bypassed, step j accumulates into slot j
            slots = np.broadcast_to(np.arange(k)[None, :, None], (c_in, k, rows))
        kern = rng.random((c_in, k, rows, kk)) < 0.5
        win = rng.random((c_in, cols, 9)) < 0.5
        msk = rng.random((cols, 9)) < 0.7 if k3 else np.tile(np.arange(9) == 4, (cols, 1))
        acc = np.zeros((rows, cols, g), dtype=np.int64)
        written = np.zeros((rows, g), dtype=bool)
        m = m3 if k3 else m1
        fb = kk + ib
        for c in range(c_in):
            for j in range(k):
                i = c * k + j
                step = 0
                for r in range(rows):
                    field = _int(list(kern[c, j, r])) | ((int(slots[c, j, r]) << kk) if ib else 0)
                    step |= field << (r * fb)
                entry = step << ((i % m) * rows * fb)
                k9 = kern[c, j] if k3 else np.pad(kern[c, j], ((0, 0), (4, 4)))
                for r in range(rows):
                    for x in range(cols):
                        pc = int((~(k9[r] ^ win[c, x]) & msk[x]).sum())
                        acc[r, x, slots[c, j, r]] += 2 * pc - int(msk[x].sum())
                    written[r, slots[c, j, r]] = True
                await FallingEdge(dut.clk)
                dut.k3.value = k3
                dut.p2_v.value = 1
                dut.p2_sub.value = i % m
                dut.p2_j.value = j
                dut.p2_bank.value = bank
                dut.p2_first.value = int(i == 0)
                dut.p2_last.value = int(i == c_in * k - 1)
                dut.wentry.value = entry
                dut.win.value = _int([b for x in range(cols) for b in win[c, x]])
                dut.msk.value = _int([b for x in range(cols) for b in msk[x]])
        await FallingEdge(dut.clk)
        dut.p2_v.value = 0
        for _ in range(4):
            await FallingEdge(dut.clk)
        assert int(dut.c_ready.value) == tile + 1
        for s in range(g):
            for x in range(cols):
                dut.e_bank.value, dut.e_slot.value, dut.e_col.value = bank, s, x
                await FallingEdge(dut.clk)
                await ReadOnly()
                dots = int(dut.e_dot.value)
                for r in range(rows):
                    v = (dots >> (r * accw)) & ((1 << accw) - 1)
                    v = v - (1 << accw) if v >> (accw - 1) else v
                    want = acc[r, x, s] if written[r, s] else 0
                    assert v == want, f"tile {tile} row {r} col {x} slot {s}: {v} != {want}"
                await FallingEdge(dut.clk)
