"""Design-space sweeps: `archsim sweep SWEEP.yaml --out DIR`.

A sweep file names a base (a synthetic model spec with a hardware config, or workload
files) and parameters whose cross product gives the points. Every point is a full
`archsim run` (functional check, timing of pruned and dense programmes, energy). Points
run in parallel on local processes, or on a Dask cluster. Each finished point is written
at once, atomically, as DIR/points/<key>.json, where the key hashes everything that
determines the point's result; a rerun skips points whose file exists, and the table
DIR/results.csv is always assembled from those files in point order, so an interrupted
and resumed sweep yields the same bytes as an uninterrupted one. docs/sweeps.md.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import os
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from archsim.buildable import check_program
from archsim.config import NAME_PATTERN, HardwareConfig, apply_overrides, parse_overrides
from archsim.energy import EnergyTable, check_table_for, default_table_path
from archsim.errors import ArchsimError, ConfigError
from archsim.fileio import atomic_write_text
from archsim.program import compile_program
from archsim.version import __version__
from archsim.yamlio import PathText, one_line, path_problem, read_yaml, short, validate

if TYPE_CHECKING:
    import pandas as pd

SWEEP_VERSION = 2  # part of every point's key, with the digest of archsim's source (code_digest)
MAX_POINTS = 100_000
POINT_KIND = "archsim-sweep-point"
METRICS = (
    "workload",
    "synthetic",
    "config",
    "pe_rows",
    "pe_cols",
    "acc_depth",
    "clock_mhz",
    "samples",
    "kernel_density",
    "spatial_density",
    "dense_cycles",
    "sparse_cycles",
    "speedup",
    "ideal_speedup",
    "dense_fps",
    "sparse_fps",
    "dense_latency_us",
    "sparse_latency_us",
    "dense_energy_uj",
    "sparse_energy_uj",
    "energy_ratio",
    "dense_inferences_per_j",
    "sparse_inferences_per_j",
    "dense_gops_per_w",
    "sparse_gops_per_w_effective",
    "sparse_gops_per_w_actual",
    "dense_useful_share",
    "sparse_useful_share",  # one per archsim.runner.ACCOUNTS
    "sparse_partial_share",
    "sparse_waiting_share",
    "sparse_load_store_share",
    "functional_check",
)


# --------------------------------------------------------------------------- the sweep file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SweepFile(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field("", max_length=2000)
    hardware: PathText | None = Field(None, min_length=1, description="base hardware config (synthetic sweeps)")
    workload: PathText | None = Field(None, min_length=1, description="one workload file (workload sweeps)")
    synthetic: dict[str, Any] | None = None
    energy: PathText | None = Field(None, min_length=1)
    timing_mode: Literal["fast", "cycle"] = "fast"
    samples: int | None = Field(None, ge=1, description="first N samples of every point's workload")
    parameters: dict[str, list[Any]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Point:
    """One point, fully resolved: what a worker needs, with no file to read for synthetic points."""

    index: int
    params: dict[str, Any]  # swept key -> value at this point
    hardware: dict[str, Any]  # config mapping after overrides (validated by the worker)
    hardware_file: str
    synthetic: dict[str, Any] | None  # SynthSpec fields
    workload: str | None  # workload file (workload sweeps)
    energy: dict[str, Any] | None  # energy table mapping, or None
    energy_file: str | None
    timing_mode: str
    samples: int | None
    inputs_digest: str  # hash of the workload's files (workload sweeps)
    code: str = ""  # digest of archsim's source: results of other code are not reused

    @property
    def key(self) -> str:
        body = {
            "version": SWEEP_VERSION,
            "code": self.code,
            "hardware": self.hardware,
            "synthetic": self.synthetic,
            "workload": self.inputs_digest,
            "energy": self.energy,
            "timing_mode": self.timing_mode,
            "samples": self.samples,
        }
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Sweep:
    path: Path
    spec: SweepFile
    keys: list[str]  # swept keys, in file order
    points: list[Point]
    overrides: dict[str, Any] = field(default_factory=dict)  # --set, recorded in sweep.json


_SYNTH_FIELDS = {
    "kernel_density": float,
    "spatial_budget": float,
    "width": float,
    "seed": int,
    "samples": int,
    "classes": int,
    "predict_stages": tuple,
    "input_shape": tuple,
    "layer_density": dict,
    "network": str,
}


def _network_field(value: Any, where: str, here: Path) -> dict[str, Any]:
    """A `network` value: a description file (relative to the sweep file) or a built-in name,
    carried as its parsed mapping so that a point needs no file and its key covers the contents."""
    from archsim.networks import BUILTIN, network_data, network_from_dict

    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a network description file or built-in name, got {value!r}")
    where_file = value if value in BUILTIN and not (here / value).exists() else here / value
    try:
        data = network_data(where_file)
        network_from_dict(data, value).check_supported()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return {"file": value, "data": data}


def _coerce_synth(name: str, value: Any, where: str, here: Path = Path(".")) -> Any:
    """A SynthSpec field value from YAML, or a ConfigError naming the sweep field."""
    if name == "network":
        return _network_field(value, where, here)
    kind = _SYNTH_FIELDS.get(name)
    if kind is None:
        raise ConfigError(f"{where}: unknown synthetic-model field (fields: {', '.join(sorted(_SYNTH_FIELDS))})")
    ok = True
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is tuple:
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        value = tuple(value) if ok else value
    elif kind is dict:
        ok = isinstance(value, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
        )
        value = tuple(sorted((str(k), float(v)) for k, v in value.items())) if ok else value
    if not ok:
        want = {float: "a number", int: "an integer", tuple: "a list of integers", dict: "a mapping NAME: density"}
        raise ConfigError(f"{where}: expected {want[kind]}, got {short(value)}")
    return value


def _check_value(value: Any, where: str) -> None:
    """A swept value is plain data: finite numbers, short strings, lists and mappings of them."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) >= 1 << 63:
            raise ConfigError(f"{where}: integer out of range, got {short(value)}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: must be a finite number, got {value}")
    elif isinstance(value, str):
        if len(value) > 4096 or "\0" in value:
            raise ConfigError(f"{where}: a string of at most 4096 characters without NUL, got {short(value)}")
    elif isinstance(value, list):
        for v in value:
            _check_value(v, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where}: mapping keys must be field names, got {short(k)}")
            _check_value(v, f"{where}.{k}" if len(where) < 300 else where)
    else:
        raise ConfigError(f"{where}: expected a number, string, list or mapping, got {type(value).__name__}")


def _synth_spec(fields: dict[str, Any]) -> Any:
    from archsim.networks import builtin, network_from_dict
    from archsim.synthetic import SynthSpec

    fields = dict(fields)
    if "network" in fields:
        net = network_from_dict(fields["network"]["data"], fields["network"]["file"])
        fields["network"] = None if net == builtin("resnet18") else net  # the default network: the same model
        fields.setdefault("input_shape", net.input_shape)
    return SynthSpec(name="sweep", **fields)


def _check_synth(fields: dict[str, Any], where: Callable[[str], str]) -> None:
    """SynthSpec.check(), its `option '--x-y': msg` error re-worded as `where('x_y'): msg`."""
    try:
        _synth_spec(fields).check()
    except ConfigError as exc:
        if not str(exc).startswith("option '"):  # the network description at this input shape
            raise ConfigError(f"{where('network')}: {exc}") from None
        opt, _, msg = str(exc).partition(": ")
        name = opt.removeprefix("option ").strip("'-").replace("-", "_")
        raise ConfigError(f"{where(name)}: {msg}") from None


def _walk(tree: dict[str, Any], path: list[str], where: str, base: str) -> None:
    """Check that the dotted config path exists in the base config."""
    node: Any = tree
    for i, part in enumerate(path):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{where}: no field '{'.'.join(path[: i + 1])}' in the hardware config {base}")
        node = node[part]


def _set(tree: dict[str, Any], path: list[str], value: Any) -> None:
    """Set a dotted field; a mapping value sets each of its fields (several fields at once)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _set(tree, [*path, str(k)], v)
        return
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _check_hw_value(tree: dict[str, Any], path: list[str], value: Any, where: str, base: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(tree, [*path, str(k)], where, base)
            _check_hw_value(tree, [*path, str(k)], v, where, base)
    else:
        _walk(tree, path, where, base)


def code_digest() -> str:
    """Hash of every archsim source file: a point computed by other code gets another key."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*.py")):
        h.update(f.relative_to(pkg).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _table_data(path: Path | None, where: str) -> tuple[dict[str, Any] | None, str | None]:
    """Read and validate an energy table in the parent; workers get the mapping, not the file."""
    if path is None:
        return None, None
    from archsim.energy import load_energy_table

    try:
        load_energy_table(path)
    except ArchsimError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return read_yaml(path), str(path)


def load_sweep(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Sweep:
    """Read and validate a sweep file and expand its points; errors name the file and field.
    `overrides` (dotted config field -> value, from --set) change every point's base hardware
    configuration; a swept hardware parameter still wins over them."""
    path = Path(path)
    spec = validate(SweepFile, read_yaml(path), path)
    here = path.parent

    def fail(fld: str, msg: str) -> ConfigError:
        return ConfigError(f"{path}: field '{fld}': {msg}")

    wl_values = spec.parameters.get("workload")
    synthetic_mode = spec.synthetic is not None
    if synthetic_mode == (spec.workload is not None or wl_values is not None):
        raise fail(
            "synthetic",
            "give either 'synthetic' (with 'hardware') or workload files ('workload' or parameters.workload), not both or neither",
        )
    if synthetic_mode and spec.hardware is None:
        raise fail("hardware", "a synthetic sweep needs a base hardware config")
    if not synthetic_mode and spec.hardware is not None:
        raise fail(
            "hardware", "a workload sweep uses each workload's own hardware config; vary it with parameters.hardware.*"
        )
    if spec.workload is not None and wl_values is not None:
        raise fail("workload", "give one workload or parameters.workload, not both")

    _check_value(spec.synthetic, f"{path}: field 'synthetic'")
    keys = list(spec.parameters)
    for key, values in spec.parameters.items():
        fld = f"parameters.{short(key)[1:-1]}"
        if not values:
            raise fail(fld, "needs at least one value")
        for i, v in enumerate(values):
            _check_value(v, f"{path}: field '{fld}[{i}]'")
        head, _, rest = key.partition(".")
        if key == "workload":
            continue
        if head in ("hardware", "synthetic") and not rest:
            raise fail(fld, f"name a field: '{head}.<field>' (e.g. hardware.clock_mhz, synthetic.kernel_density)")
        if head == "synthetic":
            if not synthetic_mode:
                raise fail(fld, "synthetic-model parameters need a 'synthetic' base")
            for i, v in enumerate(values):
                at = f"{path}: field '{fld}[{i}]'"
                val = _coerce_synth(rest, v, at, here)
                _check_synth({**_base_synth(spec, path), rest: val}, lambda _f, at=at: at)
        elif head != "hardware":
            raise fail(fld, "parameters are 'workload', 'hardware.<config field>' or 'synthetic.<model field>'")

    n = 1
    for values in spec.parameters.values():
        n *= len(values)
    if n > MAX_POINTS:
        raise fail("parameters", f"{n:,} points exceed the limit of {MAX_POINTS:,}")

    # Bases: (hardware mapping, hardware file, synthetic fields | None, workload file | None, energy, digest).
    bases: dict[Any, tuple] = {}
    if synthetic_mode:
        hw_path = here / str(spec.hardware)
        from archsim.config import load_config

        try:
            cfg = load_config(hw_path, overrides)
        except ArchsimError as exc:
            raise fail("hardware", str(exc)) from None
        e_path = here / spec.energy if spec.energy else default_table_path(hw_path)
        if spec.energy is None and not e_path.exists():
            e_path = None
        table, table_file = _table_data(e_path, f"{path}: field 'energy'")
        if table is not None:
            _check_part(table, cfg, f"{path}: field 'energy'")
        hw_tree = apply_overrides(read_yaml(hw_path), overrides or {}, str(hw_path))
        bases[None] = (hw_tree, str(hw_path), _base_synth(spec, path), None, table, table_file, "")
    else:
        from archsim.workload import load_workload

        files = wl_values if wl_values is not None else [spec.workload]
        for i, w in enumerate(files):
            fld = f"parameters.workload[{i}]" if wl_values is not None else "workload"
            if not isinstance(w, str) or not w or path_problem(w):
                raise fail(fld, f"expected a workload file name, got {short(w)}")
            try:
                wl = load_workload(here / w, overrides)
            except ArchsimError as exc:
                raise fail(fld, str(exc)) from None
            if spec.samples is not None and spec.samples > len(wl.samples):
                raise fail("samples", f"{spec.samples} samples requested, {here / w} selects {len(wl.samples)}")
            e_path = here / spec.energy if spec.energy else wl.energy_path
            table, table_file = _table_data(e_path, f"{path}: field 'energy'")
            if table is not None:
                _check_part(table, wl.config, f"{path}: field 'energy'")
            used = [wl.path, wl.model_path, wl.trace_path, wl.baseline_path]
            used += [wl.baseline_trace_path] if wl.baseline_trace_path else []
            bases[w] = (
                apply_overrides(read_yaml(wl.config_path), overrides or {}, str(wl.config_path)),
                str(wl.config_path),
                None,
                # absolute: a Dask worker may run in another folder (or on another machine with the same paths)
                str((here / w).resolve()),
                table,
                table_file,
                _digest(used),
            )

    for key, values in spec.parameters.items():
        if key.split(".")[0] == "hardware":
            parts = key.split(".")[1:]
            for hw, hw_file, *_ in bases.values():
                for i, v in enumerate(values):
                    _check_hw_value(hw, parts, v, f"{path}: field 'parameters.{key}[{i}]'", hw_file)

    points = []
    code = code_digest()
    for index, combo in enumerate(itertools.product(*spec.parameters.values())):
        params = dict(zip(keys, combo, strict=True))
        base_key = params.get("workload", spec.workload) if not synthetic_mode else None
        hw, hw_file, synth, wl_file, table, table_file, digest = bases[base_key]
        hw = copy.deepcopy(hw)
        synth = dict(synth) if synth is not None else None
        for key, value in params.items():
            head, _, rest = key.partition(".")
            if head == "hardware":
                _set(hw, key.split(".")[1:], copy.deepcopy(value))
            elif head == "synthetic":
                assert synth is not None
                synth[rest] = _coerce_synth(rest, value, key, here)
        points.append(
            Point(
                index=index,
                params=params,
                hardware=hw,
                hardware_file=hw_file,
                synthetic=synth,
                workload=wl_file,
                energy=table,
                energy_file=table_file,
                timing_mode=spec.timing_mode,
                samples=spec.samples,
                inputs_digest=digest,
                code=code,
            )
        )
    return Sweep(path=path, spec=spec, keys=keys, points=points, overrides=dict(overrides or {}))


def _check_part(table: dict[str, Any], cfg: HardwareConfig, where: str) -> None:
    check_table_for(EnergyTable.model_validate(table), cfg, where)


def _base_synth(spec: SweepFile, path: Path) -> dict[str, Any]:
    fields = {}
    for name, value in (spec.synthetic or {}).items():
        fields[name] = _coerce_synth(name, value, f"{path}: field 'synthetic.{name}'", path.parent)
    _check_synth(fields, lambda f: f"{path}: field 'synthetic.{f}'")
    return fields


# --------------------------------------------------------------------------- one point (worker side)


_SYNTH_CACHE: dict[Any, Any] = {}


def _synthesis(spec: Any, cfg: HardwareConfig) -> Any:
    """Generate (or reuse) a synthetic model: it depends only on the spec, the PE array and
    the epilogue widths, so points that vary e.g. AXI latencies share it within a worker."""
    from archsim.synthetic import generate

    key = (spec, cfg.pe_array, cfg.epilogue)
    if key not in _SYNTH_CACHE:
        if len(_SYNTH_CACHE) >= 4:
            _SYNTH_CACHE.pop(next(iter(_SYNTH_CACHE)))
        _SYNTH_CACHE[key] = generate(spec, cfg)
    return _SYNTH_CACHE[key]


def _synthetic_workload(point: Point, cfg: HardwareConfig, table: EnergyTable | None) -> Any:
    """A Workload held in memory: the synthetic model, its dense twin and their traces."""
    from archsim.synthetic import make_trace
    from archsim.workload import Workload

    assert point.synthetic is not None
    spec = _synth_spec(point.synthetic)
    syn = _synthesis(spec, cfg)
    vb = cfg.epilogue.value_bits
    where = f"{point.hardware_file} (point {point.index})"
    program = compile_program(syn.pruned, cfg, "sparse", where=where)
    base_program = compile_program(syn.dense, cfg, "dense", where=where)
    check_program(program, cfg, where)  # what rtl/gen.py can build (archsim.buildable)
    check_program(base_program, cfg, where)
    label = Path(f"<synthetic point {point.index}>")
    return Workload(
        path=label,
        name="synthetic",
        description=spec.command(),
        config_path=Path(point.hardware_file),
        config=cfg,
        model_path=label,
        model=syn.pruned,
        trace_path=label,
        trace=make_trace(syn.pruned, "", syn.inputs, vb),
        samples=tuple(range(spec.samples)),
        baseline_path=label,
        baseline=syn.dense,
        baseline_trace_path=label,
        baseline_trace=make_trace(syn.dense, "", syn.inputs, vb),
        program=program,
        baseline_program=base_program,
        energy_path=Path(point.energy_file) if point.energy_file else None,
        energy=table,
    )


class PointInputError(RuntimeError):
    """A worker cannot read a point's files as the sweep saw them: a failure (retried on the next run),
    never an 'invalid' record, which would be cached as the point's result."""


def _file_workload(point: Point, cfg: HardwareConfig, table: EnergyTable | None) -> Any:
    from archsim.workload import load_workload

    assert point.workload is not None
    try:
        wl = load_workload(point.workload)
    except ArchsimError as exc:  # it loaded when the sweep was read: the worker sees other files
        raise PointInputError(f"point {point.index}: its workload does not load on this worker: {exc}") from None
    used = [wl.path, wl.model_path, wl.trace_path, wl.baseline_path]
    used += [wl.baseline_trace_path] if wl.baseline_trace_path else []
    if _digest(used) != point.inputs_digest:
        raise PointInputError(f"point {point.index}: {point.workload}: its files changed since the sweep was read")
    where = f"{point.hardware_file} (point {point.index})"
    program = compile_program(wl.model, cfg, "sparse", where=where)
    baseline_program = compile_program(wl.baseline, cfg, "dense", where=where)
    check_program(program, cfg, where)  # what rtl/gen.py can build (archsim.buildable)
    check_program(baseline_program, cfg, where)
    return dataclasses.replace(
        wl,
        config=cfg,
        program=program,
        baseline_program=baseline_program,
        energy_path=Path(point.energy_file) if point.energy_file else None,
        energy=table,
    )


def compute_point(point: Point) -> dict[str, Any]:
    """Run one point; returns its record. Bad hardware or a model that does not fit is an
    'invalid' record with the error; any other exception propagates (the point is retried)."""
    from archsim.runner import run_workload

    try:
        cfg = validate(
            HardwareConfig, copy.deepcopy(point.hardware), Path(f"{point.hardware_file} (point {point.index})")
        )
        table = EnergyTable.model_validate(point.energy) if point.energy is not None else None
        if table is not None:
            check_table_for(table, cfg, f"{point.energy_file} (point {point.index})")
        wl = (
            _synthetic_workload(point, cfg, table) if point.synthetic is not None else _file_workload(point, cfg, table)
        )
        samples = list(wl.samples[: point.samples] if point.samples else wl.samples)
        res = run_workload(wl, samples, point.timing_mode, progress=False)
    except ArchsimError as exc:
        return {"status": "invalid", "error": str(exc)}
    return {"status": "ok", "error": "", **_metrics(res)}


def _metrics(res: Any) -> dict[str, Any]:
    from archsim.results import energy_summary

    wl, cfg = res.workload, res.workload.config
    masked = [L for L, p in zip(res.layers, wl.program.layers, strict=True) if p.mask_enabled]
    spatial = (
        float(
            np.mean(
                [sum(L.active[j] for L in masked) / sum(L.positions for L in masked) for j in range(len(res.samples))]
            )
        )
        if masked
        else 1.0
    )
    e = energy_summary(res)
    d, s = (e["dense"], e["sparse"]) if e else ({}, {})
    dense_c, sparse_c = res.dense.done, res.sparse_cycles_mean
    return {
        "workload": wl.name,
        "synthetic": wl.synthetic,
        "config": cfg.name,
        "pe_rows": cfg.pe_array.rows,
        "pe_cols": cfg.pe_array.cols,
        "acc_depth": cfg.pe_array.acc_depth,
        "clock_mhz": cfg.clock_mhz,
        "samples": len(res.samples),
        "kernel_density": sum(L.kept_kernels for L in res.layers) / sum(L.dense_kernels for L in res.layers),
        "spatial_density": spatial,
        "dense_cycles": dense_c,
        "sparse_cycles": sparse_c,
        "speedup": res.speedup,
        "ideal_speedup": res.ideal_speedup,
        "dense_fps": res.fps(dense_c),
        "sparse_fps": res.fps(sparse_c),
        "dense_latency_us": res.latency_us(dense_c),
        "sparse_latency_us": res.latency_us(sparse_c),
        "dense_energy_uj": d.get("total_uj"),
        "sparse_energy_uj": s.get("total_uj"),
        "energy_ratio": e["ratio"] if e else None,
        "dense_inferences_per_j": d.get("inferences_per_joule"),
        "sparse_inferences_per_j": s.get("inferences_per_joule"),
        "dense_gops_per_w": d.get("gops_per_watt"),
        "sparse_gops_per_w_effective": s.get("gops_per_watt_effective"),
        "sparse_gops_per_w_actual": s.get("gops_per_watt_actual"),
        # cycle accounting as shares of each run's cycles: achieved / ideal = sparse / dense useful share
        "dense_useful_share": res.dense_accounting["useful"] / dense_c,
        **{f"sparse_{a}_share": v / sparse_c for a, v in res.sparse_accounting.items()},
        "functional_check": "pass" if res.functional_pass else "fail",
        "energy_blocks_uj": {"dense": d.get("blocks_uj"), "sparse": s.get("blocks_uj")} if e else None,
    }


# --------------------------------------------------------------------------- running


@dataclass
class SweepStats:
    total: int
    skipped: int  # finished in an earlier run
    computed: int = 0
    invalid: int = 0  # over all finished points
    failed: list[tuple[int, str]] = field(default_factory=list)  # unexpected errors (not recorded)
    interrupted: bool = False
    table: Path | None = None


def point_file(out: Path, key: str) -> Path:
    return out / "points" / f"{key}.json"


def _read_point(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("kind") != POINT_KIND or "record" not in data:
        return None
    return data


def _write_point(out: Path, point: Point, record: dict[str, Any]) -> None:
    data = {"kind": POINT_KIND, "version": SWEEP_VERSION, "key": point.key, "params": point.params, "record": record}
    atomic_write_text(point_file(out, point.key), json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    return v


def param_column(key: str) -> str:
    """results.csv column of a swept key: 'workload' (the file) is 'workload_file', since the
    'workload' metric column holds the workload's name."""
    return f"{key}_file" if key == "workload" else key


def table_text(sweep: Sweep, out: Path) -> str:
    """results.csv: one row per finished point, in point order, from the point files only."""
    buf = io.StringIO()
    cols = ["point", "key", "status", *(param_column(k) for k in sweep.keys), *METRICS, "error"]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for p in sweep.points:
        data = _read_point(point_file(out, p.key))
        if data is None:
            continue
        rec = data["record"]
        row = [p.index, p.key, rec["status"], *(p.params[k] for k in sweep.keys), *(rec.get(m) for m in METRICS)]
        writer.writerow([_cell(v) for v in [*row, rec.get("error", "")]])
    return buf.getvalue()


def _local(points: list[Point], jobs: int) -> Iterator[tuple[Point, dict[str, Any] | BaseException]]:
    if jobs <= 1:
        for p in points:
            try:
                yield p, compute_point(p)
            except Exception as exc:  # a bug, not bad input: report it, keep going
                yield p, exc
        return
    import multiprocessing

    # spawn: the parent runs a progress-bar thread, and fork with threads is unsafe.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: dict[Future, Point] = {}
        queue = iter(points)
        try:
            for p in itertools.islice(queue, 2 * jobs):  # a bounded window keeps Ctrl-C prompt
                pending[pool.submit(compute_point, p)] = p
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    p = pending.pop(fut)
                    exc = fut.exception()
                    yield p, exc if exc is not None else fut.result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(compute_point, nxt)] = nxt
        finally:
            for fut in pending:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)


def _connect(address: str, timeout: float) -> Any:
    """A Dask client, connected before anything is written (an unreachable scheduler leaves no trace)."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            "option '--scheduler': dask.distributed is not installed (pip install \"dask[distributed]\")"
        ) from None
    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"option '--scheduler': cannot connect to {short(address)} ({one_line(str(exc), 200)})"
        ) from None


def _dask(points: list[Point], client: Any) -> Iterator[tuple[Point, dict[str, Any] | BaseException]]:
    from distributed import as_completed

    try:
        futures = {client.submit(compute_point, p, pure=False, key=f"archsim-point-{p.key}"): p for p in points}
        for fut in as_completed(futures):
            p = futures[fut]
            exc = fut.exception()
            yield p, exc if exc is not None else fut.result()
    finally:
        client.close()


def check_sweep_out(out: Path) -> None:
    """Refuse, before any point runs, an output folder the sweep could not finish writing."""
    from archsim.fileio import unwritable_target

    why = unwritable_target(out, ["results.csv", "sweep.json"]) or unwritable_target(out / "points", [])
    if not why:
        probe = next((p for p in (out, *out.parents) if p.exists()), None)
        try:
            with tempfile.TemporaryFile(dir=probe):
                pass
        except OSError as exc:
            why = f"{probe}: {exc.strerror or exc}"
    if why:
        raise ConfigError(f"{out}: option '--out': cannot write the sweep there ({why})")


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    on_point: Callable[[Point, dict[str, Any]], None] | None = None,
    scheduler_timeout: float = 10.0,
) -> SweepStats:
    """Run the points not yet finished in `out`; write each as it finishes, then the table.

    `stop_after` stops after that many newly computed points, as an interruption would.
    """
    out = Path(out)
    check_sweep_out(out)
    client = _connect(scheduler, scheduler_timeout) if scheduler else None
    pdir = out / "points"
    pdir.mkdir(parents=True, exist_ok=True)
    for stale in pdir.glob(".*.tmp"):  # left by a run killed mid-write; never a finished point
        stale.unlink(missing_ok=True)
    todo = [p for p in sweep.points if _read_point(point_file(out, p.key)) is None]
    stats = SweepStats(total=len(sweep.points), skipped=len(sweep.points) - len(todo))
    jobs = jobs or os.cpu_count() or 1
    source = _dask(todo, client) if client is not None else _local(todo, min(jobs, max(1, len(todo))))
    bar = tqdm(
        total=stats.total,
        initial=stats.skipped,
        desc=f"sweep {sweep.spec.name}",
        unit="point",
        disable=not progress or None,
    )
    try:
        for p, rec in source:
            if isinstance(rec, BaseException):
                stats.failed.append((p.index, f"{type(rec).__name__}: {rec}"))
            else:
                _write_point(out, p, rec)
                stats.computed += 1
                if on_point is not None:
                    on_point(p, rec)
            bar.update(1)
            if stop_after is not None and stats.computed >= stop_after:
                stats.interrupted = True
                break
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        if hasattr(source, "close"):
            source.close()
        bar.close()
    finish(sweep, out, stats)
    return stats


def finish(sweep: Sweep, out: Path, stats: SweepStats) -> None:
    """Assemble results.csv and sweep.json from the point files (also after an interruption)."""
    text = table_text(sweep, out)
    rows = list(csv.DictReader(io.StringIO(text)))
    stats.invalid = sum(r["status"] == "invalid" for r in rows)
    atomic_write_text(out / "results.csv", text)
    manifest = {
        "kind": "archsim-sweep",
        "name": sweep.spec.name,
        "description": sweep.spec.description,
        "sweep_file": str(sweep.path),
        "parameters": sweep.spec.parameters,
        "points": stats.total,
        "finished": len(rows),
        "invalid": stats.invalid,
        "complete": len(rows) == stats.total,
        "synthetic": sweep.spec.synthetic is not None or any(r["synthetic"] == "True" for r in rows),
        "table": "results.csv",
        "archsim_version": __version__,
        "overrides": sweep.overrides,
    }
    atomic_write_text(out / "sweep.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    stats.table = out / "results.csv"


@dataclass
class SweepOutput:
    """What `archsim.sweep` returns: results.csv as a DataFrame, the run's counts and the output folder."""

    table: pd.DataFrame
    stats: SweepStats
    out: Path

    @property
    def complete(self) -> bool:
        return self.stats.total == self.stats.skipped + self.stats.computed and not self.stats.failed


def sweep_frame(
    sweep_file: str | Path,
    out: str | Path,
    *,
    jobs: int | None = 1,
    scheduler: str | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    progress: bool = False,
) -> SweepOutput:
    """`archsim.sweep(...)` of the Python API (archsim/api.py documents it): run_sweep, then results.csv
    as a DataFrame. Here, not in api.py, so that this module's callable form needs no import of api."""
    import pandas as pd

    if jobs is not None and scheduler is not None:
        raise ConfigError("jobs and scheduler exclude one another")
    sw = load_sweep(sweep_file, parse_overrides(overrides))
    stats = run_sweep(sw, out, jobs=jobs, scheduler=scheduler, progress=progress)
    assert stats.table is not None
    table = pd.read_csv(stats.table, keep_default_na=False, na_values=[""])
    return SweepOutput(table=table, stats=stats, out=Path(out))


class _CallableModule(types.ModuleType):
    """`archsim.sweep(...)` is the Python API (archsim/api.py) although `archsim.sweep` is also this
    module: importing a submodule binds its name in the package, so the module itself is made callable."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return sweep_frame(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
