"""The accelerator's AXI4-Lite register map, machine-readable.

This module is the single source of the register map: rtl/gen.py writes it into the
Verilog header `bnn_regmap.vh` (address decode of rtl/verilog/bnn_regs.v), into
rtl/README.md's table, and a host driver can import it. `program_writes()` turns an
archsim.layout.DdrLayout into the list of (address, value) register writes that
programme one inference.

All registers are 32 bits. The layer and pass tables are write-only (the hardware
keeps each field only as wide as it needs); the layer-end log is read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from archsim.errors import ConfigError
from archsim.layout import DdrLayout

from .address_map import (  # noqa: F401  (re-exported: the register map is read from here)
    ADDR_BITS,
    CTRL,
    CTRL_START_BIT,
    CYCLES,
    DONE_BASE,
    DONE_LOG_IMAGES,
    GLOBAL_BASE,
    HW_BASE,
    ID,
    ID_MAGIC,
    LAYER_BASE,
    LAYER_STRIDE,
    LOG_BASE,
    PASS_BASE,
    PASS_STRIDE,
    SIZE,
    STATUS,
    STATUS_BUSY_BIT,
    STATUS_DONE_BIT,
    STEM_PRM,
    max_layers_in_map,
    max_passes_in_map,
)
from .params import RtlParams

HW_FIELDS = (
    "rows",
    "cols",
    "acc_depth",
    "act_word_bits",
    "data_bits",
    "max_burst_beats",
    "sparse",
    "index_bits",
    "max_layers",
    "max_passes",
    "value_bits",
    "weight_entry_bits",
    "stem_channels",  # C0 of the stem unit (docs/timing.md 3.1), 0 without one
)

GLOBAL_FIELDS = (
    "n_layers",
    "n_passes",
    "load_addr",
    "load_beats",
    "store_addr",
    "store_beats",
    "load_h",
    "load_w",
    "load_nblk",
    "load_w3n",
    "load_nwo",
    "store_words",
    # stream of images (docs/timing.md 9): image n LOADs from load_addr + n load_stride and STOREs
    # to store_addr + n store_stride (bytes, multiples of 4 KiB); 1 image is latency mode
    "n_images",
    "load_stride",
    "store_stride",
    # the stem unit's input offset (stem.input_offset, a byte), subtracted from every pixel
    "stem_off",
    # 1: the LOAD's R beats go through the stem unit; 0: the unit is bypassed, the LOAD reads x0 (ST6)
    "stem_en",
)

# flags word of a layer: bit positions
LAYER_FLAGS = ("k3", "s2", "residual", "mask_en", "copy", "swap", "pool", "res_wr", "maxpool", "early", "late")

LAYER_FIELDS = (
    "flags",
    "h_in",
    "w_in",
    "h_out",
    "w_out",
    "nblk_in",
    "w3n_in",
    "nblk_out",
    "w3n_out",
    "nwo",
    "positions",
    "tiles",
    "cv_last",
    "shift",
    "first_pass",
    "n_pass",
)

PASS_FIELDS = (
    "addr",
    "beats",
    "weight_beats",
    "param_beats",
    "pred_beats",
    "went",  # weight-memory entries the blob fills (hardware storage, see rtl/params.py)
    "k3",
    "k",
    "steps",
    "g",
    "woff",  # first residual word of the pass: c_lo / rows
    "wblk0",  # first activation word of the pass: c_lo / act_word_bits
    "cpass",  # channels in the pass: c_hi - c_lo
    "wbase",  # first weight-ring entry of the blob (docs/timing.md 3)
    "need",  # the blob may load once this many blobs (programme order) are free
)

assert 4 * len(LAYER_FIELDS) <= LAYER_STRIDE and 4 * len(PASS_FIELDS) <= PASS_STRIDE
# bnn_regs.v decodes the HW words with four address bits and the GLOBAL words with five (GLOBAL_BASE to
# DONE_BASE), and the HW words end below STEM_PRM
assert len(HW_FIELDS) <= 16 and HW_BASE + 4 * len(HW_FIELDS) <= STEM_PRM < GLOBAL_BASE
assert len(GLOBAL_FIELDS) <= 32 and GLOBAL_BASE + 4 * len(GLOBAL_FIELDS) <= DONE_BASE and GLOBAL_BASE % 128 == 0


@dataclass(frozen=True)
class Region:
    """A run of registers: `count` entries of `stride` bytes, each with `fields` words."""

    name: str
    base: int
    access: str  # "R", "W" or "RW", as the hardware implements it
    fields: tuple[str, ...] = ("value",)
    count: int = 1
    stride: int = 4


def regions() -> tuple[Region, ...]:
    """Every register the hardware decodes, with its access (the README table, machine-readable)."""
    return (
        Region("CTRL", CTRL, "W"),
        Region("STATUS", STATUS, "R"),
        Region("CYCLES", CYCLES, "R"),
        Region("ID", ID, "R"),
        Region("HW", HW_BASE, "R", HW_FIELDS, stride=4 * len(HW_FIELDS)),
        Region("STEM_PRM", STEM_PRM, "W"),
        Region("GLOBAL", GLOBAL_BASE, "RW", GLOBAL_FIELDS, stride=4 * len(GLOBAL_FIELDS)),
        Region("LAYER", LAYER_BASE, "W", LAYER_FIELDS, max_layers_in_map(), LAYER_STRIDE),
        Region("PASS", PASS_BASE, "W", PASS_FIELDS, max_passes_in_map(), PASS_STRIDE),
        Region("LOG", LOG_BASE, "R", count=max_layers_in_map()),
        Region("DONE", DONE_BASE, "R", count=DONE_LOG_IMAGES),
    )


@dataclass(frozen=True)
class Decoded:
    region: Region
    entry: int
    field: str


def decode(addr: int) -> Decoded | None:
    """The register at byte address `addr`, or None where the map has none."""
    if addr % 4 or not 0 <= addr < SIZE:
        return None
    for r in regions():
        off = addr - r.base
        if 0 <= off < r.count * r.stride:
            entry, word = divmod(off, r.stride)
            if word // 4 < len(r.fields):
                return Decoded(r, entry, r.fields[word // 4])
    return None


def global_addr(name: str) -> int:
    return GLOBAL_BASE + 4 * GLOBAL_FIELDS.index(name)


def layer_addr(layer: int, name: str) -> int:
    return LAYER_BASE + layer * LAYER_STRIDE + 4 * LAYER_FIELDS.index(name)


def pass_addr(p: int, name: str) -> int:
    return PASS_BASE + p * PASS_STRIDE + 4 * PASS_FIELDS.index(name)


def hw_addr(name: str) -> int:
    return HW_BASE + 4 * HW_FIELDS.index(name)


def log_addr(layer: int) -> int:
    return LOG_BASE + 4 * layer


def done_addr(image: int) -> int:
    """The DONE log word of image `image` of a stream (the hardware logs the first DONE_LOG_IMAGES)."""
    if not 0 <= image < DONE_LOG_IMAGES:
        raise ValueError(f"the DONE log holds images 0..{DONE_LOG_IMAGES - 1}, not {image}")
    return DONE_BASE + 4 * image


def field_widths(prm: RtlParams) -> dict[str, int]:
    """Bits the hardware keeps of each field ("global.x", "layer.x", "pass.x"), from bnn_regs.v."""
    v = prm.verilog()
    cw, ncw, aaw, raw, mpw = v["CW"], v["NCW"], v["AAW"], v["RAW"], v["MPW"]
    w = {
        "global.n_layers": v["MLW"] + 1,
        "global.n_passes": mpw + 1,
        "global.load_addr": 32,
        "global.load_beats": v["BTW"],
        "global.store_addr": 32,
        "global.store_beats": v["BTW"],
        "global.load_h": cw,
        "global.load_w": cw,
        "global.load_nblk": ncw,
        "global.load_w3n": aaw,
        "global.load_nwo": raw,
        "global.store_words": raw + 1,
        "global.n_images": 16,
        "global.load_stride": 32,
        "global.store_stride": 32,
        "global.stem_off": 8,
        "global.stem_en": 1,
        "layer.flags": len(LAYER_FLAGS),
        "layer.h_in": cw,
        "layer.w_in": cw,
        "layer.h_out": cw,
        "layer.w_out": cw,
        "layer.nblk_in": ncw,
        "layer.w3n_in": aaw,
        "layer.nblk_out": ncw,
        "layer.w3n_out": aaw,
        "layer.nwo": raw,
        "layer.positions": v["PSW"],
        "layer.tiles": v["UW"],
        "layer.cv_last": v["BAW"],
        "layer.shift": 6,
        "layer.first_pass": mpw,
        "layer.n_pass": mpw + 1,
        "pass.addr": 32,
        "pass.beats": v["BTW"],
        "pass.weight_beats": v["BTW"],
        "pass.param_beats": v["BTW"],
        "pass.pred_beats": v["BTW"],
        "pass.went": v["WAW"] + 1,
        "pass.k3": 1,
        "pass.k": v["GW"] + 1,
        "pass.steps": v["SW"],
        "pass.g": v["GW"] + 1,
        "pass.woff": raw,
        "pass.wblk0": aaw,
        "pass.cpass": v["CPW"],
        "pass.wbase": v["WAW"] + 1,
        "pass.need": mpw + 1,
    }
    assert set(w) == {f"global.{f}" for f in GLOBAL_FIELDS} | {f"layer.{f}" for f in LAYER_FIELDS} | {
        f"pass.{f}" for f in PASS_FIELDS
    }
    return w


@dataclass(frozen=True)
class Write:
    addr: int
    value: int
    what: str


def program_writes(lay: DdrLayout, prm: RtlParams) -> list[Write]:
    """Register writes that programme `lay` (everything except CTRL.start) on hardware `prm`."""
    prm.check_layout(lay)
    widths = field_widths(prm)
    out: list[Write] = []

    def put(addr: int, value: int, what: str) -> None:
        kind = what.split("[")[0].split(".")[0] + "." + what.rsplit(".", 1)[1]
        bits = widths[kind]
        if not 0 <= value < (1 << bits):
            raise ConfigError(f"{prm.where}: field '{what}' = {value} does not fit the hardware's {bits}-bit field")
        out.append(Write(addr, int(value), what))

    glob = {
        "n_layers": len(lay.layers),
        "n_passes": len(lay.passes),
        "load_addr": lay.load_addr,
        "load_beats": lay.load.beats,
        "store_addr": lay.store_addr,
        "store_beats": lay.store.beats,
        "load_h": lay.load.h,
        "load_w": lay.load.w,
        "load_nblk": lay.load.nblk,
        "load_w3n": lay.load.w3n,
        "load_nwo": lay.load.nwo,
        "store_words": lay.store.words,
        "n_images": lay.n_images,
        "load_stride": lay.load_stride,
        "store_stride": lay.store_stride,
        "stem_off": lay.stem_offset if lay.stem_unit else 0,
        "stem_en": int(lay.stem_unit),
    }
    for name in GLOBAL_FIELDS:
        put(global_addr(name), glob[name], f"global.{name}")
    for i, L in enumerate(lay.layers):
        flags = {
            "k3": L.kernel == 3,
            "s2": L.stride == 2,
            "residual": L.residual,
            "mask_en": L.mask_enabled,
            "copy": L.copy_masked,
            "swap": L.swap,
            # the last layer of a pooled programme: its epilogue sums into the sum store, the STORE writes it
            "pool": lay.pooled and i == len(lay.layers) - 1,
            "res_wr": L.res_write,
            # 2x2 max-pool of the output bits into the pooled word (bnn_maxpool.v); w3n_out is the pooled map's
            "maxpool": L.maxpool,
            "early": L.early_scan,  # its mask unit scans during the previous layer (docs/timing.md 4.5)
            "late": L.late_scan,  # ... from the previous layer's last gather on (4.5, E4 b)
        }
        vals = {
            "flags": sum(int(flags[f]) << b for b, f in enumerate(LAYER_FLAGS)),
            "h_in": L.inp.h,
            "w_in": L.inp.w,
            "h_out": L.out.h,
            "w_out": L.out.w,
            "nblk_in": L.inp.nblk,
            "w3n_in": L.inp.w3n,
            "nblk_out": L.out.nblk,
            "w3n_out": L.set_w3n,
            "nwo": L.out.nwo,
            "positions": L.out.positions,
            "tiles": L.tiles,
            "cv_last": L.cv_last,
            "shift": L.shift,
            "first_pass": L.first_pass,
            "n_pass": L.n_passes,
        }
        for name in LAYER_FIELDS:
            put(layer_addr(i, name), vals[name], f"layer[{i}].{name}")
    for i, p in enumerate(lay.passes):
        vals = {
            "addr": p.addr,
            "beats": p.blob_beats,
            "weight_beats": p.weight_beats,
            "param_beats": p.param_beats,
            "pred_beats": p.predictor_beats,
            "went": p.went,
            "k3": int(p.kernel == 3),
            "k": p.k,
            "steps": p.steps,
            "g": p.g,
            "woff": p.c_lo // prm.rows,
            "wblk0": p.c_lo // prm.ba,
            "cpass": p.c_hi - p.c_lo,
            "wbase": p.wbase,
            "need": p.need,
        }
        for name in PASS_FIELDS:
            put(pass_addr(i, name), vals[name], f"pass[{i}].{name}")
    # the stem unit's parameter beats (stem_unit.pack_params), 32 bits per write, low word first (ST4)
    for j, beat in enumerate(lay.stem_params):
        for k in range(prm.d // 32):
            out.append(Write(STEM_PRM, (beat >> (32 * k)) & 0xFFFFFFFF, f"stem_prm[{j}].{k}"))
    return out


def verilog_header() -> str:
    """Localparams for bnn_regs.v: addresses and field indices."""
    lines = [
        "// Generated by rtl/gen.py from rtl/regmap.py: the AXI4-Lite register map. Do not edit.",
        f"localparam [31:0] ID_MAGIC = 32'h{ID_MAGIC:08X};",
        f"localparam A_CTRL = 16'h{CTRL:04X};",
        f"localparam A_STATUS = 16'h{STATUS:04X};",
        f"localparam A_CYCLES = 16'h{CYCLES:04X};",
        f"localparam A_ID = 16'h{ID:04X};",
        f"localparam A_HW_BASE = 16'h{HW_BASE:04X};",
        f"localparam A_STEM_PRM = 16'h{STEM_PRM:04X};",
        f"localparam A_GLOBAL_BASE = 16'h{GLOBAL_BASE:04X};",
        f"localparam A_LAYER_BASE = 16'h{LAYER_BASE:04X};",
        f"localparam A_PASS_BASE = 16'h{PASS_BASE:04X};",
        f"localparam A_LOG_BASE = 16'h{LOG_BASE:04X};",
        f"localparam A_DONE_BASE = 16'h{DONE_BASE:04X};",
        f"localparam N_DONE = {DONE_LOG_IMAGES};",
        f"localparam LAYER_STRIDE_LOG2 = {LAYER_STRIDE.bit_length() - 1};",
        f"localparam PASS_STRIDE_LOG2 = {PASS_STRIDE.bit_length() - 1};",
        f"localparam CTRL_START_BIT = {CTRL_START_BIT};",
        f"localparam STATUS_DONE_BIT = {STATUS_DONE_BIT};",
        f"localparam STATUS_BUSY_BIT = {STATUS_BUSY_BIT};",
        f"localparam N_HW = {len(HW_FIELDS)};",
        f"localparam N_GLOBAL = {len(GLOBAL_FIELDS)};",
        f"localparam N_FLAGS = {len(LAYER_FLAGS)};",
    ]
    for i, f in enumerate(HW_FIELDS):
        lines.append(f"localparam HW_{f.upper()} = {i};")
    for i, f in enumerate(GLOBAL_FIELDS):
        lines.append(f"localparam G_{f.upper()} = {i};")
    for i, f in enumerate(LAYER_FIELDS):
        lines.append(f"localparam LF_{f.upper()} = {i};")
    for i, f in enumerate(LAYER_FLAGS):
        lines.append(f"localparam FLAG_{f.upper()} = {i};")
    for i, f in enumerate(PASS_FIELDS):
        lines.append(f"localparam PF_{f.upper()} = {i};")
    return "\n".join(lines) + "\n"
