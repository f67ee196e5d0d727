"""cocotb testbench: the host driver (rtl/host/driver.py) runs the generated accelerator.

The driver is ordinary blocking code; it runs in a bridge thread (cocotb.task.bridge) against
SimBackend, whose MMIO reads and writes are AXI-Lite transactions of tb_accel's Lite master
(called back into the simulation with cocotb.task.resume) and whose DDR buffers are regions of
the AxiMemory that serves the accelerator's AXI master every cycle (tb_accel.serve_memory).
Nothing pulses the start pin: runs start with the driver's CTRL.start write.

$BNN_DRIVER_CASE names a JSON file: config (YAML path), model (.npz), images (.npy, uint8
[N, C, H, W]), base (physical address of the first buffer), mem_size, timing (MemTiming),
timeout_s, result (JSON path) and outputs (.npy path for the STOREd maps).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.task import bridge, resume

from rtl.host.driver import Accelerator, CachedBuffer, DdrBuffer
from tests.rtlsim.axi import AxiMemory, MemTiming
from tests.rtlsim.tb_accel import Lite, reset, serve_memory


class SimMmio:
    """32-bit register access as AXI-Lite transactions in the simulation (from the bridge thread)."""

    def __init__(self, lite: Lite):
        self._read = resume(lite.read)
        self._write = resume(lite.write)
        self.count = 0

    def read(self, offset: int) -> int:
        self.count += 1
        return self._read(offset)

    def write(self, offset: int, value: int) -> None:
        self.count += 1
        self._write(offset, value)


class SimBackend:
    """The driver's Backend on the simulated board: physical address = address in the AxiMemory."""

    def __init__(self, lite: Lite, mem: AxiMemory, base: int):
        self.mmio = SimMmio(lite)
        self.mem = mem
        self._next = base
        self.buffers: list[CachedBuffer] = []

    def allocate(self, nbytes: int) -> DdrBuffer:
        off = self._next
        if off + nbytes > len(self.mem.mem):
            raise MemoryError(f"{nbytes} bytes at {off:#x} exceed the simulated DDR")
        self._next = off + -(-nbytes // 4096) * 4096
        buf = CachedBuffer(np.frombuffer(self.mem.mem, dtype=np.uint8)[off : off + nbytes], off)
        self.buffers.append(buf)
        return buf


def host(case: dict, lite: Lite, mem: AxiMemory) -> dict:
    """What a user does on the board: load a model, run one image, then a batch."""
    backend = SimBackend(lite, mem, case["base"])
    acc = Accelerator(backend, case["config"], timeout_s=case["timeout_s"])
    stream = case.get("stream", 0)  # room for a stream of that many images, run after the batch
    acc.load_model(case["model"], **({"stream": stream} if stream else {}))
    program_accesses = backend.mmio.count
    images = np.load(case["images"])
    single = acc.run(images[0])
    runs = [acc.stats]
    batch = acc.run_batch(images)
    runs += acc.batch_stats
    np.save(case["outputs"], np.stack([r.output for r in runs]))
    more = {}
    if stream:
        logits = acc.run(list(images))  # a list: one stream, one start
        st = acc.stream_stats
        assert st is not None
        np.save(case["stream_outputs"], np.stack(st.outputs))
        more["stream"] = {
            "logits": logits.tolist(),
            "cycles": st.cycles,
            "done": list(st.done),
            "layer_ends": list(st.layer_ends),
        }
        # and one image again: the driver sets n_images back to 1
        single2 = acc.run(images[1])
        more["after"] = {"logits": single2.tolist(), "cycles": acc.stats.cycles if acc.stats else None}
    return {
        **more,
        "logits": [single.tolist(), *batch.tolist()],
        "cycles": [r.cycles for r in runs],
        "layer_ends": [list(r.layer_ends) for r in runs],
        "buffer_address": acc.buffer.physical_address if acc.buffer is not None else None,
        "load_addr": acc.layout.load_addr if acc.layout is not None else None,
        "syncs": backend.buffers[0].syncs,
        "program_accesses": program_accesses,
        "mode": acc.mode,
    }


@cocotb.test()
async def driver_case(dut):
    case = json.loads(Path(os.environ["BNN_DRIVER_CASE"]).read_text())
    mem = AxiMemory(case["mem_size"], MemTiming(**case["timing"]))
    await reset(dut)
    cocotb.start_soon(serve_memory(dut, mem))
    result = await bridge(host)(case, Lite(dut), mem)
    Path(case["result"]).write_text(json.dumps(result))
