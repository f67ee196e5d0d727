"""The host driver (rtl/host/driver.py): register use, behaviour, and a run on the RTL.

* Static: the driver's register addresses, fields and bits all come from rtl/regmap.py (no
  integer literal other than 0 and 1 in its board code; every regmap name it uses exists),
  and every access it makes, recorded on a MemoryBackend, is to a register the map defines
  with that access (never a write to a read-only register or a read of a write-only one).
* Behaviour on a MemoryBackend that plays the hardware with archsim's functional model:
  logits, cache maintenance, the register programme, and every error path.
* End to end: the driver drives the generated RTL under Icarus (MMIO = AXI-Lite transactions,
  DDR = the cocotb memory model); logits equal archsim.functional.run_model's and CYCLES and
  the layer log equal archsim.contract.schedule's.
"""

from __future__ import annotations

import ast
import itertools
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from archsim.config import HardwareConfig
from archsim.contract import schedule
from archsim.errors import ArchsimError, FormatError
from archsim.format import BnnModel, save_model
from archsim.functional import iter_layers, run_model, stem_output
from archsim.layout import build_layout, pack_map, store_view, unpack_map
from archsim.program import compile_program
from rtl import board, regmap
from rtl.host import driver
from rtl.host.driver import Accelerator, AcceleratorTimeout, DriverError, MemoryBackend, relocate
from rtl.params import RtlParams
from tests.rtlsim.cases import case, choose_thresholds
from tests.rtlsim.configs import ROOT, write_config
from tests.rtlsim.models import LayerSpec, make_model

DRIVER = ROOT / "rtl" / "host" / "driver.py"
STATUS_DONE = 1 << regmap.STATUS_DONE_BIT
STATUS_BUSY = 1 << regmap.STATUS_BUSY_BIT


# --------------------------------------------------------------------------- static


def _nodes(tree: ast.Module, names: set[str]) -> list[ast.AST]:
    return [n for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name in names]


def test_driver_takes_every_number_from_the_register_map():
    tree = ast.parse(DRIVER.read_text())
    # the code that talks to the board: no address, field index or bit position of its own
    board_code = {"Accelerator", "PynqBackend", "PynqMmio", "PynqBuffer", "relocate", "_bit"}
    found = _nodes(tree, board_code)
    assert {n.name for n in found} == board_code
    for node in found:
        for c in ast.walk(node):
            if isinstance(c, ast.Constant) and type(c.value) is int:
                assert c.value in (0, 1), f"integer literal {c.value} in {node.name} (line {c.lineno})"
    # every regmap and board name it uses exists
    used = {
        (n.value.id, n.attr) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
    }
    for mod, obj in (("regmap", regmap), ("board", board)):
        names = {a for m, a in used if m == mod}
        assert names, f"the driver uses nothing from {mod}"
        missing = [a for a in names if not hasattr(obj, a)]
        assert not missing, f"{mod} has no {missing}"
    regnames = {a for m, a in used if m == "regmap"}
    assert {
        "CTRL",
        "STATUS",
        "CYCLES",
        "ID",
        "CTRL_START_BIT",
        "STATUS_DONE_BIT",
        "STATUS_BUSY_BIT",
        "program_writes",
        "hw_addr",
        "log_addr",
    } <= regnames


def test_register_map_regions_are_consistent():
    regions = regmap.regions()
    spans = sorted((r.base, r.base + r.count * r.stride, r.name) for r in regions)
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        assert end <= start, f"{a} overlaps {b}"
    assert spans[-1][1] <= regmap.SIZE
    assert regmap.decode(regmap.CTRL).region.access == "W"
    assert regmap.decode(regmap.STATUS).region.access == "R"
    assert regmap.decode(regmap.global_addr("store_addr")).field == "store_addr"
    d = regmap.decode(regmap.pass_addr(5, "k"))
    assert (d.region.name, d.entry, d.field) == ("PASS", 5, "k")
    assert regmap.decode(regmap.layer_addr(0, "n_pass") + 4).entry == 1  # 16 fields fill a layer entry
    assert regmap.decode(regmap.pass_addr(0, "need") + 4) is None  # 15 of 16 words: a gap
    assert regmap.decode(regmap.CTRL + 2) is None and regmap.decode(regmap.SIZE) is None
    hdr = regmap.verilog_header()
    for bit in ("CTRL_START_BIT", "STATUS_DONE_BIT", "STATUS_BUSY_BIT"):
        assert f"localparam {bit} = {getattr(regmap, bit)};" in hdr
        assert bit in (ROOT / "rtl" / "verilog" / "bnn_regs.v").read_text()


# --------------------------------------------------------------------------- a board in memory


def small_model(cfg: HardwareConfig, seed_images: int = 5) -> tuple[BnnModel, np.ndarray]:
    """The cross-check 'program' model (5 layers: predictors, a shortcut pair) and two images;
    predictor thresholds from the first image's scores, so its masks are really sparse."""
    spec = case("program")
    model0 = make_model(cfg, spec.c0, spec.h, spec.w, list(spec.layers), spec.seed, name="driver")
    images = np.random.default_rng(seed_images).integers(0, 256, (2, *model0.input_shape), dtype=np.uint8)
    model = choose_thresholds(model0, stem_output(model0.stem, images[:1])[0], spec.thresholds)
    return model, images


def hw_registers(prm: RtlParams) -> dict[int, int]:
    """ID and HW registers as the RTL built from `prm` reads them (bnn_regs.v)."""
    c = prm.cfg
    hw = {
        "rows": prm.rows,
        "cols": prm.cols,
        "acc_depth": prm.depth,
        "act_word_bits": prm.ba,
        "data_bits": prm.d,
        "max_burst_beats": c.axi.max_burst_beats,
        "sparse": int(prm.sparse),
        "index_bits": prm.ib,
        "max_layers": prm.max_layers,
        "max_passes": prm.max_passes,
        "value_bits": c.epilogue.value_bits,
        "weight_entry_bits": prm.e_mem,
        "stem_channels": c.stem_unit.channels if c.stem_unit.enabled else 0,
    }
    return {regmap.ID: regmap.ID_MAGIC, **{regmap.hw_addr(k): v for k, v in hw.items()}}


class FakeHardware:
    """Plays the accelerator on a MemoryBackend: at CTRL.start it reads the LOAD map from the
    address in global.load_addr, runs archsim's functional model, writes the STORE map at
    global.store_addr; STATUS shows busy for one poll, then done."""

    def __init__(self, model: BnnModel, cfg: HardwareConfig, mode: str = "sparse"):
        self.model, self.cfg, self.mode = model, cfg, mode
        self.prog = compile_program(model, cfg, mode)
        self.pending = False
        self.starts = 0

    def on_write(self, b: MemoryBackend, addr: int, value: int) -> None:
        if addr == regmap.CTRL and value >> regmap.CTRL_START_BIT & 1:
            self.starts += 1
            self.pending, self.polls = True, 0
            b.regs[regmap.STATUS] = STATUS_BUSY

    def on_read(self, b: MemoryBackend, addr: int) -> None:
        if addr != regmap.STATUS or not self.pending:
            return
        self.polls += 1
        if self.polls == 1:
            return  # the first poll after the start sees busy
        self.pending = False
        cfg = self.cfg
        load = b.regs[regmap.global_addr("load_addr")] - b.base
        store = b.regs[regmap.global_addr("store_addr")] - b.base
        if self.prog.stem_unit:  # the LOAD holds the raw image: the stem is the accelerator's (timing.md 3.1)
            _, h, w = self.model.input_shape
            img = b.ddr[load : load + h * w].reshape(1, 1, h, w)
            x0 = stem_output(self.model.stem, img)[0]
        else:
            x0 = unpack_map(b.ddr[load:], self.prog.load_shape, cfg)
        *_, last = iter_layers(self.model, x0[None], self.mode)
        if self.prog.pooled:  # the int32 channel sums, padded to whole rows (docs/formats.md 4.3)
            sums = np.zeros(-(-self.prog.store_shape[0] // cfg.pe_array.rows) * cfg.pe_array.rows, "<i4")
            sums[: self.prog.store_shape[0]] = store_view(self.prog, last.z[0])
            data = np.frombuffer(sums.tobytes(), dtype=np.uint8)
        else:
            data = np.frombuffer(pack_map(last.z[0], cfg), dtype=np.uint8)
        b.ddr[store : store + len(data)] = data
        b.regs[regmap.CYCLES] = 1000 + self.starts
        for i in range(len(self.model.layers)):
            b.regs[regmap.log_addr(i)] = 100 * (i + 1) + self.starts
        b.regs[regmap.STATUS] = STATUS_DONE


def memory_board(model: BnnModel, cfg: HardwareConfig, **kw) -> tuple[MemoryBackend, FakeHardware]:
    hw = FakeHardware(model, cfg)
    b = MemoryBackend(regs=hw_registers(RtlParams(cfg)), on_write=hw.on_write, on_read=hw.on_read, **kw)
    return b, hw


def stem_setup(tmp_path) -> tuple[HardwareConfig, BnnModel, np.ndarray, Path]:
    """A tiny configuration with the stem unit, a model whose stem it computes (tests/test_rtl_stem_core.py's
    'stem_program'), three images."""
    from tests.test_rtl_stem_core import spec

    s = spec("stem_program")
    c = s.make()
    rng = np.random.default_rng(8)
    images = np.stack([c.image, *(s.sample(c.model, rng)[1] for _ in range(2))])
    path = tmp_path / "stem.npz"
    save_model(path, c.model)
    return s.config(), c.model, images, path


def test_driver_with_the_stem_unit_skips_the_host_stem(tmp_path, monkeypatch):
    """With the stem unit the driver writes the stem parameters (STEM_PRM, D/32 words a beat, low word
    first) and the input offset before any start, puts the raw image into the LOAD image and never runs the
    stem itself; the logits stay the functional model's."""
    from archsim import stem_unit

    cfg, model, images, path = stem_setup(tmp_path)
    b, hw = memory_board(model, cfg)
    assert hw.prog.stem_unit
    acc = Accelerator(b, cfg)
    acc.load_model(path)
    monkeypatch.setattr(driver, "stem_output", None)  # the host stem must not run
    ref = run_model(model, images, "sparse")
    assert np.array_equal(acc.run(images[1]), ref.logits[1])
    assert np.array_equal(acc.run_batch(images), ref.logits)
    writes = [(a, v) for k, a, v in b.log if k == "w"]
    first_start = writes.index((regmap.CTRL, 1 << regmap.CTRL_START_BIT))
    words = [v for a, v in writes[:first_start] if a == regmap.STEM_PRM]
    n = cfg.axi.data_bits // 32
    beats = [sum(w << (32 * k) for k, w in enumerate(words[i : i + n])) for i in range(0, len(words), n)]
    m, bb = stem_unit.normalise(model.stem.mult, model.stem.bias, model.stem.shift, stem_unit.SHIFT)
    assert beats == stem_unit.pack_params(model.stem.weight, m, bb, cfg.axi.data_bits)
    assert (regmap.global_addr("stem_off"), model.stem.input_offset) in writes[:first_start]
    assert model.stem.input_offset != 0
    # the LOAD image is the raw image, one byte a pixel
    lay = acc.layout
    assert lay.stem_unit and lay.load.beats == -(-images[0].size // cfg.beat_bytes)


def test_stem_unit_hardware_and_configuration_must_agree(tmp_path):
    """A bitstream with the stem unit (HW stem_channels) is not driven with a configuration without one, and
    the reverse."""
    from tests.rtlsim.configs import with_stem

    cfg, model, _, _ = stem_setup(tmp_path)
    b, _ = memory_board(model, cfg)
    with pytest.raises(DriverError, match="stem_channels=12"):
        Accelerator(b, with_stem(cfg, False))
    b2 = MemoryBackend(regs=hw_registers(RtlParams(with_stem(cfg, False))))
    with pytest.raises(DriverError, match="stem_channels=0"):
        Accelerator(b2, cfg)


def test_driver_reads_the_pooled_sums(tmp_path):
    """A pooled STORE: the driver reads the int32 channel sums and the logits stay the functional model's."""
    spec = case("pooled_program")
    cfg = spec.config()
    c = spec.make()
    path = tmp_path / "m.npz"
    save_model(path, c.model)
    images = np.random.default_rng(6).integers(0, 256, (2, *c.model.input_shape), dtype=np.uint8)
    b, hw = memory_board(c.model, cfg)
    assert hw.prog.pooled
    acc = Accelerator(b, cfg)
    acc.load_model(path)
    ref = run_model(c.model, images, "sparse")
    got = acc.run(images[1])
    assert np.array_equal(got, ref.logits[1])
    want = ref.layer_out[-1][1].astype(np.int64).sum(axis=(1, 2))
    assert acc.stats.output.shape == (hw.prog.store_shape[0],) and np.array_equal(acc.stats.output, want)


@pytest.fixture
def tiny_setup(tmp_path):
    cfg = case("program").config()
    model, images = small_model(cfg)
    path = tmp_path / "m.npz"
    save_model(path, model)
    return cfg, model, images, path


def test_driver_runs_a_model_on_a_memory_board(tiny_setup):
    cfg, model, images, path = tiny_setup
    b, _hw = memory_board(model, cfg)
    acc = Accelerator(b, cfg)
    assert acc.mode == "sparse"
    acc.load_model(path)
    ref = run_model(model, images, "sparse")
    got = acc.run(images[1])
    assert got.dtype == np.int64 and np.array_equal(got, ref.logits[1])
    assert acc.stats.cycles == 1001 and acc.stats.layer_ends == tuple(100 * (i + 1) + 1 for i in range(5))
    assert np.array_equal(acc.stats.output, ref.layer_out[-1][1])
    batch = acc.run_batch(images)
    assert np.array_equal(batch, ref.logits) and [s.cycles for s in acc.batch_stats] == [1002, 1003]
    assert not np.array_equal(batch[0], batch[1])
    # the programme is exactly regmap.program_writes of the layout at the buffer's address
    lay = relocate(build_layout(model, compile_program(model, cfg, "sparse"), cfg), acc.buffer.physical_address)
    want = [(w.addr, w.value) for w in regmap.program_writes(lay, RtlParams(cfg))]
    writes = [(a, v) for k, a, v in b.log if k == "w"]
    assert writes[: len(want)] == want and acc.buffer.physical_address == b.base
    # cache maintenance: flush after the image is written, invalidate before the output is read
    assert acc.buffer.syncs == ["to_device"] + ["to_device", "from_device"] * 3


def two_port(cfg: HardwareConfig) -> HardwareConfig:
    """`cfg` with its 64-bit master split over two 32-bit HP ports."""
    return cfg.model_copy(update={"axi": cfg.axi.model_copy(update={"data_bits": 64, "hp_ports": 2})})


def test_plane_layout_packs_and_unpacks():
    """Byte x of the logical image lies in plane (x mod 8) // 4 at 4 (x // 8) + x mod 4 (8-byte beats)."""
    cfg = two_port(case("program").config())
    plane = 4096
    rng = np.random.default_rng(3)
    for off, n in ((0, 64), (16, 29), (3, 1), (40, 8 * 100)):
        data = rng.integers(0, 256, n, dtype=np.uint8)
        buf = np.zeros(2 * plane, dtype=np.uint8)
        idx = driver.plane_index(cfg, off, n, plane)
        buf[idx] = data
        for j in range(n):
            x = off + j
            assert buf[(x % 8) // 4 * plane + 4 * (x // 8) + x % 4] == data[j], (off, j)
        assert np.count_nonzero(buf) == np.count_nonzero(data)  # nothing else written
        assert np.array_equal(buf[idx], data)  # and read back
    one = case("program").config()
    assert driver.plane_index(one, 24, 8) == slice(24, 32)
    assert driver.buffer_bytes(one, 1000) == 1000 and driver.buffer_bytes(cfg, 1000, plane) == plane + 500
    with pytest.raises(DriverError, match="HP_PLANE_BYTES"):
        driver.buffer_bytes(cfg, 2 * plane + 8, plane)
    assert driver.logical_base(cfg, 0x1000_0000, 4096) == 0x2000_0000
    with pytest.raises(DriverError, match="below 4 GiB"):
        driver.logical_base(cfg, 0x8000_0000, 4096)  # its logical image would start at 4 GiB


class SplitBoard:
    """FakeHardware behind the HP splitter: it sees the logical image, which the board holds as two
    planes of 4-byte halves of every 8-byte beat, plane 1 board.HP_PLANE_BYTES after plane 0."""

    def __init__(self, hw: FakeHardware):
        self.hw = hw

    def on_write(self, b: MemoryBackend, addr: int, value: int) -> None:
        self.hw.on_write(b, addr, value)

    def on_read(self, b: MemoryBackend, addr: int) -> None:
        plane = board.HP_PLANE_BYTES
        p0, p1 = b.ddr[:plane].reshape(-1, 4), b.ddr[plane : 2 * plane].reshape(-1, 4)
        view = types.SimpleNamespace(regs=b.regs, base=2 * b.base, ddr=np.concatenate([p0, p1], axis=1).reshape(-1))
        self.hw.on_read(view, addr)
        beats = view.ddr.reshape(-1, 8)
        p0[:], p1[:] = beats[:, :4], beats[:, 4:]


def test_driver_runs_a_model_over_two_hp_ports(tmp_path):
    cfg = two_port(case("program").config())
    model, images = small_model(cfg)
    path = tmp_path / "m.npz"
    save_model(path, model)
    split = SplitBoard(FakeHardware(model, cfg))
    b = MemoryBackend(regs=hw_registers(RtlParams(cfg)), on_write=split.on_write, on_read=split.on_read, size=1 << 25)
    acc = Accelerator(b, cfg)
    acc.load_model(path)
    ref = run_model(model, images, "sparse")
    assert np.array_equal(acc.run_batch(images), ref.logits)
    assert np.array_equal(acc.stats.output, ref.layer_out[-1][1])
    # the accelerator's addresses are logical, from twice the buffer's physical address
    lay0 = build_layout(model, compile_program(model, cfg, "sparse"), cfg)
    assert acc.layout.load_addr == 2 * b.base + lay0.load_addr
    assert b.regs[regmap.global_addr("store_addr")] == 2 * b.base + lay0.store_addr
    plane = board.HP_PLANE_BYTES
    half = lay0.end // 2
    assert len(acc.buffer.array) == plane + half
    assert np.count_nonzero(b.ddr[plane : plane + half]) and not np.count_nonzero(b.ddr[half:plane])


def test_every_register_access_is_one_the_map_allows(tiny_setup):
    cfg, model, images, path = tiny_setup
    b, _ = memory_board(model, cfg)
    acc = Accelerator(b, cfg)
    acc.load_model(path)
    acc.run_batch(images)
    kinds = set()
    for kind, addr, value in b.log:
        d = regmap.decode(addr)
        assert d is not None, f"{kind} of {addr:#06x}: no register there"
        need = "W" if kind == "w" else "R"
        assert need in d.region.access, (
            f"{'write to' if kind == 'w' else 'read of'} {d.region.name}.{d.field} ({d.region.access})"
        )
        if d.region.name == "CTRL":
            assert value == 1 << regmap.CTRL_START_BIT  # only defined bits
        kinds.add(d.region.name)
    assert kinds == {"ID", "HW", "GLOBAL", "LAYER", "PASS", "STATUS", "CTRL", "CYCLES", "LOG"}


def test_reloading_frees_the_previous_buffer(tiny_setup):
    cfg, model, images, path = tiny_setup
    b, _ = memory_board(model, cfg)
    with Accelerator(b, cfg) as acc:
        acc.load_model(path)
        first = acc.buffer
        acc.load_model(path)
        assert first.syncs[-1] == "free" and acc.buffer is not first
        assert np.array_equal(acc.run(images[0]), run_model(model, images[:1]).logits[0])
    assert acc.buffer is None and acc.layout is not None


# --------------------------------------------------------------------------- errors


def test_wrong_id_is_named(tiny_setup):
    cfg, model, _, _ = tiny_setup
    b, _ = memory_board(model, cfg)
    b.regs[regmap.ID] = 0xDEADBEEF
    with pytest.raises(DriverError, match="ID reads 0xdeadbeef"):
        Accelerator(b, cfg)


def test_hardware_from_another_configuration_is_refused(tiny_setup):
    cfg, model, _, _ = tiny_setup
    b, _ = memory_board(model, cfg)
    b.regs[regmap.hw_addr("rows")] = 16
    with pytest.raises(DriverError, match=r"rows=16 \(configuration: 4\)"):
        Accelerator(b, cfg)


def test_dense_hardware_gets_the_dense_programme(tiny_setup):
    cfg, model, _, path = tiny_setup
    b = MemoryBackend(regs=hw_registers(RtlParams(cfg, sparse=False)))
    acc = Accelerator(b, cfg)
    assert acc.mode == "dense"
    with pytest.raises(ArchsimError, match="dense mode"):  # the pruned model cannot run dense
        acc.load_model(path)
    with pytest.raises(DriverError, match="no model loaded"):
        acc.run(np.zeros(model.input_shape, np.uint8))


def test_dense_hardware_runs_an_unpruned_model(tmp_path):
    spec = case("dense_prog")
    cfg = spec.config()
    dense = [LayerSpec(**{**s.__dict__, "k": None}) for s in spec.layers]
    model0 = make_model(cfg, spec.c0, spec.h, spec.w, dense, spec.seed, name="dense")
    images = np.random.default_rng(8).integers(0, 256, (2, *model0.input_shape), dtype=np.uint8)
    model = choose_thresholds(model0, stem_output(model0.stem, images[:1])[0], spec.thresholds)
    save_model(tmp_path / "d.npz", model)
    hw = FakeHardware(model, cfg, "dense")
    b = MemoryBackend(regs=hw_registers(RtlParams(cfg, sparse=False)), on_write=hw.on_write, on_read=hw.on_read)
    acc = Accelerator(b, cfg)
    acc.load_model(tmp_path / "d.npz")
    assert acc.mode == acc.program.mode == "dense"
    ref = run_model(model, images, "dense")  # predictors ignored
    assert np.array_equal(acc.run_batch(images), ref.logits)
    assert not np.array_equal(ref.logits, run_model(model, images, "sparse").logits)  # the mode matters here


def test_impossible_table_sizes_are_refused(tiny_setup):
    cfg, model, _, _ = tiny_setup
    b, _ = memory_board(model, cfg)
    b.regs[regmap.hw_addr("max_layers")] = 0
    with pytest.raises(DriverError, match="do not describe a build"):
        Accelerator(b, cfg)


def test_timeout_is_a_clear_error(tiny_setup):
    cfg, _model, images, path = tiny_setup
    b = MemoryBackend(regs=hw_registers(RtlParams(cfg)))  # nothing ever sets done
    acc = Accelerator(b, cfg, timeout_s=0.05)
    acc.load_model(path)
    with pytest.raises(AcceleratorTimeout, match=r"no STATUS.done within 0.05 s .*still running"):
        acc.run(images[0])


def test_a_stale_done_is_not_taken_for_the_new_run(tiny_setup):
    """done left set by the previous run must clear before the driver accepts done again."""
    cfg, _model, images, path = tiny_setup
    b = MemoryBackend(regs=hw_registers(RtlParams(cfg)))
    acc = Accelerator(b, cfg, timeout_s=0.05)
    acc.load_model(path)
    b.regs[regmap.STATUS] = STATUS_DONE  # and the (broken) hardware never starts
    with pytest.raises(AcceleratorTimeout, match="never started"):
        acc.run(images[0])


def test_busy_hardware_is_not_started_again(tiny_setup):
    cfg, _model, images, path = tiny_setup
    b = MemoryBackend(regs=hw_registers(RtlParams(cfg)))
    acc = Accelerator(b, cfg)
    acc.load_model(path)
    b.regs[regmap.STATUS] = STATUS_BUSY
    with pytest.raises(DriverError, match="busy"):
        acc.run(images[0])
    assert not [a for k, a, _ in b.log if k == "w" and a == regmap.CTRL]


@pytest.mark.parametrize(
    ("image", "msg"),
    [
        (np.zeros((1, 8, 8), np.int16), r"expected uint8 \[1, 8, 8\], got int16 \[1, 8, 8\]"),
        (np.zeros((3, 8, 8), np.uint8), r"expected uint8 \[1, 8, 8\], got uint8 \[3, 8, 8\]"),
        (np.zeros((8, 8), np.uint8), r"got uint8 \[8, 8\]"),
    ],
)
def test_bad_images_are_named(tiny_setup, image, msg):
    cfg, model, _, path = tiny_setup
    b, _ = memory_board(model, cfg)
    acc = Accelerator(b, cfg)
    acc.load_model(path)
    with pytest.raises(DriverError, match=msg):
        acc.run(image)
    with pytest.raises(DriverError, match=r"images: expected uint8 \['N', 1, 8, 8\]"):
        acc.run_batch(np.zeros((0, 1, 8, 8), np.uint8))


def test_missing_model_and_config_files(tiny_setup, tmp_path):
    cfg, model, _, _ = tiny_setup
    b, _ = memory_board(model, cfg)
    acc = Accelerator(b, cfg)
    with pytest.raises(FormatError, match=r"nope\.npz"):
        acc.load_model(tmp_path / "nope.npz")
    with pytest.raises(ArchsimError, match=r"nope\.yaml"):
        Accelerator(b, tmp_path / "nope.yaml")


def test_a_misread_global_register_is_caught(tiny_setup):
    cfg, model, _, path = tiny_setup
    b, _ = memory_board(model, cfg)

    def stuck_bit(bk: MemoryBackend, addr: int, value: int) -> None:
        if addr == regmap.global_addr("store_addr"):
            bk.regs[addr] = value ^ (1 << 6)

    b.on_write = stuck_bit
    with pytest.raises(DriverError, match=r"global\.store_addr"):
        Accelerator(b, cfg).load_model(path)


# --------------------------------------------------------------------------- PYNQ glue


def test_driver_imports_without_pynq_and_says_what_is_missing(tiny_setup, monkeypatch):
    cfg, *_ = tiny_setup
    monkeypatch.setitem(sys.modules, "pynq", None)  # import pynq fails
    with pytest.raises(DriverError, match="pynq is not installed"):
        Accelerator("bnn_accel.bit", cfg)


class _FakePynqBuffer(np.ndarray):
    pass


def test_pynq_backend_against_a_stand_in_pynq(tiny_setup, monkeypatch):
    """The PYNQ calls the backend makes (Overlay.ip_dict, MMIO, allocate, flush, invalidate),
    against a stand-in module: checks the glue, not the real pynq."""
    cfg, model, images, path = tiny_setup
    mem, _hw = memory_board(model, cfg)
    calls: list[tuple] = []

    class MMIO:
        def __init__(self, base: int, length: int):
            calls.append(("MMIO", base, length))

        def read(self, offset: int) -> int:
            return mem.read(offset)

        def write(self, offset: int, value: int) -> None:
            mem.write(offset, value)

    def allocate(shape, dtype):
        inner = mem.allocate(shape[0])
        buf = inner.array.view(_FakePynqBuffer)
        buf.physical_address = inner.physical_address
        buf.flush = lambda: (calls.append(("flush",)), inner.device.__setitem__(slice(None), buf))
        buf.invalidate = lambda: (calls.append(("invalidate",)), buf.__setitem__(slice(None), inner.device))
        buf.freebuffer = lambda: calls.append(("free",))
        calls.append(("allocate", shape, np.dtype(dtype)))
        return buf

    class Overlay:
        def __init__(self, path: str):
            calls.append(("Overlay", path))
            self.ip_dict = {board.CELL: {"phys_addr": board.LITE_BASE, "addr_range": board.LITE_RANGE}}

    monkeypatch.setitem(sys.modules, "pynq", types.SimpleNamespace(MMIO=MMIO, allocate=allocate, Overlay=Overlay))
    acc = Accelerator("bnn_accel.bit", cfg)
    acc.load_model(path)
    assert np.array_equal(acc.run(images[0]), run_model(model, images[:1]).logits[0])
    acc.close()
    assert calls[:2] == [("Overlay", "bnn_accel.bit"), ("MMIO", board.LITE_BASE, board.LITE_RANGE)]
    assert ("allocate", (acc.layout.end - mem.base,), np.dtype(np.uint8)) in calls
    assert [c[0] for c in calls[3:]] == ["flush", "flush", "invalidate", "free"]
    small = types.SimpleNamespace(ip_dict={board.CELL: {"phys_addr": board.LITE_BASE, "addr_range": 4096}})
    with pytest.raises(DriverError, match="4096-byte register window"):
        driver.PynqBackend(small)


# --------------------------------------------------------------------------- on the RTL


def driver_on_rtl(cfg, model, images: np.ndarray, work: Path, base: int, stream: int = 0) -> tuple[dict, np.ndarray]:
    """Runs tests/rtlsim/tb_driver.py: the driver on the generated sparse RTL (Icarus) with `model`, its DDR
    buffer at physical address `base`, on images[0] alone and then on every image as a batch. Returns the
    testbench's result (logits, cycles, layer log per run) and the STOREd outputs."""
    from tests.rtlsim.harness import build, run_testbench

    save_model(work / "m.npz", model)
    np.save(work / "images.npy", images)
    ax = cfg.axi
    spec = {
        "config": str(write_config(cfg, work / "cfg.yaml")),
        "model": str(work / "m.npz"),
        "images": str(work / "images.npy"),
        "base": base,
        "mem_size": 1 << 20,
        "timing": {
            "read_latency": ax.read_latency,
            "write_latency": ax.write_latency,
            "beat_cycles": ax.read_beat_cycles,
            "data_bits": ax.data_bits,
        },
        "timeout_s": 120.0,
        "result": str(work / "driver.json"),
        "outputs": str(work / "outputs.npy"),
        "stream": stream,
        "stream_outputs": str(work / "stream_outputs.npy"),
    }
    (work / "case.json").write_text(json.dumps(spec))
    run_testbench(
        build(cfg, sparse=True, sim="icarus"),
        "tests.rtlsim.tb_driver",
        work,
        {"BNN_DRIVER_CASE": str(work / "case.json")},
        Path(spec["result"]),
        "the driver case",
    )
    return json.loads(Path(spec["result"]).read_text()), np.load(spec["outputs"])


@pytest.mark.rtl
def test_driver_on_the_rtl(tmp_path):
    """The driver runs the generated RTL (Icarus): one image, then a batch of two, back to back."""
    cfg = case("program").config()
    model, images = small_model(cfg)
    base = 0x3000  # a nonzero physical address: the driver must relocate the images
    res, outputs = driver_on_rtl(cfg, model, images, tmp_path, base)

    ref = run_model(model, images, "sparse")
    prog = compile_program(model, cfg, "sparse")
    order = [0, 0, 1]  # run(images[0]), then run_batch(images)
    assert res["mode"] == "sparse" and res["buffer_address"] == base == res["load_addr"]
    assert any(m is not None and 0 < m[0].sum() < m[0].size for m in ref.masks)  # predictors really prune
    for k, i in enumerate(order):
        assert res["logits"][k] == ref.logits[i].tolist(), f"run {k} (image {i}): logits differ"
        assert np.array_equal(outputs[k], ref.layer_out[-1][i]), f"run {k}: output map differs"
        active = [None if m is None else np.flatnonzero(m[i].reshape(-1)) for m in ref.masks]
        sched = schedule(prog, cfg, active)
        assert res["cycles"][k] == sched.total_cycles, (
            f"run {k}: CYCLES {res['cycles'][k]}, contract {sched.total_cycles}"
        )
        assert res["layer_ends"][k] == [lt.end for lt in sched.layers]
    assert res["logits"][0] != res["logits"][2] and res["cycles"][0] != res["cycles"][2]
    assert res["syncs"] == ["to_device"] + ["to_device", "from_device"] * 3


@pytest.mark.rtl
def test_driver_streams_on_the_rtl(tmp_path):
    """The driver's stream (docs/timing.md 9) on the generated RTL (Icarus): load_model(stream=N) reserves
    N input maps and outputs at 4 KiB strides, run() with a list runs them with one start; every image's
    logits and output equal archsim's functional model, the DONE log and CYCLES equal
    contract.schedule_stream, and single runs before and after it stay latency mode (n_images = 1)."""
    from archsim.contract import schedule_stream

    cfg = case("program").config()
    model, two = small_model(cfg)
    third = np.random.default_rng(6).integers(0, 256, (1, *model.input_shape), dtype=np.uint8)
    images = np.concatenate([two, third])
    res, _ = driver_on_rtl(cfg, model, images, tmp_path, 0x3000, stream=3)
    outs = np.load(tmp_path / "stream_outputs.npy")
    ref = run_model(model, images, "sparse")
    prog = compile_program(model, cfg, "sparse")
    actives = [[None if m is None else np.flatnonzero(m[i].reshape(-1)) for m in ref.masks] for i in range(3)]
    st = schedule_stream(prog, cfg, actives)
    got = res["stream"]
    assert got["logits"] == ref.logits.tolist()
    for i in range(3):
        assert np.array_equal(outs[i], ref.layer_out[-1][i]), f"stream image {i}: output map differs"
    assert got["done"] == st.done and got["cycles"] == st.done[-1]
    assert got["layer_ends"] == [lt.end for lt in st.images[-1].layers]
    # the runs around the stream are single images: run(images[0]) before, run(images[1]) after
    one = [schedule(prog, cfg, a).total_cycles for a in actives]
    assert res["cycles"][0] == one[0] and res["after"]["cycles"] == one[1]
    assert res["after"]["logits"] == ref.logits[1].tolist()


@pytest.mark.rtl
def test_driver_with_the_stem_unit_on_the_rtl(tmp_path):
    """The driver on the generated RTL with the stem unit (Icarus): it writes the stem parameters once, then
    one raw image, a batch of three and a stream of three run with the accelerator computing the stem; every
    logit and output equals archsim's functional model, every CYCLES and DONE the contract's."""
    from archsim.contract import schedule_stream

    cfg, model, images, _ = stem_setup(tmp_path)
    res, outputs = driver_on_rtl(cfg, model, images, tmp_path, 0x3000, stream=3)
    ref = run_model(model, images, "sparse")
    prog = compile_program(model, cfg, "sparse")
    assert prog.stem_unit
    actives = [[None if m is None else np.flatnonzero(m[i].reshape(-1)) for m in ref.masks] for i in range(3)]
    one = [schedule(prog, cfg, a).total_cycles for a in actives]
    order = [0, 0, 1, 2]  # run(images[0]), then run_batch(images)
    for k, i in enumerate(order):
        assert res["logits"][k] == ref.logits[i].tolist(), f"run {k} (image {i}): logits differ"
        assert np.array_equal(outputs[k], ref.layer_out[-1][i]), f"run {k}: output map differs"
        assert res["cycles"][k] == one[i], f"run {k}: CYCLES {res['cycles'][k]}, contract {one[i]}"
    st = schedule_stream(prog, cfg, actives)
    got = res["stream"]
    assert got["logits"] == ref.logits.tolist() and got["done"] == st.done and got["cycles"] == st.done[-1]
    assert res["after"]["logits"] == ref.logits[1].tolist() and res["after"]["cycles"] == one[1]
