"""The board's accelerator with two HP ports, end to end under Icarus: the host driver (plane
layout) runs bnn_accel_axi, in which bnn_hp_split splits the 64-bit (128-bit) master over two 32-bit
(64-bit) HP ports, each served by its own memory model over one DDR (tests/rtlsim/tb_hp2.py).

With equal ports the outputs equal archsim's functional model bit for bit and CYCLES and the
layer log equal archsim.contract.schedule's: the splitter adds no cycle. With skewed ports
(random stalls and delays, independently per port) the outputs are still exact.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from archsim.contract import schedule
from archsim.fileio import file_lock
from archsim.format import save_model
from archsim.functional import run_model
from archsim.layout import build_layout
from archsim.program import compile_program
from rtl import board
from rtl.emit import TOP, VERILOG_DIR, write_verilog
from rtl.params import RtlParams
from tests.rtlsim.cases import case
from tests.rtlsim.configs import ROOT, write_config
from tests.rtlsim.harness import CACHE
from tests.test_driver import small_model, two_port

pytestmark = pytest.mark.rtl


def build_board(cfg) -> Path:
    """bnn_accel + bnn_hp_split + the wrapper, compiled with Icarus (cached by content)."""
    import hashlib

    from cocotb_tools.runner import get_runner

    prm = RtlParams(cfg, sparse=True)
    with tempfile.TemporaryDirectory(prefix="hp2-src-") as tmp:  # this process's own: workers run in parallel
        files = write_verilog(prm, Path(tmp))
        wrapper = board.axi_wrapper(prm, (Path(tmp) / f"{TOP}.v").read_text())
        key = hashlib.sha256(wrapper.encode() + (VERILOG_DIR / "bnn_hp_split.v").read_bytes())
        for f in files:
            key.update(f.read_bytes())
    bdir = CACHE / f"icarus-hp2-{key.hexdigest()[:12]}"
    vdir = bdir / "verilog"
    with file_lock(CACHE / f"{bdir.name}.lock"):  # built once, by one worker; the others wait for it
        if not (bdir / "built.json").exists():
            files = write_verilog(prm, vdir)
            shutil.copy(VERILOG_DIR / "bnn_hp_split.v", vdir / "bnn_hp_split.v")
            (vdir / f"{board.WRAPPER}.v").write_text(wrapper)
            get_runner("icarus").build(
                sources=[*files, vdir / "bnn_hp_split.v", vdir / f"{board.WRAPPER}.v"],
                includes=[vdir],
                hdl_toplevel=board.WRAPPER,
                build_dir=bdir,
                timescale=("1ns", "1ps"),
                always=True,
            )
            (bdir / "built.json").write_text("{}")
    return bdir


def wide_two_port():
    """8 PE rows, 16-channel words: a 128-bit master over two 64-bit HP ports."""
    c = case("program").config()
    return c.model_copy(
        update={
            "pe_array": c.pe_array.model_copy(update={"rows": 8}),
            "buffers": c.buffers.model_copy(update={"act_word_bits": 16}),
            "axi": c.axi.model_copy(update={"data_bits": 128, "hp_ports": 2}),
        }
    )


@pytest.mark.parametrize(
    ("skew", "wide"), [(False, False), (True, False), (False, True)], ids=["equal", "skewed", "equal-64bit-ports"]
)
def test_driver_runs_the_board_over_two_hp_ports(skew, wide, tmp_path):
    from cocotb_tools.runner import get_runner

    cfg = wide_two_port() if wide else two_port(case("program").config())
    cfg = type(cfg).model_validate(cfg.model_dump())  # the limits hold
    model, images = small_model(cfg)
    save_model(tmp_path / "m.npz", model)
    np.save(tmp_path / "images.npy", images)
    ax = cfg.axi
    base = 0x3000
    timing = {
        "read_latency": ax.read_latency,
        "write_latency": ax.write_latency,
        "beat_cycles": ax.read_beat_cycles,
        "data_bits": ax.data_bits // 2,
        "backpressure": skew,
    }
    spec = {
        "config": str(write_config(cfg, tmp_path / "cfg.yaml")),
        "model": str(tmp_path / "m.npz"),
        "images": str(tmp_path / "images.npy"),
        "base": base,
        "mem_size": base + board.HP_PLANE_BYTES + (1 << 20),
        "timing": {**timing, "seed": 1},
        "timing1": {**timing, "seed": 2},
        "timeout_s": 300.0,
        "result": str(tmp_path / "driver.json"),
        "outputs": str(tmp_path / "outputs.npy"),
    }
    (tmp_path / "case.json").write_text(json.dumps(spec))
    bdir = build_board(cfg)
    get_runner("icarus").test(
        test_module="tests.rtlsim.tb_hp2",
        hdl_toplevel_lang="verilog",
        hdl_toplevel=board.WRAPPER,
        build_dir=bdir,
        test_dir=tmp_path,
        extra_env={"BNN_DRIVER_CASE": str(tmp_path / "case.json"), "PYTHONPATH": str(ROOT)},
        results_xml=str(tmp_path / "results.xml"),
        log_file=str(tmp_path / "sim.log"),
    )
    assert Path(spec["result"]).exists(), (tmp_path / "sim.log").read_text()[-3000:]
    res = json.loads(Path(spec["result"]).read_text())
    outputs = np.load(spec["outputs"])

    prog = compile_program(model, cfg, "sparse")
    lay0 = build_layout(model, prog, cfg)
    assert res["buffer_address"] == base and res["load_addr"] == 2 * base + lay0.load_addr
    # both ports carried every burst, at plane_k(X) = X / 2 + k * PLANE, with the same lengths
    ar0, ar1 = res["ar"]
    assert ar0 and [[a + board.HP_PLANE_BYTES, n] for a, n in ar0] == ar1
    assert res["aw"][0] and [[a + board.HP_PLANE_BYTES, n] for a, n in res["aw"][0]] == res["aw"][1]
    assert min(a for a, _ in ar0) >= base and max(a for a, _ in ar0) < base + lay0.end // 2
    ref = run_model(model, images, "sparse")
    for k, i in enumerate([0, 0, 1]):  # run(images[0]), then run_batch(images)
        assert res["logits"][k] == ref.logits[i].tolist(), f"run {k} (image {i}): logits differ"
        assert np.array_equal(outputs[k], ref.layer_out[-1][i]), f"run {k}: output map differs"
        if not skew:
            active = [None if m is None else np.flatnonzero(m[i].reshape(-1)) for m in ref.masks]
            sched = schedule(prog, cfg, active)
            assert res["cycles"][k] == sched.total_cycles, f"run {k}: CYCLES {res['cycles'][k]} vs {sched.total_cycles}"
            assert res["layer_ends"][k] == [lt.end for lt in sched.layers]
