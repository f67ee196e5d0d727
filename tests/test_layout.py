"""archsim.layout: DDR images of docs/formats.md section 4, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from archsim.errors import ConfigError
from archsim.layout import (
    build_layout,
    bytes_to_bits,
    fields_int,
    int_fields,
    map_geometry,
    pack_map,
    unpack_map,
    unpack_steps,
)
from archsim.program import compile_program, structured_indices
from tests.rtlsim.configs import tiny, ultra96
from tests.rtlsim.models import LayerSpec, make_model, random_x0, with_thresholds


def test_int_fields_roundtrip_twos_complement():
    v = np.array([0, 1, -1, 127, -128, 5])
    f = int_fields(v, 8)
    assert f.shape == (6, 8)
    assert f[2].all() and not f[0].any()
    assert f[1].tolist() == [True] + [False] * 7
    assert np.array_equal(fields_int(f, signed=True), v)
    with pytest.raises(ValueError):
        int_fields(np.array([300]), 8)


@pytest.mark.parametrize("cfg_name", ["tiny", "ultra96"])
@pytest.mark.parametrize("shape", [(5, 3, 4), (16, 2, 2), (1, 1, 1), (33, 5, 3)])
def test_map_roundtrip_and_size(cfg_name, shape):
    cfg = tiny() if cfg_name == "tiny" else ultra96()
    x = random_x0(np.random.default_rng(list(shape)), *shape)
    data = pack_map(x, cfg)
    g = map_geometry(*shape, cfg)
    assert len(data) == g.beats * cfg.beat_bytes
    assert np.array_equal(unpack_map(data, shape, cfg), x)


def test_map_bit_positions_by_hand():
    cfg = tiny()  # rows 4, value 16 bits, 32-bit beats
    x = np.zeros((5, 1, 2), dtype=np.int16)  # 2 words per position (channels 0-3, 4-7)
    x[4, 0, 1] = -2  # position 1, word 1, row 0
    x[1, 0, 0] = 3  # position 0, word 0, row 1
    bits = bytes_to_bits(pack_map(x, cfg))
    assert bits.size == 2 * 2 * 4 * 16  # 4 residual words of 64 bits = 8 beats of 32
    one = np.flatnonzero(bits).tolist()
    # value 3 at field (0*2 + 0)*4 + 1 = 1 -> bits 16, 17; value -2 at field (1*2 + 1)*4 + 0 = 12 -> bits 193..207
    assert one == [16, 17, *range(12 * 16 + 1, 13 * 16)]


def _model(cfg, seed=3):
    specs = [
        LayerSpec("sc", c_out=12, kernel=1, stride=2, role="shortcut", residual=False, k=1),
        LayerSpec("main", c_out=12, kernel=3, stride=2, k=1, predictor="sparse"),
        LayerSpec("c2", c_out=12, kernel=3, stride=1, k=2),
    ]
    return make_model(cfg, 6, 5, 5, specs, seed)


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_blob_sizes_equal_pass_plan(mode):
    cfg = tiny(pe_array={"acc_depth": 2})
    model = _model(cfg)
    if mode == "dense":
        model = make_model(cfg, 6, 5, 5, [LayerSpec("a", 9), LayerSpec("b", 9, k=None, predictor="all")], 1)
    prog = compile_program(model, cfg, mode)
    lay = build_layout(model, prog, cfg)
    flat = [p for lp in prog.layers for p in lp.passes]
    assert len(lay.passes) == len(flat)
    for pd, blob, pp in zip(lay.passes, lay.blobs, flat, strict=True):
        assert len(blob) == pp.blob_beats * cfg.beat_bytes
        assert (pd.weight_beats, pd.param_beats, pd.predictor_beats) == (
            pp.weight_beats,
            pp.param_beats,
            pp.predictor_beats,
        )
        assert pd.addr % cfg.burst_bytes == 0
    # images do not overlap and come in order
    ends = [lay.load_addr + lay.load.beats * cfg.beat_bytes, lay.store_addr + lay.store.beats * cfg.beat_bytes]
    assert ends[0] <= lay.store_addr and ends[1] <= lay.blob_base
    for a, b in zip(lay.passes, lay.passes[1:], strict=False):
        assert a.addr + a.blob_beats * cfg.beat_bytes <= b.addr


def test_steps_params_predictor_bit_positions():
    cfg = tiny(pe_array={"acc_depth": 4})  # rows 4, G 4 -> index bits 2, pass = 16 channels
    model = with_thresholds(_model(cfg, seed=5), {1: -7})
    prog = compile_program(model, cfg, "sparse")
    lay = build_layout(model, prog, cfg)
    d = cfg.axi.data_bits
    li = 1  # the 3x3 stride-2 main layer with a predictor
    L, lp = model.layers[li], prog.layers[li]
    pp, pd = lp.passes[0], lay.passes[lay.layers[li].first_pass]
    blob = lay.blobs[lay.layers[li].first_pass]
    bits = bytes_to_bits(blob)
    idx = structured_indices(L, cfg)[0]
    _kern, slot = unpack_steps(blob, L, pp, cfg, sparse=True)
    assert np.array_equal(slot, idx)
    fb = 9 + cfg.index_bits
    for c in range(L.c_in):
        for j in range(pp.k):
            for r in range(cfg.pe_array.rows):
                s = int(idx[c, j, r])
                o = s * cfg.pe_array.rows + r
                base = ((c * pp.k + j) * cfg.pe_array.rows + r) * fb
                want = L.weight[o, c].reshape(9) if o < L.c_out else np.zeros(9, bool)
                assert np.array_equal(bits[base : base + 9], want)
                assert fields_int(bits[base + 9 : base + fb], signed=False) == s
                assert L.keep[o, c] or o >= L.c_out  # only kept kernels are stored
    # parameters: slot s, row r -> channel s*rows + r; mult then bias
    ep = cfg.epilogue
    pbase = pd.weight_beats * d
    pw = ep.mult_bits + ep.bias_bits
    for ch in range(pp.g * cfg.pe_array.rows):
        b = pbase + ch * pw
        m = fields_int(bits[b : b + ep.mult_bits], signed=True)
        bi = fields_int(bits[b + ep.mult_bits : b + pw], signed=True)
        assert (m, bi) == ((int(L.mult[ch]), int(L.bias[ch])) if ch < L.c_out else (0, 0))
    # predictor: threshold in the first beat, then u[c, n] at c*9 + n
    prb = (pd.weight_beats + pd.param_beats) * d
    assert fields_int(bits[prb : prb + 32], signed=True) == L.predictor.threshold == -7
    assert not bits[prb + 32 : prb + d].any()
    u = bits[prb + d : prb + d + 9 * L.c_in].reshape(L.c_in, 9)
    assert np.array_equal(u, L.predictor.weight.reshape(L.c_in, 9))


def test_dense_steps_have_no_index_and_slot_equals_step():
    cfg = tiny()
    model = make_model(cfg, 4, 3, 3, [LayerSpec("a", 8, residual=False)], 2)
    prog = compile_program(model, cfg, "dense")
    lay = build_layout(model, prog, cfg)
    L, pp = model.layers[0], prog.layers[0].passes[0]
    kern, slot = unpack_steps(lay.blobs[0], L, pp, cfg, sparse=False)
    for c in range(4):
        for j in range(pp.k):
            for r in range(4):
                assert slot[c, j, r] == j
                assert np.array_equal(kern[c, j, r], L.weight[j * 4 + r, c].reshape(9))


def test_layer_descriptors():
    cfg = tiny()
    model = _model(cfg)
    lay = build_layout(model, compile_program(model, cfg, "sparse"), cfg)
    d = lay.layers[1]
    assert (d.inp.h, d.inp.w, d.out.h, d.out.w) == (5, 5, 3, 3)
    assert d.inp.nblk == 1 and d.inp.w3n == 2 and d.out.w3n == 1 * 2
    assert d.cv_last == 6 and d.tiles == 3 and d.out.nwo == 3
    assert d.mask_enabled and not d.copy_masked and d.swap
    assert not lay.layers[0].swap
    assert [p.layer for p in lay.passes] == [0, 0, 1, 1, 2, 2]
    assert [x.first_pass for x in lay.layers] == [0, 2, 4]


def test_misaligned_base_is_rejected():
    cfg = tiny()
    model = _model(cfg)
    with pytest.raises(ConfigError, match="not a multiple"):
        build_layout(model, compile_program(model, cfg, "sparse"), cfg, base=4)


@pytest.mark.parametrize("pooled", [False, True])
def test_stream_layout_holds_n_images_at_4k_strides(pooled):
    """docs/timing.md 9, S1: a stream's layout has room for N input maps and N outputs, each at a stride
    of its size rounded up to 4 KiB (so image n's bursts sit in the same 4 KiB pages as image 0's); one
    image places everything exactly as before; the register writes carry n_images and the strides."""
    from rtl import regmap
    from rtl.params import RtlParams

    cfg = tiny(buffers={"pooled_store": pooled})
    model = _model(cfg)
    prog = compile_program(model, cfg, "sparse")
    one = build_layout(model, prog, cfg)
    lay = build_layout(model, prog, cfg, base=512, n_images=5)
    beat = cfg.beat_bytes
    load_b, store_b = lay.load.beats * beat, lay.store.beats * beat
    assert lay.n_images == 5 and one.n_images == 1
    for stride, size in ((lay.load_stride, load_b), (lay.store_stride, store_b)):
        assert stride % 4096 == 0 and size <= stride < size + 4096
    assert (one.load_stride, one.store_stride) == (lay.load_stride, lay.store_stride)
    assert [lay.load_addr_of(i) for i in range(5)] == [512 + i * lay.load_stride for i in range(5)]
    # every region after the previous one: inputs, outputs, blobs
    assert lay.load_addr_of(4) + load_b <= lay.store_addr and lay.store_addr_of(4) + store_b <= lay.blob_base
    assert lay.blob_base - lay.store_addr_of(4) - store_b < cfg.burst_bytes
    assert lay.blobs == one.blobs
    # one image: the old placement, address for address
    old = build_layout(model, prog, cfg)
    assert (one.load_addr, one.store_addr, one.blob_base, one.end) == (
        old.load_addr,
        old.store_addr,
        old.blob_base,
        old.end,
    )
    assert one.store_addr == -(-load_b // cfg.burst_bytes) * cfg.burst_bytes
    writes = {w.what: w.value for w in regmap.program_writes(lay, RtlParams(cfg, sparse=True))}
    assert (writes["global.n_images"], writes["global.load_stride"], writes["global.store_stride"]) == (
        5,
        lay.load_stride,
        lay.store_stride,
    )
    assert regmap.done_addr(15) == regmap.DONE_BASE + 60
    with pytest.raises(ValueError, match="DONE log"):
        regmap.done_addr(regmap.DONE_LOG_IMAGES)


@pytest.mark.parametrize("bad", [0, -1, 1 << 16, 2.0, True])
def test_stream_layout_refuses_a_bad_image_count(bad):
    cfg = tiny()
    model = _model(cfg)
    with pytest.raises(ConfigError, match="n_images"):
        build_layout(model, compile_program(model, cfg, "sparse"), cfg, n_images=bad)


# --------------------------------------------------------------------------- stem unit (docs/timing.md 3.1)


def _stem_case():
    from tests.test_rtl_stem_core import spec

    s = spec("stem_small")
    return s, s.make(), s.config()


def test_pack_image_is_one_byte_a_pixel_zero_padded_to_a_beat():
    from archsim.layout import pack_image

    cfg = tiny(axi={"data_bits": 64})
    img = np.arange(30, dtype=np.uint8).reshape(1, 6, 5) * 7
    data = pack_image(img, cfg)
    assert len(data) == 32 and data[:30] == img.tobytes() and data[30:] == b"\0\0"
    for bad in (img.astype(np.int16), img[0], np.zeros((2, 6, 5), np.uint8)):
        with pytest.raises(ValueError, match="uint8"):
            pack_image(bad, cfg)


def test_stem_layout_holds_the_raw_image_and_the_unit_parameters():
    """With the stem unit the LOAD is the raw image (its beats, its stride) while its geometry stays x0's (what
    the LOAD path writes), and the layout carries the parameter beats and the input offset; without it none."""
    from archsim import stem_unit
    from tests.rtlsim.configs import with_stem

    _, c, cfg = _stem_case()
    prog = compile_program(c.model, cfg, "sparse")
    lay = build_layout(c.model, prog, cfg, n_images=2)
    assert lay.stem_unit and lay.load.beats == prog.load_beats == 4 and lay.load_stride == 4096
    assert (lay.load.c, lay.load.h, lay.load.w) == (12, 6, 5) and lay.load.nwo == 3
    st = c.model.stem
    m, b = stem_unit.normalise(st.mult, st.bias, st.shift, stem_unit.SHIFT)
    assert list(lay.stem_params) == stem_unit.pack_params(st.weight, m, b, 64)
    assert len(lay.stem_params) == stem_unit.Layout(12, 64).beats and lay.stem_offset == st.input_offset == 128
    # the unit's arithmetic on these parameters is the model's stem (what the RTL computes)
    x = stem_unit.unit_output(st.weight, m, b, stem_unit.SHIFT, st.input_offset, c.image[0])
    assert np.array_equal(x, c.x0)
    off = with_stem(cfg, False)
    lay0 = build_layout(c.model, compile_program(c.model, off, "sparse"), off)
    assert not lay0.stem_unit and lay0.stem_params == () and lay0.load.beats == lay0.load.words == 90


def test_stem_register_writes_and_the_hardware_must_agree():
    """program_writes: stem_off among the global fields, then the parameter beats as D/32 words each, low word
    first, at STEM_PRM; a stem programme on RTL without the unit is refused by name, the reverse runs with the unit
    bypassed (stem_en 0)."""
    from rtl import regmap
    from rtl.params import RtlParams
    from tests.rtlsim.configs import with_stem

    _, c, cfg = _stem_case()
    lay = build_layout(c.model, compile_program(c.model, cfg, "sparse"), cfg)
    w = regmap.program_writes(lay, RtlParams(cfg))
    glob = {x.what: x.value for x in w if x.what.startswith("global.")}
    assert glob["global.stem_off"] == 128 and glob["global.load_beats"] == 4
    words = [x.value for x in w if x.addr == regmap.STEM_PRM]
    assert len(words) == 2 * len(lay.stem_params)
    assert [words[2 * i] | words[2 * i + 1] << 32 for i in range(len(lay.stem_params))] == list(lay.stem_params)
    assert w[-len(words) :] == [x for x in w if x.addr == regmap.STEM_PRM]  # after every table write
    off = with_stem(cfg, False)
    with pytest.raises(ConfigError, match=r"stem_unit\.enabled"):
        regmap.program_writes(lay, RtlParams(off))
    lay0 = build_layout(c.model, compile_program(c.model, off, "sparse"), off)
    # the reverse is the bypass (ST6): stem_en 0, no parameter words
    for hw in (cfg, off):
        w0 = regmap.program_writes(lay0, RtlParams(hw))
        assert not [x for x in w0 if x.addr == regmap.STEM_PRM]
        g0 = {x.what: x.value for x in w0}
        assert (g0["global.stem_off"], g0["global.stem_en"]) == (0, 0)
    assert glob["global.stem_en"] == 1


def test_stem_generator_parameters():
    """STEM and the unit's sizes in the generated parameters, 0 without the unit; bnn_stem.v is emitted."""
    from rtl.emit import SOURCES
    from rtl.params import RtlParams
    from tests.rtlsim.configs import with_stem

    assert "bnn_stem.v" in SOURCES
    v = RtlParams(with_stem(ultra96())).verilog()
    assert (v["STEM"], v["STEM_CH"], v["STEM_H"], v["STEM_W"], v["STEM_S"]) == (1, 64, 32, 32, 34)
    assert RtlParams(with_stem(ultra96(), False)).verilog()["STEM"] == 0
    assert RtlParams(with_stem(ultra96()), sparse=False).verilog()["STEM"] == 1  # the dense baseline has it too
