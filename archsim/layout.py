"""DDR images of one inference (docs/formats.md section 4), in pure numpy.

The accelerator reads the stem output (LOAD; with the stem unit the raw image) and one blob per pass, and writes the
last map (STORE). This module packs and unpacks those images bit for bit, places
them at burst-aligned addresses, and derives the per-layer and per-pass geometry a
hardware descriptor needs (shapes, derived counts, DDR addresses, section sizes).
It knows nothing of any register map: `rtl/regmap.py` turns these descriptors into
register writes.

Bit order: an image is a little-endian bitstream cut into D-bit beats; bit i is bit
(i mod D) of beat floor(i / D). Bytes are stored little-endian, so bit i of an image
is bit (i mod 8) of byte floor(i / 8).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from archsim import stem_unit
from archsim.config import HardwareConfig
from archsim.errors import ConfigError
from archsim.format import BinaryConv, BnnModel
from archsim.functional import pooled_sums
from archsim.program import LayerPlan, PassPlan, Program, ceil_div, structured_indices

# --------------------------------------------------------------------------- bit helpers


def int_fields(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement fields: int array [...] -> bool [..., bits], bit 0 first."""
    v = np.asarray(values, dtype=np.int64)
    lim = 1 << (bits - 1) if bits < 64 else None
    if lim is not None and v.size and (v.min() < -lim or v.max() >= (1 << bits)):
        raise ValueError(f"value out of range for a {bits}-bit field")
    u = v.astype(np.uint64) if bits == 64 else (v & ((1 << bits) - 1)).astype(np.uint64)
    return ((u[..., None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(bool)


def fields_int(bits: np.ndarray, signed: bool) -> np.ndarray:
    """Inverse of int_fields: bool [..., n] -> int64 [...]."""
    n = bits.shape[-1]
    u = (bits.astype(np.int64) << np.arange(n, dtype=np.int64)).sum(axis=-1)
    if signed:
        u = np.where(u >= (1 << (n - 1)), u - (1 << n), u)
    return u


def bits_to_bytes(bits: np.ndarray, beat_bits: int) -> bytes:
    """A bool bitstream -> bytes, zero-padded to a whole beat."""
    bits = np.asarray(bits, dtype=bool).reshape(-1)
    pad = -bits.size % beat_bits
    if pad:
        bits = np.concatenate([bits, np.zeros(pad, dtype=bool)])
    return np.packbits(bits, bitorder="little").tobytes()


def bytes_to_bits(data: bytes | np.ndarray) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8), bitorder="little").astype(bool)


# --------------------------------------------------------------------------- activation maps


@dataclass(frozen=True)
class MapGeometry:
    """An activation map as the accelerator stores it (residual buffer, DDR, bit banks)."""

    c: int
    h: int
    w: int
    nblk: int  # activation-bit words per position: ceil(c / act_word_bits)
    w3n: int  # bank words per bank row: ceil(w / 3) * nblk
    nwo: int  # residual words per position: ceil(c / rows)
    words: int  # residual words of the map: h * w * nwo
    beats: int  # DDR beats of the map image

    @property
    def positions(self) -> int:
        return self.h * self.w


def map_geometry(c: int, h: int, w: int, cfg: HardwareConfig) -> MapGeometry:
    rows = cfg.pe_array.rows
    nblk = ceil_div(c, cfg.buffers.act_word_bits)
    nwo = ceil_div(c, rows)
    words = h * w * nwo
    return MapGeometry(
        c=c,
        h=h,
        w=w,
        nblk=nblk,
        w3n=ceil_div(w, 3) * nblk,
        nwo=nwo,
        words=words,
        beats=ceil_div(words * cfg.res_word_bits, cfg.axi.data_bits),
    )


def pack_map(x: np.ndarray, cfg: HardwareConfig) -> bytes:
    """int16 map [C, H, W] -> DDR image: position-major, `rows` channels per word (formats.md 4.1)."""
    if x.ndim != 3:
        raise ValueError(f"activation map must be [C, H, W], got shape {x.shape}")
    c, h, w = x.shape
    rows, vb = cfg.pe_array.rows, cfg.epilogue.value_bits
    nwo = ceil_div(c, rows)
    vals = np.zeros((h * w, nwo * rows), dtype=np.int64)
    vals[:, :c] = np.asarray(x, dtype=np.int64).reshape(c, h * w).T
    return bits_to_bytes(int_fields(vals, vb), cfg.axi.data_bits)


def unpack_map(data: bytes | np.ndarray, shape: tuple[int, int, int], cfg: HardwareConfig) -> np.ndarray:
    """DDR image -> int16 map [C, H, W] (inverse of pack_map; padding channels are dropped)."""
    c, h, w = shape
    rows, vb = cfg.pe_array.rows, cfg.epilogue.value_bits
    nwo = ceil_div(c, rows)
    n = h * w * nwo * rows * vb
    bits = bytes_to_bits(data)
    if bits.size < n:
        raise ValueError(f"map image holds {bits.size} bits, a {c}x{h}x{w} map needs {n}")
    vals = fields_int(bits[:n].reshape(h * w, nwo * rows, vb), signed=True)
    return np.ascontiguousarray(vals[:, :c].T.reshape(c, h, w)).astype(np.int16)


def pack_image(image: np.ndarray, cfg: HardwareConfig) -> bytes:
    """Raw image uint8 [1, H, W] -> the LOAD image of the stem unit (formats.md 4.4): one byte per pixel in
    raster order, zero-padded to a whole beat."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[0] != 1 or img.dtype != np.uint8:
        raise ValueError(f"raw image must be uint8 [1, H, W], got {img.dtype} {img.shape}")
    d = cfg.axi.data_bits
    return b"".join(b.to_bytes(d // 8, "little") for b in stem_unit.image_beats(img[0], d))


def load_geometry(program: Program, cfg: HardwareConfig) -> MapGeometry:
    """The LOAD: x0's map as the LOAD path writes it; with the stem unit its DDR image is the raw image
    (`Program.load_beats` beats, docs/timing.md 3.1), so only `beats` differs."""
    g = map_geometry(*program.load_shape, cfg)
    return replace(g, beats=program.load_beats) if program.stem_unit else g


def store_geometry(program: Program, cfg: HardwareConfig) -> MapGeometry:
    """The STORE's image: the last map, or with a pooled STORE its per-channel sums (words and
    beats of the sum image; c, h, w stay the last map's)."""
    g = map_geometry(*program.store_shape, cfg)
    if not program.pooled:
        return g
    return replace(g, words=program.store_words, beats=program.store_beats)


def unpack_pooled(data: bytes | np.ndarray, c: int, cfg: HardwareConfig) -> np.ndarray:
    """Pooled STORE image -> int64 sums [C]: int32 little-endian, channel order, padded to whole rows."""
    n = ceil_div(c, cfg.pe_array.rows) * cfg.pe_array.rows * 4
    raw = bytes(data[:n]) if not isinstance(data, np.ndarray) else data[:n].tobytes()
    if len(raw) < n:
        raise ValueError(f"pooled image holds {len(raw)} bytes, {c} channels need {n}")
    return np.frombuffer(raw, dtype="<i4")[:c].astype(np.int64)


def unpack_store(data: bytes | np.ndarray, program: Program, cfg: HardwareConfig) -> np.ndarray:
    """What the STORE wrote, as the host reads it: int64 sums [C] (pooled) or the int16 map [C, H, W]."""
    if program.pooled:
        return unpack_pooled(data, program.store_shape[0], cfg)
    return unpack_map(data, program.store_shape, cfg)


def store_view(program: Program, x_last: np.ndarray) -> np.ndarray:
    """What the STORE of `program` writes for the last map `x_last` [C, H, W]: its per-channel sums
    (int64 [C]) when pooled, else the map itself; the form `unpack_store` reads back."""
    if program.pooled:
        return pooled_sums(np.asarray(x_last)[None])[0]
    return x_last


# --------------------------------------------------------------------------- blobs


def step_kernels(layer: BinaryConv, plan: PassPlan, idx: np.ndarray | None, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Kernels and slots of every step of a pass.

    Returns kern bool [c_in, k, rows, K*K] (tap n = ky K + kx) and slot int [c_in, k, rows]:
    step c k + j, row r holds the kernel of output channel c_lo + slot * rows + r
    (zeros for phantom channels). `idx` is the pass's structured index array (sparse
    mode) or None (dense mode: slot = j).
    """
    kk = layer.kernel * layer.kernel
    k = plan.k
    if idx is None:
        slot = np.broadcast_to(np.arange(k)[None, :, None], (layer.c_in, k, rows)).astype(np.int64)
    else:
        slot = idx.astype(np.int64)
    o = plan.c_lo + slot * rows + np.arange(rows)[None, None, :]
    real = o < plan.c_hi
    w = layer.weight.reshape(layer.c_out, layer.c_in, kk)
    c = np.broadcast_to(np.arange(layer.c_in)[:, None, None], o.shape)
    kern = np.where(real[..., None], w[np.minimum(o, layer.c_out - 1), c], False)
    return kern, slot


def pack_blob(
    layer: BinaryConv, lplan: LayerPlan, plan: PassPlan, idx: np.ndarray | None, cfg: HardwareConfig, sparse: bool
) -> bytes:
    """The blob of one pass: steps, parameters, predictor (formats.md 4.2), each section beat-aligned."""
    rows, d = cfg.pe_array.rows, cfg.axi.data_bits
    ep = cfg.epilogue
    kern, slot = step_kernels(layer, plan, idx, rows)
    parts = [kern]
    if sparse:
        parts.append(int_fields(slot, cfg.index_bits) if cfg.index_bits else np.zeros((*slot.shape, 0), bool))
    steps = np.concatenate(parts, axis=-1)  # [c_in, k, rows, K*K + IB]
    out = [bits_to_bytes(steps, d)]

    ch = plan.c_lo + np.arange(plan.g)[:, None] * rows + np.arange(rows)[None, :]  # [g, rows]
    real = ch < plan.c_hi
    chc = np.minimum(ch, layer.c_out - 1)
    mult = np.where(real, layer.mult.astype(np.int64)[chc], 0)
    bias = np.where(real, layer.bias.astype(np.int64)[chc], 0)
    params = np.concatenate([int_fields(mult, ep.mult_bits), int_fields(bias, ep.bias_bits)], axis=-1)
    out.append(bits_to_bytes(params, d))

    if plan.predictor_beats:
        pred = layer.predictor
        assert pred is not None
        out.append(bits_to_bytes(int_fields(np.array([pred.threshold]), 32), d))
        u = np.zeros((lplan.nblk * cfg.buffers.act_word_bits, 9), dtype=bool)
        u[: layer.c_in] = pred.weight.reshape(layer.c_in, 9)
        out.append(bits_to_bytes(u, d))
    blob = b"".join(out)
    if len(blob) * 8 != plan.blob_beats * d:
        raise AssertionError(
            f"blob of {layer.name} pass {plan.index}: {len(blob) * 8} bits, plan says {plan.blob_beats} beats"
        )
    return blob


def unpack_steps(
    blob: bytes, layer: BinaryConv, plan: PassPlan, cfg: HardwareConfig, sparse: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Read the steps section back: kern bool [c_in, k, rows, K*K] and slot int [c_in, k, rows]."""
    rows, kk = cfg.pe_array.rows, layer.kernel * layer.kernel
    ib = cfg.index_bits if sparse else 0
    n = layer.c_in * plan.k * rows * (kk + ib)
    f = bytes_to_bits(blob)[:n].reshape(layer.c_in, plan.k, rows, kk + ib)
    slot = (
        fields_int(f[..., kk:], signed=False) if ib else np.broadcast_to(np.arange(plan.k)[None, :, None], f.shape[:3])
    )
    return f[..., :kk], slot


# --------------------------------------------------------------------------- descriptors and placement


@dataclass(frozen=True)
class PassDesc:
    """One pass's blob in DDR and what the units need to run it."""

    layer: int
    index: int  # pass index within the layer
    addr: int  # byte address of the blob
    weight_beats: int
    param_beats: int
    predictor_beats: int
    c_lo: int
    c_hi: int
    g: int
    k: int
    steps: int  # c_in * k: PE-array steps per tile
    kernel: int
    went: int  # weight-memory entries the blob fills
    wbase: int  # first weight-ring entry of the blob (wrapping)
    need: int  # blobs 0 .. need-1 must be free before this one loads (docs/timing.md 3)

    @property
    def blob_beats(self) -> int:
        return self.weight_beats + self.param_beats + self.predictor_beats


@dataclass(frozen=True)
class LayerDesc:
    """Geometry of one layer, with every derived count the hardware would otherwise divide for."""

    index: int
    name: str
    kernel: int
    stride: int
    residual: bool
    mask_enabled: bool
    copy_masked: bool
    swap: bool  # main layer: the activation sets swap afterwards
    c_in: int
    c_out: int
    inp: MapGeometry
    out: MapGeometry
    cv_last: int  # valid channels in the last input activation word
    tiles: int  # tiles per pass when every position is active: ceil(positions / cols)
    shift: int
    first_pass: int  # global index of the layer's first pass
    n_passes: int
    res_write: bool = True  # the epilogue writes the residual buffer (archsim.program.LayerPlan)
    # The epilogue max-pools the output bits 2x2 into the output set (docs/timing.md 2); the last
    # layer's pooling is the host's, so never set there.
    maxpool: bool = False
    early_scan: bool = False  # scanned while the previous layer runs (archsim.program.LayerPlan)
    late_scan: bool = False  # ... once the previous layer's last gather has ended (docs/timing.md 4.5, E4 b)

    @property
    def positions(self) -> int:
        return self.out.positions

    @property
    def set_w3n(self) -> int:
        """Bank words per bank row of the map the layer writes into the output set: the pooled map's
        with a max-pool (what the next layer reads), else the output map's."""
        return ceil_div(self.out.w // 2, 3) * self.out.nblk if self.maxpool else self.out.w3n


@dataclass(frozen=True)
class DdrLayout:
    """Where everything of one programme lives in DDR, and the blob bytes."""

    mode: str
    load_addr: int
    store_addr: int
    blob_base: int
    end: int  # first byte after the last image
    load: MapGeometry
    store: MapGeometry
    layers: tuple[LayerDesc, ...]
    passes: tuple[PassDesc, ...]
    blobs: tuple[bytes, ...]  # one per pass, global order
    pooled: bool = False  # the STORE writes the last layer's pooled sums (Program.pooled)
    # a stream of images (docs/timing.md 9, S1): image n's x0 at load_addr + n load_stride, its
    # output at store_addr + n store_stride; the strides are the images' sizes rounded up to 4 KiB
    n_images: int = 1
    load_stride: int = 0
    store_stride: int = 0
    # stem unit (Program.stem_unit, docs/timing.md 3.1): the LOAD holds raw images; the unit's parameter
    # beats (stem_unit.pack_params, D-bit integers in the order sent) and input offset, written before start
    stem_unit: bool = False
    stem_params: tuple[int, ...] = ()
    stem_offset: int = 0

    def load_addr_of(self, image: int) -> int:
        return self.load_addr + image * self.load_stride

    def store_addr_of(self, image: int) -> int:
        return self.store_addr + image * self.store_stride

    def blob_image(self) -> tuple[int, bytes]:
        """(base address, bytes) of the contiguous blob region, alignment gaps zero-filled."""
        buf = bytearray(self.end - self.blob_base)
        for p, b in zip(self.passes, self.blobs, strict=True):
            buf[p.addr - self.blob_base : p.addr - self.blob_base + len(b)] = b
        return self.blob_base, bytes(buf)


def align(addr: int, cfg: HardwareConfig) -> int:
    a = cfg.burst_bytes
    return ceil_div(addr, a) * a


STREAM_ALIGN = 4096  # stride unit of a stream's images: shifting an image by it keeps its bursts in their 4 KiB pages


def build_layout(model: BnnModel, program: Program, cfg: HardwareConfig, base: int = 0, n_images: int = 1) -> DdrLayout:
    """Pack every blob of `program` and place LOAD, STORE and the blobs from `base` on.

    Order: the LOAD map, the STORE map, then the blobs in (layer, pass) order, each
    image starting at a multiple of `burst_bytes` so no burst crosses 4 KiB. For a stream of
    `n_images` (docs/timing.md 9) the LOAD and STORE regions hold that many images, each at a
    stride of its size rounded up to 4 KiB; one image places everything as before.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, int) or not 1 <= n_images < 1 << 16:
        raise ConfigError(f"stream: field 'n_images' = {n_images!r} must be an integer from 1 to 65535")
    for L, lp in zip(model.layers[:-1], program.layers, strict=False):  # the last layer's pool is the host's
        if L.maxpool and lp.mask_enabled:
            # The epilogue pools only the positions it computes; a skipped position's bits (the mask
            # unit's centre-bit copy, or the set's old bits) would have to be OR-ed in as well.
            raise ConfigError(
                f"layer '{L.name}': field 'maxpool': a 2x2 max-pool on a layer whose spatial predictor runs "
                "is simulated by archsim but not in the generated RTL (the skipped positions' bits are not pooled)"
            )
    if base % cfg.burst_bytes:
        raise ConfigError(f"DDR base address {base:#x} is not a multiple of the burst size {cfg.burst_bytes} bytes")
    sparse = program.mode == "sparse"
    beat = cfg.beat_bytes
    load = load_geometry(program, cfg)
    store = store_geometry(program, cfg)
    if load.beats != program.load_beats or store.beats != program.store_beats:
        raise AssertionError("map image sizes disagree with the programme")
    load_stride = ceil_div(load.beats * beat, STREAM_ALIGN) * STREAM_ALIGN
    store_stride = ceil_div(store.beats * beat, STREAM_ALIGN) * STREAM_ALIGN
    load_addr = base
    store_addr = align(load_addr + (n_images - 1) * load_stride + load.beats * beat, cfg)
    addr = blob_base = align(store_addr + (n_images - 1) * store_stride + store.beats * beat, cfg)
    layers, passes, blobs = [], [], []
    for L, lp in zip(model.layers, program.layers, strict=True):
        idx = structured_indices(L, cfg) if sparse else [None] * len(lp.passes)
        first = len(passes)
        for pp, ix in zip(lp.passes, idx, strict=True):
            blob = pack_blob(L, lp, pp, ix, cfg, sparse)
            passes.append(
                PassDesc(
                    layer=lp.index,
                    index=pp.index,
                    addr=addr,
                    weight_beats=pp.weight_beats,
                    param_beats=pp.param_beats,
                    predictor_beats=pp.predictor_beats,
                    c_lo=pp.c_lo,
                    c_hi=pp.c_hi,
                    g=pp.g,
                    k=pp.k,
                    steps=L.c_in * pp.k,
                    kernel=L.kernel,
                    went=pp.went,
                    wbase=pp.wbase,
                    need=pp.need,
                )
            )
            blobs.append(blob)
            addr = align(addr + len(blob), cfg)
        inp = map_geometry(L.c_in, L.h_in, L.w_in, cfg)
        out = map_geometry(L.c_out, L.h_out, L.w_out, cfg)
        layers.append(
            LayerDesc(
                index=lp.index,
                name=lp.name,
                kernel=lp.kernel,
                stride=lp.stride,
                residual=lp.residual,
                mask_enabled=lp.mask_enabled,
                copy_masked=lp.copy_masked,
                swap=lp.role == "main",
                c_in=L.c_in,
                c_out=L.c_out,
                inp=inp,
                out=out,
                cv_last=L.c_in - (inp.nblk - 1) * cfg.buffers.act_word_bits,
                tiles=ceil_div(out.positions, cfg.pe_array.cols),
                shift=L.shift,
                first_pass=first,
                n_passes=len(lp.passes),
                res_write=lp.res_write,
                maxpool=L.maxpool and lp.index < len(model.layers) - 1,
                early_scan=lp.early_scan,
                late_scan=lp.late_scan,
            )
        )
    stem_params: tuple[int, ...] = ()
    if program.stem_unit:  # compile_program has checked that the unit computes this stem bit for bit
        st = model.stem
        m, b = stem_unit.normalise(st.mult, st.bias, st.shift, stem_unit.SHIFT)
        stem_params = tuple(stem_unit.pack_params(st.weight, m, b, cfg.axi.data_bits))
    return DdrLayout(
        stem_unit=program.stem_unit,
        stem_params=stem_params,
        stem_offset=int(model.stem.input_offset) if program.stem_unit else 0,
        mode=program.mode,
        load_addr=load_addr,
        store_addr=store_addr,
        blob_base=blob_base,
        end=addr,
        load=load,
        store=store,
        pooled=program.pooled,
        n_images=n_images,
        load_stride=load_stride,
        store_stride=store_stride,
        layers=tuple(layers),
        passes=tuple(passes),
        blobs=tuple(blobs),
    )
