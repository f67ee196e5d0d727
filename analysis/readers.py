"""Read results files: `archsim run --out` folders, `archsim sweep` folders, resource reports.

analysis never imports archsim: every number it draws comes from these files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def show(p: Path) -> str:
    """A path as written into figures and tables: relative to the working folder or the
    repository when inside one of them, so generated files name no machine-specific folder."""
    for base in (Path.cwd(), ROOT):
        try:
            return str(p.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(p)


class ResultsError(Exception):
    """A results file is missing or malformed; the message names the file."""


MAX_FILE_BYTES = 256 << 20  # a results table of 100,000 sweep points is about 50 MB
MAX_YAML_BYTES = 1 << 20
MAX_DEPTH = 32
# Columns the figures read: a results file without one is refused when it is loaded.
LAYER_COLUMNS = (
    "layer",
    "kept_kernels",
    "dense_kernels",
    "positions",
    "active_positions",
    "dense_cycles",
    "sparse_cycles",
    "speedup",
)
SWEEP_COLUMNS = (
    "point",
    "status",
    "pe_rows",
    "pe_cols",
    "speedup",
    "ideal_speedup",
    "dense_fps",
    "sparse_fps",
    "dense_energy_uj",
    "sparse_energy_uj",
)
# The fields of summary.json the figures and the table read: (dotted name, kind, required once its parent is
# there). A damaged or hand-edited file is refused naming the field before any figure is drawn.
_NUM, _MAP, _STR, _LIST = "a number", "a mapping", "a string", "a list"
_ACCOUNTING = [
    (f"cycle_accounting.{side}.{k}", _NUM, True)
    for side in ("dense", "sparse")
    for k in ("useful", "partial", "waiting", "load_store")
]
SUMMARY_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("workload", _STR, True),
    ("layers", _LIST, True),
    ("speedup", _NUM, True),
    ("ideal_speedup", _NUM, True),
    ("dense", _MAP, True),
    ("dense.fps", _NUM, True),
    ("dense.latency_us", _NUM, True),
    ("sparse", _MAP, False),
    ("sparse.fps", _NUM, True),
    ("sparse.latency_us", _NUM, True),
    ("hardware", _MAP, False),
    ("host", _MAP, False),
    ("equal_area", _MAP, False),
    ("equal_area.dense_pe_cols", _NUM, True),
    ("equal_area.dense_cycles", _NUM, True),
    ("equal_area.speedup", _NUM, True),
    ("cycle_accounting", _MAP, False),
    ("cycle_accounting.dense", _MAP, True),
    ("cycle_accounting.sparse", _MAP, True),
    *_ACCOUNTING,
)


def check_summary_fields(path: Path, summary: dict) -> None:
    """SUMMARY_FIELDS: each field there (or required, once its parent is) of its kind; null stands for absent
    in an optional mapping (equal_area without an equal-area build)."""
    for dotted, kind, required in SUMMARY_FIELDS:
        *parents, key = dotted.split(".")
        node: object = summary
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue  # its parent is absent (checked on its own line)
        if key not in node or (node[key] is None and not required):
            if required:
                raise ResultsError(f"{path}: field '{dotted}' missing")
            continue
        v = node[key]
        ok = (
            isinstance(v, {_MAP: dict, _STR: str, _LIST: list}[kind])
            if kind != _NUM
            else (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
        )
        if not ok:
            raise ResultsError(f"{path}: field '{dotted}': expected {kind}, got {str(v)[:60]!r}")


def _text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A regular file of at most `limit` bytes, as UTF-8 text."""
    try:
        if not path.is_file():
            raise ResultsError(f"{path}: not found" if not path.exists() else f"{path}: not a regular file")
        if path.stat().st_size > limit:
            raise ResultsError(f"{path}: larger than the limit of {limit} bytes")
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise ResultsError(f"{str(path)[:200]}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if len(raw) > limit:
        raise ResultsError(f"{path}: larger than the limit of {limit} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start})") from None


def _json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ResultsError(f"{path}: not readable JSON ({str(exc)[:200]})") from None


def _csv(path: Path, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
    try:
        reader = csv.DictReader(io.StringIO(_text(path), newline=""))
        rows = list(reader)
    except csv.Error as exc:
        raise ResultsError(f"{path}: not a readable CSV file ({str(exc)[:200]})") from None
    header = reader.fieldnames or []
    for name in required:
        if name not in header:
            raise ResultsError(f"{path}: column '{name}' missing")
    if any(None in r or any(v is None for v in r.values()) for r in rows):
        raise ResultsError(f"{path}: a row has more or fewer cells than the header")
    return rows


class _Loader(yaml.SafeLoader):
    """safe_load without aliases, anchors or duplicate keys, with bounded nesting."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "aliases and anchors are not allowed", event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH}", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(keys) != len(set(keys)):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {dup[:60]!r}", node.start_mark)
        return super().construct_mapping(node, deep)


def _yaml(path: Path) -> Any:
    text = _text(path, MAX_YAML_BYTES)
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise ResultsError(f"{path}: malformed YAML ({str(exc).splitlines()[0][:200]})") from None
    finally:
        loader.dispose()


def number(text: str) -> float:
    """A CSV cell as a float ('' is NaN: the value does not exist for that row)."""
    return float(text) if text != "" else float("nan")


@dataclass
class RunResults:
    """One `archsim run --out DIR`: summary.json and layers.csv."""

    path: Path
    summary: dict[str, Any]
    layers: list[dict[str, str]]

    @property
    def name(self) -> str:
        return str(self.summary["workload"])

    @property
    def synthetic(self) -> bool:
        return bool(self.summary.get("synthetic"))

    def column(self, name: str) -> list[float]:
        try:
            return [number(r[name]) for r in self.layers]
        except KeyError:
            raise ResultsError(f"{self.path / 'layers.csv'}: column '{name}' missing") from None


@dataclass
class SweepResults:
    """One `archsim sweep --out DIR`: sweep.json and results.csv."""

    path: Path
    manifest: dict[str, Any]
    rows: list[dict[str, str]]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def parameters(self) -> list[str]:
        return list(self.manifest.get("parameters", {}))

    @property
    def ok(self) -> list[dict[str, str]]:
        return [r for r in self.rows if r["status"] == "ok"]

    @property
    def synthetic(self) -> bool:
        return bool(self.manifest.get("synthetic")) or any(r.get("synthetic") == "True" for r in self.ok)


def load_results(path: str | Path) -> RunResults | SweepResults:
    """A run folder (summary.json) or a sweep folder (sweep.json + results.csv)."""
    p = Path(path)
    if (p / "summary.json").exists():
        summary = _json(p / "summary.json")
        if not isinstance(summary, dict):
            raise ResultsError(f"{p / 'summary.json'}: not an archsim run summary")
        check_summary_fields(p / "summary.json", summary)
        return RunResults(p, summary, _csv(p / "layers.csv", LAYER_COLUMNS))
    if (p / "sweep.json").exists():
        manifest = _json(p / "sweep.json")
        if not isinstance(manifest, dict) or manifest.get("kind") != "archsim-sweep":
            raise ResultsError(f"{p / 'sweep.json'}: not an archsim sweep manifest")
        table = manifest.get("table", "results.csv")
        if not isinstance(table, str) or Path(table).name != table or table in ("", ".", ".."):
            raise ResultsError(f"{p / 'sweep.json'}: field 'table': must name a file in the sweep folder")
        params = manifest.get("parameters", {})
        if not isinstance(params, dict):
            raise ResultsError(f"{p / 'sweep.json'}: field 'parameters': expected a mapping")
        return SweepResults(p, manifest, _csv(p / table, (*SWEEP_COLUMNS, *map(str, params))))
    raise ResultsError(f"{p}: neither a run folder (summary.json) nor a sweep folder (sweep.json)")


# --------------------------------------------------------------------------- resource report

_ALIASES = {
    "lut": ("lut", "luts", "clb_luts"),
    "ff": ("ff", "ffs", "registers", "clb_registers"),
    "bram36": ("bram36", "bram", "ramb36", "bram_36k", "bram_tiles"),
    "dsp": ("dsp", "dsps", "dsp48e2"),
    "rows": ("pe_rows", "rows"),
    "cols": ("pe_cols", "cols"),
}


@dataclass
class ResourceEntry:
    rows: int | None
    cols: int | None
    values: dict[str, float]  # lut, ff, bram36, dsp (those the report gives)
    design: str | None = None  # "sparse" or "dense" (the dense baseline build); None: not given
    synthesized: bool = True  # False: a sweep point the report lists as not synthesized (no values)

    def matches(self, rows: int | None, cols: int | None, design: str) -> bool:
        return (self.rows, self.cols) == (rows, cols) and self.design in (None, design)


def _pick(d: dict[str, Any], what: str) -> Any:
    low = {str(k).lower(): v for k, v in d.items()}
    for alias in _ALIASES[what]:
        if alias in low:
            return low[alias]
    pe = low.get("pe_array")
    if what in ("rows", "cols") and isinstance(pe, dict):
        return pe.get(what)
    return None


def load_resources(path: Path) -> list[ResourceEntry] | None:
    """The RTL resource report, if it exists (None otherwise). Accepted: a JSON list of entries,
    or an object with a list under 'configs', 'builds' or 'results', or one entry; an entry has
    lut/ff/bram36/dsp (aliases accepted), pe_rows/pe_cols (or pe_array: {rows, cols}) and
    optionally design ('sparse' or 'dense': the dense baseline build of the same array)."""
    if not path.exists():
        return None
    data = _json(path) if path.suffix == ".json" else _yaml(path)
    if isinstance(data, dict):
        for key in ("configs", "builds", "results"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list):
        raise ResultsError(f"{path}: expected a list of resource entries")
    out = []
    for i, d in enumerate(data):
        if not isinstance(d, dict):
            raise ResultsError(f"{path}: entry {i} is not a mapping")
        vals = {k: float(v) for k in ("lut", "ff", "bram36", "dsp") if (v := _pick(d, k)) is not None}
        if vals:
            r, c = _pick(d, "rows"), _pick(d, "cols")
            design = d.get("design")
            if design not in (None, "sparse", "dense"):
                raise ResultsError(f"{path}: entry {i}: design must be 'sparse' or 'dense', not {str(design)[:60]!r}")
            out.append(
                ResourceEntry(int(r) if r is not None else None, int(c) if c is not None else None, vals, design)
            )
    return out


def load_sweep_resources(path: Path, sweep: str) -> list[ResourceEntry] | None:
    """The builds the report gives for every point of sweep `sweep` (`python -m rtl.resources --sweep`),
    under 'sweeps' -> name -> 'builds'; a point with status 'not synthesized' has no values. None when the
    report or its section for that sweep is absent."""
    if not path.exists() or path.suffix != ".json":
        return None
    data = _json(path)
    section = (
        data.get("sweeps", {}).get(sweep) if isinstance(data, dict) and isinstance(data.get("sweeps"), dict) else None
    )
    if section is None:
        return None
    builds = section.get("builds") if isinstance(section, dict) else None
    if not isinstance(builds, list):
        raise ResultsError(f"{path}: field 'sweeps.{sweep[:60]}.builds': expected a list")
    out = []
    for i, d in enumerate(builds):
        where = f"{path}: field 'sweeps.{sweep[:60]}.builds[{i}]'"
        if not isinstance(d, dict) or not all(isinstance(_pick(d, k), int) for k in ("rows", "cols")):
            raise ResultsError(f"{where}: expected a mapping with integer pe_rows and pe_cols")
        status = d.get("status", "synthesized")
        if status not in ("synthesized", "not synthesized"):
            raise ResultsError(f"{where}: status must be 'synthesized' or 'not synthesized', not {str(status)[:60]!r}")
        vals = {}
        if status == "synthesized":
            for k in ("lut", "ff", "bram36", "dsp"):
                v = _pick(d, k)
                if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1e9:
                    raise ResultsError(f"{where}: field '{k}': expected a number, got {str(v)[:60]!r}")
                vals[k] = float(v)
        out.append(ResourceEntry(_pick(d, "rows"), _pick(d, "cols"), vals, "sparse", status == "synthesized"))
    return out


def load_published(path: Path) -> dict[str, Any]:
    data = _yaml(path)
    if not isinstance(data, dict) or data.get("kind") != "analysis-published":
        raise ResultsError(f"{path}: not a published-figures file (kind: analysis-published)")
    systems, paper = data.get("systems", []), data.get("paper")
    if not isinstance(systems, list) or not isinstance(data.get("device", {}), dict) or not isinstance(paper, dict):
        raise ResultsError(f"{path}: fields 'paper' and 'device' must be mappings, 'systems' a list")
    for key in ("name", "board", "speedup_over_dense", "source"):
        if key not in paper:
            raise ResultsError(f"{path}: field 'paper.{key}' missing")
    for i, s in enumerate(systems):
        if not isinstance(s, dict):
            raise ResultsError(f"{path}: field 'systems[{i}]': expected a mapping")
        for key in ("name", "board", "part"):
            if key not in s:
                raise ResultsError(f"{path}: field 'systems[{i}].{key}' missing")
        if not s.get("source"):
            raise ResultsError(f"{path}: systems[{i}] ({str(s.get('name'))[:60]}): every figure needs a source")
    return data
