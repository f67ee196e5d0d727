"""Figures from results files. Every function returns the arrays it draws, so tests can
compare them with the files they came from.

Figures are sized for a paper: two-column width (7 in, the default) or one-column width (3.5 in,
`set_width("column")`), written as PNG, SVG and PDF at exactly that size, with no text under 8 pt
at print size; `FIGURES` records each saved figure's size and smallest font for the tests.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .readers import ResourceEntry, RunResults, SweepResults, number, show

MIN_FONT = 8  # pt at print size: the smallest size journals accept
plt.rcParams.update(
    {
        "svg.hashsalt": "archsim-analysis",  # deterministic SVG ids
        "pdf.fonttype": 42,  # TrueType in PDFs (editable, accepted by publishers)
        "font.size": MIN_FONT,
        "axes.titlesize": MIN_FONT,
        "axes.labelsize": MIN_FONT,
        "xtick.labelsize": MIN_FONT,
        "ytick.labelsize": MIN_FONT,
        "legend.fontsize": MIN_FONT,
        "legend.title_fontsize": MIN_FONT,
        "figure.titlesize": MIN_FONT + 1,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": 100,
    }
)
DENSE, PRUNED, IDEAL = "#7f7f7f", "#d62728", "#1f77b4"
SYNTH = "SYNTHETIC workload (random weights)"
WIDTHS = {"page": 7.0, "column": 3.5}  # inches: two-column and one-column figures
_WIDTH = ["page"]
FIGURES: list[dict[str, Any]] = []  # per saved figure: files, size, smallest font (for the tests)


def set_width(name: str) -> None:
    """Size the figures made from now on: 'page' (7 in, two columns) or 'column' (3.5 in)."""
    if name not in WIDTHS:
        raise ValueError(f"width must be one of {', '.join(WIDTHS)}, got {name!r}")
    _WIDTH[0] = name


def width() -> float:
    return WIDTHS[_WIDTH[0]]


def narrow() -> bool:
    return _WIDTH[0] == "column"


def figure(height: float, nrows: int = 1, ncols: int = 1, **kw: Any) -> tuple[plt.Figure, Any]:
    """A figure of the current width; at one-column width, side-by-side panels are stacked."""
    if narrow() and ncols > 1:
        nrows, ncols = nrows * ncols, 1
        height *= 1.6
        kw.pop("width_ratios", None)
        if kw.pop("sharey", False):
            kw["sharex"] = False
    return plt.subplots(nrows, ncols, figsize=(width(), height), layout="constrained", **kw)


def wrap(text: str, share: float = 1.0) -> str:
    """Wrap a title to the figure's width (about 13 characters per inch at 8-9 pt)."""
    chars = max(20, int(width() * share * 13))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _texts(fig: plt.Figure) -> list[Any]:
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]


def save(fig: plt.Figure, out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if _WIDTH[0] == "page" else "_column"
    files = [out / f"{stem}{suffix}.{ext}" for ext in ("png", "svg", "pdf")]
    fig.savefig(files[0], dpi=300, metadata={"Software": None})
    fig.savefig(files[1], metadata={"Date": None, "Creator": None})
    fig.savefig(files[2], metadata={"CreationDate": None, "Creator": None, "Producer": None})
    w, h = (float(v) for v in fig.get_size_inches())
    renderer = fig.canvas.get_renderer()
    drawn = fig.get_tightbbox(renderer)  # inches: everything drawn, ticks in view only
    for leg in fig.findobj(matplotlib.legend.Legend):  # legends anchored outside their axes are not in it
        e = leg.get_window_extent(renderer).transformed(fig.dpi_scale_trans.inverted())
        drawn = matplotlib.transforms.Bbox.union([drawn, e])
    FIGURES.append(
        {
            "files": files,
            "size_in": (w, h),
            "min_font_pt": min(t.get_fontsize() for t in _texts(fig)),
            "overflow_in": max(0.0, -drawn.x0, -drawn.y0, drawn.x1 - w, drawn.y1 - h),  # text cut off
        }
    )
    plt.close(fig)
    return files


def _title(text: str, synthetic: bool, share: float = 1.0) -> str:
    return wrap(f"{text}\n[{SYNTH}]" if synthetic else text, share)


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
    fig, (a1, a2) = figure(6.0 if not narrow() else 6.5, 2, 1, sharex=True, height_ratios=[1.2, 1])
    w = 0.4
    a1.bar(x - w / 2, d["dense_cycles"] / 1e3, w, color=DENSE, label="dense baseline")
    a1.bar(x + w / 2, d["sparse_cycles"] / 1e3, w, color=PRUNED, label="pruned (mean over samples)")
    a1.set_ylabel("cycles per layer (thousands)")
    for xi, (c, b) in enumerate(zip(d["sparse_cycles"], d["bound"] or [], strict=False)):
        a1.text(xi + w / 2, c / 1e3, f" {b}", rotation=90, ha="center", va="bottom", fontsize=MIN_FONT)
    a1.set_ylim(0, 1.3 * max(d["dense_cycles"].max(), d["sparse_cycles"].max()) / 1e3)
    a1.legend(
        loc="upper left",
        ncol=1 if narrow() else 2,
        title="label on a pruned bar: the unit it waits on" if d["bound"] else None,
    )
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
        s=100 if narrow() else 250,
        color=IDEAL,
        linewidths=2.5,
        label="ideal (dense work / pruned work)",
        zorder=3,
    )
    a2.axhline(d["total_speedup"], color="k", ls="--", lw=1, label=f"whole network {d['total_speedup']:.2f}x")
    a2.set_ylabel("speedup over dense (x)")
    a2.set_ylim(0, 1.35 * max(d["ideal"].max(), d["speedup"].max()))
    a2.legend(loc="upper left", fontsize=MIN_FONT, ncol=1 if narrow() else 2)
    a2.set_xticks(x, d["layers"], rotation=90 if narrow() else 60, ha="center" if narrow() else "right")
    a2.set_xlabel("layer (run order)")
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
    fig, (a1, a2) = figure(3.2, 1, 2, width_ratios=[1.4, 1], sharey=True)
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
            1 if narrow() else 0.58,
        )
    )
    a2.set_title(wrap("achieved / ideal = useful share pruned / useful share dense", 1 if narrow() else 0.4))
    if not narrow():
        a2.set_yticks(range(len(rows)), [r[0] for r in rows])
    fig.legend(
        *a1.get_legend_handles_labels(), loc="outside lower center", ncol=1 if narrow() else 2, fontsize=MIN_FONT
    )
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
    fig, (a1, a2) = figure(5.2, 1, 2, width_ratios=[1, 1.3])
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
        label="range (low / high\ntable values)",
    )
    for xi, v in enumerate(tot):
        a1.annotate(
            f"{v:,.0f} uJ",
            (xi, v),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize=MIN_FONT,
            weight="bold",
        )
    a1.set_xticks([0, 1], ["dense baseline", "pruned"])
    a1.set_xlim(-0.45, 1.75)
    a1.set_ylabel("energy per inference (uJ)")
    a1.set_title(wrap(f"total: {d['dense_total_uj'] / d['sparse_total_uj']:.2f}x less energy when pruned", 0.45))
    # under the figure: beside the bars it would hide the totals and their ranges
    fig.legend(
        *a1.get_legend_handles_labels(),
        loc="outside lower left",
        ncol=2 if narrow() else 4,
        fontsize=MIN_FONT,
        handlelength=1.2,
        columnspacing=1.0,
    )
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
                fontsize=MIN_FONT,
            )
    a2.set_xscale("log")
    a2.set_xlim(1e-3, 40 * max(d["dense_uj"].max(), d["sparse_uj"].max()))
    a2.set_yticks(y, d["blocks"])
    a2.invert_yaxis()
    a2.set_xlabel(wrap("energy per inference (uJ, log scale; 0 = block not used)", 1 if narrow() else 0.5))
    a2.set_title(wrap("by block (grey: dense baseline, red: pruned)", 0.8 if narrow() else 0.55))

    s = run.summary
    fig.suptitle(
        _title(
            f"{run.name}: where the energy goes (ESTIMATES from energy table '{s['energy']['table']}', "
            "accelerator and DDR; host not included)",
            run.synthetic,
        )
    )
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
    fig, axes = figure(3.4, 1, 2)
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
                    ax.text(
                        i,
                        j,
                        fmt.format(g[j, i]),
                        ha="center",
                        va="center",
                        fontsize=MIN_FONT,
                        color="w" if dark else "k",
                    )
        ax.set_xticks(range(len(d["kernel_density"])), [f"{v:g}" for v in d["kernel_density"]])
        ax.set_yticks(range(len(d["spatial_budget"])), [f"{v:g}" for v in d["spatial_budget"]])
        ax.set_xlabel("kernel density (target)")
        ax.set_ylabel("spatial budget (target)")
        ax.grid(False)
        fig.colorbar(im, ax=ax)
        ax.set_title(wrap(label, 1 if narrow() else 0.45))
    n, total = len(sw.ok), len(sw.rows)
    fig.suptitle(
        _title(f"sweep '{sw.name}': {n} valid points of {total}; {sw.manifest.get('description', '')}", sw.synthetic)
    )
    return save(fig, out, f"density_grid_{sw.name}"), d


# --------------------------------------------------------------------------- PE array


def is_pe_sweep(sw: SweepResults) -> bool:
    return len({(r["pe_rows"], r["pe_cols"]) for r in sw.ok}) > 1


def fits_device(values: dict[str, float], device: dict[str, Any]) -> bool | None:
    """Whether a build's resources fit the device (every kind the report and the device both give);
    None when the report has no build of that array."""
    kinds = [k for k in ("lut", "ff", "bram36", "dsp") if k in values and device.get(k)]
    if not kinds:
        return None
    return all(values[k] <= device[k] for k in kinds)


def pe_data(
    sw: SweepResults,
    resources: list[ResourceEntry] | None,
    device: dict[str, Any] | None = None,
    sweep_resources: list[ResourceEntry] | None = None,
) -> dict[str, Any]:
    """Per PE array (rows x cols; mean over other parameters), in sweep order: speedup, ideal, fps,
    energy, resources, and whether the report's build fits the device. `sweep_resources`: the report's
    builds of this sweep's own points (their configurations exactly), used instead of `resources`."""
    shapes: list[tuple[int, int]] = []
    for r in sw.ok:  # the order the sweep ran them: rows of a series stay together
        s = (int(r["pe_rows"]), int(r["pe_cols"]))
        if s not in shapes:
            shapes.append(s)
    out: dict[str, Any] = {"shapes": shapes, "labels": [f"{r}x{c}" for r, c in shapes]}
    for metric in ("speedup", "ideal_speedup", "dense_fps", "sparse_fps", "sparse_energy_uj", "dense_energy_uj"):
        out[metric] = np.array(
            [np.mean([number(r[metric]) for r in sw.ok if (int(r["pe_rows"]), int(r["pe_cols"])) == s]) for s in shapes]
        )
    res: dict[str, np.ndarray] = {}
    by_shape: dict[tuple[Any, Any], dict[str, float]] = {}
    skipped: set[tuple[Any, Any]] = set()
    if sweep_resources is not None:
        by_shape = {(e.rows, e.cols): e.values for e in sweep_resources if e.synthesized}
        skipped = {(e.rows, e.cols) for e in sweep_resources if not e.synthesized}
    elif resources:
        # the sweep varies the sparse design; a report's dense baseline builds are not its points
        by_shape = {(e.rows, e.cols): e.values for e in reversed(resources) if e.design != "dense"}
    if by_shape or skipped:
        for kind in ("lut", "ff", "bram36", "dsp"):
            res[kind] = np.array([by_shape.get(s, {}).get(kind, np.nan) for s in shapes])
    out["resources"] = res
    out["fits"] = [fits_device(by_shape[s], device or {}) if s in by_shape else None for s in shapes]
    out["not_synthesized"] = [s in skipped and s not in by_shape for s in shapes]
    return out


def _series(shapes: list[tuple[int, int]]) -> dict[int, list[int]]:
    """Indices of each row count's arrays, in sweep order: one line per row count, over columns."""
    out: dict[int, list[int]] = {}
    for i, (r, _) in enumerate(shapes):
        out.setdefault(r, []).append(i)
    return out


def plot_pe(
    sw: SweepResults,
    out: Path,
    resources: list[ResourceEntry] | None,
    resource_file: Path,
    device: dict[str, Any],
    sweep_resources: list[ResourceEntry] | None = None,
) -> tuple[list[Path], dict[str, Any]]:
    d = pe_data(sw, resources, device, sweep_resources)
    cols = np.array([c for _, c in d["shapes"]], dtype=float)
    res = d["resources"]
    have = bool(res) and (not all(np.isnan(v).all() for v in res.values()) or any(d["not_synthesized"]))
    fig, axes = figure(6.2, 2, 2)
    a1, a2, a4, a3 = np.ravel(axes)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, max(1, len(_series(d["shapes"])))))
    nofit = [i for i, f in enumerate(d["fits"]) if f is False]
    for (rows, idx), color in zip(_series(d["shapes"]).items(), colors, strict=True):
        x = cols[idx]
        a1.plot(x, d["speedup"][idx], "o-", color=color, label=f"{rows} rows")
        a1.plot(x, d["ideal_speedup"][idx], "--", color=color, lw=1)
        a2.plot(x, d["sparse_fps"][idx], "o-", color=color, label=f"{rows} rows, pruned")
        a2.plot(x, d["dense_fps"][idx], "s:", color=color, ms=3, lw=1)
        a4.plot(x, d["sparse_energy_uj"][idx], "o-", color=color, label=f"{rows} rows, pruned")
        a4.plot(x, d["dense_energy_uj"][idx], "s:", color=color, ms=3, lw=1)
    for ax, metric in ((a1, "speedup"), (a2, "sparse_fps"), (a4, "sparse_energy_uj")):
        if nofit:  # arrays whose synthesised build exceeds the FPGA
            ax.scatter(cols[nofit], d[metric][nofit], s=90, facecolors="none", edgecolors="k", lw=1.2, zorder=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(set(cols)), [f"{c:g}" for c in sorted(set(cols))])
        ax.minorticks_off()
        ax.set_xlabel("PE columns")
    a1.set_ylabel("speedup over dense (x)")
    a1.set_title(wrap("speedup (solid achieved, dashed ideal)", 1 if narrow() else 0.45))
    a1.set_ylim(0, 1.15 * max(np.nanmax(d["ideal_speedup"]), np.nanmax(d["speedup"])))
    a1.legend(loc="lower left", ncol=2)
    a2.set_yscale("log")
    a2.set_ylabel("frames/s (accelerator)")
    a2.set_title(wrap("throughput (solid pruned, dotted dense)", 1 if narrow() else 0.45))
    a4.set_ylim(0, 1.15 * np.nanmax(d["dense_energy_uj"]))
    a4.set_ylabel("uJ per inference (estimate)")
    a4.set_title(wrap("energy (solid pruned, dotted dense)", 1 if narrow() else 0.45))
    if have:
        x = np.arange(len(d["labels"]))
        for i, (kind, vals) in enumerate(res.items()):
            cap = device.get(kind)
            shown = 100 * vals / cap if cap else vals
            a3.bar(x + (i - 1.5) * 0.2, shown, 0.2, label=kind.upper())
        a3.axhline(100, color="k", lw=1, ls="--")
        for i in np.flatnonzero(d["not_synthesized"]):  # marked, never estimated
            a3.text(i, 3, "not synthesized", rotation=90, ha="center", va="bottom", fontsize=MIN_FONT, color="0.35")
        a3.set_ylabel(f"% of {device.get('part', 'device')}")
        a3.set_xticks(x, d["labels"], rotation=90)
        a3.set_xlim(-0.7, len(x) - 0.3)
        a3.set_xlabel("PE array (rows x columns); no bars: not synthesized")
        a3.legend(ncol=2)
        known = sum(f is not None for f in d["fits"])
        a3.set_title(
            wrap(
                f"resources ({show(resource_file)}: {known} of {len(d['labels'])} arrays synthesized)",
                1 if narrow() else 0.45,
            )
        )
    else:
        a3.axis("off")
        a3.text(
            0.5,
            0.5,
            wrap(
                f"No RTL resource report found ({show(resource_file)}). Resources are not shown: archsim does "
                "not estimate them.",
                0.4,
            ),
            ha="center",
            va="center",
            fontsize=MIN_FONT,
            transform=a3.transAxes,
            bbox={"boxstyle": "round", "fc": "#f4f4f4", "ec": "#999999"},
        )
        a3.set_title("resources")
    note = f"; circled: does not fit the {device.get('part', 'device')}" if nofit else ""
    fig.suptitle(_title(f"sweep '{sw.name}': PE array size{note}; {sw.manifest.get('description', '')}", sw.synthetic))
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
                "synthetic": sw.synthetic,
            }
        )
    for run in runs:
        d = layer_data(run)
        series.append(
            {
                "label": f"{run.name}: per layer",
                "ideal": d["ideal"],
                "achieved": d["speedup"],
                "synthetic": run.synthetic,
            }
        )
        series.append(
            {
                "label": f"{run.name}: whole network",
                "ideal": np.array([float(run.summary["ideal_speedup"])]),
                "achieved": np.array([float(run.summary["speedup"])]),
                "synthetic": run.synthetic,
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
    fig, ax = figure(width() * (1.75 if narrow() else 0.8))
    markers = "osD^v<>"
    hi = 1.0
    # Stamp SYNTHETIC on the series that are, and on the title only when every series is.
    every = bool(d["series"]) and all(s["synthetic"] for s in d["series"])
    for i, s in enumerate(d["series"]):
        whole = "whole network" in s["label"] and "sweep" not in s["label"]
        tag = " [SYNTHETIC]" if s["synthetic"] and not every else ""
        ax.scatter(
            s["ideal"],
            s["achieved"],
            s=90 if whole else 18,
            marker="*" if whole else markers[i % len(markers)],
            alpha=0.8,
            label=s["label"] + tag,
            zorder=3,
        )
        if len(s["ideal"]):
            hi = max(hi, float(np.nanmax(s["ideal"])), float(np.nanmax(s["achieved"])))
    for r in d["references"]:
        ax.scatter(
            [r["ideal"]], [r["achieved"]], s=60, marker="X", color="k", label=f"published: {r['label']}", zorder=4
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
    ax.set_xlabel("ideal speedup (dense work / pruned work)")
    ax.set_ylabel("achieved speedup (dense / pruned cycles)")
    ax.set_title(_title("achieved vs ideal speedup (log scales)", every))
    if narrow():  # inside the axes it would cover the points
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=1)
    else:
        ax.legend(loc="upper left")
    d["stamped"] = every
    return save(fig, out, "achieved_vs_ideal"), d


# --------------------------------------------------------------------------- any sweep


def sweep_column(sw: SweepResults, key: str) -> str:
    """results.csv column of a swept key (a swept 'workload' is written as 'workload_file')."""
    if key == "workload" and sw.rows and "workload_file" in sw.rows[0]:
        return "workload_file"
    return key


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def metric_data(sw: SweepResults, metric: str) -> dict[str, Any]:
    """`metric` over the sweep's parameters: x is the numeric parameter with the most values, one series
    per combination of the others (in sweep order); without a numeric parameter, x is the point."""
    rows = sw.ok
    if rows and metric not in rows[0]:
        raise ValueError(f"{sw.path / 'results.csv'}: no column '{metric}'")
    cols = [sweep_column(sw, k) for k in sw.parameters]
    numeric = [c for c in cols if rows and all(_is_number(r[c]) for r in rows) and len({r[c] for r in rows}) > 1]
    xcol = max(numeric, key=lambda c: len({r[c] for r in rows})) if numeric else None
    others = [c for c in cols if c != xcol]
    series: dict[str, tuple[list[float], list[float]]] = {}
    for i, r in enumerate(rows):
        label = ", ".join(f"{c.split('.')[-1]}={r[c]}" for c in others) or metric
        xs, ys = series.setdefault(label, ([], []))
        xs.append(float(r[xcol]) if xcol else float(i))
        ys.append(number(r[metric]))
    return {"x": xcol, "metric": metric, "series": series, "invalid": len(sw.rows) - len(rows)}


def plot_metric(sw: SweepResults, out: Path, metric: str = "speedup") -> tuple[list[Path], dict[str, Any]]:
    d = metric_data(sw, metric)
    fig, ax = figure(width() * (0.9 if narrow() else 0.5))
    for label, (xs, ys) in d["series"].items():
        order = np.argsort(xs, kind="stable")
        ax.plot(np.array(xs)[order], np.array(ys)[order], "o-", label=label)
    ax.set_xlabel(d["x"] or "point (no numeric parameter)")
    ax.set_ylabel(metric)
    if len(d["series"]) > 1 or next(iter(d["series"]), metric) != metric:
        ax.legend(fontsize=MIN_FONT)
    bad = f"; {d['invalid']} invalid points not shown" if d["invalid"] else ""
    ax.set_title(_title(f"sweep '{sw.name}': {metric}{bad}", sw.synthetic))
    return save(fig, out, f"sweep_{sw.name}_{metric}"), d


# --------------------------------------------------------------------------- accuracy vs speedup


def accuracy_data(runs: list[RunResults]) -> dict[str, Any] | None:
    """Integer-mode test accuracy against the ideal speedup over the test set, both as the trainer
    recorded them at export (summary.json trained_accuracy); None without trained runs."""
    points, dense = [], {}
    for run in runs:
        acc = run.summary.get("trained_accuracy") or {}
        m, b = acc.get("model"), acc.get("baseline")
        if not m or run.synthetic:
            continue
        test_set = m.get("ideal_speedup") is not None
        points.append(
            {
                "name": run.name,
                "accuracy": 100 * float(m["int_accuracy"]),
                "ideal_speedup": float(m["ideal_speedup"]) if test_set else float(run.summary["ideal_speedup"]),
                "over": "test set" if test_set else f"{len(run.summary['samples'])} trace samples",
                "dataset": m.get("dataset"),
            }
        )
        if b:  # one line per dense baseline (e.g. full and half width)
            dense[f"{run.summary.get('baseline', 'dense')} ({b.get('dataset')})"] = 100 * float(b["int_accuracy"])
    if not points:
        return None
    return {"points": points, "dense": dense}


def plot_accuracy(runs: list[RunResults], out: Path) -> tuple[list[Path], dict[str, Any]] | None:
    d = accuracy_data(runs)
    if d is None:
        return None
    fig, ax = figure(width() * (0.8 if narrow() else 0.45))
    for p in d["points"]:
        ax.scatter([p["ideal_speedup"]], [p["accuracy"]], s=30, zorder=3)
        ax.annotate(p["name"], (p["ideal_speedup"], p["accuracy"]), xytext=(4, 2), textcoords="offset points")
    styles = ["--", ":", "-."]
    for i, (name, acc) in enumerate(d["dense"].items()):
        ax.axhline(acc, color=DENSE, ls=styles[i % 3], lw=1, label=f"dense BNN {name}")
    ax.set_xlabel("ideal speedup (dense work / pruned work)")
    ax.set_ylabel("integer-mode test accuracy (%)")
    overs = sorted({p["over"] for p in d["points"]})
    ax.set_title(wrap(f"accuracy vs ideal speedup (speedup over the {', '.join(overs)})", 0.9 if narrow() else 0.45))
    xmax = max(p["ideal_speedup"] for p in d["points"])
    ax.set_xlim(0.8, xmax * 1.45)
    if d["dense"]:
        fig.legend(loc="outside lower center", ncol=1 if narrow() else 2)
    return save(fig, out, "accuracy_vs_speedup"), d
