"""cocotb testbench: the board's accelerator with two HP ports (bnn_accel_axi with bnn_hp_split)
run by the host driver, each HP port served by its own AXI memory model over one shared DDR.

The same flow as tb_driver (the driver in a bridge thread, MMIO as AXI-Lite transactions), but
the DUT is the block-design wrapper: its AXI-Lite slave is s_axi_*, its masters m_axi_hp0_* and
m_axi_hp1_*. `Port` renames tb_accel's signal names onto one of them, so tb_accel's Lite master,
reset and MemPort serve it unchanged. $BNN_DRIVER_CASE is tb_driver's case JSON plus `timing1`
(the second port's MemTiming); the result adds each port's AR bursts (address, beats).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.task import bridge
from cocotb.triggers import FallingEdge, ReadOnly

from tests.rtlsim.axi import AxiMemory, MemTiming
from tests.rtlsim.tb_accel import Lite, MemPort, reset
from tests.rtlsim.tb_driver import host


class Port:
    """The wrapper seen under bnn_accel's names: s_axil_* -> s_axi_*, m_axi_* -> m_axi_hp<k>_*."""

    def __init__(self, dut, k: int):
        self._dut, self._k = dut, k

    def __getattr__(self, name: str):
        if name.startswith("s_axil_"):
            name = "s_axi_" + name[len("s_axil_") :]
        elif name.startswith("m_axi_"):
            name = f"m_axi_hp{self._k}_" + name[len("m_axi_") :]
        return getattr(self._dut, name)


async def serve_two(ports: list[MemPort], clk) -> None:
    t = 0
    while True:
        await FallingEdge(clk)
        for p in ports:
            p.drive(t)
        await ReadOnly()
        for p in ports:
            p.sample(t)
        t += 1


@cocotb.test()
async def driver_hp2(dut):
    case = json.loads(Path(os.environ["BNN_DRIVER_CASE"]).read_text())
    mems = [AxiMemory(case["mem_size"], MemTiming(**case[key])) for key in ("timing", "timing1")]
    mems[1].mem = mems[0].mem  # both HP ports reach the same DDR
    sides = [Port(dut, 0), Port(dut, 1)]
    for n in ("rvalid", "bvalid", "arready", "awready", "wready", "rlast", "rdata", "rresp", "bresp"):
        getattr(sides[1], f"m_axi_{n}").value = 0
    await reset(sides[0])
    cocotb.start_soon(serve_two([MemPort(s, m) for s, m in zip(sides, mems, strict=True)], dut.aclk))
    result = await bridge(host)(case, Lite(sides[0]), mems[0])
    result["ar"] = [[[a, n] for _, a, n in m.stats.ar] for m in mems]
    result["aw"] = [[[a, n] for _, a, n in m.stats.aw] for m in mems]
    Path(case["result"]).write_text(json.dumps(result))
