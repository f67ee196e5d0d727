"""RTL parameters derived from a hardware configuration (the one archsim reads).

Everything the Verilog needs beyond the configuration fields is computed here, once:
bus and counter widths, and the sizes of the blob memories. `RtlParams.verilog()`
gives the parameter values of `bnn_core` (rtl/verilog/bnn_core.v).

Weight ring. A blob's steps are a bitstream of SB = rows * (K*K + index_bits) bits per
step (docs/formats.md 4.2). The read DMA turns each beat into at most one entry of
E bits of the weight memory, each entry holding m_K whole steps; the PE array reads one
step per cycle. E, m_K and the ring's size are archsim.config.HardwareConfig's
(`weight_entry_bits`, `steps_per_entry`, `weight_ring_entries`), because the timing
contract places the blobs in the ring (archsim.program.place_blobs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from archsim import stem_unit
from archsim.buildable import limits_problem, window_words
from archsim.config import RTL_LIMIT, RTL_MAX_LAYERS, RTL_MAX_PASSES, HardwareConfig, rtl_limit
from archsim.contract import LATENCIES, Latencies
from archsim.errors import ConfigError
from archsim.layout import DdrLayout

from .address_map import max_layers_in_map, max_passes_in_map

# The pipelines of the generated RTL (see the module comments in rtl/verilog/): they
# must equal the timing contract's latency constants (docs/timing.md section 7).
RTL_LATENCIES = Latencies(load=2, mask=3, gather=2, compute=4, epilogue=4, store=2, layer=1)

TOP = "bnn_accel"  # the generated top-level module
DEFAULT_MAX_LAYERS = RTL_MAX_LAYERS
DEFAULT_MAX_PASSES = RTL_MAX_PASSES


def clog2(n: int) -> int:
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


def bitlen(n: int) -> int:
    """Bits of an unsigned counter that must hold n."""
    return max(1, int(n).bit_length())


@dataclass(frozen=True)
class RtlParams:
    cfg: HardwareConfig
    sparse: bool = True
    max_layers: int = DEFAULT_MAX_LAYERS
    max_passes: int = DEFAULT_MAX_PASSES
    max_cin: int | None = None  # default: weight_depth // acc_depth (a dense pass must fit half the ring)
    where: str = "<config>"

    def __post_init__(self) -> None:
        self.check()

    # ---------------------------------------------------------------- configuration fields
    @property
    def rows(self) -> int:
        return self.cfg.pe_array.rows

    @property
    def cols(self) -> int:
        return self.cfg.pe_array.cols

    @property
    def depth(self) -> int:
        return self.cfg.pe_array.acc_depth

    @property
    def ba(self) -> int:
        return self.cfg.buffers.act_word_bits

    @property
    def d(self) -> int:
        return self.cfg.axi.data_bits

    @property
    def ib(self) -> int:
        return self.cfg.index_bits if self.sparse else 0

    # ---------------------------------------------------------------- derived
    @property
    def lanes(self) -> int:
        return self.ba // self.rows

    @property
    def resw(self) -> int:
        return self.cfg.res_word_bits

    @property
    def bpr(self) -> int:
        return self.resw // self.d

    @property
    def nblk_max(self) -> int:
        """Activation words per position the window buffers hold (a power of two; archsim.buildable's rule)."""
        return window_words(self.cfg, self.max_cin)

    @property
    def nbw(self) -> int:
        return clog2(self.nblk_max)

    @property
    def ncw(self) -> int:
        return bitlen(self.nblk_max)

    @property
    def sb(self) -> dict[int, int]:
        """Bits of one weight step for K = 1 and K = 3."""
        return {k: self.rows * (k * k + self.ib) for k in (1, 3)}

    @cached_property
    def e_mem(self) -> int:
        return self.cfg.weight_entry_bits(self.sparse)

    @property
    def steps_per_entry(self) -> dict[int, int]:
        return {k: self.cfg.steps_per_entry(k, self.sparse) for k in (1, 3)}

    @property
    def cb(self) -> dict[int, int]:
        """Stream bits that fill one weight entry, per kernel size."""
        return {k: self.steps_per_entry[k] * self.sb[k] for k in (1, 3)}

    @property
    def went_depth(self) -> int:
        """Half the weight ring's entries (a power of two): one dense pass of weight_depth steps."""
        return self.cfg.weight_ring_entries(self.sparse) // 2

    @property
    def slw(self) -> int:
        """log2 of the blob slots the RTL builds: pass indices never exceed max_passes, so
        slots beyond 2^MPW would never be told apart (pass mod slots = pass there)."""
        return min(clog2(self.cfg.buffers.blob_slots), self.mpw)

    @property
    def mpw(self) -> int:
        return max(2, clog2(self.max_passes))

    @property
    def acc_stored(self) -> int:
        """Accumulator bits the PEs store: |dot| <= 9 x the largest C_in the window buffers hold.

        A narrower store than acc_bits changes no result (the value always fits) and halves
        the LUT RAM of the accumulators on the Ultra96v2 (14 bits fit one RAM32M16).
        """
        return max(8, min(self.cfg.pe_array.acc_bits, bitlen(9 * self.nblk_max * self.ba) + 1))

    @property
    def pw(self) -> int:
        return self.rows * (self.cfg.epilogue.mult_bits + self.cfg.epilogue.bias_bits)

    @property
    def prw(self) -> int:
        return 9 * self.ba

    @property
    def aaw(self) -> int:
        return max(clog2(self.cfg.buffers.act_bank_depth), self.ncw + 1, 2)

    @property
    def raw(self) -> int:
        return max(1, clog2(self.cfg.buffers.res_depth))

    @property
    def cw(self) -> int:
        return bitlen(3 * self.cfg.buffers.act_bank_depth) + 1

    @property
    def max_positions(self) -> int:
        b = self.cfg.buffers
        return max(min(9 * b.act_bank_depth, b.res_depth), b.list_depth)

    @property
    def psw(self) -> int:
        return bitlen(self.max_positions)

    @property
    def uw(self) -> int:
        return bitlen(self.max_passes * math.ceil(self.max_positions / self.cols)) + 1

    def verilog(self) -> dict[str, int]:
        """Parameter values of bnn_core."""
        c, ax, b, ep = self.cfg, self.cfg.axi, self.cfg.buffers, self.cfg.epilogue
        wgr = math.gcd(self.d, self.cb[1], self.cb[3])
        pgr = math.gcd(self.d, self.pw)
        prgr = math.gcd(self.d, self.prw)
        return {
            "ROWS": self.rows,
            "COLS": self.cols,
            "CLW": max(1, clog2(self.cols)),
            "G": self.depth,
            "GW": max(1, clog2(self.depth)),
            "ACC_W": c.pe_array.acc_bits,
            "ACC_S": self.acc_stored,
            "BA": self.ba,
            "BAW": bitlen(self.ba),
            "BIW": max(1, clog2(self.ba)),
            "LANES": self.lanes,
            "LW": max(1, clog2(self.lanes)),
            "ADEPTH": 1 << self.aaw,  # bank depth as addressed (the configured depth rounded up)
            "AAW": self.aaw,
            "RDEPTH": b.res_depth,
            "RAW": self.raw,
            "VB": ep.value_bits,
            "MB": ep.mult_bits,
            "BB": ep.bias_bits,
            "RESW": self.resw,
            "D": self.d,
            "BPR": self.bpr,
            "BPRW": max(1, clog2(self.bpr)),
            "BMAX": ax.max_burst_beats,
            "O_R": ax.max_outstanding_reads,
            "ORW": bitlen(ax.max_outstanding_reads),
            "O_W": ax.max_outstanding_writes,
            "OWW": bitlen(ax.max_outstanding_writes),
            "AXW": 32,
            "BTW": 24,
            "IB": self.ib,
            "SPARSE": int(self.sparse),
            "NBW": self.nbw,
            "NCW": self.ncw,
            "CW": self.cw,
            "PSW": self.psw,
            "UW": self.uw,
            "SW": bitlen(b.weight_depth),
            "LDEPTH": b.list_depth,
            "LAW": max(clog2(b.list_depth), clog2(self.cols) + 1),
            "E_MEM": self.e_mem,
            "M1": self.steps_per_entry[1],
            "M3": self.steps_per_entry[3],
            "MW": max(1, clog2(max(self.steps_per_entry.values()))),
            "CB1": self.cb[1],
            "CB3": self.cb[3],
            "WGR": wgr,
            "WFW": bitlen((self.e_mem + self.d) // wgr),
            "WAW": clog2(self.went_depth),
            "PW": self.pw,
            "PGR": pgr,
            "PFW": bitlen((self.pw + self.d) // pgr),
            "PRW": self.prw,
            "PRGR": prgr,
            "PRFW": bitlen((self.prw + self.d) // prgr),
            "CPW": bitlen(self.rows * self.depth),
            "MAXL": self.max_layers,
            "MLW": max(1, clog2(self.max_layers)),
            "MAXP": self.max_passes,
            "MPW": self.mpw,
            "SLW": self.slw,
            "INBUF": int(b.input_buffer),  # input buffer: layer 1 overlaps the LOAD (docs/timing.md 4.4)
            # early mask scan (docs/timing.md 4.5): a mask unit means sparse mode (E1)
            "EARLY": int(b.early_scan and self.sparse),
            # split tiles (docs/timing.md 4.2, T3), in the sparse and the dense build alike
            "SPLIT": int(c.pe_array.split_tiles),
            # sum store of the pooled STORE (docs/timing.md 5): lanes of pooled_sum_bits, sum_store_slots words
            "POOL": int(b.pooled_store),
            "PSB": c.pooled_sum_bits,
            "PSD": c.sum_store_slots,
            "PSAW": max(1, clog2(c.sum_store_slots)),
            # stem unit (rtl/verilog/bnn_stem.v, docs/timing.md 3.1), in the sparse and the dense build alike
            "STEM": int(c.stem_unit.enabled),
            "STEM_CH": c.stem_unit.channels,
            "STEM_H": c.stem_unit.max_height,
            "STEM_W": c.stem_unit.max_width,
            "STEM_S": stem_unit.SHIFT,
        }

    # ---------------------------------------------------------------- checks
    def check(self) -> None:
        def bad(field: str, msg: str) -> ConfigError:
            return ConfigError(f"{self.where}: field '{field}': {msg} {RTL_LIMIT}")

        problem = rtl_limit(self.cfg)  # also refused by HardwareConfig's validation, with the same message
        if problem is not None:
            raise bad(*problem)
        if self.ib == 0 and self.sparse and self.depth > 1:
            raise bad("pe_array.acc_depth", "sparse mode needs index bits")
        if self.cfg.pe_array.acc_bits < 8:
            raise bad("pe_array.acc_bits", "must be at least 8")
        if not 1 <= self.max_layers <= max_layers_in_map():
            raise ConfigError(f"{self.where}: max_layers must be in [1, {max_layers_in_map()}], got {self.max_layers}")
        if not 1 <= self.max_passes <= max_passes_in_map():
            raise ConfigError(f"{self.where}: max_passes must be in [1, {max_passes_in_map()}], got {self.max_passes}")
        if self.uw > 31:
            raise ConfigError(f"{self.where}: too many tiles per layer for the tile counters")
        st = self.cfg.stem_unit
        # (the parameter port's 32-bit words divide every axi.data_bits the configuration accepts: 32 .. 512)
        if st.enabled and bitlen(max(st.max_height, st.max_width) + 1) > self.cw:
            raise bad("stem_unit.max_height", f"the LOAD's h and w registers hold {self.cw} bits")

    def check_layout(self, lay: DdrLayout) -> None:
        """The programme fits this hardware's descriptor store and buffers (beyond compile_program's checks)."""
        where = self.where
        if lay.stem_unit and not self.cfg.stem_unit.enabled:  # the reverse is the bypass (docs/timing.md 3.1, ST6)
            raise ConfigError(
                f"{where}: field 'stem_unit.enabled': a programme for the stem unit cannot run on the RTL without one"
            )
        if lay.mode != ("sparse" if self.sparse else "dense"):
            raise ConfigError(
                f"{where}: a {lay.mode}-mode programme cannot run on the {'sparse' if self.sparse else 'dense'} RTL"
            )
        problem = limits_problem(  # archsim refuses the same programmes up front (archsim.buildable)
            self.cfg,
            len(lay.layers),
            len(lay.passes),
            ((L.name, L.c_in) for L in lay.layers),
            lay.end,
            self.max_layers,
            self.max_passes,
            self.max_cin,
        )
        if problem is not None:
            raise ConfigError(f"{where}: {problem} {RTL_LIMIT}")
        for L in lay.layers:
            if L.shift > 63:
                raise ConfigError(f"{where}: layer '{L.name}': shift {L.shift} exceeds 63")


def check_latencies(lat: Latencies = LATENCIES) -> None:
    """The timing contract's latency constants must describe this RTL's pipelines."""
    if lat != RTL_LATENCIES:
        raise ConfigError(
            f"archsim.contract.Latencies {lat} differ from the generated RTL's pipelines {RTL_LATENCIES}: "
            "update docs/timing.md section 7 and contract.py, or the RTL"
        )
