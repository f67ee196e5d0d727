"""Energy model: activity counts x energy per action, plus run power x run time.

The activity of every block is derived from the programme (archsim/program.py: passes,
k, blob beats, nblk) and from three numbers per layer that the timing model reports
(active positions, and the layer's cycles; LOAD and STORE cycles). The formulas are
written out in docs/energy.md and in `layer_activity`; they do not depend on how the
timing model is implemented, and tests check them against the schedule's busy counters
and against hand-computed layers.

The energy per action comes from a per-device table (configs/energy/*.yaml) whose every
value carries its source or derivation and a plausible range; totals are also given at
the low and high ends of those ranges.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from archsim import stem_unit
from archsim.config import HardwareConfig
from archsim.contract import Schedule, tile_split, window_reads
from archsim.errors import ConfigError
from archsim.program import LayerPlan, Program, ceil_div
from archsim.yamlio import Real, read_yaml, validate

PE_TAPS = 9  # every PE is a 9-bit (3x3) XNOR-popcount unit; 1x1 kernels use one tap
ENERGY_KIND = "archsim-energy-table"

# --------------------------------------------------------------------------- the table


class _Strict(BaseModel):
    # strict and finite: an energy of `yes`, inf or nan would poison every total (and the JSON writer)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


MAX_PJ = 1e6  # a microjoule per action: orders of magnitude above any real FPGA action
MAX_W = 1e4


_Source = Annotated[str, Field(min_length=20, description="where the value comes from, or how it is derived")]


class _Ranged(_Strict):
    @model_validator(mode="after")
    def _in_range(self) -> _Ranged:
        v = self.value
        if not 0 <= self.low <= v <= self.high:
            raise ValueError(f"need 0 <= low <= value <= high, got low={self.low}, value={v}, high={self.high}")
        return self

    @property
    def value(self) -> float:
        raise NotImplementedError

    def at(self, end: str) -> float:
        return {"value": self.value, "low": self.low, "high": self.high}[end]


class ActionEnergy(_Ranged):
    pj: Real = Field(ge=0, le=MAX_PJ, description="picojoules per action")
    low: Real = Field(ge=0, le=MAX_PJ)
    high: Real = Field(ge=0, le=MAX_PJ)
    source: _Source

    @property
    def value(self) -> float:
        return self.pj


class RunPower(_Ranged):
    w: Real = Field(ge=0, le=MAX_W, description="watts while the accelerator runs")
    low: Real = Field(ge=0, le=MAX_W)
    high: Real = Field(ge=0, le=MAX_W)
    source: _Source

    @property
    def value(self) -> float:
        return self.w


class DynamicTable(_Strict):
    ddr_read_byte: ActionEnergy
    ddr_write_byte: ActionEnergy
    bram_read: ActionEnergy
    bram_write: ActionEnergy
    pe_op: ActionEnergy
    index_decode: ActionEnergy
    mask_bit: ActionEnergy
    epilogue_op: ActionEnergy
    register_bit: ActionEnergy
    stem_mac: ActionEnergy  # one multiply-accumulate of the stem unit (docs/timing.md 3.1) on a DSP48E2


class RunPowerTable(_Strict):
    pl_static: RunPower
    clock: RunPower


class EnergyTable(_Strict):
    kind: Literal["archsim-energy-table"]
    version: Literal[1]
    name: str = Field(min_length=1)
    part: str = ""
    description: str = ""
    bram_port_bits: int = Field(ge=1, le=1024, description="bits one BRAM primitive access moves")
    dynamic: DynamicTable
    run_power: RunPowerTable

    def action_pj(self, action: str, end: str = "value") -> float:
        return getattr(self.dynamic, action).at(end)

    def run_power_w(self, end: str = "value") -> dict[str, float]:
        return {k: getattr(self.run_power, k).at(end) for k in RUN_POWER}


def load_energy_table(path: str | Path) -> EnergyTable:
    """Load and validate an energy table; errors name the file and field."""
    path = Path(path)
    return validate(EnergyTable, read_yaml(path), path)


def default_table_path(config_path: Path) -> Path:
    """The table used when a workload names none: energy/<config stem>.yaml beside the config."""
    return config_path.parent / "energy" / f"{config_path.stem}.yaml"


def check_table_for(table: EnergyTable, cfg: HardwareConfig, where: str) -> None:
    """A table describes one device: refuse it for a configuration of another part."""
    if table.part and cfg.part and table.part != cfg.part:
        raise ConfigError(f"{where}: energy table is for part '{table.part}', the hardware config is for '{cfg.part}'")


# --------------------------------------------------------------------------- actions and blocks

# Count key -> (action in the table, block the energy is booked to). Counts of BRAM buffers
# are primitive accesses (ceil(width / bram_port_bits) per logical access).
COUNTS: dict[str, tuple[str, str]] = {
    "ddr_read_bytes": ("ddr_read_byte", "ddr"),
    "ddr_write_bytes": ("ddr_write_byte", "ddr"),
    "weight_slots.read": ("bram_read", "weight_slots"),
    "weight_slots.write": ("bram_write", "weight_slots"),
    "activation_banks.read": ("bram_read", "activation_banks"),
    "activation_banks.write": ("bram_write", "activation_banks"),
    "residual_buffer.read": ("bram_read", "residual_buffer"),
    "residual_buffer.write": ("bram_write", "residual_buffer"),
    "window_buffers.read": ("bram_read", "window_buffers"),
    "window_buffers.write": ("bram_write", "window_buffers"),
    "active_list.read": ("bram_read", "active_list"),
    "active_list.write": ("bram_write", "active_list"),
    "pe_ops": ("pe_op", "pe_array"),
    "pe_array.register_bits": ("register_bit", "pe_array"),
    "index_decodes": ("index_decode", "index_decoder"),
    "mask_bits": ("mask_bit", "mask_unit"),
    "epilogue_ops": ("epilogue_op", "epilogue"),
    "epilogue.register_bits": ("register_bit", "epilogue"),
    "stem_macs": ("stem_mac", "stem_unit"),
}
RUN_POWER = ("pl_static", "clock")  # blocks charged power x run time
BLOCKS = (
    "ddr",
    "weight_slots",
    "activation_banks",
    "residual_buffer",
    "window_buffers",
    "active_list",
    "pe_array",
    "index_decoder",
    "mask_unit",
    "epilogue",
    "stem_unit",
    "clock",
    "pl_static",
)


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


# Logical events of a part of the inference. Their names and meanings are those of the timing
# model's counters (archsim/activity.py, docs/simulator.md) wherever both count the same thing,
# so tests can hold the two against each other; `pe_ops` differs on purpose (see layer_events).
EVENTS = (
    "slot_write_beats",  # blob beats written into a weight slot (not a timing-model counter)
    "ddr_read_beats",
    "ddr_write_beats",
    "weight_reads",
    "param_reads",
    "index_decodes",
    "pe_ops",
    "window_writes",
    "window_reads",
    "act_reads",
    "act_writes_bits",  # activation-bank writes of P_O output bits (epilogue, LOAD)
    "act_writes_words",  # activation-bank writes of a whole B_A-bit word (mask-unit copies)
    "res_reads",
    "res_writes",
    "list_writes",
    "list_reads",
    "mask_evals",
    "epilogue_ops",
    "stem_macs",  # stem unit: 9 per x0 value, when the stem runs on chip
)


@dataclass
class PartActivity:
    """Events and energy-action counts of one part of an inference (a layer, LOAD or STORE)."""

    name: str
    cycles: int
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENTS, 0))
    counts: dict[str, int] = field(default_factory=_zero)


def _prims(bits: int, port: int) -> int:
    """BRAM primitives one access of `bits` bits touches."""
    return ceil_div(bits, port)


def layer_events(plan: LayerPlan, n_active: int, cfg: HardwareConfig, mode: str) -> dict[str, int]:
    """Logical events of one layer (docs/energy.md, "Activity counts"; symbols of docs/timing.md).

    N active positions form T = ceil(N / P_X) tiles and every pass q runs all of them. PE
    operations count the columns that hold a position (idle columns of a partial tile are
    assumed clock-gated); the timing model's `pe_ops` counts every column. With split tiles
    (docs/timing.md 4.2, T3) the last tile, if it has at most P_X // 2 positions, takes two steps
    per cycle, and both halves read the windows of a channel with k >= 2.
    """
    P_O, P_X = cfg.pe_array.rows, cfg.pe_array.cols
    N, nblk, c_in = n_active, plan.nblk, plan.c_in
    T, Q = ceil_div(N, P_X), len(plan.passes)
    n_last = N - (T - 1) * P_X if T else 0
    m_last = tile_split(n_last, P_X, cfg.split_pairs(plan.kernel, mode == "sparse")) if T else 1
    steps = sum(T * c_in * p.k for p in plan.passes)  # PE steps (= LayerTiming.pe_busy without split tiles)
    gather = Q * N * nblk  # = gather_busy: one (position, channel block) per cycle, every pass
    epi = sum(N * p.g for p in plan.passes)  # = epilogue_busy: one (position, slot of P_O channels) per cycle
    scan = plan.positions * nblk if plan.mask_enabled else 0  # = mask_busy
    e = dict.fromkeys(EVENTS, 0)
    e["ddr_read_beats"] = e["slot_write_beats"] = plan.blob_beats
    e["weight_reads"] = steps
    e["param_reads"] = epi
    e["index_decodes"] = steps * P_O if mode == "sparse" else 0
    e["pe_ops"] = sum(c_in * p.k for p in plan.passes) * P_O * N
    e["window_writes"] = gather
    # one (column, input channel) each, for its k steps (contract.window_reads)
    e["window_reads"] = sum((N - n_last) * c_in + n_last * window_reads(c_in, p.k, m_last) for p in plan.passes)
    e["act_reads"] = gather * plan.kernel**2 + scan * 9  # a 3x3 window reads all nine banks, 1x1 one
    e["act_writes_bits"] = epi
    e["act_writes_words"] = scan if plan.copy_masked else 0
    e["res_reads"] = epi if plan.residual else 0
    e["res_writes"] = epi if plan.res_write else 0
    e["list_writes"] = N if plan.mask_enabled else 0
    e["list_reads"] = Q * N * plan.nblk if plan.mask_enabled else 0  # the gather reads it in every sweep (T1)
    e["mask_evals"] = scan
    e["epilogue_ops"] = sum(N * p.channels for p in plan.passes)  # real output values
    return e


def _map_words(shape: tuple[int, int, int], rows: int) -> int:
    ch, h, w = shape
    return h * w * ceil_div(ch, rows)


def load_events(program: Program, cfg: HardwareConfig) -> dict[str, int]:
    """LOAD: the stem output into the residual buffer, its sign bits into activation set 0. With the stem
    unit the LOAD reads the raw image (load_beats are its beats) and the unit computes the stem output."""
    words = _map_words(program.load_shape, cfg.pe_array.rows)
    e = dict.fromkeys(EVENTS, 0)
    e.update(
        ddr_read_beats=program.load_beats,
        res_writes=words * program.load_res_copies,
        act_writes_bits=words * program.load_act_copies,
        stem_macs=stem_unit.macs(*program.load_shape) if program.stem_unit else 0,
    )
    return e


def store_events(program: Program, cfg: HardwareConfig) -> dict[str, int]:
    """STORE: the last map from the residual buffer to DDR, or the pooled sums from the epilogue's sum
    store (LUT RAM, whose accesses are not counted: one per epilogue cycle of the last layer)."""
    e = dict.fromkeys(EVENTS, 0)
    e.update(ddr_write_beats=program.store_beats, res_reads=program.store_res_reads)
    return e


def action_counts(e: dict[str, int], kernel: int, cfg: HardwareConfig, port: int) -> dict[str, int]:
    """Energy-action counts of a part from its events: bytes, BRAM primitive accesses, bits.

    A logical access of W bits costs prims(W) = ceil(W / port) BRAM primitive accesses.
    """
    P_O, B_A, D = cfg.pe_array.rows, cfg.buffers.act_word_bits, cfg.axi.data_bits
    acc_bits = cfg.pe_array.acc_bits
    param_bits = P_O * (cfg.epilogue.mult_bits + cfg.epilogue.bias_bits)
    res = _prims(P_O * cfg.epilogue.value_bits, port)
    window = _prims(PE_TAPS * B_A, port)  # one channel block of nine taps
    K2 = kernel * kernel
    c = _zero()
    c["ddr_read_bytes"] = e["ddr_read_beats"] * cfg.beat_bytes
    c["ddr_write_bytes"] = e["ddr_write_beats"] * cfg.beat_bytes
    c["weight_slots.write"] = e["slot_write_beats"] * _prims(D, port)
    c["weight_slots.read"] = (
        e["weight_reads"] * _prims(P_O * (PE_TAPS + cfg.index_bits), port)  # one step of all rows
        + e["param_reads"] * _prims(param_bits, port)  # mult and bias of one slot of all rows
        + e["mask_evals"] * window  # predictor bits of one channel block
    )
    c["activation_banks.read"] = e["act_reads"] * _prims(B_A, port)
    c["activation_banks.write"] = e["act_writes_bits"] * _prims(P_O, port) + e["act_writes_words"] * _prims(B_A, port)
    c["residual_buffer.read"] = e["res_reads"] * res
    c["residual_buffer.write"] = e["res_writes"] * res
    c["window_buffers.write"] = e["window_writes"] * window
    c["window_buffers.read"] = e["window_reads"] * _prims(2 * PE_TAPS, port)  # a window and its padding mask
    c["active_list.write"] = e["list_writes"]
    c["active_list.read"] = e["list_reads"]
    c["pe_ops"] = e["pe_ops"]
    # Per PE op: its kernel's bits and the accumulator slot's read and write; per window read:
    # the window and its padding mask latched into the column's operand registers.
    c["pe_array.register_bits"] = e["pe_ops"] * (K2 + 2 * acc_bits) + e["window_reads"] * 2 * K2
    c["index_decodes"] = e["index_decodes"]
    c["mask_bits"] = e["mask_evals"] * PE_TAPS * B_A
    c["epilogue_ops"] = e["epilogue_ops"]
    c["epilogue.register_bits"] = e["epilogue_ops"] * acc_bits  # the accumulator value it reads
    c["stem_macs"] = e["stem_macs"]
    return c


def layer_activity(
    plan: LayerPlan, n_active: int, cycles: int, cfg: HardwareConfig, mode: str, port: int
) -> PartActivity:
    e = layer_events(plan, n_active, cfg, mode)
    return PartActivity(plan.name, cycles, e, action_counts(e, plan.kernel, cfg, port))


def load_activity(program: Program, cycles: int, cfg: HardwareConfig, port: int) -> PartActivity:
    e = load_events(program, cfg)
    return PartActivity("LOAD", cycles, e, action_counts(e, 1, cfg, port))


def store_activity(program: Program, cycles: int, cfg: HardwareConfig, port: int) -> PartActivity:
    e = store_events(program, cfg)
    return PartActivity("STORE", cycles, e, action_counts(e, 1, cfg, port))


def inference_activity(program: Program, sched: Schedule, cfg: HardwareConfig, port: int) -> list[PartActivity]:
    """LOAD, every layer, STORE; their cycles add up to the inference's cycles."""
    # The LOAD's own cycles are those before the first layer starts (with an input buffer they overlap it).
    parts = [load_activity(program, sched.layers[0].start if sched.layers else sched.load_done, cfg, port)]
    for plan, lt in zip(program.layers, sched.layers, strict=True):
        parts.append(layer_activity(plan, lt.n_active, lt.cycles, cfg, program.mode, port))
    parts.append(store_activity(program, sched.done - sched.store_start, cfg, port))
    return parts


# --------------------------------------------------------------------------- energy


@dataclass
class PartEnergy:
    name: str
    cycles: int
    blocks_pj: dict[str, float]  # every block of BLOCKS

    @property
    def total_pj(self) -> float:
        return sum(self.blocks_pj.values())


def part_energy(act: PartActivity, table: EnergyTable, clock_hz: float, end: str = "value") -> PartEnergy:
    blocks = dict.fromkeys(BLOCKS, 0.0)
    for key, n in act.counts.items():
        action, block = COUNTS[key]
        blocks[block] += n * table.action_pj(action, end)
    seconds = act.cycles / clock_hz
    for name, watts in table.run_power_w(end).items():
        blocks[name] += watts * seconds * 1e12
    return PartEnergy(act.name, act.cycles, blocks)


@dataclass
class InferenceEnergy:
    """Energy of one inference, by part (LOAD, layers, STORE) and by block."""

    parts: list[PartEnergy]
    activity: list[PartActivity]
    total_low_pj: float
    total_high_pj: float

    @property
    def total_pj(self) -> float:
        return sum(p.total_pj for p in self.parts)

    @property
    def total_uj(self) -> float:
        return self.total_pj * 1e-6

    @property
    def blocks_pj(self) -> dict[str, float]:
        return {b: sum(p.blocks_pj[b] for p in self.parts) for b in BLOCKS}

    @property
    def layers(self) -> list[PartEnergy]:
        return self.parts[1:-1]

    def counts(self) -> dict[str, int]:
        return {k: sum(a.counts[k] for a in self.activity) for k in COUNTS}


def inference_energy(program: Program, sched: Schedule, cfg: HardwareConfig, table: EnergyTable) -> InferenceEnergy:
    acts = inference_activity(program, sched, cfg, table.bram_port_bits)

    def total(end: str) -> float:
        return sum(part_energy(a, table, cfg.clock_hz, end).total_pj for a in acts)

    parts = [part_energy(a, table, cfg.clock_hz) for a in acts]
    return InferenceEnergy(parts, acts, total("low"), total("high"))


def mean_blocks(energies: Iterable[InferenceEnergy]) -> dict[str, float]:
    es = list(energies)
    return {b: sum(e.blocks_pj[b] for e in es) / len(es) for b in BLOCKS}


def binary_ops(kernel: int, kernels: float, positions: float) -> float:
    """Operations as the BNN literature counts them: 2 per XNOR-popcount bit (an XNOR and an
    add), i.e. 2 x K x K per kernel applied at one position."""
    return 2.0 * kernel * kernel * kernels * positions
