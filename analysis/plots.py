"""Figures from results files. Every function returns the arrays it draws, so tests can
compare them with the files they came from."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .readers import ResourceEntry, RunResults, SweepResults, number, show

plt.rcParams.update(
    {
        "svg.hashsalt": "archsim-analysis",  # deterministic SVG ids
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
    }
)
DENSE, PRUNED, IDEAL = "#7f7f7f", "#d62728", "#1f77b4"
SYNTH = "SYNTHETIC workload (random weights)"


def save(fig: plt.Figure, out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(files[0], dpi=150, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(files[1], bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return files


def _title(text: str, synthetic: bool) -> str:
    return f"{text}\n[{SYNTH}]" if synthetic else text


# --------------------------------------------------------------------------- per-layer


def layer_data(run: RunResults) -> dict[str, Any]:
    """Per layer: dense and pruned cycles, achieved and ideal speedup (dense work / pruned work)."""
    kept, dense_k = run.column("kept_kernels"), run.column("dense_kernels")
    pos, act = run.column("positions"), run.column("active_positions")
    return {
        "layers": [r["layer"] for r in run.layers],
        "dense_cycles": np.array(run.column("dense_cycles")),
        "sparse_cycles": np.array(run.column("sparse_cycles")),
        "speedup": np.array(run.column("speedup")),
        "ideal": np.array([d * p / (k * a) for d, p, k, a in zip(dense_k, pos, kept, act, strict=True)]),
        "total_speedup": float(run.summary["speedup"]),
        # the unit each pruned layer waits on (absent in results written before archsim reported it)
        "bound": [r["bound"] for r in run.layers] if "bound" in run.layers[0] else None,
    }


def plot_layers(run: RunResults, out: Path) -> tuple[list[Path], dict[str, Any]]:
    d = layer_data(run)
    x = np.arange(len(d["layers"]))
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, height_ratios=[1.2, 1])
    w = 0.4
    a1.bar(x - w / 2, d["dense_cycles"] / 1e3, w, color=DENSE, label="dense baseline")
    a1.bar(x + w / 2, d["sparse_cycles"] / 1e3, w, color=PRUNED, label="pruned (mean over samples)")
    a1.set_ylabel("cycles per layer (thousands)")
    for xi, (c, b) in enumerate(zip(d["sparse_cycles"], d["bound"] or [], strict=False)):
        a1.text(xi + w / 2, c / 1e3, f" {b}", rotation=90, ha="center", va="bottom", fontsize=7)
    a1.set_ylim(0, 1.3 * max(d["dense_cycles"].max(), d["sparse_cycles"].max()) / 1e3)
    a1.legend(loc="upper left", ncol=2, title="label on a pruned bar: the unit it waits on" if d["bound"] else None)
    s = run.summary
    a1.set_title(
        _title(
            f"{run.name}: cycles per layer on {s['config']} at {s['clock_mhz']:g} MHz "
            f"(total {s['dense']['cycles']:,} dense vs {s['sparse']['cycles']:,.0f} pruned)",
            run.synthetic,
        )
    )
    a2.bar(x, d["speedup"], 0.6, color=PRUNED, label="achieved speedup (dense / pruned cycles)")
    a2.scatter(
        x,
        d["ideal"],
        marker="_",
        s=250,
        color=IDEAL,
        linewidths=2.5,
        label="ideal (dense work / pruned work)",
        zorder=3,
    )
    a2.axhline(d["total_speedup"], color="k", ls="--", lw=1, label=f"whole network {d['total_speedup']:.2f}x")
    a2.set_ylabel("speedup over dense (x)")
    a2.set_ylim(0, 1.35 * max(d["ideal"].max(), d["speedup"].max()))
    a2.legend(loc="upper left", fontsize=8, ncol=3)
    a2.set_xticks(x, d["layers"], rotation=60, ha="right")
    a2.set_xlabel("layer (run order)")
    fig.tight_layout()
    return save(fig, out, f"layers_{run.name}"), d


# --------------------------------------------------------------------------- cycle accounting

ACCOUNTS = {  # summary.json cycle_accounting keys, their labels and colours
    "useful": ("useful PE work", "#2ca02c"),
    "partial": ("partial tiles (PEs idle within a step)", "#bcbd22"),
    "waiting": ("PE waiting (weights, mask, gather, epilogue, fill)", "#ff7f0e"),
    "load_store": ("LOAD + STORE of the maps", "#9467bd"),
}


def accounting_data(run: RunResults) -> dict[str, Any] | None:
    """Where the cycles go, dense and pruned (summary.json cycle_accounting); None in results
    files written before archsim reported it."""
    acc = run.summary.get("cycle_accounting")
    if not acc:
        return None
    return {
        "accounts": list(ACCOUNTS),
        "dense": np.array([float(acc["dense"][a]) for a in ACCOUNTS]),
        "sparse": np.array([float(acc["sparse"][a]) for a in ACCOUNTS]),
        "speedup": float(run.summary["speedup"]),
        "ideal_speedup": float(run.summary["ideal_speedup"]),
    }


def plot_accounting(run: RunResults, out: Path) -> tuple[list[Path], dict[str, Any]] | None:
    d = accounting_data(run)
    if d is None:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 3.4), width_ratios=[1.6, 1], sharey=True)
    rows = [("dense baseline", d["dense"]), ("pruned", d["sparse"])]
    for ax, scale, unit in ((a1, 1e3, "cycles per inference (thousands)"), (a2, None, "share of the run's cycles (%)")):
        for y, (_, vals) in enumerate(rows):
            v = vals / scale if scale else 100 * vals / vals.sum()
            left = 0.0
            for k, a in enumerate(d["accounts"]):
                label, color = ACCOUNTS[a]
                ax.barh(y, v[k], left=left, color=color, label=label if y == 0 else None)
                left += v[k]
        ax.set_xlabel(unit)
    a1.set_yticks(range(len(rows)), [r[0] for r in rows])
    a1.invert_yaxis()  # shared: dense on top in both
    a1.set_title(
        _title(
            f"{run.name}: where the cycles go; achieved {d['speedup']:.2f}x of ideal {d['ideal_speedup']:.2f}x",
            run.synthetic,
        )
    )
    a2.set_title("achieved / ideal = useful share pruned / useful share dense")
    a1.legend(loc="upper center", bbox_to_anchor=(0.8, -0.3), ncol=2, fontsize=8)
    fig.tight_layout()
    return save(fig, out, f"cycles_{run.name}"), d


# --------------------------------------------------------------------------- energy breakdown


def energy_data(run: RunResults) -> dict[str, Any] | None:
    e = run.summary.get("energy")
    if not e:
        return None
    blocks = list(e["blocks"])
    return {
        "blocks": blocks,
        "dense_uj": np.array([e["dense"]["blocks_uj"][b] for b in blocks]),
        "sparse_uj": np.array([e["sparse"]["blocks_uj"][b] for b in blocks]),
        "dense_total_uj": float(e["dense"]["total_uj"]),
        "sparse_total_uj": float(e["sparse"]["total_uj"]),
        "range_uj": (e["dense"]["low_uj"], e["dense"]["high_uj"], e["sparse"]["low_uj"], e["sparse"]["high_uj"]),
    }


def plot_energy(run: RunResults, out: Path) -> tuple[list[Path], dict[str, Any]] | None:
    d = energy_data(run)
    if d is None:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5.5), width_ratios=[1.1, 1.4])
    cmap = plt.get_cmap("tab20")
    colors = [cmap(i) for i in range(len(d["blocks"]))]
    bottoms = np.zeros(2)
    for i, b in enumerate(d["blocks"]):
        vals = np.array([d["dense_uj"][i], d["sparse_uj"][i]])
        a1.bar([0, 1], vals, 0.5, bottom=bottoms, color=colors[i], label=b)
        bottoms += vals
    lo_d, hi_d, lo_s, hi_s = d["range_uj"]
    tot = np.array([d["dense_total_uj"], d["sparse_total_uj"]])
    a1.errorbar(
        [0.32, 1.32],
        tot,
        yerr=[tot - [lo_d, lo_s], [hi_d, hi_s] - tot],
        fmt="none",
        ecolor="k",
        capsize=5,
        label="range (every table value\nat its low / high end)",
    )
    for xi, v in enumerate(tot):
        a1.annotate(
            f"{v:,.0f} uJ", (xi, v), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=9, weight="bold"
        )
    a1.set_xticks([0, 1], ["dense baseline", "pruned"])
    a1.set_xlim(-0.45, 2.9)
    a1.set_ylabel("energy per inference (uJ)")
    a1.set_title(f"total: {d['dense_total_uj'] / d['sparse_total_uj']:.2f}x less energy when pruned")
    a1.legend(fontsize=7, loc="center right")
    y = np.arange(len(d["blocks"]))
    h = 0.4
    a2.barh(y - h / 2, d["dense_uj"], h, color=DENSE, label="dense baseline")
    a2.barh(y + h / 2, d["sparse_uj"], h, color=PRUNED, label="pruned")
    for yi, (dv, sv) in enumerate(zip(d["dense_uj"], d["sparse_uj"], strict=True)):
        for off, v in ((-h / 2, dv), (h / 2, sv)):
            a2.annotate(
                f"{v:.3g}" if v else "0",
                (max(v, 1e-3), yi + off),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
    a2.set_xscale("log")
    a2.set_xlim(1e-3, 40 * max(d["dense_uj"].max(), d["sparse_uj"].max()))
    a2.set_yticks(y, d["blocks"])
    a2.invert_yaxis()
    a2.set_xlabel("energy per inference (uJ, log scale; 0 = block not used)")
    a2.set_title("by block")
    a2.legend(fontsize=8, loc="upper right")
    s = run.summary
    fig.suptitle(
        _title(
            f"{run.name}: where the energy goes (ESTIMATES from energy table '{s['energy']['table']}', "
            "accelerator and DDR; host not included)",
            run.synthetic,
        )
    )
    fig.tight_layout()
    return save(fig, out, f"energy_{run.name}"), d


# --------------------------------------------------------------------------- density grid


def is_density_grid(sw: SweepResults) -> bool:
    return {"synthetic.kernel_density", "synthetic.spatial_budget"} <= set(sw.parameters)


def grid_data(sw: SweepResults) -> dict[str, Any]:
    """Speedup and pruned energy on the (kernel density, spatial budget) grid, mean over any
    other swept parameter; NaN where no valid point exists."""
    kx, sy = "synthetic.kernel_density", "synthetic.spatial_budget"
    xs = sorted({float(r[kx]) for r in sw.rows})
    ys = sorted({float(r[sy]) for r in sw.rows})
    grids: dict[str, np.ndarray] = {}
    for metric in ("speedup", "sparse_energy_uj", "ideal_speedup", "energy_ratio"):
        g = np.full((len(ys), len(xs)), np.nan)
        for j, yv in enumerate(ys):
            for i, xv in enumerate(xs):
                vals = [number(r[metric]) for r in sw.ok if float(r[kx]) == xv and float(r[sy]) == yv]
                if vals:
                    g[j, i] = float(np.mean(vals))
        grids[metric] = g
    return {"kernel_density": xs, "spatial_budget": ys, **grids}


def plot_grid(sw: SweepResults, out: Path) -> tuple[list[Path], dict[str, Any]]:
    d = grid_data(sw)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    panels = (
        ("speedup", "speedup over dense (x)", "viridis", "{:.1f}"),
        ("sparse_energy_uj", "pruned energy per inference (uJ)", "magma_r", "{:.0f}"),
    )
    for ax, (metric, label, cmap, fmt) in zip(axes, panels, strict=True):
        g = d[metric]
        im = ax.imshow(g, origin="lower", cmap=cmap, aspect="auto")
        for j in range(g.shape[0]):
            for i in range(g.shape[1]):
                if not math.isnan(g[j, i]):
                    frac = (g[j, i] - np.nanmin(g)) / max(np.nanmax(g) - np.nanmin(g), 1e-12)
                    dark = frac < 0.5 if cmap == "viridis" else frac > 0.5
                    ax.text(i, j, fmt.format(g[j, i]), ha="center", va="center", fontsize=7, color="w" if dark else "k")
        ax.set_xticks(range(len(d["kernel_density"])), [f"{v:g}" for v in d["kernel_density"]])
        ax.set_yticks(range(len(d["spatial_budget"])), [f"{v:g}" for v in d["spatial_budget"]])
        ax.set_xlabel("kernel density (kept kernels / all, target)")
        ax.set_ylabel("spatial budget (active / all positions, target)")
        ax.grid(False)
        fig.colorbar(im, ax=ax, label=label)
        ax.set_title(label)
    n, total = len(sw.ok), len(sw.rows)
    fig.suptitle(
        _title(f"sweep '{sw.name}': {n} valid points of {total}; {sw.manifest.get('description', '')}", sw.synthetic)
    )
    fig.tight_layout()
    return save(fig, out, f"density_grid_{sw.name}"), d


# --------------------------------------------------------------------------- PE array


def is_pe_sweep(sw: SweepResults) -> bool:
    return len({(r["pe_rows"], r["pe_cols"]) for r in sw.ok}) > 1


def pe_data(sw: SweepResults, resources: list[ResourceEntry] | None) -> dict[str, Any]:
    """Per PE array (rows x cols; mean over other parameters): speedup, ideal, fps, energy, resources."""
    shapes = sorted({(int(r["pe_rows"]), int(r["pe_cols"])) for r in sw.ok}, key=lambda s: (s[0] * s[1], s))
    out: dict[str, Any] = {"shapes": shapes, "labels": [f"{r}x{c}" for r, c in shapes]}
    for metric in ("speedup", "ideal_speedup", "dense_fps", "sparse_fps", "sparse_energy_uj", "dense_energy_uj"):
        out[metric] = np.array(
            [np.mean([number(r[metric]) for r in sw.ok if (int(r["pe_rows"]), int(r["pe_cols"])) == s]) for s in shapes]
        )
    res: dict[str, np.ndarray] = {}
    if resources:
        # the sweep varies the sparse design; a report's dense baseline builds are not its points
        by_shape = {(e.rows, e.cols): e.values for e in reversed(resources) if e.design != "dense"}
        for kind in ("lut", "ff", "bram36", "dsp"):
            res[kind] = np.array([by_shape.get(s, {}).get(kind, np.nan) for s in shapes])
    out["resources"] = res
    return out


def plot_pe(
    sw: SweepResults, out: Path, resources: list[ResourceEntry] | None, resource_file: Path, device: dict[str, Any]
) -> tuple[list[Path], dict[str, Any]]:
    d = pe_data(sw, resources)
    x = np.arange(len(d["labels"]))
    res = d["resources"]
    have = bool(res) and not all(np.isnan(v).all() for v in res.values())
    fig, ((a1, a2), (a4, a3)) = plt.subplots(2, 2, figsize=(13, 9))
    w = 0.4
    a1.bar(x - w / 2, d["speedup"], w, color=PRUNED, label="achieved")
    a1.bar(x + w / 2, d["ideal_speedup"], w, color=IDEAL, label="ideal (dense work / pruned work)")
    a1.set_ylabel("speedup over dense on the same array (x)")
    a1.set_title("speedup")
    a1.set_ylim(0, 1.3 * max(np.nanmax(d["ideal_speedup"]), np.nanmax(d["speedup"])))
    a1.legend(fontsize=8, loc="upper right")
    a2.plot(x, d["dense_fps"], "o-", color=DENSE, label="dense baseline")
    a2.plot(x, d["sparse_fps"], "o-", color=PRUNED, label="pruned")
    a2.set_yscale("log")
    a2.set_ylabel("throughput (frames/s, accelerator alone)")
    a2.set_title("throughput")
    a2.legend(fontsize=8)
    a4.plot(x, d["dense_energy_uj"], "o-", color=DENSE, label="dense baseline")
    a4.plot(x, d["sparse_energy_uj"], "o-", color=PRUNED, label="pruned")
    a4.set_ylim(0, 1.15 * np.nanmax(d["dense_energy_uj"]))
    a4.set_ylabel("energy per inference (uJ, estimate)")
    a4.set_title("energy (run power is per device: not scaled with the array size)", fontsize=9)
    a4.legend(fontsize=8)
    for ax in (a1, a2, a4):
        ax.set_xticks(x, d["labels"], rotation=45, ha="right")
        ax.set_xlabel("PE array (rows x columns)")
    if have:
        for i, (kind, vals) in enumerate(res.items()):
            cap = device.get(kind)
            shown = 100 * vals / cap if cap else vals
            a3.bar(x + (i - 1.5) * 0.2, shown, 0.2, label=kind.upper())
        a3.set_ylabel(f"resources (% of {device.get('part', 'device')})")
        a3.set_xticks(x, d["labels"], rotation=45, ha="right")
        a3.set_xlabel("PE array (rows x columns)")
        a3.legend(fontsize=8)
        a3.set_title(f"resources (RTL report {show(resource_file)}; missing bars: not in the report)")
    else:
        a3.axis("off")
        a3.text(
            0.5,
            0.5,
            f"No RTL resource report found\n({show(resource_file)}).\nResources are not shown:\n"
            "archsim does not estimate them.",
            ha="center",
            va="center",
            fontsize=11,
            transform=a3.transAxes,
            bbox={"boxstyle": "round", "fc": "#f4f4f4", "ec": "#999999"},
        )
        a3.set_title("resources")
    fig.suptitle(_title(f"sweep '{sw.name}': PE array size; {sw.manifest.get('description', '')}", sw.synthetic))
    fig.tight_layout()
    return save(fig, out, f"pe_array_{sw.name}"), d


# --------------------------------------------------------------------------- achieved vs ideal


def ideal_data(runs: list[RunResults], sweeps: list[SweepResults], published: dict[str, Any]) -> dict[str, Any]:
    series = []
    for sw in sweeps:
        ok = sw.ok
        series.append(
            {
                "label": f"sweep '{sw.name}' (whole network)",
                "ideal": np.array([number(r["ideal_speedup"]) for r in ok]),
                "achieved": np.array([number(r["speedup"]) for r in ok]),
            }
        )
    for run in runs:
        d = layer_data(run)
        series.append({"label": f"{run.name}: per layer", "ideal": d["ideal"], "achieved": d["speedup"]})
        series.append(
            {
                "label": f"{run.name}: whole network",
                "ideal": np.array([float(run.summary["ideal_speedup"])]),
                "achieved": np.array([float(run.summary["speedup"])]),
            }
        )
    refs = [
        {
            "label": f"{p['name']} ({p['source'].split(',')[-1].strip()})",
            "ideal": p["ideal_speedup"],
            "achieved": p["achieved_speedup"],
        }
        for p in published.get("reference_points", [])
    ]
    paper = published.get("paper", {}).get("speedup_over_dense")
    return {"series": series, "references": refs, "paper": paper}


def plot_ideal(
    runs: list[RunResults], sweeps: list[SweepResults], published: dict[str, Any], out: Path
) -> tuple[list[Path], dict[str, Any]]:
    d = ideal_data(runs, sweeps, published)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    markers = "osD^v<>"
    hi = 1.0
    for i, s in enumerate(d["series"]):
        whole = "whole network" in s["label"] and "sweep" not in s["label"]
        ax.scatter(
            s["ideal"],
            s["achieved"],
            s=120 if whole else 28,
            marker="*" if whole else markers[i % len(markers)],
            alpha=0.8,
            label=s["label"],
            zorder=3,
        )
        if len(s["ideal"]):
            hi = max(hi, float(np.nanmax(s["ideal"])), float(np.nanmax(s["achieved"])))
    for r in d["references"]:
        ax.scatter(
            [r["ideal"]], [r["achieved"]], s=90, marker="X", color="k", label=f"published: {r['label']}", zorder=4
        )
    ax.plot([0.8, hi * 1.2], [0.8, hi * 1.2], "k--", lw=1, label="achieved = ideal")
    if d["paper"] is not None:
        ax.axhline(
            d["paper"], color="#2ca02c", ls=":", lw=1.5, label=f"paper: {d['paper']:g}x achieved (ideal not published)"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [t for t in (1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50) if t <= hi * 1.2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("ideal speedup (dense work / pruned work, log scale)")
    ax.set_ylabel("achieved speedup (dense cycles / pruned cycles, log scale)")
    synthetic = any(r.synthetic for r in runs) or any(s.synthetic for s in sweeps)
    ax.set_title(_title("achieved vs ideal speedup", synthetic))
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return save(fig, out, "achieved_vs_ideal"), d
