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

from archsim.config import HardwareConfig
from archsim.contract import Schedule
from archsim.errors import ConfigError
from archsim.program import LayerPlan, Program, ceil_div
from archsim.yamlio import read_yaml, validate

PE_TAPS = 9  # every PE is a 9-bit (3x3) XNOR-popcount unit; 1x1 kernels use one tap
ENERGY_KIND = "archsim-energy-table"

# --------------------------------------------------------------------------- the table


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    pj: float = Field(ge=0, description="picojoules per action")
    low: float
    high: float
    source: _Source

    @property
    def value(self) -> float:
        return self.pj


class RunPower(_Ranged):
    w: float = Field(ge=0, description="watts while the accelerator runs")
    low: float
    high: float
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
    "clock",
    "pl_static",
)


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


@dataclass
class Activity:
    """Activity counts of one part of an inference (a layer, the LOAD or the STORE)."""

    name: str
    cycles: int
    counts: dict[str, int] = field(default_factory=_zero)


def _prims(bits: int, port: int) -> int:
    """BRAM primitives one access of `bits` bits touches."""
    return ceil_div(bits, port)


def layer_activity(plan: LayerPlan, n_active: int, cycles: int, cfg: HardwareConfig, mode: str, port: int) -> Activity:
    """Activity of one layer (docs/energy.md, "Activity counts"; symbols of docs/timing.md).

    N active positions form T = ceil(N / P_X) tiles; every pass q runs all of them.
    """
    P_O, P_X = cfg.pe_array.rows, cfg.pe_array.cols
    acc_bits = cfg.pe_array.acc_bits
    B_A, D = cfg.buffers.act_word_bits, cfg.axi.data_bits
    param_bits = cfg.epilogue.mult_bits + cfg.epilogue.bias_bits
    N, nblk, c_in, K2 = n_active, plan.nblk, plan.c_in, plan.kernel * plan.kernel
    T, Q = ceil_div(N, P_X), len(plan.passes)

    pe_cycles = sum(T * c_in * p.k for p in plan.passes)  # = LayerTiming.pe_busy
    pe_ops = sum(c_in * p.k for p in plan.passes) * P_O * N  # rows x occupied columns per step
    gather = Q * N * nblk  # = gather_busy: (position, channel block) per cycle, every pass
    epi = sum(N * p.g for p in plan.passes)  # = epilogue_busy: (position, slot of P_O channels)
    mask = plan.positions * nblk if plan.mask_enabled else 0  # = mask_busy
    params = sum(p.g for p in plan.passes) * P_O * param_bits  # epilogue parameters, once per pass

    window = _prims(PE_TAPS * B_A, port)  # one channel block of nine taps
    c = _zero()
    c["ddr_read_bytes"] = plan.blob_beats * cfg.beat_bytes
    c["weight_slots.write"] = plan.blob_beats * _prims(D, port)
    c["weight_slots.read"] = (
        pe_cycles * _prims(P_O * (PE_TAPS + cfg.index_bits), port)  # one step of all rows per PE cycle
        + sum(_prims(p.g * P_O * param_bits, port) for p in plan.passes)
        + mask * window  # predictor bits of one channel block per mask cycle
    )
    c["activation_banks.read"] = (gather + mask) * 9 * _prims(B_A, port)  # nine banks at once
    c["activation_banks.write"] = epi * _prims(P_O, port) + (
        plan.positions * nblk * _prims(B_A, port) if plan.copy_masked else 0
    )
    res = _prims(P_O * cfg.epilogue.value_bits, port)
    c["residual_buffer.read"] = epi * res if plan.residual else 0
    c["residual_buffer.write"] = epi * res
    c["window_buffers.write"] = gather * window
    c["window_buffers.read"] = gather * window  # each gathered block is read once into the PE operands
    if plan.mask_enabled:
        c["active_list.write"] = N
        c["active_list.read"] = Q * N
    c["pe_ops"] = pe_ops
    # Per PE op: its kernel's bits and the accumulator slot's read and write; per (column, input
    # channel) of every tile: the window and its padding mask.
    c["pe_array.register_bits"] = pe_ops * (K2 + 2 * acc_bits) + Q * N * c_in * 2 * K2
    c["index_decodes"] = pe_cycles * P_O if mode == "sparse" else 0
    c["mask_bits"] = mask * PE_TAPS * B_A
    c["epilogue_ops"] = epi * P_O
    c["epilogue.register_bits"] = epi * P_O * acc_bits + params
    return Activity(plan.name, cycles, c)


def _map_words(shape: tuple[int, int, int], rows: int) -> int:
    ch, h, w = shape
    return h * w * ceil_div(ch, rows)


def load_activity(program: Program, cycles: int, cfg: HardwareConfig, port: int) -> Activity:
    """LOAD: the stem output into the residual buffer, its sign bits into activation set 0."""
    words = _map_words(program.load_shape, cfg.pe_array.rows)
    c = _zero()
    c["ddr_read_bytes"] = program.load_beats * cfg.beat_bytes
    c["residual_buffer.write"] = words * _prims(cfg.res_word_bits, port)
    c["activation_banks.write"] = words * _prims(cfg.pe_array.rows, port)
    return Activity("LOAD", cycles, c)


def store_activity(program: Program, cycles: int, cfg: HardwareConfig, port: int) -> Activity:
    """STORE: the last map from the residual buffer to DDR."""
    words = _map_words(program.store_shape, cfg.pe_array.rows)
    c = _zero()
    c["ddr_write_bytes"] = program.store_beats * cfg.beat_bytes
    c["residual_buffer.read"] = words * _prims(cfg.res_word_bits, port)
    return Activity("STORE", cycles, c)


def inference_activity(program: Program, sched: Schedule, cfg: HardwareConfig, port: int) -> list[Activity]:
    """LOAD, every layer, STORE; their cycles add up to the inference's cycles."""
    parts = [load_activity(program, sched.load_done, cfg, port)]
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


def part_energy(act: Activity, table: EnergyTable, clock_hz: float, end: str = "value") -> PartEnergy:
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
    activity: list[Activity]
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
