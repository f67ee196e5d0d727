"""Hardware configuration: typed, validated once at the boundary, then trusted.

The same object drives archsim (timing and functional model) and rtl/gen.py (the
generated Verilog), so every derived quantity that both sides need lives here.
Field meanings are documented in docs/config.md.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from archsim.errors import ConfigError
from archsim.yamlio import FieldError, Real, parse_yaml, read_yaml, short, validate

ACT_BANKS = 9  # activation bits are banked by (y mod 3, x mod 3)
MAX_DEPTH = 1 << 22  # words of any one buffer: far beyond any FPGA, small enough for the models' arithmetic

# These reach file names (build/rtl/<name>), Verilog comments and Vivado's Tcl: strict patterns.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # one path component, never '.' or '..'
PART_PATTERN = r"^(x[A-Za-z0-9]+(-[A-Za-z0-9]+){1,4})?$"  # a Xilinx part name, e.g. xczu3eg-sbva484-1-i
BOARD_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9 _.+-]{0,63})?$"


class _Strict(BaseModel):
    # strict: YAML's `yes` is not 1 and "16" is not 16; no inf or nan anywhere
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class PeArray(_Strict):
    rows: int = Field(ge=1, le=256, description="P_O: output channels computed in parallel")
    cols: int = Field(ge=1, le=256, description="P_X: output positions computed in parallel")
    acc_depth: int = Field(ge=1, le=256, description="G: channel slots per row per pass")
    acc_bits: int = Field(ge=8, le=32)
    # A tile of at most cols // 2 positions runs two steps per cycle, one on each half of the columns
    # (docs/timing.md 4.2, rule T3; where a weight entry holds an even number of the layer's steps);
    # the PE array adds the halves' sums when the epilogue reads them.
    split_tiles: bool = False


class Buffers(_Strict):
    act_word_bits: int = Field(ge=1, le=1024, description="B_A: channels per activation word")
    act_bank_depth: int = Field(ge=1, le=MAX_DEPTH)
    res_depth: int = Field(ge=1, le=MAX_DEPTH)
    weight_depth: int = Field(ge=1, le=MAX_DEPTH)
    list_depth: int = Field(ge=1, le=MAX_DEPTH)
    # Blobs that may be resident at once: slots of the parameter, predictor and threshold
    # memories. The weight memory is a ring shared by the resident blobs (docs/timing.md 3).
    blob_slots: int = Field(default=2, ge=2, le=64)
    # An input buffer (a third activation-bit set and a second residual buffer) that only the
    # LOAD writes, so the first layer starts from the first LOADed rows (docs/timing.md 3-4).
    input_buffer: bool = False
    # STORE the last layer's per-channel sums over positions (int32) instead of the last map, when the
    # host classifier pools globally (docs/timing.md 5, docs/architecture.md 6).
    pooled_store: bool = False
    # The mask unit scans layer l + 1 while layer l still runs, row by row as layer l's output rows
    # become final (docs/timing.md 4.5); needs a second active list (layer parity).
    early_scan: bool = False

    @model_validator(mode="after")
    def _slots(self) -> Buffers:
        if self.blob_slots & (self.blob_slots - 1):
            raise ValueError(f"blob_slots must be a power of two, got {self.blob_slots}")
        return self


class Epilogue(_Strict):
    value_bits: int = Field(ge=4, le=32)
    mult_bits: int = Field(ge=2, le=27)
    bias_bits: int = Field(ge=2, le=48)


class Axi(_Strict):
    data_bits: int = Field(ge=1, le=1024)
    max_burst_beats: int = Field(ge=1, le=256)
    read_latency: int = Field(ge=1, le=100_000)
    write_latency: int = Field(ge=1, le=100_000)
    max_outstanding_reads: int = Field(ge=1, le=256)
    max_outstanding_writes: int = Field(ge=1, le=256)
    read_beat_cycles: int = Field(ge=1, le=1024)
    # The board splits the data_bits-wide master over this many HP ports of data_bits / hp_ports bits
    # each (rtl/verilog/bnn_hp_split.v, plane layout in DDR); the accelerator's timing sees one port.
    hp_ports: int = Field(default=1, ge=1, le=2)

    @model_validator(mode="after")
    def _width(self) -> Axi:
        if self.data_bits not in (32, 64, 128, 256, 512):
            raise FieldError("data_bits", f"must be 32, 64, 128, 256 or 512, got {self.data_bits}")
        if self.data_bits // self.hp_ports < 32:
            raise FieldError(
                "hp_ports", f"data_bits / hp_ports = {self.data_bits // self.hp_ports} bits: an HP port is at least 32"
            )
        if self.max_burst_beats & (self.max_burst_beats - 1):
            raise FieldError("max_burst_beats", f"must be a power of two, got {self.max_burst_beats}")
        if self.data_bits // 8 * self.max_burst_beats > 4096:
            raise FieldError("max_burst_beats", "a burst (data_bits/8 x max_burst_beats) must not exceed 4096 bytes")
        return self


class Host(_Strict):
    macs_per_second: Real = Field(ge=1e3, le=1e18, description="host MAC rate for the stem and classifier")
    overhead_us: Real = Field(ge=0, le=1e7)


class StemUnit(_Strict):
    """The stem conv on chip (rtl/verilog/bnn_stem.v, docs/timing.md 3.1): the LOAD reads the raw image and
    the unit delivers x0. Its sizes are hardware: four DSP48E2 slices per channel, an image FIFO of
    max_height x max_width pixels."""

    enabled: bool = False
    channels: int = Field(default=64, ge=1, le=1024, description="C0: output channels of the stem (x0's)")
    max_height: int = Field(default=32, ge=1, le=1024, description="largest image height, pixels")
    max_width: int = Field(default=32, ge=1, le=1024, description="largest image width, pixels")


class HardwareConfig(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    board: str = Field("", pattern=BOARD_PATTERN)
    part: str = Field("", pattern=PART_PATTERN)
    clock_mhz: Real = Field(ge=1, le=2000)
    pe_array: PeArray
    buffers: Buffers
    epilogue: Epilogue
    axi: Axi
    host: Host
    stem_unit: StemUnit = StemUnit()

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HardwareConfig:
        p, b = self.pe_array, self.buffers
        if b.act_word_bits % p.rows:
            raise FieldError(
                "buffers.act_word_bits",
                f"buffers.act_word_bits ({b.act_word_bits}) must be a multiple of "
                f"pe_array.rows ({p.rows}): the epilogue writes rows bits at a time",
            )
        if (p.rows * p.acc_depth) % b.act_word_bits:
            raise FieldError(
                "pe_array.acc_depth",
                f"pe_array.rows x pe_array.acc_depth ({p.rows * p.acc_depth}) must be a multiple "
                f"of buffers.act_word_bits ({b.act_word_bits}) so passes align to activation words",
            )
        rw, d = self.res_word_bits, self.axi.data_bits
        if rw % d and d % rw:
            raise FieldError(
                "axi.data_bits",
                f"residual word ({rw} bits = rows x value_bits) and axi.data_bits ({d}) must divide one another",
            )
        # What simulates is what rtl/gen.py builds (docs/config.md, "Limits"). Only the timing model's own
        # property tests, which explore shapes no RTL is generated for, validate with {"rtl_limits": False}.
        check = not (isinstance(info.context, dict) and info.context.get("rtl_limits") is False)
        problem = rtl_limit(self) if check else None
        if problem is not None:
            raise FieldError(problem[0], f"{problem[1]} {RTL_LIMIT}")
        st = self.stem_unit
        if st.enabled:
            vb = self.epilogue.value_bits
            lanes = d // vb
            if d % vb or d < 48:
                raise FieldError(
                    "stem_unit.enabled", f"needs axi.data_bits ({d}) of at least 48, a multiple of value_bits"
                )
            if st.channels % lanes or st.channels % p.rows or st.channels // lanes < 3:
                raise FieldError(
                    "stem_unit.channels",
                    f"must be a multiple of pe_array.rows ({p.rows}) and of data_bits / value_bits ({lanes}), "
                    f"at least 3 x {lanes}: an x0 beat holds {lanes} channels of one position, and the unit's "
                    "MAC chain needs at least 3 beats per position",
                )
        return self

    # ---- derived quantities (shared by archsim and rtl/gen.py) ----
    @property
    def index_bits(self) -> int:
        """Bits of one sparse index: the channel slot within a row's pass group."""
        return max(0, math.ceil(math.log2(self.pe_array.acc_depth)))

    @property
    def pass_channels(self) -> int:
        """Output channels one pass covers: rows x acc_depth."""
        return self.pe_array.rows * self.pe_array.acc_depth

    @property
    def res_word_bits(self) -> int:
        return self.pe_array.rows * self.epilogue.value_bits

    @property
    def beat_bytes(self) -> int:
        return self.axi.data_bits // 8

    @property
    def burst_bytes(self) -> int:
        """DDR images are aligned to this, so no burst crosses a 4 KiB boundary."""
        return self.beat_bytes * self.axi.max_burst_beats

    def step_bits(self, kernel: int, sparse: bool) -> int:
        """Bits of one weight step in DDR: rows kernels of kernel x kernel bits, each
        followed by its channel-slot index when sparse (docs/formats.md, "Blobs")."""
        return self.pe_array.rows * (kernel * kernel + (self.index_bits if sparse else 0))

    def weight_entry_bits(self, sparse: bool) -> int:
        """Width E of one weight-memory entry: the smallest that holds whole steps of both
        kernel sizes filling at least one beat each, so a beat never completes two entries."""
        sb = [self.step_bits(k, sparse) for k in (1, 3)]
        e = sb[1]
        while any((e // s) * s < self.axi.data_bits for s in sb):
            e += 1
        return e

    def steps_per_entry(self, kernel: int, sparse: bool) -> int:
        """m_K: whole weight steps of a K x K layer in one weight-memory entry."""
        return self.weight_entry_bits(sparse) // self.step_bits(kernel, sparse)

    def split_pairs(self, kernel: int, sparse: bool) -> bool:
        """Whether rule T3 (split tiles, docs/timing.md 4.2) can apply to a layer of this kernel size:
        pe_array.split_tiles is on and a weight-memory entry holds an even number of its steps, so the
        pair a split tile takes in one cycle comes from one entry."""
        return self.pe_array.split_tiles and self.steps_per_entry(kernel, sparse) % 2 == 0

    def split_by_kernel(self, sparse: bool) -> dict[int, bool]:
        """`split_pairs` for both kernel sizes (1 and 3): what the gather and the PE array look up per layer."""
        return {k: self.split_pairs(k, sparse) for k in (1, 3)}

    def weight_ring_entries(self, sparse: bool) -> int:
        """Entries of the weight memory (a ring): twice the power of two that holds
        buffers.weight_depth steps of the kernel size with the fewest steps per entry."""
        m = min(self.steps_per_entry(k, sparse) for k in (1, 3))
        need = -(-self.buffers.weight_depth // m)
        return 2 * (1 << max(1, (need - 1).bit_length()))

    @property
    def pooled_sum_bits(self) -> int:
        """Bits of one lane of the epilogue's sum store: value_bits + POOLED_POSITION_BITS, so a
        sum over up to 2^POOLED_POSITION_BITS positions cannot overflow (written out as int32)."""
        return min(32, self.epilogue.value_bits + POOLED_POSITION_BITS)

    @property
    def sum_store_slots(self) -> int:
        """Words of the sum store (rows channels each): the channels of a dense pass's input that fills
        buffers.weight_depth steps (weight_depth // acc_depth, the window buffers' default)."""
        return -(-max(1, self.buffers.weight_depth // self.pe_array.acc_depth) // self.pe_array.rows)

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6


Overrides = Mapping[str, Any]  # dotted config field -> value (--set)
RTL_LIMIT = "(a limit of the RTL generator)"
# The RTL's register map and tile counters (rtl/params.py, rtl/regmap.py) are sized for at most this many
# layers and weight passes per programme; docs/config.md lists them with the other limits.
RTL_MAX_LAYERS = 32
RTL_MAX_PASSES = 64
# The sum store (buffers.pooled_store) holds exact sums of maps of up to 2^6 = 64 positions (8 x 8).
POOLED_POSITION_BITS = 6


def rtl_limit(cfg: HardwareConfig) -> tuple[str, str] | None:
    """(field, problem) for the first limit of the RTL generator that `cfg` breaks, else None.

    The one rule for what can be built: HardwareConfig validation and rtl/params.py both call it, so
    archsim refuses up front, with the generator's own message, any configuration it cannot generate.
    """
    p, e, d = cfg.pe_array, cfg.epilogue, cfg.axi.data_bits
    rw = cfg.res_word_bits
    if rw % d:
        return "axi.data_bits", f"must divide rows x value_bits = {rw}: a beat holds part of one residual word"
    if p.rows * (e.mult_bits + e.bias_bits) < d:
        return (
            "axi.data_bits",
            f"must not exceed rows x (mult_bits + bias_bits) = {p.rows * (e.mult_bits + e.bias_bits)}",
        )
    if 9 * cfg.buffers.act_word_bits < d:
        return "axi.data_bits", f"must not exceed 9 x act_word_bits = {9 * cfg.buffers.act_word_bits}"
    if e.value_bits > 16:
        return "epilogue.value_bits", "must be at most 16"
    if cfg.buffers.pooled_store and 32 % e.value_bits:
        return (
            "buffers.pooled_store",
            "needs epilogue.value_bits of 4, 8 or 16 (a residual word holds whole int32 sums)",
        )
    b = cfg.buffers
    positions = max(min(9 * b.act_bank_depth, b.res_depth), b.list_depth)
    if (RTL_MAX_PASSES * math.ceil(positions / p.cols)).bit_length() + 1 > 31:
        return "buffers", "too many tiles per layer for the RTL's tile counters (fewer positions or more columns)"
    return None


def load_config(path: str | Path, overrides: Overrides | None = None) -> HardwareConfig:
    """Load and validate a hardware configuration YAML file, with `overrides` (dotted field -> value,
    from --set) applied first and validated like the file's own fields."""
    path = Path(path)
    data = read_yaml(path)
    if not overrides:
        return validate(HardwareConfig, data, path)
    data = apply_overrides(data, overrides, str(path))
    return validate(HardwareConfig, data, Path(f"{path} (with {format_overrides(overrides)})"))


def parse_override(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` (e.g. pe_array.cols=20): VALUE is read as a YAML scalar (20 is an int, 1e9 a float)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"option '--set': expected KEY=VALUE with a dotted config field, got {short(text)}")
    try:  # the hardened loader: no aliases (a value cannot expand into a bomb), bounded nesting
        parsed = parse_yaml(value) if value.strip() else value
    except (yaml.YAMLError, ValueError):
        parsed = value
    if isinstance(parsed, dict | list):
        raise ConfigError(f"option '--set': {short(key)}: expected a single value, got {short(value)}")
    return key, parsed


def parse_overrides(items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """KEY=VALUE strings (or a mapping) as an ordered mapping; a key given twice is an error."""
    if items is None:
        return {}
    pairs = list(items.items()) if isinstance(items, Mapping) else [parse_override(t) for t in items]
    out: dict[str, Any] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"option '--set': expected a dotted config field, got {short(key)}")
        if key in out:
            raise ConfigError(f"option '--set': {short(key)} is given twice")
        out[key] = value
    return out


def format_overrides(overrides: Overrides) -> str:
    return ", ".join(f"--set {k}={v}" for k, v in overrides.items())


def apply_overrides(data: dict[str, Any], overrides: Overrides, where: str) -> dict[str, Any]:
    """A copy of the config mapping `data` with each dotted field set; the field must exist in `data`,
    so a typo is an error naming it rather than a silently ignored key."""
    data = copy.deepcopy(data)
    for key, value in overrides.items():
        node: Any = data
        parts = key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(
                    f"option '--set': no field '{'.'.join(parts[: i + 1])}' in the hardware config {where}"
                )
            if i < len(parts) - 1:
                node = node[part]
        if isinstance(node[parts[-1]], dict):
            raise ConfigError(f"option '--set': '{key}' is a section of the hardware config {where}, not a field")
        node[parts[-1]] = value
    return data
