"""Host driver of the BNN accelerator (PYNQ style): load a model, run images, read results.

On the Ultra96v2 (PYNQ image, bitstream from rtl/vivado/build.tcl):

    from pynq import Overlay
    from rtl.host.driver import Accelerator
    acc = Accelerator(Overlay("bnn_accel.bit"), "configs/ultra96v2.yaml")
    acc.load_model("models/resnet18_pruned.npz")
    logits = acc.run(image)              # uint8 [C, H, W] -> int64 [n_classes]
    acc.stats.cycles                     # CYCLES: accelerator cycles from start to done

What runs where (docs/architecture.md section 4, docs/timing.md section 6): the stem and the
classifier on the host, exactly as archsim.functional computes them; the binary layers on the
accelerator. With the stem unit (`stem_unit.enabled`, docs/timing.md 3.1) the stem runs on the
accelerator too: the LOAD image is the raw image and the host keeps only the classifier.
`load_model` compiles the programme (archsim.program), builds the DDR image (archsim.layout) in
one physically contiguous buffer and writes the register programme (rtl.regmap.program_writes,
with the stem unit's parameters and input offset) once; `run` writes the stem output (or the raw
image) into the LOAD image, starts, polls STATUS.done, reads CYCLES and the per-layer log, reads
the STORE image and classifies.

Board access goes through a small interface (`Backend`: 32-bit MMIO reads and writes, and
DDR buffers with a physical address and a numpy view), implemented for PYNQ (`PynqBackend`,
pynq imported only when used) and in memory for tests (`MemoryBackend`). The DDR buffers are
not cache-coherent with the accelerator (it sits on S_AXI_HP0_FPD), so the driver flushes
before the accelerator reads and invalidates before it reads what the accelerator wrote.

With `axi.hp_ports` 2 the board splits the accelerator's master over HP0 and HP1
(rtl/verilog/bnn_hp_split.v): the buffer holds the image as two planes, plane k at
k * board.HP_PLANE_BYTES holding the k-th half of every beat, and the accelerator's addresses
are logical ones from twice plane 0's physical address (`plane_index`, docs/architecture.md 6).

Every register address, field and bit comes from rtl/regmap.py.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from archsim.config import HardwareConfig, load_config
from archsim.errors import ArchsimError, ConfigError
from archsim.format import BnnModel
from archsim.format import load_model as read_model
from archsim.functional import classifier_forward, classifier_logits, stem_output
from archsim.layout import DdrLayout, build_layout, pack_image, pack_map, unpack_store
from archsim.program import Program, compile_program

from .. import board, regmap
from ..params import RtlParams


class DriverError(ArchsimError):
    """The board, the bitstream or the input does not fit what the driver was asked to do."""


class AcceleratorTimeout(DriverError):
    """STATUS.done did not come within the timeout."""


# --------------------------------------------------------------------------- board interface


class Mmio(Protocol):
    def read(self, offset: int) -> int: ...

    def write(self, offset: int, value: int) -> None: ...


class DdrBuffer(Protocol):
    """Physically contiguous memory the accelerator reads and writes."""

    physical_address: int
    array: np.ndarray  # uint8, the CPU's view

    def sync_to_device(self) -> None: ...  # after the CPU wrote (cache flush)

    def sync_from_device(self) -> None: ...  # before the CPU reads what the device wrote (invalidate)

    def free(self) -> None: ...


@runtime_checkable
class Backend(Protocol):
    mmio: Mmio

    def allocate(self, nbytes: int) -> DdrBuffer: ...


def _pynq() -> Any:
    try:
        import pynq
    except ImportError as exc:
        raise DriverError(
            "pynq is not installed: on the board use the PYNQ image; elsewhere pass a Backend "
            "(rtl.host.driver.MemoryBackend, or the RTL simulation's)"
        ) from exc
    return pynq


class PynqMmio:
    def __init__(self, mmio: Any):
        self._m = mmio

    def read(self, offset: int) -> int:
        return int(self._m.read(offset))

    def write(self, offset: int, value: int) -> None:
        self._m.write(offset, int(value))


class PynqBuffer:
    """pynq.allocate's buffer: an ndarray in CMA memory (cacheable: flush and invalidate)."""

    def __init__(self, buf: Any):
        self._buf = buf
        addr = getattr(buf, "device_address", None)  # PYNQ 3; PYNQ 2 has physical_address only
        self.physical_address = int(addr if addr is not None else buf.physical_address)
        self.array = buf

    def sync_to_device(self) -> None:
        self._buf.flush()

    def sync_from_device(self) -> None:
        self._buf.invalidate()

    def free(self) -> None:
        self._buf.freebuffer()


class PynqBackend:
    """The accelerator in a loaded PYNQ overlay (or a .bit path, loaded here)."""

    def __init__(self, overlay: Any, ip_name: str = board.CELL):
        pynq = _pynq()
        if isinstance(overlay, str | Path):
            overlay = pynq.Overlay(str(overlay))
        info = getattr(overlay, "ip_dict", {}).get(ip_name)
        # PYNQ reads the address from the .hwh; build.tcl fixes it at board.LITE_BASE anyway
        base = int(info["phys_addr"]) if info else board.LITE_BASE
        span = int(info.get("addr_range", board.LITE_RANGE)) if info else board.LITE_RANGE
        if span < regmap.SIZE:
            raise DriverError(
                f"overlay: '{ip_name}' has a {span}-byte register window, the register map needs {regmap.SIZE}"
            )
        self.overlay = overlay
        self.mmio: Mmio = PynqMmio(pynq.MMIO(base, span))
        self._pynq = pynq

    def allocate(self, nbytes: int) -> DdrBuffer:
        return PynqBuffer(self._pynq.allocate(shape=(nbytes,), dtype=np.uint8))


class CachedBuffer:
    """A DDR buffer over device memory with a CPU copy: data moves only at sync_*, like a
    non-coherent cache, so a missing flush or invalidate shows up as wrong data."""

    def __init__(self, device: np.ndarray, physical_address: int):
        self.device = device  # uint8 view of the memory the accelerator sees
        self.physical_address = physical_address
        self.array = np.zeros(device.shape, dtype=np.uint8)
        self.syncs: list[str] = []

    def sync_to_device(self) -> None:
        self.device[:] = self.array
        self.syncs.append("to_device")

    def sync_from_device(self) -> None:
        self.array[:] = self.device
        self.syncs.append("from_device")

    def free(self) -> None:
        self.syncs.append("free")


@dataclass
class MemoryBackend:
    """Board stand-in: registers in a dict, DDR in a bytearray, every access logged.

    Reads return `regs` (what was written, or preset, 0 otherwise). `on_write(backend, addr,
    value)` runs after every register write and `on_read(backend, addr)` before every read, so
    a test can play the hardware (STATUS and CYCLES after CTRL.start, say). DDR buffers are
    CachedBuffers over `ddr`, from physical address `base`.
    """

    regs: dict[int, int] = field(default_factory=dict)
    on_write: Callable[[MemoryBackend, int, int], None] | None = None
    on_read: Callable[[MemoryBackend, int], None] | None = None  # runs before a read returns
    base: int = 0x1000_0000  # physical address of the first buffer (nonzero, page aligned)
    size: int = 1 << 22
    log: list[tuple[str, int, int]] = field(default_factory=list)  # ("r" | "w", address, value)

    def __post_init__(self) -> None:
        self.ddr = np.zeros(self.size, dtype=np.uint8)
        self._next = 0
        self.mmio: Mmio = self  # the backend is its own MMIO

    def read(self, offset: int) -> int:
        if self.on_read is not None:
            self.on_read(self, offset)
        v = self.regs.get(offset, 0)
        self.log.append(("r", offset, v))
        return v

    def write(self, offset: int, value: int) -> None:
        self.log.append(("w", offset, value))
        self.regs[offset] = value
        if self.on_write is not None:
            self.on_write(self, offset, value)

    def allocate(self, nbytes: int) -> DdrBuffer:
        page = 4096
        off = self._next
        if off + nbytes > self.size:
            raise DriverError(f"MemoryBackend: {nbytes} bytes do not fit its {self.size}-byte DDR")
        self._next = off + -(-nbytes // page) * page
        return CachedBuffer(self.ddr[off : off + nbytes], self.base + off)


# --------------------------------------------------------------------------- the driver


@dataclass(frozen=True)
class RunStats:
    """What one inference reported: the hardware's CYCLES and layer-end log, and wall times."""

    cycles: int  # CYCLES: DONE of docs/timing.md (cycles from start to done)
    layer_ends: tuple[int, ...]  # LOG: cycle (from start) at which each layer ended
    # what the STORE wrote (the classifier's input): the int16 map [C, H, W], or int64 sums [C] when pooled
    output: np.ndarray
    accel_s: float  # wall time from the start write to done seen (includes polling)
    host_s: float  # wall time of the host's share (stem, packing, unpacking, classifier)


@dataclass(frozen=True)
class StreamStats:
    """What one stream of images reported (docs/timing.md 9): DONE of every image, and wall times."""

    cycles: int  # CYCLES: DONE(N-1), the stream's cycle count
    done: tuple[int, ...]  # the DONE log: DONE(n) of the first min(N, regmap.DONE_LOG_IMAGES) images
    layer_ends: tuple[int, ...]  # LOG: the last image's layer ends (cycles from the stream's start)
    outputs: tuple[np.ndarray, ...]  # what each image's STORE wrote (as RunStats.output)
    accel_s: float
    host_s: float


def relocate(lay: DdrLayout, base: int) -> DdrLayout:
    """The same layout `base` bytes higher (build_layout places everything relative to its base)."""
    return dataclasses.replace(
        lay,
        load_addr=lay.load_addr + base,
        store_addr=lay.store_addr + base,
        blob_base=lay.blob_base + base,
        end=lay.end + base,
        passes=tuple(dataclasses.replace(p, addr=p.addr + base) for p in lay.passes),
    )


def _bit(value: int, bit: int) -> bool:
    return bool((value >> bit) & 1)


# --------------------------------------------------------------------------- plane layout (two HP ports)

ADDRESS_SPACE = 1 << 32  # the accelerator's AXI addresses are 32 bits


def buffer_bytes(cfg: HardwareConfig, logical_bytes: int, plane_bytes: int = board.HP_PLANE_BYTES) -> int:
    """Bytes of the DDR buffer that holds a logical image of `logical_bytes` (two planes with two HP ports)."""
    if cfg.axi.hp_ports == 1:
        return logical_bytes
    half = -(-logical_bytes // cfg.axi.hp_ports)
    if half > plane_bytes:
        raise DriverError(
            f"the DDR image needs {logical_bytes} bytes: each of the two planes would hold {half}, more than "
            f"the {plane_bytes} bytes between them (rtl/board.py HP_PLANE_BYTES)"
        )
    return plane_bytes + half


def logical_base(cfg: HardwareConfig, physical: int, logical_bytes: int) -> int:
    """The accelerator's address of a buffer at `physical`: the same with one HP port; twice it with two
    (the splitter halves every address), which must stay within 32 bits."""
    base = physical * cfg.axi.hp_ports
    align = cfg.burst_bytes
    if base % align or base + logical_bytes > ADDRESS_SPACE:
        raise DriverError(
            f"DDR buffer at {physical:#x}: the accelerator's image at {base:#x} must be aligned to a burst "
            f"({align} bytes) and end below 4 GiB (axi.hp_ports {cfg.axi.hp_ports})"
        )
    return base


def plane_index(
    cfg: HardwareConfig, offset: int, nbytes: int, plane_bytes: int = board.HP_PLANE_BYTES
) -> np.ndarray | slice:
    """Where the logical bytes [offset, offset + nbytes) of the DDR image lie in the buffer: a slice with
    one HP port; with two, plane k (at k * plane_bytes) holds bytes [hb k, hb (k + 1)) of every beat
    (hb = half a beat), at half the beat's offset."""
    if cfg.axi.hp_ports == 1:
        return slice(offset, offset + nbytes)
    bb = cfg.beat_bytes
    hb = bb // cfg.axi.hp_ports
    j = np.arange(offset, offset + nbytes, dtype=np.int64)
    return (j // bb) * hb + (j % hb) + ((j % bb) // hb) * plane_bytes


class Accelerator:
    """The accelerator on a board: `load_model`, then `run` / `run_batch`.

    `target` is a Backend, a PYNQ Overlay or the path of a .bit (with its .hwh beside it).
    `config` is the hardware configuration the bitstream was generated from (a HardwareConfig
    or its YAML path); the driver checks it against the hardware's HW registers. `max_cin`
    must equal gen.py's --max-cin if one was given (it sets field widths the HW registers do
    not report). `timeout_s` bounds the wait for STATUS.done.
    """

    def __init__(
        self,
        target: Backend | Any,
        config: HardwareConfig | str | Path,
        *,
        max_cin: int | None = None,
        timeout_s: float = 10.0,
    ):
        self.backend: Backend = target if isinstance(target, Backend) else PynqBackend(target)
        self.where = str(config) if isinstance(config, str | Path) else f"configuration '{config.name}'"
        self.cfg = load_config(config) if isinstance(config, str | Path) else config
        self.mmio = self.backend.mmio
        self.timeout_s = timeout_s
        ident = self.mmio.read(regmap.ID)
        if ident != regmap.ID_MAGIC:
            raise DriverError(
                f"register ID reads {ident:#010x}, not {regmap.ID_MAGIC:#010x}: no BNN accelerator "
                "(or another register-map version) at this address"
            )
        self.hw = {name: self.mmio.read(regmap.hw_addr(name)) for name in regmap.HW_FIELDS}
        self.mode = "sparse" if self.hw["sparse"] else "dense"
        try:
            self.prm = RtlParams(
                self.cfg,
                sparse=self.mode == "sparse",
                max_layers=self.hw["max_layers"],
                max_passes=self.hw["max_passes"],
                max_cin=max_cin,
                where=self.where,
            )
        except ConfigError as exc:  # table sizes no generator build has: not this hardware
            raise DriverError(f"HW registers {self.hw} do not describe a build of {self.where}: {exc}") from exc
        self._check_hardware()
        self.model: BnnModel | None = None
        self.program: Program | None = None
        self.layout: DdrLayout | None = None
        self.buffer: DdrBuffer | None = None
        self.stats: RunStats | None = None
        self.batch_stats: list[RunStats] = []
        self.stream_stats: StreamStats | None = None
        self._n_images = 1

    def _check_hardware(self) -> None:
        """The bitstream must have been generated from this configuration."""
        p, c = self.prm, self.cfg
        want = {
            "rows": p.rows,
            "cols": p.cols,
            "acc_depth": p.depth,
            "act_word_bits": p.ba,
            "data_bits": p.d,
            "max_burst_beats": c.axi.max_burst_beats,
            "sparse": int(p.sparse),
            "index_bits": p.ib,
            "max_layers": p.max_layers,
            "max_passes": p.max_passes,
            "value_bits": c.epilogue.value_bits,
            "weight_entry_bits": p.e_mem,
            "stem_channels": c.stem_unit.channels if c.stem_unit.enabled else 0,
        }
        bad = [f"{k}={self.hw[k]} (configuration: {v})" for k, v in want.items() if self.hw[k] != v]
        if bad:
            raise DriverError(
                f"{self.where}: the hardware was built from another configuration: HW registers {', '.join(bad)}"
            )

    # ------------------------------------------------------------------ model
    def load_model(self, model_path: str | Path, stream: int = 1) -> None:
        """Compile `model_path` for this hardware, put its DDR image in a buffer, write the programme.
        `stream`: room for that many input maps and outputs, for `run` with a list of images (a stream,
        docs/timing.md 9)."""
        # the upper bound is the n_images register's width (build_layout and program_writes refuse more)
        if isinstance(stream, bool) or not isinstance(stream, int) or stream < 1:
            raise DriverError(f"load_model: stream = {stream!r} must be a positive integer")
        self.close()  # the previous model's buffer; on failure below no model is loaded
        self.model = self.program = self.layout = None
        model = read_model(model_path)
        prog = compile_program(model, self.cfg, self.mode, model_path)
        # at address 0: offsets into the (logical) image
        lay0 = build_layout(model, prog, self.cfg, n_images=stream)
        self.buffer = buf = self.backend.allocate(buffer_bytes(self.cfg, lay0.end))
        lay = relocate(lay0, logical_base(self.cfg, buf.physical_address, lay0.end))
        writes = regmap.program_writes(lay, self.prm)  # refuses values the hardware would truncate
        base, blob = lay0.blob_image()
        buf.array[:] = 0
        buf.array[plane_index(self.cfg, base, len(blob))] = np.frombuffer(blob, dtype=np.uint8)
        buf.sync_to_device()
        self._check_idle()
        for w in writes:
            self.mmio.write(w.addr, w.value)
        # the programme-wide fields read back (RW): a bus or address problem shows up here
        for w in writes:
            d = regmap.decode(w.addr)
            if d is not None and "R" in d.region.access:
                got = self.mmio.read(w.addr)
                if got != w.value:
                    raise DriverError(f"register {w.what} at {w.addr:#06x} reads {got:#x} after writing {w.value:#x}")
        self.program, self.layout = prog, lay
        self._n_images = lay.n_images  # what the n_images register holds
        self.model = model  # last: a model is loaded only when all of the above succeeded

    # ------------------------------------------------------------------ inference
    def run(self, image: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Logits (int64 [n_classes]) of one uint8 image [C, H, W]; `self.stats` holds CYCLES etc.
        Given a list (or tuple) of images, runs them as one stream (`run_stream`)."""
        if isinstance(image, list | tuple):
            return self.run_stream(image)
        x = self._images(np.asarray(image)[None], "image")
        t0 = time.perf_counter()
        x0 = self._stem(x)[0]
        logits, self.stats = self._infer(x0, time.perf_counter() - t0)
        return logits

    def run_batch(self, images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Logits (int64 [N, n_classes]) of uint8 images [N, C, H, W], run one after the other;
        `self.batch_stats` holds one RunStats per image."""
        x = self._images(np.asarray(images), "images")
        t0 = time.perf_counter()
        x0 = self._stem(x)
        stem_s = (time.perf_counter() - t0) / len(x)
        out, self.batch_stats = [], []
        for s in x0:
            logits, st = self._infer(s, stem_s)
            out.append(logits)
            self.batch_stats.append(st)
        self.stats = self.batch_stats[-1]
        return np.stack(out)

    def run_stream(self, images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Logits (int64 [N, n_classes]) of uint8 images [N, C, H, W] run as one stream with one start
        (docs/timing.md 9: image n's LOAD and layers while STORE(n-1) finishes); N at most the `stream`
        that load_model reserved room for. `self.stream_stats` holds every image's DONE."""
        x = self._images(np.asarray(images), "images")
        lay = self.layout
        assert lay is not None
        if len(x) > lay.n_images:
            raise DriverError(
                f"images: a stream of {len(x)} images, but load_model reserved room for {lay.n_images} (its stream=)"
            )
        t0 = time.perf_counter()
        x0 = self._stem(x)
        logits, self.stream_stats = self._infer_stream(x0, time.perf_counter() - t0)
        return logits

    def close(self) -> None:
        if self.buffer is not None:
            self.buffer.free()
            self.buffer = None

    def __enter__(self) -> Accelerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _model(self) -> BnnModel:
        if self.model is None:
            raise DriverError("no model loaded: call load_model() first")
        return self.model

    def _images(self, x: np.ndarray, what: str) -> np.ndarray:
        """x must be uint8 [N, C, H, W] with N >= 1 and [C, H, W] the model's input shape."""
        want = tuple(self._model().input_shape)
        if x.dtype != np.uint8 or x.ndim != len(want) + 1 or tuple(x.shape[1:]) != want or not len(x):
            shape = list(x.shape[1:]) if what == "image" else list(x.shape)
            need = list(want) if what == "image" else ["N", *want]
            raise DriverError(f"{what}: expected uint8 {need}, got {x.dtype} {shape}")
        return x

    def _stem(self, x: np.ndarray) -> np.ndarray:
        """What the LOAD of each image reads: the host's stem output x0 [N, C0, H, W], or with the stem unit
        the raw images themselves (the accelerator computes the stem, docs/timing.md 3.1)."""
        if self.program is not None and self.program.stem_unit:
            return x
        return stem_output(self._model().stem, x, self.cfg.epilogue.value_bits)

    def _check_idle(self) -> int:
        status = self.mmio.read(regmap.STATUS)
        if _bit(status, regmap.STATUS_BUSY_BIT):
            raise DriverError(f"the accelerator is busy (STATUS = {status:#x}): a run is still going on")
        return status

    def _infer(self, x0: np.ndarray, host_s: float) -> tuple[np.ndarray, RunStats]:
        logits, cycles, ends, outs, accel_s, host_s = self._run_images(x0[None], host_s)
        return logits[0], RunStats(cycles, ends, outs[0], accel_s, host_s)

    def _set_images(self, n: int) -> None:
        """The n_images register (one image: latency mode), written only when it changes."""
        if self._n_images != n:
            self.mmio.write(regmap.global_addr("n_images"), n)
            self._n_images = n

    def _infer_stream(self, x0: np.ndarray, host_s: float) -> tuple[np.ndarray, StreamStats]:
        logits, cycles, ends, outs, accel_s, host_s = self._run_images(x0, host_s)
        done = tuple(self.mmio.read(regmap.done_addr(i)) for i in range(min(len(x0), regmap.DONE_LOG_IMAGES)))
        return logits, StreamStats(cycles, done, ends, outs, accel_s, host_s)

    def _run_images(
        self, x0: np.ndarray, host_s: float
    ) -> tuple[np.ndarray, int, tuple[int, ...], tuple[np.ndarray, ...], float, float]:
        """Run the stem outputs x0 [N, ...] (with the stem unit the raw images) with one start (N = 1: latency
        mode): each image's map at its LOAD address, then CYCLES, the layer-end log, each image's STORE and
        its logits; host and accelerator wall times."""
        lay, buf, prog, model = self.layout, self.buffer, self.program, self._model()
        assert lay is not None and buf is not None and prog is not None
        n = len(x0)
        t0 = time.perf_counter()
        base = logical_base(self.cfg, buf.physical_address, 0)  # checked in full by load_model
        for i, x in enumerate(x0):
            packed = pack_image(x, self.cfg) if prog.stem_unit else pack_map(x, self.cfg)
            data = np.frombuffer(packed, dtype=np.uint8)
            buf.array[plane_index(self.cfg, lay.load_addr_of(i) - base, len(data))] = data
        buf.sync_to_device()
        host_s += time.perf_counter() - t0

        before = self._check_idle()
        self._set_images(n)
        t1 = time.perf_counter()
        self.mmio.write(regmap.CTRL, 1 << regmap.CTRL_START_BIT)
        self._wait_done(_bit(before, regmap.STATUS_DONE_BIT))
        accel_s = time.perf_counter() - t1
        cycles = self.mmio.read(regmap.CYCLES)
        ends = tuple(self.mmio.read(regmap.log_addr(i)) for i in range(len(lay.layers)))

        t2 = time.perf_counter()
        buf.sync_from_device()
        nbytes = lay.store.beats * self.cfg.beat_bytes
        outs = tuple(
            unpack_store(buf.array[plane_index(self.cfg, lay.store_addr_of(i) - base, nbytes)], prog, self.cfg)
            for i in range(n)
        )
        o = np.stack(outs)
        # a pooled STORE hands over the per-channel sums: all the classifier reads of the last map
        logits = classifier_logits(model, o) if prog.pooled else classifier_forward(model, o)
        host_s += time.perf_counter() - t2
        return logits, cycles, ends, outs, accel_s, host_s

    def _wait_done(self, was_done: bool) -> None:
        """Poll STATUS until the run just started is done.

        done stays set from the previous run until the start is seen, so when it was set
        before, the run counts as started only once done has cleared (or busy is up);
        otherwise a stale done would return before the run even began.
        """
        started = not was_done
        deadline = time.monotonic() + self.timeout_s
        polls = 0
        while True:
            status = self.mmio.read(regmap.STATUS)
            polls += 1
            done, busy = _bit(status, regmap.STATUS_DONE_BIT), _bit(status, regmap.STATUS_BUSY_BIT)
            started = started or busy or not done
            if started and done and not busy:
                return
            if time.monotonic() > deadline:
                what = (
                    "the run never started (done still set from the previous run)" if not started else "still running"
                )
                raise AcceleratorTimeout(
                    f"no STATUS.done within {self.timeout_s:g} s after CTRL.start ({polls} polls, "
                    f"last STATUS = {status:#x}: {what}); check the clock, reset and bitstream, "
                    "or raise timeout_s"
                )
