"""cocotb test of the HP-port splitter alone (bnn_hp_split; run by tests/test_rtl_hp_split.py).

A random AXI4 master plays the core (read bursts, write bursts, W beats that may lead their
AW, random RREADY/BREADY), two AXI4 slaves play HP0 and HP1 over one shared DDR (random
latency per burst, so the ports are skewed; random READY stalls; random error responses).
Checked every cycle: each port's VALID stays up with a stable payload until its handshake
(AXI's rule, so the splitter never withdraws a request). Checked at the end: every port
burst is the core's burst at plane_k(X) = X / 2 + k * PLANE with the same length, in order;
the core's R beats are the logical image {plane 1 beat, plane 0 beat}, in order, RLAST on
each burst's last beat, RRESP the worse of the two ports'; the DDR holds each written beat
split over the two planes; one B per write burst, after both ports', BRESP the worse.

With `equal` set the ports have the same fixed latency and never stall, nor does the core:
then every core handshake must happen in the very cycle the ports' does (no added cycle).
Parameters come in $BNN_UNIT (JSON): H (bits per port), PLANE, seed, equal, bursts.
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from dataclasses import dataclass, field

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly


@dataclass
class PortBurst:
    addr: int
    beats: int
    due: int  # first R beat (reads) or B response (writes) not before this cycle
    sent: int = 0
    resp: int = 0


@dataclass
class Slave:
    """One HP port: an AXI4 slave over the shared DDR `mem`."""

    k: int
    mem: bytearray
    hb: int  # bytes per beat
    rng: random.Random
    equal: bool
    latency: int
    reads: deque = field(default_factory=deque)
    aws: deque = field(default_factory=deque)
    wq: deque = field(default_factory=deque)  # W beats before their AW
    w_beats: int = 0
    bq: deque = field(default_factory=deque)  # (due, resp)
    ar_log: list = field(default_factory=list)  # (cycle, addr, beats)
    aw_log: list = field(default_factory=list)
    r_hs: list = field(default_factory=list)  # cycles of R handshakes
    w_hs: list = field(default_factory=list)
    b_hs: list = field(default_factory=list)
    r_resps: list = field(default_factory=list)
    b_resps: list = field(default_factory=list)
    last_r: int = -1

    def stall(self) -> bool:
        return not self.equal and self.rng.random() < 0.3

    def lat(self) -> int:
        return self.latency if self.equal else self.latency + self.rng.randrange(0, 12)

    def drive(self, t: int) -> dict:
        o = {"arready": int(not self.stall()), "awready": int(not self.stall()), "wready": int(not self.stall())}
        o.update(rvalid=0, rlast=0, rdata=0, rresp=0, bvalid=0, bresp=0)
        if self.reads and t >= max(self.reads[0].due, self.last_r + 1) and not self.stall():
            h = self.reads[0]
            a = h.addr + h.sent * self.hb
            o.update(
                rvalid=1, rlast=int(h.sent == h.beats - 1), rdata=int.from_bytes(self.mem[a : a + self.hb], "little")
            )
            o["rresp"] = 0 if self.equal or self.rng.random() < 0.9 else 2
        if self.bq and t >= self.bq[0][0] and not self.stall():
            o.update(bvalid=1, bresp=self.bq[0][1])
        return o

    def sample(self, t: int, o: dict, s: dict) -> None:
        if o["arready"] and s["arvalid"]:
            self.reads.append(PortBurst(s["araddr"], s["arlen"] + 1, t + self.lat()))
            self.ar_log.append((t, s["araddr"], s["arlen"] + 1))
        if o["rvalid"] and s["rready"]:
            h = self.reads[0]
            h.sent += 1
            self.last_r = t
            self.r_hs.append(t)
            self.r_resps.append(o["rresp"])
            if h.sent == h.beats:
                self.reads.popleft()
        if o["awready"] and s["awvalid"]:
            self.aws.append(PortBurst(s["awaddr"], s["awlen"] + 1, 0))
            self.aw_log.append((t, s["awaddr"], s["awlen"] + 1))
        if o["wready"] and s["wvalid"]:
            self.wq.append((s["wdata"], s["wlast"], t))
            self.w_hs.append(t)
        while self.aws and self.wq:
            h = self.aws[0]
            data, last, tw = self.wq.popleft()
            a = h.addr + self.w_beats * self.hb
            self.mem[a : a + self.hb] = data.to_bytes(self.hb, "little")
            self.w_beats += 1
            assert bool(last) == (self.w_beats == h.beats), f"port {self.k}: WLAST wrong at beat {self.w_beats}"
            if self.w_beats == h.beats:
                self.aws.popleft()
                self.w_beats = 0
                resp = 0 if self.equal or self.rng.random() < 0.8 else 2
                self.bq.append((max(t, tw) + self.lat(), resp))
        if o["bvalid"] and s["bready"]:
            self.b_resps.append(self.bq.popleft()[1])
            self.b_hs.append(t)


CORE_OUT = ("arvalid", "araddr", "arlen", "rready", "awvalid", "awaddr", "awlen", "wvalid", "wdata", "wstrb", "wlast")
PORT_OUT = ("arvalid", "araddr", "arlen", "arsize", "arburst", "rready", "awvalid", "awaddr", "awlen", "awsize")
PORT_OUT2 = ("awburst", "wvalid", "wdata", "wstrb", "wlast", "bready")
PAYLOAD = {"ar": ("araddr", "arlen", "arsize", "arburst"), "aw": ("awaddr", "awlen", "awsize", "awburst")}
PAYLOAD["w"] = ("wdata", "wstrb", "wlast")


@cocotb.test()
async def hp_split(dut):
    p = json.loads(os.environ["BNN_UNIT"])
    h_bits, plane, equal, n_bursts = p["H"], p["PLANE"], bool(p["equal"]), p["bursts"]
    rng = random.Random(p["seed"])
    hb, bb = h_bits // 8, h_bits // 4  # bytes per port beat, per core beat
    mem = bytearray(rng.randbytes(2 * plane))  # plane 0 at 0, plane 1 at PLANE
    image0 = bytes(mem)
    ports = [Slave(k, mem, hb, random.Random(p["seed"] * 10 + k), equal, 6) for k in range(2)]

    def logical(x: int) -> bytes:  # core beat at logical address x, from the planes
        return bytes(image0[x // 2 : x // 2 + hb]) + bytes(image0[plane + x // 2 : plane + x // 2 + hb])

    # the core's transfers: reads from logical [0, PLANE), writes to [PLANE, 2 PLANE)
    rd = []
    for _ in range(n_bursts):
        n = rng.randrange(1, 17)
        rd.append((rng.randrange(0, (plane - n * bb) // bb) * bb, n))
    wr, x = [], plane  # writes do not overlap, so the DDR shows every one
    for _ in range(n_bursts):
        n = rng.randrange(1, 17)
        wr.append((x, n))
        x += (n + rng.randrange(0, 3)) * bb
    assert x <= 2 * plane
    wr_data = [[rng.getrandbits(2 * h_bits) for _ in range(n)] for _, n in wr]
    w_beats = [(d, i == len(b) - 1) for b in wr_data for i, d in enumerate(b)]

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for n in CORE_OUT:
        getattr(dut, f"s_{n}").value = 0
    for k in range(2):
        for n in ("arready", "rvalid", "rdata", "rlast", "rresp", "awready", "wready", "bvalid", "bresp"):
            getattr(dut, f"m{k}_{n}").value = 0
    dut.rst.value = 1
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0

    ar_i = aw_i = w_i = 0
    ar_on = aw_on = w_on = False
    core_r, core_b, core_ar_hs, core_aw_hs, core_w_hs, core_r_hs, core_b_hs = [], [], [], [], [], [], []
    prev: list[dict | None] = [None, None]
    busy = 0
    t = 0
    while t < 200_000:
        await FallingEdge(dut.clk)
        # core: present the next request when idle (at random unless `equal`); keep it until accepted
        go = equal or rng.random() < 0.7
        if not ar_on and ar_i < len(rd) and go:
            ar_on = True
            dut.s_araddr.value, dut.s_arlen.value = rd[ar_i][0], rd[ar_i][1] - 1
        if not aw_on and aw_i < len(wr) and (equal or rng.random() < 0.7):
            aw_on = True
            dut.s_awaddr.value, dut.s_awlen.value = wr[aw_i][0], wr[aw_i][1] - 1
        if not w_on and w_i < len(w_beats) and (equal or rng.random() < 0.8):
            w_on = True
            dut.s_wdata.value, dut.s_wlast.value = w_beats[w_i][0], int(w_beats[w_i][1])
            dut.s_wstrb.value = (1 << bb) - 1
        dut.s_arvalid.value, dut.s_awvalid.value, dut.s_wvalid.value = int(ar_on), int(aw_on), int(w_on)
        rready = int(equal or rng.random() < 0.75)
        bready = int(equal or rng.random() < 0.75)
        dut.s_rready.value, dut.s_bready.value = rready, bready
        outs = [pt.drive(t) for pt in ports]
        for k, o in enumerate(outs):
            for n, v in o.items():
                getattr(dut, f"m{k}_{n}").value = v
        await ReadOnly()
        for k, (pt, o) in enumerate(zip(ports, outs, strict=True)):
            s = {n: int(getattr(dut, f"m{k}_{n}").value) for n in PORT_OUT + PORT_OUT2}
            assert s["arsize"] == s["awsize"] == (hb.bit_length() - 1) and s["arburst"] == s["awburst"] == 1
            q = prev[k]
            if q is not None:  # AXI: a VALID without its READY stays, with the same payload
                for ch, names in PAYLOAD.items():
                    if q[ch + "valid"] and not q[ch + "ready"]:
                        assert s[ch + "valid"], f"cycle {t}: port {k} withdrew {ch.upper()}VALID"
                        assert all(s[n] == q[n] for n in names), f"cycle {t}: port {k} changed its {ch} payload"
            prev[k] = {**s, "arready": o["arready"], "awready": o["awready"], "wready": o["wready"]}
            pt.sample(t, o, s)
        c = {n: int(getattr(dut, f"s_{n}").value) for n in ("arready", "awready", "wready", "rvalid", "bvalid")}
        if ar_on and c["arready"]:
            core_ar_hs.append(t)
            ar_on, ar_i = False, ar_i + 1
        if aw_on and c["awready"]:
            core_aw_hs.append(t)
            aw_on, aw_i = False, aw_i + 1
        if w_on and c["wready"]:
            core_w_hs.append(t)
            w_on, w_i = False, w_i + 1
        if c["rvalid"] and rready:
            core_r.append((int(dut.s_rdata.value), int(dut.s_rlast.value), int(dut.s_rresp.value)))
            core_r_hs.append(t)
        if c["bvalid"] and bready:
            core_b.append(int(dut.s_bresp.value))
            core_b_hs.append(t)
        t += 1
        done = ar_i == len(rd) and w_i == len(w_beats) and aw_i == len(wr)
        done = done and len(core_r) == sum(n for _, n in rd) and len(core_b) == len(wr)
        busy = busy + 1 if done else 0
        if busy > 40:  # drained: nothing more may arrive
            break
    assert busy > 40, f"not finished in {t} cycles: {len(core_r)} R beats, {len(core_b)} B"

    for k, pt in enumerate(ports):
        assert [(a, n) for _, a, n in pt.ar_log] == [(x // 2 + k * plane, n) for x, n in rd], f"port {k} AR"
        assert [(a, n) for _, a, n in pt.aw_log] == [(x // 2 + k * plane, n) for x, n in wr], f"port {k} AW"
        assert not pt.reads and not pt.aws and not pt.wq and not pt.bq, f"port {k}: traffic left over"
    want = [(x + i * bb, i == n - 1) for x, n in rd for i in range(n)]
    assert len(core_r) == len(want)
    for j, ((data, last, resp), (x, wlast)) in enumerate(zip(core_r, want, strict=True)):
        assert data.to_bytes(bb, "little") == logical(x), f"R beat {j} (logical {x:#x}): wrong data"
        assert last == int(wlast), f"R beat {j}: RLAST {last}"
        assert resp == max(ports[0].r_resps[j], ports[1].r_resps[j]), f"R beat {j}: RRESP {resp}"
    assert core_b == [max(a, b) for a, b in zip(ports[0].b_resps, ports[1].b_resps, strict=True)], "BRESP"
    for (x, _n), beats in zip(wr, wr_data, strict=True):
        for i, d in enumerate(beats):
            raw = d.to_bytes(bb, "little")
            a = (x + i * bb) // 2
            assert mem[a : a + hb] == raw[:hb] and mem[plane + a : plane + a + hb] == raw[hb:], f"W {x:#x}+{i}"
    # a B reaches the core only after both ports' B of that burst
    for j, tb in enumerate(core_b_hs):
        assert tb >= ports[0].b_hs[j] and tb >= ports[1].b_hs[j]
    if equal:  # no added cycle: the core's handshakes are the ports' own
        for k, pt in enumerate(ports):
            assert [c for c, _, _ in pt.ar_log] == core_ar_hs, f"port {k}: AR cycles"
            assert [c for c, _, _ in pt.aw_log] == core_aw_hs, f"port {k}: AW cycles"
            assert pt.w_hs == core_w_hs and pt.r_hs == core_r_hs and pt.b_hs == core_b_hs, f"port {k}: cycles"
        # and the R beats come at the memory's own pace: first beat L after AR, then back to back
        assert core_r_hs[0] == core_ar_hs[0] + ports[0].latency
    dut._log.info(f"{len(core_r)} R beats, {len(w_beats)} W beats over {t} cycles")
