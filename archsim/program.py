"""Compile a model for a hardware configuration: the accelerator's programme.

A programme is what the host hands the accelerator: LOAD the stem output (or the
raw image, which the stem unit turns into it: docs/timing.md 3.1), run
every binary layer pass by pass, STORE the last map. This module derives, from
the model and the configuration, everything the timing model, the DDR image
packer and the RTL need: passes, steps per input channel (k), blob sizes in
beats, and the structured sparse-index form of every kept kernel. It also
checks that the model fits the hardware, naming the layer and limit at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from archsim import stem_unit
from archsim.config import HardwareConfig
from archsim.errors import ConfigError
from archsim.format import BinaryConv, BnnModel, residual_bits

MODES = ("sparse", "dense")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class PassPlan:
    index: int
    c_lo: int  # first output channel of the pass
    c_hi: int  # one past the last
    g: int  # channel slots per row used by this pass: ceil((c_hi - c_lo) / rows)
    k: int  # steps per input channel: kept kernels per (row, input channel)
    weight_beats: int
    param_beats: int
    predictor_beats: int
    # Placement in the accelerator's memories (docs/timing.md section 3), set by compile_program:
    went: int = 0  # weight-memory entries the blob fills: ceil(c_in k / m_K)
    wbase: int = 0  # its first entry in the weight ring (entries wrap modulo the ring size)
    need: int = 0  # blobs 0 .. need-1 (programme order) must be free before this one may load

    @property
    def channels(self) -> int:
        return self.c_hi - self.c_lo

    @property
    def blob_beats(self) -> int:
        return self.weight_beats + self.param_beats + self.predictor_beats


@dataclass(frozen=True)
class LayerPlan:
    index: int
    name: str
    role: str
    kernel: int
    stride: int
    c_in: int
    c_out: int
    h_in: int
    w_in: int
    h_out: int
    w_out: int
    nblk: int  # activation words per input position: ceil(c_in / act_word_bits)
    residual: bool
    mask_enabled: bool  # spatial mask unit evaluates a predictor (else bypassed)
    copy_masked: bool  # mask unit copies centre bits of skipped positions (identity residual)
    k_layer: int
    kept_kernels: int
    passes: tuple[PassPlan, ...]
    # Reads the input map from the input buffer (`buffers.input_buffer`): the first layer, and the
    # main layer after it when the first is a shortcut. Its units wait for LOADed rows (docs/timing.md 4.4).
    reads_input: bool = False
    # The epilogue writes z into the residual buffer (model format version 2 may say no: the layer's
    # output only feeds the next conv's sign bits); the sign bits are written either way.
    res_write: bool = True
    # Early mask scan (`buffers.early_scan`, docs/timing.md 4.5): the mask unit scans this layer while
    # the previous one still runs, each output row once the previous layer's output rows it reads are
    # final. Decided in one place, early_scan_kind.
    early_scan: bool = False
    # ... but not before the previous layer's last gather has ended (rule E4, case b: a centre-bit copy
    # into the input set of a stride-2 or reshaping previous layer).
    late_scan: bool = False

    @property
    def positions(self) -> int:
        return self.h_out * self.w_out

    def row_need(self, y: int) -> int:
        """The last input row that output row y needs (docs/timing.md 4.4 rule 2, and 4.5 E8)."""
        return min(self.h_in - 1, self.stride * y + (self.kernel - 1) // 2)

    @property
    def blob_beats(self) -> int:
        return sum(p.blob_beats for p in self.passes)


@dataclass(frozen=True)
class Program:
    mode: str  # "sparse" or "dense" (index decoder and mask unit bypassed)
    load_beats: int
    store_beats: int
    layers: tuple[LayerPlan, ...]
    load_shape: tuple[int, int, int]
    store_shape: tuple[int, int, int]
    # Input buffer (docs/timing.md 3, 4.4): blobs the read DMA serves before the LOAD (job order
    # blob 0 .. pre_load - 1, LOAD, the rest; none with the stem unit, 3.1 ST7), and per input row
    # the LOAD beats that complete it.
    input_buffer: bool = False
    pre_load: int = 0
    load_row_beats: tuple[int, ...] = ()
    # Pooled STORE (`buffers.pooled_store`, docs/timing.md 5): the STORE writes the last layer's
    # per-channel sums over positions, int32 [ceil(C / rows) rows], instead of the last map.
    pooled: bool = False
    store_words: int = 0  # words (rows x value_bits bits) the write DMA reads: map or sum store
    # Stem unit (`stem_unit.enabled`, docs/timing.md 3.1): the LOAD reads the raw image (load_beats beats)
    # and the unit delivers x0's x0_beats beats into the LOAD path, the first stem_lead cycles after the
    # LOAD's last R beat, one per cycle. Without it x0_beats = load_beats and stem_lead = 0.
    stem_unit: bool = False
    x0_beats: int = 0
    stem_lead: int = 0
    # The unit is built (stem_unit.enabled) but bypassed for this model: why (`stem_unit_misfit`), else ''.
    stem_bypassed: str = ""

    @property
    def store_res_reads(self) -> int:
        """Residual-buffer words the STORE reads: none when it writes the sums (read from the sum store)."""
        return 0 if self.pooled else self.store_words

    @property
    def blob_count(self) -> int:
        """Blobs of one inference: one per pass."""
        return sum(len(plan.passes) for plan in self.layers)

    def job_order(self) -> list[int]:
        """Read jobs in the order the DMA serves them: -1 is the LOAD, i >= 0 blob i."""
        return [*range(self.pre_load), -1, *range(self.pre_load, self.blob_count)]

    def stream_needs(self, images: int) -> list[int]:
        """need of every blob of a stream of `images` images, blobs numbered on across images: image n's
        blob waits only for blobs of its own image (docs/timing.md 9, rule S3), hence its need shifted by
        n blob_count, and 0 (the image's start) where it waits for none."""
        per = self.blob_count
        return [p.need + n * per if p.need else 0 for n in range(images) for plan in self.layers for p in plan.passes]

    @property
    def load_res_copies(self) -> int:
        """Residual buffers the LOAD writes each word to: with an input buffer, also the residual
        buffer when layer 1 has an identity residual (its skipped positions keep x0; docs/architecture.md 5)."""
        if not (self.input_buffer and self.layers):
            return 1
        # ... or when layer 1 leaves the residual buffer alone, so that a later layer reads x0 there
        return 2 if self.layers[0].residual or not self.layers[0].res_write else 1

    @property
    def load_act_copies(self) -> int:
        """Activation sets the LOAD writes each word's sign bits to: with an input buffer, also set 0
        when layer 1 leaves the residual buffer alone (docs/timing.md 4.4)."""
        first = self.layers[0] if self.layers else None
        return 2 if self.input_buffer and first is not None and first.role == "main" and not first.res_write else 1

    def row_need(self, plan: LayerPlan, y: int) -> int:
        """The last input row that output row y of an input-reading layer needs (docs/timing.md 4.4)."""
        return plan.row_need(y)


POOLED_VALUE_BITS = 32  # a pooled sum in DDR: int32


def pooled_store_applies(model: BnnModel, last: LayerPlan, cfg: HardwareConfig) -> bool:
    """Whether the STORE writes the pooled sums: the one place that decides it.

    It needs `buffers.pooled_store`, a host classifier that only reads the global per-channel sums
    (a sum-pool + linear whose last layer does not max-pool; a flatten classifier needs the map), and
    a last layer whose epilogue produces every position (no mask unit): the epilogue sums what it
    writes, so positions a mask unit skips (they keep the residual) would be missing from the sums.
    Otherwise the map is stored.
    """
    sums_only = model.classifier.kind == "sum_pool_linear" and not model.layers[-1].maxpool
    return cfg.buffers.pooled_store and sums_only and not last.mask_enabled


def early_scan_kind(prev_maxpool: bool, prev: LayerPlan, plan: LayerPlan, load_act_copies: int) -> str:
    """Whether and how `plan`'s mask unit may scan while `prev` (the layer before it) runs: the one place
    that decides it (docs/timing.md 4.5, rules E1-E5; the caller checks `buffers.early_scan`).

    "" (no early scan), "early" or "late". It needs a predictor (E1), a layer that reads `prev`'s output
    and not the input buffer (E2: a main `prev`; after a shortcut layer the next one reads the shortcut's
    input), an unpooled `prev` (E3: a pooled position is final only after two output rows, the row
    counter counts plain rows), and no LOAD writing the set its centre-bit copies go to (E5). A scan that
    copies centre bits writes into `prev`'s input set (E4): when `prev`'s gathers stop reading input row
    y once its output row y + (K_prev - 1) / 2 is final, within the rows the scan of row y waits for
    (stride 1, same map shape, kernel no larger than this layer's), it is "early"; otherwise it is
    "late": it starts only once `prev`'s last gather has ended, after which nothing reads that set.
    """
    if not plan.mask_enabled or plan.reads_input or prev.role != "main" or prev_maxpool:
        return ""
    if not plan.copy_masked:
        return "early"
    if prev.reads_input and load_act_copies == 2:
        return ""
    same_map = (prev.c_in, prev.h_in, prev.w_in) == (plan.c_out, plan.h_out, plan.w_out)
    return "early" if same_map and prev.stride == 1 and prev.kernel <= plan.kernel else "late"


def early_scan_applies(prev_maxpool: bool, prev: LayerPlan, plan: LayerPlan, load_act_copies: int) -> bool:
    """Whether `plan`'s mask unit may scan while `prev` runs at all (early_scan_kind, either kind)."""
    return bool(early_scan_kind(prev_maxpool, prev, plan, load_act_copies))


def pooled_store_beats(c: int, cfg: HardwareConfig) -> int:
    """DDR beats of the pooled sums: ceil(C / rows) rows int32 values."""
    return ceil_div(ceil_div(c, cfg.pe_array.rows) * cfg.pe_array.rows * POOLED_VALUE_BITS, cfg.axi.data_bits)


def pass_geometry(c_out: int, rows: int, acc_depth: int) -> list[tuple[int, int, int]]:
    """(c_lo, c_hi, g) of every pass of a layer with c_out output channels."""
    pc = rows * acc_depth
    out = []
    for lo in range(0, c_out, pc):
        hi = min(c_out, lo + pc)
        out.append((lo, hi, ceil_div(hi - lo, rows)))
    return out


def kept_counts(keep: np.ndarray, rows: int, acc_depth: int) -> list[np.ndarray]:
    """Per pass: kept-kernel counts [rows, c_in] and real-channel counts n[rows]."""
    c_out, c_in = keep.shape
    res = []
    for lo, hi, g in pass_geometry(c_out, rows, acc_depth):
        slots = np.zeros((g * rows, c_in), dtype=bool)
        slots[: hi - lo] = keep[lo:hi]
        res.append(slots.reshape(g, rows, c_in).sum(axis=0))
    return res


def real_rows(channels: int, rows: int, g: int) -> np.ndarray:
    """n[r]: how many of the g slots of row r hold a real output channel."""
    j = np.arange(g)[:, None] * rows + np.arange(rows)[None, :]
    return (j < channels).sum(axis=0)


def layer_k(layer: BinaryConv, cfg: HardwareConfig, where: str) -> int:
    """Kept kernels per (row, input channel), verifying the balance the PE array needs."""
    rows, depth = cfg.pe_array.rows, cfg.pe_array.acc_depth
    counts = kept_counts(layer.keep, rows, depth)
    k = max(int(c.max()) for c in counts)
    if k < 1:
        raise ConfigError(f"{where}: layer '{layer.name}' keeps no kernel at all")
    for (lo, hi, g), cnt in zip(pass_geometry(layer.c_out, rows, depth), counts, strict=True):
        want = np.minimum(k, real_rows(hi - lo, rows, g))[:, None]
        if not np.array_equal(cnt, np.broadcast_to(want, cnt.shape)):
            r, c = np.argwhere(cnt != want)[0]
            raise ConfigError(
                f"{where}: layer '{layer.name}': kernel keep-mask is not balanced for "
                f"pe_array.rows={rows}, acc_depth={depth}: row {r} of pass starting at channel {lo} "
                f"keeps {cnt[r, c]} kernels of input channel {c}, expected {want[r, 0]}"
            )
    return k


def structured_indices(layer: BinaryConv, cfg: HardwareConfig) -> list[np.ndarray]:
    """Sparse index form: per pass an int array [c_in, k, rows] of channel slots.

    Entry (c, j, r) is the slot s of the j-th kept kernel of row r for input channel c,
    i.e. output channel c_lo + s * rows + r. Kept slots come in ascending order; rows
    with fewer real channels than k are padded with phantom slots (whose output channel
    does not exist and is never read by the epilogue).
    """
    rows, depth = cfg.pe_array.rows, cfg.pe_array.acc_depth
    k_l = layer_k(layer, cfg, "<model>")
    out = []
    for lo, hi, g in pass_geometry(layer.c_out, rows, depth):
        k = min(k_l, g)
        slots = np.zeros((g * rows, layer.c_in), dtype=bool)
        slots[: hi - lo] = layer.keep[lo:hi]
        real = np.zeros(g * rows, dtype=bool)
        real[: hi - lo] = True
        slots = slots.reshape(g, rows, layer.c_in)
        real = real.reshape(g, rows)
        # Order slots: kept real slots first (ascending), then phantom slots (ascending).
        key = np.where(slots, 0, np.where(real[:, :, None], 2, 1)) * g + np.arange(g)[:, None, None]
        order = np.argsort(key, axis=0, kind="stable")[:k]  # [k, rows, c_in]
        out.append(np.ascontiguousarray(order.transpose(2, 0, 1)).astype(np.int32))
    return out


def _fits(values: np.ndarray, bits: int) -> bool:
    lim = 1 << (bits - 1)
    return bool(values.size == 0 or (values.min() >= -lim and values.max() < lim))


def _act_words(c: int, h: int, w: int, cfg: HardwareConfig) -> int:
    """Words of one activation bank holding a (c, h, w) bit map."""
    return ceil_div(h, 3) * ceil_div(w, 3) * ceil_div(c, cfg.buffers.act_word_bits)


def _res_words(c: int, h: int, w: int, cfg: HardwareConfig) -> int:
    return h * w * ceil_div(c, cfg.pe_array.rows)


def place_blobs(went: list[int], ring: int, slots: int) -> list[tuple[int, int]]:
    """(wbase, need) of every blob, in programme order (docs/timing.md section 3).

    Blobs fill the weight ring back to back, wrapping modulo `ring` entries, and blob i
    takes parameter/predictor slot i mod `slots`. Blob i may overwrite what it needs once
    every earlier blob it overlaps is free: the blob `slots` places back (same slot) and
    the latest blob j whose ring span reaches into its own, that is the largest j with
    went_j + ... + went_i > ring. Blobs are freed in programme order, so
    need = 1 + the latest such j (0 when there is none).
    """
    out = []
    base = 0
    for i, n in enumerate(went):
        need = max(0, i - slots + 1)
        total = n
        for j in range(i - 1, need - 1, -1):
            total += went[j]
            if total > ring:
                need = j + 1
                break
        out.append((base, need))
        base = (base + n) % ring
    return out


def compile_program(model: BnnModel, cfg: HardwareConfig, mode: str, where: str | Path = "<model>") -> Program:
    """Check that `model` fits `cfg` and derive its programme in `mode`."""
    if mode not in MODES:
        raise ConfigError(f"{where}: mode must be one of {MODES}, got {mode!r}")
    sparse = mode == "sparse"
    rows, depth = cfg.pe_array.rows, cfg.pe_array.acc_depth
    b, d = cfg.buffers, cfg.axi.data_bits
    param_bits = cfg.epilogue.mult_bits + cfg.epilogue.bias_bits

    def limit(ok: bool, msg: str) -> None:
        if not ok:
            raise ConfigError(f"{where}: {msg}")

    c0, h0, w0 = model.stem.weight.shape[0], model.input_shape[1], model.input_shape[2]
    limit(cfg.epilogue.value_bits <= 16, "epilogue.value_bits above 16 is not supported by the int16 trace format")
    plans = []
    maps = [(c0, h0, w0)]
    sources = residual_bits(model.layers)  # where sign(residual) is when each layer runs
    for i, L in enumerate(model.layers):
        name = f"layer '{L.name}'"
        maps.append((L.c_out, L.h_out, L.w_out))
        for (c, h, w), what in (((L.c_in, L.h_in, L.w_in), "input"), (L.pooled_shape, "output")):
            need = _act_words(c, h, w, cfg)
            limit(
                need <= b.act_bank_depth,
                f"{name}: {what} bit map needs {need} words per activation bank, buffers.act_bank_depth is {b.act_bank_depth}",
            )
        need = _res_words(L.c_out, L.h_out, L.w_out, cfg) if L.res_write else 0
        limit(
            need <= b.res_depth,
            f"{name}: output needs {need} residual-buffer words, buffers.res_depth is {b.res_depth}",
        )
        dot_max = L.c_in * L.kernel * L.kernel
        limit(
            dot_max < (1 << (cfg.pe_array.acc_bits - 1)),
            f"{name}: |dot| can reach {dot_max}, which overflows pe_array.acc_bits={cfg.pe_array.acc_bits}",
        )
        limit(
            _fits(L.mult, cfg.epilogue.mult_bits),
            f"{name}: mult does not fit epilogue.mult_bits={cfg.epilogue.mult_bits}",
        )
        limit(
            _fits(L.bias, cfg.epilogue.bias_bits),
            f"{name}: bias does not fit epilogue.bias_bits={cfg.epilogue.bias_bits}",
        )
        masked = sparse and L.predictor is not None
        if masked:
            limit(
                L.h_out * L.w_out <= b.list_depth,
                f"{name}: {L.h_out * L.w_out} positions exceed buffers.list_depth={b.list_depth}",
            )
            limit(_fits(np.array([L.predictor.threshold]), 32), f"{name}: predictor threshold does not fit 32 bits")
        if sparse:
            k_l = layer_k(L, cfg, str(where))
        else:
            limit(bool(L.keep.all()), f"{name}: dense mode (index decoder bypassed) needs an unpruned model")
            k_l = depth
        nblk = ceil_div(L.c_in, b.act_word_bits)
        passes = []
        for q, (lo, hi, g) in enumerate(pass_geometry(L.c_out, rows, depth)):
            k = min(k_l, g)
            limit(
                L.c_in * k <= b.weight_depth,
                f"{name}: pass {q} needs {L.c_in * k} weight steps, buffers.weight_depth is {b.weight_depth}",
            )
            pred = 0
            if masked and q == 0:
                pred = 1 + ceil_div(nblk * b.act_word_bits * 9, d)
            passes.append(
                PassPlan(
                    index=q,
                    c_lo=lo,
                    c_hi=hi,
                    g=g,
                    k=k,
                    weight_beats=ceil_div(L.c_in * k * cfg.step_bits(L.kernel, sparse), d),
                    param_beats=ceil_div(g * rows * param_bits, d),
                    predictor_beats=pred,
                )
            )
        plans.append(
            LayerPlan(
                index=i,
                name=L.name,
                role=L.role,
                kernel=L.kernel,
                stride=L.stride,
                c_in=L.c_in,
                c_out=L.c_out,
                h_in=L.h_in,
                w_in=L.w_in,
                h_out=L.h_out,
                w_out=L.w_out,
                nblk=nblk,
                residual=L.residual,
                mask_enabled=masked,
                # Skipped positions output the residual; its sign is already in the output set
                # after a shortcut layer or a layer that left the residual buffer alone, and equals
                # the input bits for an identity residual.
                copy_masked=masked and sources[i] == "input",
                k_layer=k_l,
                kept_kernels=int(L.keep.sum()) if sparse else L.c_in * L.c_out,
                passes=tuple(passes),
                # the input map is read until the first main layer has run (shortcuts do not swap the sets)
                reads_input=b.input_buffer and all(p.role == "shortcut" for p in plans),
                res_write=L.res_write,
            )
        )
    ring = cfg.weight_ring_entries(sparse)
    went = [ceil_div(L.c_in * p.k, cfg.steps_per_entry(L.kernel, sparse)) for L in plans for p in L.passes]
    placed = iter(zip(went, place_blobs(went, ring, cfg.buffers.blob_slots), strict=True))
    placed_plans = []
    for L in plans:
        passes = []
        for p in L.passes:
            n, (base, need) = next(placed)
            passes.append(replace(p, went=n, wbase=base, need=need))
        placed_plans.append(replace(L, passes=tuple(passes)))
    plans = placed_plans
    if b.early_scan:  # docs/timing.md 4.5 (a mask unit means sparse mode, E1)
        # as Program.load_act_copies: with an input buffer the LOAD also writes sign(x0) into set 0
        # when layer 1 leaves the residual buffer alone
        act_copies = 2 if b.input_buffer and plans and plans[0].role == "main" and not plans[0].res_write else 1
        for i in range(1, len(plans)):
            kind = early_scan_kind(model.layers[i - 1].maxpool, plans[i - 1], plans[i], act_copies)
            plans[i] = replace(plans[i], early_scan=bool(kind), late_scan=kind == "late")
    for c, h, w in (maps[0], maps[-1]):
        need = _res_words(c, h, w, cfg)
        limit(
            need <= b.res_depth,
            f"a {c}x{h}x{w} map needs {need} residual-buffer words, buffers.res_depth is {b.res_depth}",
        )
        limit(_act_words(c, h, w, cfg) <= b.act_bank_depth, f"a {c}x{h}x{w} bit map exceeds buffers.act_bank_depth")

    def map_beats(c: int, h: int, w: int) -> int:
        return ceil_div(_res_words(c, h, w, cfg) * cfg.res_word_bits, d)

    pooled = bool(plans) and pooled_store_applies(model, plans[-1], cfg)
    c_l, h_l, w_l = maps[-1]
    store_beats, store_words = map_beats(*maps[-1]), _res_words(*maps[-1], cfg)
    if pooled:
        need = cfg.epilogue.value_bits + max(0, (h_l * w_l - 1).bit_length())
        limit(
            need <= cfg.pooled_sum_bits,
            f"buffers.pooled_store: the sum of {h_l * w_l} positions needs {need} bits, the sum store holds "
            f"{cfg.pooled_sum_bits} (value_bits + 6: at most 64 positions); set buffers.pooled_store: false",
        )
        limit(
            ceil_div(c_l, rows) <= cfg.sum_store_slots,
            f"buffers.pooled_store: the last layer's {c_l} channels exceed the sum store's "
            f"{cfg.sum_store_slots * rows}; set buffers.pooled_store: false",
        )
        store_beats = pooled_store_beats(c_l, cfg)
        store_words = ceil_div(c_l, rows) * POOLED_VALUE_BITS // cfg.epilogue.value_bits
    row_beats: tuple[int, ...] = ()
    if b.input_buffer:
        # Input row r is complete once the beat carrying its last residual word has arrived.
        row_words = _res_words(c0, 1, w0, cfg)
        row_beats = tuple(ceil_div((r + 1) * row_words * cfg.res_word_bits, d) for r in range(h0))
    x0_beats = map_beats(*maps[0])
    load_beats, lead = x0_beats, 0
    misfit = stem_unit_misfit(model, cfg) if cfg.stem_unit.enabled else ""
    on_chip = cfg.stem_unit.enabled and not misfit
    if on_chip:
        load_beats, lead = _stem_unit_load(model, cfg)
    return Program(
        mode=mode,
        load_beats=load_beats,
        x0_beats=x0_beats,
        stem_unit=on_chip,
        stem_bypassed=misfit,
        stem_lead=lead,
        store_beats=store_beats,
        layers=tuple(plans),
        load_shape=maps[0],
        store_shape=maps[-1],
        # Pass 0's blob (the first layer's predictor and weights) goes before the LOAD: the layer
        # needs it before it can use the first rows. It never waits for a free slot (need_0 = 0).
        # With the stem unit the LOAD is the short raw image and goes first (docs/timing.md 3.1, ST7).
        input_buffer=b.input_buffer,
        pre_load=1 if b.input_buffer and plans and not on_chip else 0,
        load_row_beats=row_beats,
        pooled=pooled,
        store_words=store_words,
    )


def stem_unit_misfit(model: BnnModel, cfg: HardwareConfig) -> str:
    """Why the configuration's stem unit cannot compute `model`'s stem bit for bit, naming the field; '' when it
    can. A model it cannot compute runs with the unit bypassed: the host computes x0 and the LOAD reads it, as
    without the unit (docs/timing.md 3.1), and the reports say why."""
    st, stem = cfg.stem_unit, model.stem
    c_img, h, w = model.input_shape
    c0 = stem.weight.shape[0]
    if c_img != 1:
        return f"input: the stem unit takes one image channel, the model's images have {c_img}"
    if stem.weight.shape[2:] != (3, 3):
        return f"stem.weight: the stem unit takes 3x3 kernels, got {stem.weight.shape[2]}x{stem.weight.shape[3]}"
    if c0 != st.channels:
        return f"stem_unit.channels: the unit computes {st.channels} channels, the model's stem has {c0}"
    size = f"the unit takes images up to {st.max_height} x {st.max_width}, the model's are {h} x {w}"
    if h > st.max_height:
        return f"stem_unit.max_height: {size}"
    if w > st.max_width:
        return f"stem_unit.max_width: {size}"
    if not 0 <= stem.input_offset <= 255:
        return f"stem.input_offset: {stem.input_offset} is not a byte (the unit's offset register)"
    if int(stem.weight.min(initial=0)) < -128 or int(stem.weight.max(initial=0)) > 127:
        return "stem.weight: outside int8 (the unit's weight registers)"
    try:
        stem_unit.normalise(stem.mult, stem.bias, stem.shift, stem_unit.SHIFT)
    except ValueError as e:
        return f"{e} (the stem unit's fixed shift is {stem_unit.SHIFT})"
    return ""


def _stem_unit_load(model: BnnModel, cfg: HardwareConfig) -> tuple[int, int]:
    """(raw image beats, lambda_stem) of a model whose stem the stem unit computes (docs/timing.md 3.1)."""
    st = cfg.stem_unit
    _, h, w = model.input_shape
    d = cfg.axi.data_bits
    q = st.channels * cfg.epilogue.value_bits // d
    return ceil_div(h * w, cfg.beat_bytes), stem_unit.lead(h, w, q, st.max_height, st.max_width, d)


def act_bank_of(y: int, x: int) -> int:
    """Activation bank of input position (y, x): any 3x3 window touches all nine once."""
    return (y % 3) * 3 + (x % 3)
