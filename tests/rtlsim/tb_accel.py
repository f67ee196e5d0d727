"""cocotb testbench of the whole accelerator (bnn_accel): programme, run, read back.

The case to run is described by the JSON file named in $BNN_CASE (written by
tests/rtlsim/harness.py): the DDR image, the register writes, the memory timing. The
testbench writes the registers over AXI-Lite, pulses `start` for one cycle (cycle 0),
runs the AXI memory model until `done`, reads CYCLES and the layer-end log over
AXI-Lite and the output map from memory, and writes everything to $BNN_RESULT.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from .axi import AxiMemory, MemTiming

MAX_CYCLES = int(os.environ.get("BNN_MAX_CYCLES", "2000000"))


class Lite:
    """AXI4-Lite master, one transaction at a time, cycle by cycle."""

    def __init__(self, dut):
        self.d = dut

    async def write(self, addr: int, value: int) -> None:
        d = self.d
        await FallingEdge(d.aclk)
        d.s_axil_awaddr.value = addr
        d.s_axil_wdata.value = value
        d.s_axil_awvalid.value = 1
        d.s_axil_wvalid.value = 1
        while True:
            await ReadOnly()
            done = int(d.s_axil_awready.value)
            await FallingEdge(d.aclk)
            if done:
                break
        d.s_axil_awvalid.value = 0
        d.s_axil_wvalid.value = 0
        while True:
            await ReadOnly()
            if int(d.s_axil_bvalid.value):
                break
            await FallingEdge(d.aclk)

    async def read(self, addr: int) -> int:
        d = self.d
        await FallingEdge(d.aclk)
        d.s_axil_araddr.value = addr
        d.s_axil_arvalid.value = 1
        while True:
            await ReadOnly()
            done = int(d.s_axil_arready.value)
            await FallingEdge(d.aclk)
            if done:
                break
        d.s_axil_arvalid.value = 0
        while True:
            await ReadOnly()
            if int(d.s_axil_rvalid.value):
                return int(d.s_axil_rdata.value)
            await FallingEdge(d.aclk)


class MemPort:
    """The DUT's AXI4 master pins served by an AxiMemory, one cycle at a time:
    `drive(t)` after the falling edge, `sample(t)` in the ReadOnly phase after it."""

    def __init__(self, dut, mem: AxiMemory):
        self.mem = mem
        self.h = {
            n: getattr(dut, f"m_axi_{n}")
            for n in (
                "arvalid",
                "araddr",
                "arlen",
                "rready",
                "awvalid",
                "awaddr",
                "awlen",
                "wvalid",
                "wdata",
                "wlast",
                "bready",
            )
        }
        self.o = {
            n: getattr(dut, f"m_axi_{n}")
            for n in ("arready", "rvalid", "rdata", "rlast", "awready", "wready", "bvalid")
        }
        self.last: dict[str, int] = {}
        self.out: dict = {}

    def drive(self, t: int) -> None:
        out = self.mem.drive(t)
        for k in ("arready", "rvalid", "rlast", "awready", "wready", "bvalid"):
            if self.last.get(k) != out[k]:
                self.o[k].value = out[k]
                self.last[k] = out[k]
        if out["rdata"] is not None:
            self.o["rdata"].value = out["rdata"]
        self.out = out

    def sample(self, t: int) -> None:
        h, out = self.h, self.out
        s = {k: int(v.value) for k, v in h.items() if k not in ("araddr", "arlen", "awaddr", "awlen", "wdata")}
        out["arvalid_hs"] = s["arvalid"] and out["arready"]
        out["awvalid_hs"] = s["awvalid"] and out["awready"]
        if out["arvalid_hs"]:
            s["araddr"] = int(h["araddr"].value)
            s["arlen"] = int(h["arlen"].value)
        if out["awvalid_hs"]:
            s["awaddr"] = int(h["awaddr"].value)
            s["awlen"] = int(h["awlen"].value)
        if s["wvalid"] and out["wready"]:
            s["wdata"] = int(h["wdata"].value)
        self.mem.sample(t, out, s)


async def run_accel(dut, mem: AxiMemory, probes: dict[str, list[int]] | None = None) -> int:
    """Pulse start and serve the AXI master until done; returns DONE (cycles from start). `probes`:
    internal one-bit signals by hierarchical name (below the top level), each given the cycles in
    which it is set."""
    port = MemPort(dut, mem)
    handles = []
    for name, cycles in (probes or {}).items():
        h = dut
        for part in name.split("."):
            h = getattr(h, part)
        handles.append((h, cycles))
    t = 0
    while t < MAX_CYCLES:
        await FallingEdge(dut.aclk)
        dut.start.value = 1 if t == 0 else 0
        port.drive(t)
        await ReadOnly()
        if t > 0 and int(dut.done.value):
            return t
        port.sample(t)
        for h, cycles in handles:
            if str(h.value) == "1":  # an unset register (X) is not set
                cycles.append(t)
        t += 1
    raise AssertionError(f"no done within {MAX_CYCLES} cycles")


async def serve_memory(dut, mem: AxiMemory) -> None:
    """Serve the AXI master every cycle, for ever (for runs started over AXI-Lite, CTRL.start)."""
    port = MemPort(dut, mem)
    t = 0
    while True:
        await FallingEdge(dut.aclk)
        port.drive(t)
        await ReadOnly()
        port.sample(t)
        t += 1


async def reset(dut) -> None:
    """Start the clock, set every input idle, hold aresetn low for three cycles."""
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
    for sig in (
        "start",
        "s_axil_awvalid",
        "s_axil_wvalid",
        "s_axil_arvalid",
        "m_axi_rvalid",
        "m_axi_bvalid",
        "m_axi_arready",
        "m_axi_awready",
        "m_axi_wready",
        "m_axi_rlast",
    ):
        getattr(dut, sig).value = 0
    dut.s_axil_bready.value = 1
    dut.s_axil_rready.value = 1
    dut.s_axil_wstrb.value = 0xF
    dut.s_axil_awaddr.value = 0
    dut.s_axil_wdata.value = 0
    dut.s_axil_araddr.value = 0
    dut.m_axi_rdata.value = 0
    dut.m_axi_rresp.value = 0
    dut.m_axi_bresp.value = 0
    dut.aresetn.value = 0
    for _ in range(3):
        await FallingEdge(dut.aclk)
    dut.aresetn.value = 1


@cocotb.test()
async def run_case(dut):
    case = json.loads(Path(os.environ["BNN_CASE"]).read_text())
    ddr = Path(case["ddr_file"]).read_bytes()
    timing = MemTiming(**case["timing"])
    mem = AxiMemory(max(len(ddr), case["ddr_size"]), timing)
    mem.write(0, ddr)

    await reset(dut)
    lite = Lite(dut)
    ident = await lite.read(case["id_addr"])
    assert ident == case["id_magic"], f"ID register reads {ident:#x}"
    for addr, value in case["writes"]:
        await lite.write(addr, value)
    for addr, value in case.get("readback", []):
        got = await lite.read(addr)
        assert got == value, f"register {addr:#06x} reads {got:#x}, wrote {value:#x}"

    probes: dict[str, list[int]] = {name: [] for name in case.get("probes", [])}
    t0 = time.perf_counter()
    done = await run_accel(dut, mem, probes)
    wall = time.perf_counter() - t0
    cycles_reg = await lite.read(case["cycles_addr"])
    status = await lite.read(case["status_addr"])
    ends = [await lite.read(a) for a in case["log_addrs"]]
    out = mem.read(case["store_addr"], case["store_bytes"])
    first_stats = mem.stats
    # a stream (docs/timing.md 9): every image's output and the DONE log
    for addr, nbytes, fname in case.get("stream_outs", []):
        Path(fname).write_bytes(mem.read(addr, nbytes))
    done_log = [await lite.read(a) for a in case.get("done_addrs", [])]
    more = []
    for extra in case.get("more_loads", []):
        # the next sample: a new input map, start again without reset or reprogramming
        mem.write(case["load_addr"], Path(extra["load_file"]).read_bytes())
        mem.new_run()
        d2 = await run_accel(dut, mem)
        Path(extra["out_file"]).write_bytes(mem.read(case["store_addr"], case["store_bytes"]))
        more.append(
            {
                "done": d2,
                "cycles_reg": await lite.read(case["cycles_addr"]),
                "layer_ends": [await lite.read(a) for a in case["log_addrs"]],
            }
        )
    result = {
        "more": more,
        "done": done,
        "cycles_reg": cycles_reg,
        "status": status,
        "layer_ends": ends,
        "wall_s": wall,
        "ar": first_stats.ar,
        "r_last": first_stats.r_last,
        "w_first": first_stats.w_first,
        "b": first_stats.b,
        "done_log": done_log,
        "probes": probes,
    }
    Path(case["out_file"]).write_bytes(out)
    Path(os.environ["BNN_RESULT"]).write_text(json.dumps(result))
