"""Figures of an `archsim run --images` folder (summary.json with kind archsim-testset, images.csv):
the per-image latency histogram and the per-layer spread of spatial density.

Every function returns the arrays it draws, read from the results files only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .plots import DENSE, IDEAL, PRUNED, _title, plt, save
from .readers import ResultsError, _csv, _json

KIND = "archsim-testset"


@dataclass
class TestsetResults:
    """One `archsim run --images SET --out DIR`: summary.json and the per-image table."""

    path: Path
    summary: dict[str, Any]
    rows: list[dict[str, str]]

    @property
    def name(self) -> str:
        return str(self.summary["workload"])

    @property
    def synthetic(self) -> bool:
        return bool(self.summary.get("synthetic"))

    def column(self, name: str) -> np.ndarray:
        try:
            return np.array([float(r[name]) for r in self.rows])
        except KeyError:
            raise ResultsError(f"{self.path / self.summary['per_image']}: column '{name}' missing") from None
        except ValueError as exc:
            raise ResultsError(f"{self.path / self.summary['per_image']}: column '{name}': {exc}") from None


def is_testset(summary: Any) -> bool:
    return isinstance(summary, dict) and summary.get("kind") == KIND


def is_testset_dir(path: Path) -> bool:
    """An `archsim run --images` folder (its summary.json says so)."""
    return (path / "summary.json").exists() and is_testset(_json(path / "summary.json"))


def load_testset(path: Path) -> TestsetResults:
    summary = _json(path / "summary.json")
    if not is_testset(summary) or not isinstance(summary.get("per_image"), str):
        raise ResultsError(f"{path / 'summary.json'}: not an archsim test-set summary")
    rows = _csv(path / summary["per_image"])
    if len(rows) != summary["images"]["count"]:
        raise ResultsError(
            f"{path / summary['per_image']}: {len(rows)} rows, the summary counts {summary['images']['count']} images"
        )
    return TestsetResults(path, summary, rows)


# --------------------------------------------------------------------------- latency


def latency_data(ts: TestsetResults) -> dict[str, Any]:
    """Per-image cycles (images.csv) and the lines drawn across them (summary.json)."""
    c = ts.summary["cycles"]
    dense = float(c["dense"])
    return {
        "cycles": ts.column("cycles"),
        "dense": dense,
        "ideal": dense / float(ts.summary["speedup"]["ideal"]),  # dense cycles / (dense work / mean pruned work)
        "mean": float(c["mean"]),
        "p99": float(c["p99"]),
        "clock_mhz": float(ts.summary["clock_mhz"]),
    }


def plot_latency(ts: TestsetResults, out: Path) -> tuple[list[Path], dict[str, Any]]:
    """Left: the whole scale, from 0 to the dense baseline; right: the pruned distribution close up."""
    d = latency_data(ts)
    mhz = d["clock_mhz"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4), width_ratios=[1, 1.3])
    k = d["cycles"] / 1e3
    lines = [
        (d["dense"], DENSE, "-", "dense baseline (every image)"),
        (d["ideal"], IDEAL, "--", "ideal (dense / ideal speedup)"),
        (d["mean"], "k", ":", "pruned mean"),
        (d["p99"], "k", "-.", "pruned p99"),
    ]
    lo = min(d["ideal"], float(k.min()) * 1e3)
    for ax, bins, xlim in ((a1, 100, (0, 1.05 * d["dense"] / 1e3)), (a2, 60, (0.97 * lo / 1e3, 1.02 * float(k.max())))):
        ax.hist(k, bins=bins, color=PRUNED, alpha=0.8, label=f"pruned, per image ({len(k):,} images)")
        for v, color, ls, label in lines:
            if xlim[0] <= v / 1e3 <= xlim[1]:
                ax.axvline(v / 1e3, color=color, ls=ls, lw=1.5, label=f"{label}: {v:,.0f} cycles = {v / mhz:,.0f} us")
        ax.set_xlim(*xlim)
        ax.set_xlabel(f"accelerator cycles per inference (thousands; {mhz:g} MHz)")
        ax.legend(fontsize=7, loc="upper right")
    a1.set_ylabel("images")
    a1.set_title("whole scale")
    a2.set_title("close up")
    sp = ts.summary["speedup"]
    fig.suptitle(
        _title(
            f"{ts.name} on {ts.summary['images']['source']}: speedup {sp['at_mean']:.2f}x at the mean, "
            f"{sp['at_p99']:.2f}x at p99 (ideal {sp['ideal']:.2f}x)",
            ts.synthetic,
        ),
        fontsize=10,
    )
    fig.tight_layout()
    return save(fig, out, f"latency_{ts.name}"), d


# --------------------------------------------------------------------------- density spread


def density_data(ts: TestsetResults) -> dict[str, Any]:
    """Per masked layer: every image's active fraction (images.csv active.<layer> / positions)."""
    layers = [L for L in ts.summary["layers"] if L["masked"]]
    return {
        "layers": [L["layer"] for L in layers],
        "density": [ts.column(f"active.{L['layer']}") / float(L["positions"]) for L in layers],
        "mean": np.array([float(L["density_mean"]) for L in layers]),
    }


def plot_density(ts: TestsetResults, out: Path) -> tuple[list[Path], dict[str, Any]] | None:
    d = density_data(ts)
    if not d["layers"]:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.8))
    x = np.arange(1, len(d["layers"]) + 1)
    ax.boxplot(d["density"], positions=x, whis=(1, 99), showfliers=True, flierprops={"markersize": 2, "alpha": 0.3})
    ax.scatter(x, d["mean"], color=PRUNED, marker="D", s=18, zorder=3, label="mean")
    ax.set_xticks(x, d["layers"], rotation=45, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("active positions / positions")
    ax.set_title(
        _title(
            f"{ts.name} on {ts.summary['images']['source']}: spatial density per image "
            "(box: quartiles, whiskers: p1-p99)",
            ts.synthetic,
        )
    )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return save(fig, out, f"density_{ts.name}"), d
