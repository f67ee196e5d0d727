"""Hardware configuration: typed, validated once at the boundary, then trusted.

The same object drives archsim (timing and functional model) and rtl/gen.py (the
generated Verilog), so every derived quantity that both sides need lives here.
Field meanings are documented in docs/config.md.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from archsim.yamlio import FieldError, Real, read_yaml, validate

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


class Buffers(_Strict):
    act_word_bits: int = Field(ge=1, le=1024, description="B_A: channels per activation word")
    act_bank_depth: int = Field(ge=1, le=MAX_DEPTH)
    res_depth: int = Field(ge=1, le=MAX_DEPTH)
    weight_depth: int = Field(ge=1, le=MAX_DEPTH)
    list_depth: int = Field(ge=1, le=MAX_DEPTH)
    # Blobs that may be resident at once: slots of the parameter, predictor and threshold
    # memories. The weight memory is a ring shared by the resident blobs (docs/timing.md 3).
    blob_slots: int = Field(default=2, ge=2, le=64)

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

    @model_validator(mode="after")
    def _width(self) -> Axi:
        if self.data_bits not in (32, 64, 128, 256, 512):
            raise FieldError("data_bits", f"must be 32, 64, 128, 256 or 512, got {self.data_bits}")
        if self.max_burst_beats & (self.max_burst_beats - 1):
            raise FieldError("max_burst_beats", f"must be a power of two, got {self.max_burst_beats}")
        if self.data_bits // 8 * self.max_burst_beats > 4096:
            raise FieldError("max_burst_beats", "a burst (data_bits/8 x max_burst_beats) must not exceed 4096 bytes")
        return self


class Host(_Strict):
    macs_per_second: Real = Field(ge=1e3, le=1e18, description="host MAC rate for the stem and classifier")
    overhead_us: Real = Field(ge=0, le=1e7)


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

    @model_validator(mode="after")
    def _consistent(self) -> HardwareConfig:
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

    def weight_ring_entries(self, sparse: bool) -> int:
        """Entries of the weight memory (a ring): twice the power of two that holds
        buffers.weight_depth steps of the kernel size with the fewest steps per entry."""
        m = min(self.steps_per_entry(k, sparse) for k in (1, 3))
        need = -(-self.buffers.weight_depth // m)
        return 2 * (1 << max(1, (need - 1).bit_length()))

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6


def load_config(path: str | Path) -> HardwareConfig:
    """Load and validate a hardware configuration YAML file."""
    path = Path(path)
    return validate(HardwareConfig, read_yaml(path), path)
