"""Model and trace files (format version 1), documented in docs/formats.md.

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
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archsim.errors import FormatError
from archsim.fileio import atomic_write_bytes
from archsim.network import ConvGeometry

FORMAT_VERSION = 1
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

    @property
    def kernel_density(self) -> float:
        return float(self.keep.mean())


@dataclass(frozen=True, eq=False)
class Classifier:
    """Host classifier: logits = weight @ (sum over positions of the last map) + bias."""

    weight: np.ndarray  # int16 [n_classes, C]
    bias: np.ndarray  # int64 [n_classes]


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


def _read_npz(path: Path, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    what = "model" if kind == MODEL_KIND else "trace"
    if not path.exists():
        raise FormatError(f"{path}: {what} file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{path}: not a readable {what} file (corrupt or truncated: {exc})") from None
    if "meta.json" not in arrays:
        raise FormatError(f"{path}: field 'meta.json': missing; not an archsim {what} file")
    try:
        meta = json.loads(arrays.pop("meta.json").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: field 'meta.json': malformed JSON ({exc})") from None
    if meta.get("kind") != kind:
        raise FormatError(f"{path}: field 'kind': expected '{kind}', got {meta.get('kind')!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise FormatError(
            f"{path}: field 'version': format version {meta.get('version')!r} is not "
            f"supported (this archsim reads version {FORMAT_VERSION})"
        )
    stored = meta.get("checksum")
    actual = checksum(arrays, meta)
    if stored != actual:
        raise FormatError(f"{path}: field 'checksum': stored {stored!r} but contents hash to {actual!r}")
    return arrays, meta


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


def _int(meta: dict, key: str, where: str, path: Path) -> int:
    v = meta.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise FormatError(f"{path}: field '{where}{key}': expected an integer, got {v!r}")
    return v


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
    meta = {
        "kind": MODEL_KIND,
        "version": FORMAT_VERSION,
        "name": model.name,
        "input_shape": list(model.input_shape),
        "frac_bits": model.frac_bits,
        "balance": None if model.balance is None else list(model.balance),
        "stem": {"shift": model.stem.shift, "input_offset": model.stem.input_offset},
        "layers": layers_meta,
        "meta": model.meta,
    }
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
    try:
        c_img, h, w = (int(v) for v in meta["input_shape"])
        stem_w = arrays.get("stem.weight")
        if stem_w is None or stem_w.ndim != 4:
            raise r.fail("stem.weight", "missing or not 4-D")
        c0 = stem_w.shape[0]
        stem = Stem(
            weight=r.array("stem.weight", "int8", (c0, c_img, 3, 3)),
            mult=r.array("stem.mult", "int32", (c0,)),
            bias=r.array("stem.bias", "int64", (c0,)),
            shift=_int(meta["stem"], "shift", "stem.", path),
            input_offset=_int(meta["stem"], "input_offset", "stem.", path),
        )
        layers = []
        for i, m in enumerate(meta["layers"]):
            where = f"layers[{i}]."
            k, ci, co = (_int(m, f, where, path) for f in ("kernel", "c_in", "c_out"))
            pred = None
            if m.get("predictor_threshold") is not None:
                pred = Predictor(
                    weight=r.bits(f"L{i}.pred_weight", (ci, 3, 3)),
                    threshold=_int(m, "predictor_threshold", where, path),
                )
            layers.append(
                BinaryConv(
                    name=str(m["name"]),
                    role=str(m["role"]),
                    kernel=k,
                    stride=_int(m, "stride", where, path),
                    c_in=ci,
                    c_out=co,
                    h_in=_int(m, "h_in", where, path),
                    w_in=_int(m, "w_in", where, path),
                    weight=r.bits(f"L{i}.weight", (co, ci, k, k)),
                    keep=r.bits(f"L{i}.keep", (co, ci)),
                    mult=r.array(f"L{i}.mult", "int32", (co,)),
                    bias=r.array(f"L{i}.bias", "int64", (co,)),
                    shift=_int(m, "shift", where, path),
                    residual=bool(m["residual"]),
                    predictor=pred,
                )
            )
        fc_w = arrays.get("fc.weight")
        if fc_w is None or fc_w.ndim != 2:
            raise r.fail("fc.weight", "missing or not 2-D")
        classifier = Classifier(
            weight=r.array("fc.weight", "int16", fc_w.shape),
            bias=r.array("fc.bias", "int64", (fc_w.shape[0],)),
        )
        bal = meta.get("balance")
        return BnnModel(
            name=str(meta["name"]),
            input_shape=(c_img, h, w),
            frac_bits=int(meta["frac_bits"]),
            stem=stem,
            layers=tuple(layers),
            classifier=classifier,
            balance=None if bal is None else (int(bal[0]), int(bal[1])),
            meta=dict(meta.get("meta", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: malformed metadata ({type(exc).__name__}: {exc})") from None


def validate_model(model: BnnModel, path: Path | str = "<model>") -> None:
    """Structural checks: shapes chain, roles are consistent, values fit their types."""

    def fail(fld: str, msg: str) -> FormatError:
        return FormatError(f"{path}: field '{fld}': {msg}")

    c_img, h, w = model.input_shape
    if model.stem.weight.shape[1:] != (c_img, 3, 3):
        raise fail("stem.weight", f"shape {model.stem.weight.shape} does not match input {model.input_shape}")
    c, hh, ww = model.stem.weight.shape[0], h, w
    pending_shortcut: BinaryConv | None = None
    for i, L in enumerate(model.layers):
        f = f"layers[{i}] ({L.name})"
        if L.role not in ROLES:
            raise fail(f"{f}.role", f"must be one of {ROLES}, got {L.role!r}")
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
        if L.role == "shortcut":
            if L.kernel != 1 or L.residual or L.predictor is not None:
                raise fail(f"{f}.role", "a shortcut layer is a 1x1 conv without residual or predictor")
            if pending_shortcut is not None:
                raise fail(f"{f}.role", "two shortcut layers in a row")
            pending_shortcut = L
            continue  # the bit map does not advance: the next main layer reads the same input
        if L.predictor is not None:
            if L.kernel != 3:
                raise fail(f"{f}.predictor", "only 3x3 layers may have a spatial predictor")
            if L.predictor.weight.shape != (L.c_in, 3, 3):
                raise fail(f"{f}.predictor.weight", f"shape {L.predictor.weight.shape}, expected {(L.c_in, 3, 3)}")
            if not L.residual:
                raise fail(f"{f}.predictor", "a spatially pruned layer needs a residual (skipped positions output it)")
        if pending_shortcut is not None:
            s = pending_shortcut
            if not L.residual or (s.c_out, s.h_out, s.w_out) != (L.c_out, L.h_out, L.w_out):
                raise fail(f"{f}.residual", f"must add the shortcut '{s.name}' of the same output shape")
            pending_shortcut = None
        elif L.residual and (L.c_out, L.h_out, L.w_out) != (c, hh, ww):
            raise fail(f"{f}.residual", "an identity residual needs the output shape to equal the input shape")
        c, hh, ww = L.c_out, L.h_out, L.w_out
    if pending_shortcut is not None:
        raise fail("layers", f"shortcut '{pending_shortcut.name}' is not followed by a main layer")
    if model.classifier.weight.shape[1] != c:
        raise fail("fc.weight", f"expects {model.classifier.weight.shape[1]} channels, the last map has {c}")


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
    try:
        n = int(meta["n_samples"])
        inputs = arrays.get("inputs")
        if inputs is None or inputs.ndim != 4:
            raise r.fail("inputs", "missing or not 4-D")
        inputs = r.array("inputs", "uint8", (n, *inputs.shape[1:]))
        stem = arrays.get("stem_out")
        if stem is None or stem.ndim != 4:
            raise r.fail("stem_out", "missing or not 4-D")
        outs, masks = [], []
        for i, (shape, masked) in enumerate(zip(meta["layer_shapes"], meta["layer_masked"], strict=True)):
            out = r.array(f"L{i}.out", "int16", tuple(shape))
            outs.append(out)
            masks.append(r.bits(f"L{i}.mask", (shape[0], shape[2], shape[3])) if masked else None)
        logits = arrays.get("logits")
        if logits is None or logits.ndim != 2:
            raise r.fail("logits", "missing or not 2-D")
        return Trace(
            model_checksum=str(meta["model_checksum"]),
            inputs=inputs,
            labels=r.array("labels", "int64", (n,)),
            stem_out=r.array("stem_out", "int16", (n, *stem.shape[1:])),
            layer_out=tuple(outs),
            masks=tuple(masks),
            logits=r.array("logits", "int64", (n, logits.shape[1])),
            meta=dict(meta.get("meta", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: malformed metadata ({type(exc).__name__}: {exc})") from None


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
    for i, (out, L) in enumerate(zip(trace.layer_out, model.layers, strict=True)):
        if out.shape[1:] != (L.c_out, L.h_out, L.w_out):
            raise FormatError(
                f"{path}: field 'L{i}.out': shape {out.shape[1:]}, layer {L.name} outputs {(L.c_out, L.h_out, L.w_out)}"
            )
