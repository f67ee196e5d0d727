"""cocotb bench of bnn_stem (run by tests/test_rtl_stem.py): parameters, images, every x0 value and cycle.

$BNN_STEM_CASE: a JSON file with: the block's parameters (CH, LANES, D, H, W, S, VB; H and W the maxima), `h`, `w` (the images' size), `images` (lists of H x W bytes), `off`,
`beats` (the parameter beats, stem_unit.pack_params), `want` (x0 per image, [C][H][W]), `latency` (lambda_S),
`seed` (gaps in the parameter and image streams).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from archsim.stem_unit import image_beats


def _sval(v: int, n: int) -> int:
    return v - (1 << n) if v >> (n - 1) & 1 else v


@cocotb.test()
async def stem(dut):
    with open(os.environ["BNN_STEM_CASE"]) as f:
        p = json.load(f)
    ch, lanes, d, h, w, vb = p["CH"], p["LANES"], p["D"], p["h"], p["w"], p["VB"]
    q = ch // lanes
    rng = random.Random(p["seed"])
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for s in ("prm_valid", "img_valid", "img_last"):
        getattr(dut, s).value = 0
    dut.prm_data.value = 0
    dut.img_data.value = 0
    dut.off.value = p["off"]
    dut.img_h.value = h
    dut.img_w.value = w
    dut.rst.value = 1
    cycle = 0
    beats: list[tuple[int, int]] = []  # (cycle, data) of every x0 beat
    dones: list[int] = []

    async def tick() -> None:
        nonlocal cycle
        await FallingEdge(dut.clk)
        cycle += 1
        if cycle <= 1:  # outputs are X until the first reset edge
            return
        if int(dut.x0_valid.value):
            beats.append((cycle, int(dut.x0_data.value)))
        if int(dut.done.value):
            dones.append(cycle)

    for _ in range(4):
        await tick()
    dut.rst.value = 0
    for _ in range(3 * q + 12):  # the delay lines fill with zeros
        await tick()
    for b in p["beats"]:  # parameters, with random gaps
        while rng.random() < 0.3:
            dut.prm_valid.value = 0
            await tick()
        dut.prm_valid.value = 1
        dut.prm_data.value = b
        await tick()
    dut.prm_valid.value = 0
    dut.prm_data.value = rng.getrandbits(d)  # the chain must hold without prm_valid
    for _ in range(3):
        await tick()
    lasts = []
    for n, img in enumerate(p["images"]):
        ib = image_beats(img, d)
        for i, b in enumerate(ib):
            while rng.random() < 0.25:
                dut.img_valid.value = 0
                dut.img_data.value = rng.getrandbits(d)
                await tick()
            dut.img_valid.value = 1
            dut.img_data.value = b
            dut.img_last.value = int(i == len(ib) - 1)
            await tick()
            if i == len(ib) - 1:
                lasts.append(cycle - 1)  # the cycle the last beat was presented in
        dut.img_valid.value = 0
        dut.img_last.value = 0
        dut.img_data.value = rng.getrandbits(d)
        n_beats = h * w * q
        while len(beats) < (n + 1) * n_beats or len(dones) < n + 1:
            await tick()
            assert cycle - lasts[-1] < p["latency"] + n_beats + 50, "x0 beats missing"
        for _ in range(rng.randrange(3)):
            await tick()
    for _ in range(20):
        await tick()
    n_beats = h * w * q
    assert len(beats) == len(p["images"]) * n_beats, len(beats)
    for n, want in enumerate(p["want"]):
        mine = beats[n * n_beats : (n + 1) * n_beats]
        first = lasts[n] + p["latency"]
        for i, (cyc, data) in enumerate(mine):
            assert cyc == first + i, (
                f"image {n} beat {i}: cycle {cyc - lasts[n]} after the last image beat, want {first + i - lasts[n]}"
            )
            pos, g = divmod(i, q)
            y, x = divmod(pos, w)
            for r in range(lanes):
                c = g * lanes + r
                got = _sval((data >> (r * vb)) & ((1 << vb) - 1), vb)
                assert got == want[c][y][x], f"image {n} channel {c} at ({y}, {x}): {got}, want {want[c][y][x]}"
        assert dones[n] == first + n_beats, (dones, first + n_beats)
    assert len(dones) == len(p["images"])
