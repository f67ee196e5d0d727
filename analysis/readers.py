"""Read results files: `archsim run --out` folders, `archsim sweep` folders, resource reports.

analysis never imports archsim: every number it draws comes from these files.
"""

from __future__ import annotations

import csv
import json
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


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: not readable JSON ({exc})") from None


def _csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise ResultsError(f"{path}: not found") from None
    except (OSError, csv.Error) as exc:
        raise ResultsError(f"{path}: not a readable CSV file ({exc})") from None


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
        if not isinstance(summary, dict) or "layers" not in summary or "dense" not in summary:
            raise ResultsError(f"{p / 'summary.json'}: not an archsim run summary")
        return RunResults(p, summary, _csv(p / "layers.csv"))
    if (p / "sweep.json").exists():
        manifest = _json(p / "sweep.json")
        if not isinstance(manifest, dict) or manifest.get("kind") != "archsim-sweep":
            raise ResultsError(f"{p / 'sweep.json'}: not an archsim sweep manifest")
        return SweepResults(p, manifest, _csv(p / manifest.get("table", "results.csv")))
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
    data = _json(path) if path.suffix == ".json" else yaml.safe_load(path.read_text())
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
                raise ResultsError(f"{path}: entry {i}: design must be 'sparse' or 'dense', not {design!r}")
            out.append(
                ResourceEntry(int(r) if r is not None else None, int(c) if c is not None else None, vals, design)
            )
    return out


def load_published(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != "analysis-published":
        raise ResultsError(f"{path}: not a published-figures file (kind: analysis-published)")
    for i, s in enumerate(data.get("systems", [])):
        if not s.get("source"):
            raise ResultsError(f"{path}: systems[{i}] ({s.get('name')}): every figure needs a source")
    return data
