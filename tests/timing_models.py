"""Builders for the timing tests and the benchmark: hardware configs, small BnnModels, active sets.

Models are built directly (random weights, balanced keep masks from
archsim.program.pass_geometry / real_rows), so the timing tests depend on no
generator or trained model. Every random choice takes a numpy Generator.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archsim.activity import SimSchedule
from archsim.config import HardwareConfig, load_config
from archsim.contract import LATENCIES, Latencies, Schedule, schedule
from archsim.format import BinaryConv, BnnModel, Classifier, Predictor, Stem
from archsim.program import Program, pass_geometry, real_rows
from archsim.sim import simulate

ROOT = Path(__file__).resolve().parents[1]
ULTRA96 = load_config(ROOT / "configs/ultra96v2.yaml")

# Roomy buffers, so that small arrays fit every test layer.
_BIG_BUFFERS = {"act_bank_depth": 1 << 14, "res_depth": 1 << 16, "weight_depth": 1 << 16, "list_depth": 1 << 12}


def make_config(name: str, pe: dict[str, int | bool], axi: dict[str, int], act_word_bits: int) -> HardwareConfig:
    """The Ultra96v2 config with other folding parameters and AXI timing (validated)."""
    data = copy.deepcopy(ULTRA96.model_dump())
    data["name"] = name
    data["pe_array"].update({"split_tiles": False, **pe})  # rule T3 only where a config turns it on ("split")
    data["axi"].update({"hp_ports": 1, **axi})  # the contract is at the core's port: one port of data_bits
    # the LOAD-then-layer rule and the map STORE; tests/test_timing_input_buffer.py turns the input buffer
    # on, with_pooled_store the pooled STORE
    data["buffers"].update(_BIG_BUFFERS, act_word_bits=act_word_bits, input_buffer=False, pooled_store=False)
    data["stem_unit"]["enabled"] = False  # the host stem; tests/test_timing_stem_unit.py turns the unit on
    # the timing model's properties hold for shapes the RTL generator does not build (e.g. one PE row)
    return HardwareConfig.model_validate(data, context={"rtl_limits": False})


def with_pooled_store(cfg: HardwareConfig, on: bool = True) -> HardwareConfig:
    """`cfg` with buffers.pooled_store set: the STORE writes the pooled sums (docs/timing.md 5)."""
    data = cfg.model_dump()
    data["buffers"]["pooled_store"] = on
    return HardwareConfig.model_validate(data, context={"rtl_limits": False})


CONFIGS: dict[str, HardwareConfig] = {
    "ultra96v2": ULTRA96,
    "small": make_config(
        "small",
        {"rows": 4, "cols": 4, "acc_depth": 4},
        {
            "data_bits": 64,
            "max_burst_beats": 4,
            "read_latency": 5,
            "write_latency": 3,
            "max_outstanding_reads": 2,
            "max_outstanding_writes": 1,
            "read_beat_cycles": 1,
        },
        8,
    ),
    "tiny": make_config(
        "tiny",
        {"rows": 2, "cols": 3, "acc_depth": 2},
        {
            "data_bits": 32,
            "max_burst_beats": 2,
            "read_latency": 1,
            "write_latency": 1,
            "max_outstanding_reads": 1,
            "max_outstanding_writes": 2,
            "read_beat_cycles": 3,
        },
        4,
    ),
    # split tiles (docs/timing.md 4.2, T3): tiles of up to 3 positions take two steps per cycle; 4 x 8 slots give
    # an even number of steps per weight entry (2 of a 3x3 step, 6 of a 1x1 one), as the rule needs
    "split": make_config(
        "split",
        {"rows": 4, "cols": 6, "acc_depth": 8, "split_tiles": True},
        {
            "data_bits": 64,
            "max_burst_beats": 4,
            "read_latency": 6,
            "write_latency": 2,
            "max_outstanding_reads": 2,
            "max_outstanding_writes": 2,
            "read_beat_cycles": 1,
        },
        8,
    ),
    "wide": make_config(
        "wide",
        {"rows": 8, "cols": 5, "acc_depth": 4},
        {
            "data_bits": 128,
            "max_burst_beats": 8,
            "read_latency": 20,
            "write_latency": 9,
            "max_outstanding_reads": 3,
            "max_outstanding_writes": 4,
            "read_beat_cycles": 2,
        },
        16,
    ),
}


def balanced_keep(rng: np.random.Generator, c_out: int, c_in: int, rows: int, depth: int, k: int | None) -> np.ndarray:
    """Keep mask with exactly min(k, real channels of the row) kernels per (pass, row, input channel)."""
    keep = np.zeros((c_out, c_in), dtype=bool)
    if k is None:
        keep[:] = True
        return keep
    for lo, hi, g in pass_geometry(c_out, rows, depth):
        n_r = real_rows(hi - lo, rows, g)
        for r in range(rows):
            if n_r[r] == 0:
                continue
            ranks = np.argsort(rng.random((n_r[r], c_in)), axis=0)  # a random order of the row's slots
            kept = ranks < min(k, int(n_r[r]))
            for s in range(n_r[r]):
                keep[lo + s * rows + r] = kept[s]
    return keep


@dataclass
class Spec:
    """One binary layer of a test network; input shape and residual follow from the chain."""

    c_out: int
    kernel: int = 3
    stride: int = 1
    k: int | None = None  # kept kernels per (row, input channel); None = unpruned
    predictor: bool = False
    role: str = "main"


def make_model(
    cfg: HardwareConfig, c0: int, hw: tuple[int, int], specs: list[Spec], rng: np.random.Generator
) -> BnnModel:
    """A valid BnnModel (archsim.format.validate_model) with random weights, balanced for `cfg`."""
    rows, depth = cfg.pe_array.rows, cfg.pe_array.acc_depth
    c, (h, w) = c0, hw
    layers: list[BinaryConv] = []
    after_shortcut = False
    for i, s in enumerate(specs):
        pad = (s.kernel - 1) // 2
        h_out, w_out = (h + 2 * pad - s.kernel) // s.stride + 1, (w + 2 * pad - s.kernel) // s.stride + 1
        # A shortcut has no residual; a main layer adds the shortcut's output or an identity of equal shape.
        residual = s.role == "main" and (after_shortcut or (s.c_out, h_out, w_out) == (c, h, w))
        if s.predictor and not residual:
            raise ValueError(f"layer {i}: a predictor needs a residual")
        layers.append(
            BinaryConv(
                name=f"L{i}",
                role=s.role,
                kernel=s.kernel,
                stride=s.stride,
                c_in=c,
                c_out=s.c_out,
                h_in=h,
                w_in=w,
                weight=rng.random((s.c_out, c, s.kernel, s.kernel)) < 0.5,
                keep=balanced_keep(rng, s.c_out, c, rows, depth, s.k),
                mult=rng.integers(1, 1000, s.c_out, dtype=np.int32),
                bias=rng.integers(-1000, 1000, s.c_out).astype(np.int64),
                shift=8,
                residual=residual,
                predictor=Predictor(rng.random((c, 3, 3)) < 0.5, 0) if s.predictor else None,
            )
        )
        after_shortcut = s.role == "shortcut"
        if s.role == "main":
            c, h, w = s.c_out, h_out, w_out
    stem = Stem(
        weight=rng.integers(-3, 4, (c0, 3, 3, 3)).astype(np.int8),
        mult=np.ones(c0, dtype=np.int32),
        bias=np.zeros(c0, dtype=np.int64),
        shift=0,
        input_offset=128,
    )
    classifier = Classifier(rng.integers(-5, 6, (10, c)).astype(np.int16), np.zeros(10, dtype=np.int64))
    return BnnModel("timing-test", (3, *hw), 8, stem, tuple(layers), classifier, balance=(rows, depth))


def random_active(rng: np.random.Generator, positions: int, fraction: float) -> np.ndarray:
    return np.flatnonzero(rng.random(positions) < fraction)


def resnet18(cfg: HardwareConfig, rng: np.random.Generator, k: int | None = 4, masked: bool = True) -> BnnModel:
    """Full-width CIFAR binary ResNet-18 (docs/architecture.md section 1): 16 main 3x3 convs in
    four stages of 64/128/256/512 channels, 1x1 stride-2 shortcuts into stages 2-4; 19 layers.
    k = None: unpruned (the dense baseline when compiled in dense mode)."""
    specs: list[Spec] = []
    for stage, width in enumerate((64, 128, 256, 512)):
        for conv in range(4):
            stride = 2 if stage > 0 and conv == 0 else 1
            if stride == 2:
                specs.append(Spec(width, kernel=1, stride=2, k=k, role="shortcut"))
            specs.append(Spec(width, stride=stride, k=k, predictor=masked))
    return make_model(cfg, 64, (32, 32), specs, rng)


def schedule_fields(s: Schedule) -> dict[str, Any]:
    """Everything the three implementations must agree on, as plain data (for == and diffs)."""
    return {
        "done": s.done,
        "total_cycles": s.total_cycles,
        "load_done": s.load_done,
        "store_start": s.store_start,
        "layers": [
            (
                L.index,
                L.start,
                L.end,
                L.mask_start,
                L.mask_end,
                L.n_active,
                L.tiles,
                L.pe_busy,
                L.gather_busy,
                L.epilogue_busy,
                L.mask_busy,
                L.dma_beats,
            )
            for L in s.layers
        ],
        "tiles": [[tuple(vars(t).values()) for t in L.tile_events] for L in s.layers],
        "jobs": [
            (j.kind, j.layer, j.pass_index, j.beats, j.allowed, j.first_ar, j.last_beat, j.loaded) for j in s.jobs
        ],
        "store_bursts": [tuple(b) for b in s.store_bursts],
    }


def assert_same_schedule(got: Schedule, want: Schedule) -> None:
    g, w = schedule_fields(got), schedule_fields(want)
    for key in w:
        assert g[key] == w[key], f"{key} differs:\n got  {g[key]}\n want {w[key]}"


def check_all_modes(
    program: Program, cfg: HardwareConfig, active: Sequence[np.ndarray | None], lat: Latencies = LATENCIES
) -> dict[str, SimSchedule]:
    """All three implementations agree on the schedule; both SimPy modes on every activity counter."""
    active = list(active)
    want = schedule(program, cfg, active, lat, keep_tiles=True)
    got = {mode: simulate(program, cfg, active, mode, lat, keep_tiles=True) for mode in ("fast", "cycle")}
    for mode, sched in got.items():
        assert sched.mode == mode
        assert_same_schedule(sched, want)
    fast, cycle = got["fast"], got["cycle"]
    for i, (af, ac) in enumerate(zip(fast.layer_activity(), cycle.layer_activity(), strict=True)):
        assert af == ac, f"layer {i}: fast {af} != cycle {ac}"
    assert fast.load_activity == cycle.load_activity
    assert fast.store_activity == cycle.store_activity
    return got
