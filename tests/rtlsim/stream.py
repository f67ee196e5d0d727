"""A stream of images through the generated RTL (docs/timing.md section 9), and what it must give.

`run_stream` packs N input maps at the layout's LOAD stride, programmes n_images, runs the
testbench once (one `start`) and returns every image's STOREd output and the DONE log, with
the functional model's outputs and the stream schedule (`stream_schedule`) beside them.

`stream_schedule` is the contract's `schedule_stream`, in per-image lists. `own_stream_schedule`
is a second, independent reading of rules S1-S6 that the tests hold it to: image n is its
single-image schedule shifted by S(n) (S3), S(n) from S2, the STOREs' bursts one recurrence
across images (S5). It refuses a stream in which S4 binds (the image is then no longer a shift).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsim.config import HardwareConfig
from archsim.contract import LATENCIES, Schedule, burst_sizes, schedule, schedule_stream, write_burst_cycles
from archsim.format import BnnModel
from archsim.layout import DdrLayout, build_layout, store_view, unpack_store
from archsim.program import Program, compile_program

from .harness import Built, load_image, memory_timing, read_bursts, regmap, run_testbench
from .reference import expected_run


@dataclass
class StreamRef:
    """Per-image times of a stream (cycles from the one `start`)."""

    starts: list[int]  # S(n)
    dones: list[int]  # DONE(n)
    layer_ends: list[list[int]]  # end_l(n), every layer of every image
    store_bursts: list[tuple[int, int, int]]  # (first W beat, beats, B response), all images in order
    ars: list[list[int]]  # AR cycles of every read burst, per image
    last_starts: list[int]  # start of every image's last layer (S4)
    singles: list[Schedule]  # each image's single-image schedule (from 0)


def _read_bursts(s: Schedule, cfg: HardwareConfig) -> list[int]:
    """AR cycle of every read burst of one image, from its jobs' `allowed` times (section 3)."""
    return read_bursts(s.jobs, cfg)[0]


class S4Binds(Exception):
    """The reference cannot shift an image whose last layer S4 delays."""


def own_stream_schedule(program: Program, cfg: HardwareConfig, actives: list[list]) -> StreamRef:
    """Rules S1-S6 for streams in which S4 does not bind (see the module docstring)."""
    ax, lat = cfg.axi, LATENCIES
    starts, dones, ends, bursts, ars, singles, lasts = [], [], [], [], [], [], []
    start, end_prev, wend_prev = 0, 0, 0
    for n, act in enumerate(actives):
        s = schedule(program, cfg, act)
        if n:
            start = end_prev if program.pooled else max(end_prev, wend_prev)  # S2
            if program.pooled and start + s.layers[-1].start < wend_prev:
                raise S4Binds(f"image {n}: its last layer would start before STORE({n - 1})'s last W beat + 1")
        lends = [start + lt.end for lt in s.layers]  # S3
        # S5: one write recurrence over every image's STORE
        s_next = lends[-1] + lat.store
        for nb in burst_sizes(program.store_beats, ax.max_burst_beats):
            b = len(bursts)
            freed = bursts[b - ax.max_outstanding_writes][2] + 1 if b >= ax.max_outstanding_writes else -(10**9)
            sb = max(s_next, freed)
            bursts.append((sb, nb, sb + write_burst_cycles(nb) - 1 + ax.write_latency))
            s_next = sb + write_burst_cycles(nb)
        starts.append(start)
        dones.append(bursts[-1][2] + 1)
        ends.append(lends)
        ars.append([start + a for a in _read_bursts(s, cfg)])
        lasts.append(start + s.layers[-1].start)
        singles.append(s)
        end_prev, wend_prev = lends[-1], s_next
    return StreamRef(starts, dones, ends, bursts, ars, lasts, singles)


def stream_schedule(program: Program, cfg: HardwareConfig, actives: list[list]) -> StreamRef:
    """The contract's stream schedule (archsim.contract.schedule_stream), as per-image lists."""
    st = schedule_stream(program, cfg, actives)
    return StreamRef(
        starts=list(st.starts),
        dones=list(st.done),
        layer_ends=[[lt.end for lt in s.layers] for s in st.images],
        store_bursts=[b for s in st.images for b in s.store_bursts],
        ars=[_read_bursts(s, cfg) for s in st.images],
        last_starts=[s.layers[-1].start for s in st.images],
        singles=[schedule(program, cfg, act) for act in actives],
    )


@dataclass
class StreamOutcome:
    program: Program
    cfg: HardwareConfig
    ref: StreamRef
    expected: list[np.ndarray]  # per image: what its STORE must write
    got: list[np.ndarray]
    done: int  # cycles counted at the pins (DONE(N-1))
    cycles_reg: int
    done_log: list[int]
    layer_ends: list[int]  # the layer-end log after the run: the last image's
    result: dict
    masks: list[list[np.ndarray | None]]
    lay: DdrLayout


def run_stream(
    built: Built,
    name: str,
    model: BnnModel,
    xs: list[np.ndarray],
    mode: str,
    work: Path,
    backpressure: bool = False,
    mem_seed: int = 0,
    images: list[np.ndarray] | None = None,
) -> StreamOutcome:
    """`images`: with the stem unit, the raw images uint8 [1, H, W] whose stem outputs are `xs`."""
    cfg = built.prm.cfg
    n = len(xs)
    prog = compile_program(model, cfg, mode)
    lay = build_layout(model, prog, cfg, n_images=n)
    exp, masks, actives = [], [], []
    for x in xs:
        e, m = expected_run(model, x, mode, cfg)
        exp.append(store_view(prog, e))
        masks.append(m)
        actives.append([None if mm is None else np.flatnonzero(mm.reshape(-1)) for mm in m])
    ref = stream_schedule(prog, cfg, actives)

    work.mkdir(parents=True, exist_ok=True)
    ddr = bytearray(lay.end)
    for i, x in enumerate(xs):
        load = load_image(prog, cfg, model, x, None if images is None else images[i])
        ddr[lay.load_addr_of(i) : lay.load_addr_of(i) + len(load)] = load
    base, blobs = lay.blob_image()
    ddr[base : base + len(blobs)] = blobs
    (work / "ddr.bin").write_bytes(bytes(ddr))
    writes = regmap.program_writes(lay, built.prm)
    store_bytes = lay.store.beats * cfg.beat_bytes
    case_json = {
        "ddr_file": str(work / "ddr.bin"),
        "ddr_size": lay.end,
        "timing": memory_timing(cfg, backpressure, mem_seed),
        "writes": [[w.addr, w.value] for w in writes],
        "readback": [
            [regmap.global_addr(w.what.split(".", 1)[1]), w.value] for w in writes if w.what.startswith("global.")
        ],
        "id_addr": regmap.ID,
        "id_magic": regmap.ID_MAGIC,
        "cycles_addr": regmap.CYCLES,
        "status_addr": regmap.STATUS,
        "log_addrs": [regmap.log_addr(i) for i in range(len(lay.layers))],
        "store_addr": lay.store_addr,
        "store_bytes": store_bytes,
        "out_file": str(work / "out.bin"),
        "load_addr": lay.load_addr,
        "stream_outs": [[lay.store_addr_of(i), store_bytes, str(work / f"out{i}.bin")] for i in range(n)],
        "done_addrs": [regmap.done_addr(i) for i in range(min(n, regmap.DONE_LOG_IMAGES))],
    }
    (work / "case.json").write_text(json.dumps(case_json))
    res_file = work / "result.json"
    run_testbench(
        built,
        f"{__package__}.tb_accel",
        work,
        {"BNN_CASE": str(work / "case.json"), "BNN_RESULT": str(res_file)},
        res_file,
        name,
    )
    res = json.loads(res_file.read_text())
    got = [unpack_store((work / f"out{i}.bin").read_bytes(), prog, cfg) for i in range(n)]
    return StreamOutcome(
        program=prog,
        cfg=cfg,
        ref=ref,
        expected=exp,
        got=got,
        done=res["done"],
        cycles_reg=res["cycles_reg"],
        done_log=res["done_log"],
        layer_ends=res["layer_ends"],
        result=res,
        masks=masks,
        lay=lay,
    )
