"""Model and trace files (format version 1; models also version 2), documented in docs/formats.md.

A model file holds a pruned (or dense) binary network in the integer form the
hardware computes; a trace file holds sample inputs and, for checking, the
expected output of every layer, the spatial masks and the logits that a
reference model produced. Both are `.npz` archives: bit tensors are packed with
`numpy.packbits(bitorder="little")`, the arrays are zlib-compressed, and a
SHA-256 checksum over every array and the metadata is verified on load.

The trainer writes models through this module; archsim, rtl/gen.py and the
tests read them through it. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsim.errors import FormatError
from archsim.fileio import atomic_write_bytes
from archsim.network import ConvGeometry
from archsim.yamlio import one_line, read_bounded, short

FORMAT_VERSION = 1
# Version 2 adds per-layer `res_write` (a layer may leave the residual buffer alone); it is written
# only for models that use it, so every other model keeps its version-1 bytes.
MODEL_VERSIONS = (1, 2)
MODEL_KIND = "archsim-bnn-model"
TRACE_KIND = "archsim-bnn-trace"
ROLES = ("main", "shortcut")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, eq=False)
class Stem:
    """Integer stem conv run on the host: 3x3, stride 1, padding 1.

    x0 = sat(((conv(pixels - input_offset, weight) * mult + bias) >> shift), value_bits)
    """

    weight: np.ndarray  # int8 [C0, C_img, 3, 3]
    mult: np.ndarray  # int32 [C0]
    bias: np.ndarray  # int64 [C0]
    shift: int
    input_offset: int


@dataclass(frozen=True, eq=False)
class Predictor:
    """Spatial-mask predictor: a 1-output binary 3x3 conv; active iff score >= threshold."""

    weight: np.ndarray  # bool [C_in, 3, 3], True = +1
    threshold: int


@dataclass(frozen=True, eq=False)
class BinaryConv(ConvGeometry):
    """One binary conv run on the accelerator, with its fixed-point epilogue.

    role "main": reads the current bit map, adds the residual buffer (if `residual`),
    may have a spatial predictor; the bit maps swap afterwards.
    role "shortcut": a 1x1 downsampling shortcut; reads the same bit map as the main
    layer after it, writes the residual buffer, no residual and no predictor.
    """

    name: str
    role: str
    kernel: int
    stride: int
    c_in: int
    c_out: int
    h_in: int
    w_in: int
    weight: np.ndarray  # bool [C_out, C_in, K, K], True = +1
    keep: np.ndarray  # bool [C_out, C_in], False = kernel pruned
    mult: np.ndarray  # int32 [C_out]
    bias: np.ndarray  # int64 [C_out]
    shift: int
    residual: bool
    predictor: Predictor | None = None
    # Writes z to the residual buffer (format version 1: always). A layer without a residual
    # whose value no later layer reads writes only its sign bits (docs/architecture.md 1.1).
    res_write: bool = True
    # 2x2 stride-2 max-pool of the output (version 2): the next layer reads the OR of each 2x2
    # window of sign bits; after the last layer the host pools the STOREd values.
    maxpool: bool = False

    @property
    def pooled_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the map the next layer (or the host classifier) reads."""
        if self.maxpool:
            return self.c_out, self.h_out // 2, self.w_out // 2
        return self.c_out, self.h_out, self.w_out

    @property
    def kernel_density(self) -> float:
        return float(self.keep.mean())


CLASSIFIERS = ("sum_pool_linear", "flatten_linear")


@dataclass(frozen=True, eq=False)
class Classifier:
    """Host classifier: logits = weight @ features + bias, features the sum over positions of the
    last map (sum_pool_linear, weight [n_classes, C]) or the map flattened in (c, y, x) order
    (flatten_linear, version 2, weight [n_classes, C H W])."""

    weight: np.ndarray  # int16 [n_classes, features]
    bias: np.ndarray  # int64 [n_classes]
    kind: str = "sum_pool_linear"


@dataclass(frozen=True, eq=False)
class BnnModel:
    name: str
    input_shape: tuple[int, int, int]  # (C_img, H, W) of the uint8 input image
    frac_bits: int  # fractional bits of the fixed-point residual stream
    stem: Stem
    layers: tuple[BinaryConv, ...]
    classifier: Classifier
    balance: tuple[int, int] | None = None  # (rows, acc_depth) the pruning is balanced for
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))


# --------------------------------------------------------------------------- trace


@dataclass(frozen=True, eq=False)
class Trace:
    """Sample inputs with the reference model's outputs, for bit-exact checking."""

    model_checksum: str
    inputs: np.ndarray  # uint8 [N, C_img, H, W]
    labels: np.ndarray  # int64 [N] (-1 when unknown)
    stem_out: np.ndarray  # int16 [N, C0, H, W]
    layer_out: tuple[np.ndarray, ...]  # int16 [N, C_out, H_out, W_out] per layer
    masks: tuple[np.ndarray | None, ...]  # bool [N, H_out, W_out] per layer, None if no predictor
    logits: np.ndarray  # int64 [N, n_classes]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return int(self.inputs.shape[0])


# --------------------------------------------------------------------------- helpers


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(np.ascontiguousarray(bits, dtype=bool).reshape(-1), bitorder="little")


def _unpack(packed: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    if packed.dtype != np.uint8 or packed.size != (n + 7) // 8:
        raise ValueError(f"packed bits hold {packed.size} bytes, expected {(n + 7) // 8}")
    return np.unpackbits(packed, count=n, bitorder="little").astype(bool).reshape(shape)


def checksum(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    """SHA-256 over every array (name, dtype, shape, bytes) and the canonical metadata."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    body = {k: v for k, v in meta.items() if k != "checksum"}
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


def _write_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    meta = dict(meta, checksum=checksum(arrays, meta))
    buf = io.BytesIO()
    payload = dict(arrays)
    payload["meta.json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    np.savez_compressed(buf, **payload)
    atomic_write_bytes(path, buf.getvalue())


MAX_FILE_BYTES = 1 << 30  # a model or trace archive on disk
MAX_MEMBER_BYTES = 512 << 20  # one array, inflated (the shipped traces' largest is a few MB)
MAX_TOTAL_BYTES = 1 << 30  # all arrays of one archive, inflated
MAX_MEMBERS = 4096
MAX_META_BYTES = 1 << 20
_NPY_KINDS = "biu"  # bool and integer arrays only: nothing else is ever written


# What zipfile raises on damaged bytes (NotImplementedError: a 'zip file version' it does not read).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    ValueError,
    OSError,
    EOFError,
    NotImplementedError,
    KeyError,
    IndexError,
    OverflowError,
)


def _fail(path: Path, fld: str, msg: str) -> FormatError:
    return FormatError(f"{path}: field '{fld}': {msg}")


def _npy(path: Path, name: str, data: bytearray) -> np.ndarray:
    """Parse one .npy member from memory: header checked against the bytes before any allocation."""
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf, max_header_size=10_000)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf, max_header_size=10_000)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # numpy's header parser raises many types (tokenize, SyntaxError, ...) on bad bytes
        raise _fail(path, name, f"damaged array header ({type(exc).__name__})") from None
    if dtype.hasobject or dtype.kind not in _NPY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise _fail(path, name, f"array of type {short(dtype.str)}; only integer and boolean arrays are read")
    count = 1
    for d in shape:
        count *= d  # Python integers: a header claiming 2**40 elements cannot overflow
    need, have = count * dtype.itemsize, len(data) - buf.tell()
    if need != have:
        raise _fail(path, name, f"header declares {need} bytes of data, the member holds {have}")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=buf.tell())
    return flat.reshape(shape, order="F" if fortran else "C")


def _read_members(path: Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an .npz archive. Member count, declared sizes, compression method and
    flags are checked before anything is inflated, and no member inflates beyond its declared size."""
    raw = read_bounded(path, MAX_FILE_BYTES, f"{what} file", error=FormatError)
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except _ZIP_ERRORS as exc:
        raise FormatError(
            f"{path}: not a readable {what} file (not an .npz archive: {one_line(str(exc), 120)})"
        ) from None
    arrays: dict[str, np.ndarray] = {}
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise FormatError(f"{path}: not a readable {what} file ({len(infos)} members, at most {MAX_MEMBERS})")
        total, names = 0, set()
        for info in infos:
            name = info.filename.removesuffix(".npy")
            fld = short(name)[1:-1]
            if not info.filename.endswith(".npy") or name in names:
                raise _fail(path, fld, "not one .npy array per name (unexpected or repeated archive member)")
            names.add(name)
            if info.flag_bits & 0x1:
                raise _fail(path, fld, "encrypted archive member")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _fail(path, fld, f"unsupported compression method {info.compress_type}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise _fail(path, fld, f"declares {info.file_size} bytes, more than the limit of {MAX_MEMBER_BYTES}")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise FormatError(f"{path}: not a readable {what} file (members exceed {MAX_TOTAL_BYTES} bytes)")
        for info in infos:
            name = info.filename.removesuffix(".npy")
            data = bytearray(info.file_size)
            try:
                with zf.open(info) as f:
                    got = f.readinto(data)
                    while got < info.file_size:
                        n = f.readinto(memoryview(data)[got:])
                        if not n:
                            break
                        got += n
                    if got != info.file_size or f.read(1):
                        raise zipfile.BadZipFile("member shorter or longer than declared")
            except _ZIP_ERRORS as exc:
                raise FormatError(
                    f"{path}: not a readable {what} file (member {short(name)} corrupt or truncated: "
                    f"{one_line(str(exc), 120)})"
                ) from None
            arrays[name] = _npy(path, short(name)[1:-1], data)
    return arrays


def _read_npz(path: Path, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    what = "model" if kind == MODEL_KIND else "trace"
    arrays = _read_members(path, what)
    if "meta.json" not in arrays:
        raise FormatError(f"{path}: field 'meta.json': missing; not an archsim {what} file")
    raw = arrays.pop("meta.json")
    if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > MAX_META_BYTES:
        raise _fail(path, "meta.json", f"expected at most {MAX_META_BYTES} bytes of UTF-8 JSON")
    try:
        meta = json.loads(raw.tobytes().decode(), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise _fail(path, "meta.json", f"malformed JSON ({one_line(str(exc), 120)})") from None
    if not isinstance(meta, dict):
        raise _fail(path, "meta.json", f"expected a JSON object, got {type(meta).__name__}")
    if meta.get("kind") != kind:
        raise _fail(path, "kind", f"expected '{kind}', got {short(meta.get('kind'))}")
    versions = MODEL_VERSIONS if kind == MODEL_KIND else (FORMAT_VERSION,)
    if meta.get("version") not in versions or isinstance(meta.get("version"), bool):
        readable = " and ".join(str(v) for v in versions)
        raise _fail(
            path,
            "version",
            f"format version {short(meta.get('version'))} is not supported (this archsim reads version {readable})",
        )
    stored = meta.get("checksum")
    actual = checksum(arrays, meta)
    if stored != actual:
        raise _fail(path, "checksum", f"stored {short(stored, 70)} but contents hash to {actual!r}")
    return arrays, meta


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


class _Reader:
    """Pulls typed fields out of a loaded archive, naming the file and field on error."""

    def __init__(self, path: Path, arrays: dict[str, np.ndarray]):
        self.path, self.arrays = path, arrays

    def fail(self, fld: str, msg: str) -> FormatError:
        return FormatError(f"{self.path}: field '{fld}': {msg}")

    def array(self, name: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in self.arrays:
            raise self.fail(name, "missing")
        a = self.arrays[name]
        if a.dtype != np.dtype(dtype):
            raise self.fail(name, f"dtype {a.dtype}, expected {dtype}")
        if a.shape != tuple(shape):
            raise self.fail(name, f"shape {a.shape}, expected {tuple(shape)}")
        return a

    def bits(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in self.arrays:
            raise self.fail(name, "missing")
        try:
            return _unpack(self.arrays[name], tuple(shape))
        except ValueError as exc:
            raise self.fail(name, str(exc)) from None


_MISSING = object()


class _Meta:
    """Typed fields of a metadata object; every error names the file and the field."""

    def __init__(self, path: Path, data: Any, where: str = ""):
        self.path, self.where = path, where
        if not isinstance(data, dict):
            raise _fail(path, where.rstrip(".") or "meta.json", f"expected an object, got {type(data).__name__}")
        self.data = data

    def get(self, key: str, default: Any = _MISSING) -> Any:
        if key not in self.data:
            if default is _MISSING:
                raise self.fail(key, "missing")
            return default
        return self.data[key]

    def fail(self, key: str, msg: str) -> FormatError:
        return _fail(self.path, f"{self.where}{key}", msg)

    def int(self, key: str, lo: int, hi: int, default: Any = _MISSING) -> int:
        v = self.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.fail(key, f"expected an integer, got {short(v)}")
        if not lo <= v <= hi:
            raise self.fail(key, f"must be in [{lo}, {hi}], got {short(v)}")
        return v

    def str(self, key: str, default: Any = _MISSING, max_len: int = 200) -> str:
        v = self.get(key, default)
        if not isinstance(v, str) or len(v) > max_len:
            raise self.fail(key, f"expected a string of at most {max_len} characters, got {short(v)}")
        return v

    def bool(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            raise self.fail(key, f"expected true or false, got {short(v)}")
        return v

    def ints(self, key: str, n: int, lo: int, hi: int) -> tuple[int, ...]:
        v = self.get(key)
        if not isinstance(v, list) or len(v) != n:
            raise self.fail(key, f"expected a list of {n} integers, got {short(v)}")
        sub = _Meta(self.path, {str(i): x for i, x in enumerate(v)}, f"{self.where}{key}[")
        return tuple(_elem(sub, i, lo, hi) for i in range(n))

    def list(self, key: str, max_len: int) -> list:
        v = self.get(key)
        if not isinstance(v, list) or len(v) > max_len:
            raise self.fail(key, f"expected a list of at most {max_len} entries, got {type(v).__name__}")
        return v

    def obj(self, key: str, default: Any = _MISSING) -> dict:
        v = self.get(key, default)
        if not isinstance(v, dict):
            raise self.fail(key, f"expected an object, got {type(v).__name__}")
        return v


def _elem(sub: _Meta, i: int, lo: int, hi: int) -> int:
    v = sub.data[str(i)]
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _fail(sub.path, f"{sub.where}{i}]", f"expected an integer in [{lo}, {hi}], got {short(v)}")
    return v


MAX_CHANNELS = 1 << 16
MAX_SIDE = 1 << 12
MAX_LAYERS = 1024
MAX_SAMPLES = 1 << 20
SHIFT_RANGE = (0, 62)  # the epilogue's arithmetic shift of an int64


# --------------------------------------------------------------------------- model I/O


def save_model(path: str | Path, model: BnnModel) -> str:
    """Write `model` atomically; returns its checksum."""
    validate_model(model, Path(path))
    arrays: dict[str, np.ndarray] = {
        "stem.weight": model.stem.weight.astype(np.int8),
        "stem.mult": model.stem.mult.astype(np.int32),
        "stem.bias": model.stem.bias.astype(np.int64),
        "fc.weight": model.classifier.weight.astype(np.int16),
        "fc.bias": model.classifier.bias.astype(np.int64),
    }
    layers_meta = []
    new_ops = any(not L.res_write or L.maxpool for L in model.layers)
    version = 2 if new_ops or model.classifier.kind != "sum_pool_linear" else 1
    for i, L in enumerate(model.layers):
        arrays[f"L{i}.weight"] = _pack(L.weight)
        arrays[f"L{i}.keep"] = _pack(L.keep)
        arrays[f"L{i}.mult"] = L.mult.astype(np.int32)
        arrays[f"L{i}.bias"] = L.bias.astype(np.int64)
        if L.predictor is not None:
            arrays[f"L{i}.pred_weight"] = _pack(L.predictor.weight)
        layers_meta.append(
            {
                "name": L.name,
                "role": L.role,
                "kernel": L.kernel,
                "stride": L.stride,
                "c_in": L.c_in,
                "c_out": L.c_out,
                "h_in": L.h_in,
                "w_in": L.w_in,
                "shift": L.shift,
                "residual": L.residual,
                "predictor_threshold": None if L.predictor is None else int(L.predictor.threshold),
            }
        )
        if version >= 2:
            layers_meta[-1].update(res_write=L.res_write, maxpool=L.maxpool)
    meta = {
        "kind": MODEL_KIND,
        "version": version,
        "name": model.name,
        "input_shape": list(model.input_shape),
        "frac_bits": model.frac_bits,
        "balance": None if model.balance is None else list(model.balance),
        "stem": {"shift": model.stem.shift, "input_offset": model.stem.input_offset},
        "layers": layers_meta,
        "meta": model.meta,
    }
    if version >= 2:
        meta["classifier"] = model.classifier.kind
    path = Path(path)
    _write_npz(path, arrays, meta)
    return checksum(arrays, meta)


def load_model(path: str | Path) -> BnnModel:
    """Read and verify a model file; raises FormatError naming the file and field."""
    path = Path(path)
    arrays, meta = _read_npz(path, MODEL_KIND)
    model = _model_from(path, arrays, meta)
    validate_model(model, path)
    return model


def model_checksum(path: str | Path) -> str:
    _, meta = _read_npz(Path(path), MODEL_KIND)
    return str(meta["checksum"])


def _model_from(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> BnnModel:
    r = _Reader(path, arrays)
    top = _Meta(path, meta)
    c_img, h, w = top.ints("input_shape", 3, 1, MAX_SIDE)
    if c_img > MAX_CHANNELS:
        raise top.fail("input_shape", f"{c_img} image channels")
    stem_w = arrays.get("stem.weight")
    if stem_w is None or stem_w.ndim != 4:
        raise r.fail("stem.weight", "missing or not 4-D")
    c0 = stem_w.shape[0]
    if c0 < 1:
        raise r.fail("stem.weight", "the stem has no output channel")
    st = _Meta(path, top.get("stem"), "stem.")
    stem = Stem(
        weight=r.array("stem.weight", "int8", (c0, c_img, 3, 3)),
        mult=r.array("stem.mult", "int32", (c0,)),
        bias=r.array("stem.bias", "int64", (c0,)),
        shift=st.int("shift", *SHIFT_RANGE),
        input_offset=st.int("input_offset", 0, 255),  # subtracted from uint8 pixels
    )
    layers = []
    for i, raw in enumerate(top.list("layers", MAX_LAYERS)):
        m = _Meta(path, raw, f"layers[{i}].")
        k = m.int("kernel", 1, 3)
        ci, co = m.int("c_in", 1, MAX_CHANNELS), m.int("c_out", 1, MAX_CHANNELS)
        threshold = m.get("predictor_threshold", None)
        has_pred_weight = f"L{i}.pred_weight" in arrays
        pred = None
        if threshold is not None:
            pred = Predictor(
                weight=r.bits(f"L{i}.pred_weight", (ci, 3, 3)),
                threshold=m.int("predictor_threshold", -(1 << 31), (1 << 31) - 1),
            )
        elif has_pred_weight:
            raise m.fail("predictor_threshold", f"missing, but the archive holds predictor weights L{i}.pred_weight")
        layers.append(
            BinaryConv(
                name=m.str("name"),
                role=m.str("role"),
                kernel=k,
                stride=m.int("stride", 1, 2),
                c_in=ci,
                c_out=co,
                h_in=m.int("h_in", 1, MAX_SIDE),
                w_in=m.int("w_in", 1, MAX_SIDE),
                weight=r.bits(f"L{i}.weight", (co, ci, k, k)),
                keep=r.bits(f"L{i}.keep", (co, ci)),
                mult=r.array(f"L{i}.mult", "int32", (co,)),
                bias=r.array(f"L{i}.bias", "int64", (co,)),
                shift=m.int("shift", *SHIFT_RANGE),
                residual=m.bool("residual"),
                predictor=pred,
                res_write=m.bool("res_write") if top.get("version") == 2 else True,
                maxpool=m.bool("maxpool") if top.get("version") == 2 else False,
            )
        )
    fc_w = arrays.get("fc.weight")
    if fc_w is None or fc_w.ndim != 2:
        raise r.fail("fc.weight", "missing or not 2-D")
    kind = top.str("classifier") if top.get("version") == 2 else "sum_pool_linear"
    if kind not in CLASSIFIERS:
        raise top.fail("classifier", f"must be one of {CLASSIFIERS}, got {short(kind)}")
    classifier = Classifier(
        weight=r.array("fc.weight", "int16", fc_w.shape),
        bias=r.array("fc.bias", "int64", (fc_w.shape[0],)),
        kind=kind,
    )
    balance = None if top.get("balance", None) is None else top.ints("balance", 2, 1, 256)
    return BnnModel(
        name=top.str("name"),
        input_shape=(c_img, h, w),
        frac_bits=top.int("frac_bits", 0, 30),
        stem=stem,
        layers=tuple(layers),
        classifier=classifier,
        balance=balance,  # type: ignore[arg-type]
        meta=dict(top.obj("meta", {})),
    )


def validate_model(model: BnnModel, path: Path | str = "<model>") -> None:
    """Structural checks: shapes chain, roles are consistent, values fit their types."""

    def fail(fld: str, msg: str) -> FormatError:
        return FormatError(f"{path}: field '{fld}': {msg}")

    c_img, h, w = model.input_shape
    if model.stem.weight.shape[1:] != (c_img, 3, 3):
        raise fail("stem.weight", f"shape {model.stem.weight.shape} does not match input {model.input_shape}")
    if model.stem.weight.shape[0] < 1:
        raise fail("stem.weight", "the stem has no output channel")
    if not 0 <= model.stem.input_offset <= 255:
        raise fail("stem.input_offset", f"must be in [0, 255], got {model.stem.input_offset}")
    if not SHIFT_RANGE[0] <= model.stem.shift <= SHIFT_RANGE[1]:
        raise fail("stem.shift", f"must be in [{SHIFT_RANGE[0]}, {SHIFT_RANGE[1]}], got {model.stem.shift}")
    if not any(L.role == "main" for L in model.layers):
        raise fail("layers", "no binary (main) layer: nothing for the accelerator to run")
    c, hh, ww = model.stem.weight.shape[0], h, w
    res_shape = (c, hh, ww)  # what the residual buffer holds: the LOAD writes x0
    sources = residual_bits(model.layers)
    pending_shortcut: BinaryConv | None = None
    for i, L in enumerate(model.layers):
        f = f"layers[{i}] ({L.name})"
        if L.role not in ROLES:
            raise fail(f"{f}.role", f"must be one of {ROLES}, got {L.role[:60]!r}")
        if L.kernel not in (1, 3):
            raise fail(f"{f}.kernel", f"must be 1 or 3, got {L.kernel}")
        if L.stride not in (1, 2):
            raise fail(f"{f}.stride", f"must be 1 or 2, got {L.stride}")
        if (L.c_in, L.h_in, L.w_in) != (c, hh, ww):
            raise fail(
                f"{f}.c_in", f"input shape {(L.c_in, L.h_in, L.w_in)} does not follow the previous map {(c, hh, ww)}"
            )
        if L.c_out < 1 or L.h_out < 1 or L.w_out < 1:
            raise fail(f"{f}.c_out", "empty output")
        for name, arr, shape in (
            ("weight", L.weight, (L.c_out, L.c_in, L.kernel, L.kernel)),
            ("keep", L.keep, (L.c_out, L.c_in)),
            ("mult", L.mult, (L.c_out,)),
            ("bias", L.bias, (L.c_out,)),
        ):
            if arr.shape != shape:
                raise fail(f"{f}.{name}", f"shape {arr.shape}, expected {shape}")
        if L.shift < 0 or L.shift > 62:
            raise fail(f"{f}.shift", f"must be in [0, 62], got {L.shift}")
        out = (L.c_out, L.h_out, L.w_out)
        if L.role == "shortcut":
            if L.kernel != 1 or L.residual or L.predictor is not None or not L.res_write:
                raise fail(f"{f}.role", "a shortcut layer is a 1x1 conv without residual or predictor that writes it")
            if pending_shortcut is not None:
                raise fail(f"{f}.role", "two shortcut layers in a row")
            pending_shortcut = L
            res_shape = out
            continue  # the bit map does not advance: the next main layer reads the same input
        if L.predictor is not None:
            if L.kernel != 3:
                raise fail(f"{f}.predictor", "only 3x3 layers may have a spatial predictor")
            if L.predictor.weight.shape != (L.c_in, 3, 3):
                raise fail(f"{f}.predictor.weight", f"shape {L.predictor.weight.shape}, expected {(L.c_in, 3, 3)}")
            if not L.residual:
                raise fail(f"{f}.predictor", "a spatially pruned layer needs a residual (skipped positions output it)")
            if sources[i] == "none":
                raise fail(
                    f"{f}.predictor",
                    "no activation set holds the residual's sign bits for the skipped positions "
                    "(the residual was written two main layers back)",
                )
        if pending_shortcut is not None:
            s = pending_shortcut
            # the main layer after a shortcut adds it, or (version 2) leaves it for a later layer
            if (L.res_write and not L.residual) or (L.residual and (s.c_out, s.h_out, s.w_out) != out):
                raise fail(f"{f}.residual", f"must add the shortcut '{s.name}' of the same output shape")
            pending_shortcut = None
        if L.residual and out != res_shape:
            if res_shape == (c, hh, ww):
                raise fail(f"{f}.residual", "an identity residual needs the output shape to equal the input shape")
            raise fail(f"{f}.residual", f"the residual buffer holds a {res_shape} map, the layer outputs {out}")
        if L.maxpool:
            if L.h_out < 2 or L.w_out < 2:
                raise fail(f"{f}.maxpool", f"a 2x2 max-pool needs a map of at least 2x2, not {L.h_out}x{L.w_out}")
            if L.res_write and i + 1 < len(model.layers):
                raise fail(f"{f}.maxpool", "a pooled layer other than the last leaves the residual buffer alone")
        if L.res_write:
            res_shape = out
        c, hh, ww = L.pooled_shape
    if pending_shortcut is not None:
        raise fail("layers", f"shortcut '{pending_shortcut.name}' is not followed by a main layer")
    if model.layers and not model.layers[-1].res_write:
        raise fail(f"layers[{len(model.layers) - 1}].res_write", "the last layer must write the map the STORE reads")
    features = c * hh * ww if model.classifier.kind == "flatten_linear" else c
    if model.classifier.weight.shape[1] != features:
        raise fail(
            "fc.weight",
            f"expects {model.classifier.weight.shape[1]} features, the {model.classifier.kind} classifier "
            f"of the last map {(c, hh, ww)} has {features}",
        )


def residual_bits(layers: tuple[BinaryConv, ...] | list[BinaryConv]) -> list[str]:
    """Where the sign bits of the residual buffer are when each layer runs (docs/architecture.md 5):
    "input" (the set the layer reads: the mask unit copies centre bits at skipped positions),
    "other" (the set it writes already holds them: after a shortcut layer, or after a main
    layer that left the residual buffer alone) or "none" (a skipped position has no bits to keep)."""
    out, where = [], "input"  # the LOAD writes x0 and sign(x0) into the current set
    for L in layers:
        out.append(where)
        where = next_residual_bits(where, L)
    return out


def next_residual_bits(where: str, L: BinaryConv) -> str:
    """residual_bits after layer L, from where they were before it."""
    if L.role == "shortcut":
        return "other"  # it writes the residual buffer and the other set, without swapping
    if L.res_write:
        return "input"  # output bits are sign(z), and z is the residual buffer now
    return "other" if where == "input" else "none"  # the sets swap; the other one was overwritten


# --------------------------------------------------------------------------- trace I/O


def save_trace(path: str | Path, trace: Trace) -> None:
    arrays: dict[str, np.ndarray] = {
        "inputs": trace.inputs.astype(np.uint8),
        "labels": trace.labels.astype(np.int64),
        "stem_out": trace.stem_out.astype(np.int16),
        "logits": trace.logits.astype(np.int64),
    }
    shapes, masked = [], []
    for i, (out, mask) in enumerate(zip(trace.layer_out, trace.masks, strict=True)):
        arrays[f"L{i}.out"] = out.astype(np.int16)
        shapes.append(list(out.shape))
        masked.append(mask is not None)
        if mask is not None:
            arrays[f"L{i}.mask"] = _pack(mask)
    meta = {
        "kind": TRACE_KIND,
        "version": FORMAT_VERSION,
        "model_checksum": trace.model_checksum,
        "n_samples": trace.n_samples,
        "layer_shapes": shapes,
        "layer_masked": masked,
        "meta": trace.meta,
    }
    _write_npz(Path(path), arrays, meta)


def load_trace(path: str | Path) -> Trace:
    path = Path(path)
    arrays, meta = _read_npz(path, TRACE_KIND)
    r = _Reader(path, arrays)
    top = _Meta(path, meta)
    n = top.int("n_samples", 1, MAX_SAMPLES)
    msum = top.str("model_checksum", max_len=64)

    def per_sample(name: str, ndim: int) -> np.ndarray:
        a = arrays.get(name)
        if a is None or a.ndim != ndim:
            raise r.fail(name, f"missing or not {ndim}-D")
        if a.shape[0] != n:
            raise r.fail(name, f"holds {a.shape[0]} samples, n_samples is {n}")
        return a

    inputs = r.array("inputs", "uint8", per_sample("inputs", 4).shape)
    stem = r.array("stem_out", "int16", per_sample("stem_out", 4).shape)
    shapes = top.list("layer_shapes", MAX_LAYERS)
    masked = top.list("layer_masked", MAX_LAYERS)
    if len(masked) != len(shapes):
        raise top.fail("layer_masked", f"{len(masked)} entries, layer_shapes has {len(shapes)}")
    outs, masks = [], []
    for i, flag in enumerate(masked):
        shape = _Meta(path, {"layer_shapes": shapes[i]}).ints("layer_shapes", 4, 1, max(MAX_CHANNELS, MAX_SAMPLES))
        if shape[0] != n:
            raise top.fail(f"layer_shapes[{i}]", f"{shape[0]} samples, n_samples is {n}")
        if not isinstance(flag, bool):
            raise top.fail(f"layer_masked[{i}]", f"expected true or false, got {short(flag)}")
        outs.append(r.array(f"L{i}.out", "int16", shape))
        masks.append(r.bits(f"L{i}.mask", (shape[0], shape[2], shape[3])) if flag else None)
    logits = r.array("logits", "int64", per_sample("logits", 2).shape)
    return Trace(
        model_checksum=msum,
        inputs=inputs,
        labels=r.array("labels", "int64", (n,)),
        stem_out=stem,
        layer_out=tuple(outs),
        masks=tuple(masks),
        logits=logits,
        meta=dict(top.obj("meta", {})),
    )


def check_trace_matches(trace: Trace, model: BnnModel, model_sum: str, path: Path | str) -> None:
    """A trace must come from this exact model and have its shapes."""
    if trace.model_checksum != model_sum:
        raise FormatError(
            f"{path}: field 'model_checksum': trace was made for model {trace.model_checksum[:12]}..., "
            f"the workload's model is {model_sum[:12]}..."
        )
    if tuple(trace.inputs.shape[1:]) != tuple(model.input_shape):
        raise FormatError(f"{path}: field 'inputs': shape {trace.inputs.shape[1:]}, model expects {model.input_shape}")
    if len(trace.layer_out) != len(model.layers):
        raise FormatError(f"{path}: field 'layer_shapes': {len(trace.layer_out)} layers, model has {len(model.layers)}")
    c0, _, h, w = model.stem.weight.shape[0], *model.input_shape
    if trace.stem_out.shape[1:] != (c0, h, w):
        raise FormatError(
            f"{path}: field 'stem_out': shape {trace.stem_out.shape[1:]}, the model's stem outputs {(c0, h, w)}"
        )
    for i, (out, L) in enumerate(zip(trace.layer_out, model.layers, strict=True)):
        if out.shape[1:] != (L.c_out, L.h_out, L.w_out):
            raise FormatError(
                f"{path}: field 'L{i}.out': shape {out.shape[1:]}, layer {L.name} outputs {(L.c_out, L.h_out, L.w_out)}"
            )
        if (trace.masks[i] is not None) != (L.predictor is not None):
            raise FormatError(
                f"{path}: field 'layer_masked[{i}]': {'has' if trace.masks[i] is not None else 'lacks'} a mask, "
                f"layer {L.name} {'has' if L.predictor is not None else 'has no'} predictor"
            )
    n_classes = model.classifier.weight.shape[0]
    if trace.logits.shape[1] != n_classes:
        raise FormatError(f"{path}: field 'logits': {trace.logits.shape[1]} classes, the model has {n_classes}")
