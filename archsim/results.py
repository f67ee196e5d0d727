"""Results of `archsim run`: the printed report and the machine-readable files.

`summary.json` holds the run's totals and a per-layer list; `layers.csv` one row per
layer, its first columns fixed (LAYER_COLUMNS) so that analysis scripts can rely on
them. Both files are written atomically. The printed tables show the same numbers,
rounded.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from archsim.energy import BLOCKS, mean_blocks
from archsim.fileio import atomic_write_files
from archsim.runner import ACCOUNTS, UNITS, LayerResult, RunResult, stem_where
from archsim.stream import stream_lines, stream_summary
from archsim.workload import Workload

LAYER_COLUMNS = (
    "layer",
    "kind",
    "c_in",
    "c_out",
    "h_out",
    "w_out",
    "kernel_density",
    "spatial_density",
    "dense_cycles",
    "sparse_cycles",
    "speedup",
    "pe_utilization",
    "dma_bytes",
)
EXTRA_COLUMNS = (
    "index",
    "kernel",
    "stride",
    "positions",
    "active_positions",
    "sparse_cycles_min",
    "sparse_cycles_max",
    "kept_kernels",
    "dense_kernels",
    "dense_pe_utilization",
    "dense_dma_bytes",
    "dense_energy_uj",
    "sparse_energy_uj",
    "energy_ratio",
    "bound",
    "bound_share",
    *(f"{u}_share" for u in UNITS),
)
SYNTHETIC_BANNER = "*** SYNTHETIC workload: random weights and random inputs, not a trained network ***"


def _num(v: float) -> float | int:
    """JSON/CSV number: ints stay ints, floats keep full precision."""
    if isinstance(v, int):
        return v
    return int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v)


def layer_row(L: LayerResult, rows: int, cols: int) -> dict[str, Any]:
    row = {
        "layer": L.name,
        "kind": L.kind,
        "c_in": L.c_in,
        "c_out": L.c_out,
        "h_out": L.h_out,
        "w_out": L.w_out,
        "kernel_density": L.kernel_density,
        "spatial_density": L.spatial_density,
        "dense_cycles": L.dense_cycles,
        "sparse_cycles": _num(L.sparse_cycles_mean),
        "speedup": L.speedup,
        "pe_utilization": L.pe_utilization(rows, cols),
        "dma_bytes": L.dma_bytes,
        "index": L.index,
        "kernel": L.kernel,
        "stride": L.stride,
        "positions": L.positions,
        "active_positions": _num(sum(L.active) / len(L.active)),
        "sparse_cycles_min": min(L.sparse_cycles),
        "sparse_cycles_max": max(L.sparse_cycles),
        "kept_kernels": L.kept_kernels,
        "dense_kernels": L.dense_kernels,
        "dense_pe_utilization": L.dense_pe_utilization(rows, cols),
        "dense_dma_bytes": L.dense_dma_bytes,
        "dense_energy_uj": None,
        "sparse_energy_uj": None,
        "energy_ratio": None,
        "bound": L.bound[0],
        "bound_share": L.bound[1],
        **{f"{u}_share": v for u, v in L.busy_shares().items()},
    }
    sparse_pj = L.sparse_energy_pj_mean
    if L.dense_energy_pj is not None and sparse_pj is not None:
        row["dense_energy_uj"] = L.dense_energy_pj * 1e-6
        row["sparse_energy_uj"] = sparse_pj * 1e-6
        row["energy_ratio"] = L.dense_energy_pj / sparse_pj
    assert tuple(row)[: len(LAYER_COLUMNS)] == LAYER_COLUMNS
    return row


def layer_rows(res: RunResult) -> list[dict[str, Any]]:
    pe = res.workload.config.pe_array
    return [layer_row(L, pe.rows, pe.cols) for L in res.layers]


def summary(res: RunResult, command: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """summary.json's content; `command` and `overrides` (--set) go into its provenance."""
    from archsim.provenance import provenance

    wl, cfg = res.workload, res.workload.config
    dense_c = res.dense.done
    sparse_c = res.sparse_cycles_mean
    s0 = res.sparse[0]
    return {
        "workload": wl.name,
        "workload_file": str(wl.path),
        "description": wl.description,
        "config": cfg.name,
        "config_file": str(wl.config_path),
        "model": wl.model.name,
        "baseline": wl.baseline.name,
        "timing_mode": res.mode,
        "samples": list(res.samples),
        "clock_mhz": cfg.clock_mhz,
        "hardware": {
            "part": cfg.part,
            "pe_rows": cfg.pe_array.rows,
            "pe_cols": cfg.pe_array.cols,
            "acc_depth": cfg.pe_array.acc_depth,
        },
        "synthetic": wl.synthetic,
        "functional_check": "pass" if res.functional_pass else "fail",
        "functional": {
            "model": {"status": res.check.status, "mismatches": [str(m) for m in res.check.mismatches[:20]]},
            "baseline": {
                "status": res.baseline_check.status,
                "mismatches": [str(m) for m in res.baseline_check.mismatches[:20]],
            },
        },
        "dense": {
            "cycles": dense_c,
            "fps": res.fps(dense_c),
            "energy_uj": res.dense_energy.total_uj if res.dense_energy else None,
            "latency_us": res.latency_us(dense_c),
            "load_cycles": _load_cycles(res.dense),
            "store_cycles": res.dense.done - res.dense.store_start,
            "work": res.dense_work,
        },
        "sparse": {
            "cycles": _num(sparse_c),
            "cycles_min": min(res.sparse_cycles),
            "cycles_max": max(res.sparse_cycles),
            "per_sample_cycles": {str(s): c for s, c in zip(res.samples, res.sparse_cycles, strict=True)},
            "fps": res.fps(sparse_c),
            "energy_uj": res.sparse_energy_pj_mean * 1e-6 if res.has_energy else None,
            "per_sample_energy_uj": {str(s): e.total_uj for s, e in zip(res.samples, res.sparse_energy, strict=True)}
            if res.has_energy
            else None,
            "latency_us": res.latency_us(sparse_c),
            "load_cycles": _load_cycles(s0),
            "store_cycles": s0.done - s0.store_start,
            "work": _num(sum(res.sparse_work) / len(res.sparse_work)),
            "per_sample_work": {str(s): w for s, w in zip(res.samples, res.sparse_work, strict=True)},
        },
        "speedup": res.speedup,
        "ideal_speedup": res.ideal_speedup,
        "fairness": FAIRNESS,
        "equal_area": None
        if res.equal_area_dense is None
        else {
            "dense_pe_cols": res.equal_area_cols,
            "dense_cycles": res.equal_area_dense.done,
            "speedup": res.equal_area_speedup,
        },
        "cycle_accounting": {
            "dense": {a: _num(v) for a, v in res.dense_accounting.items()},
            "sparse": {a: _num(v) for a, v in res.sparse_accounting.items()},
        },
        "host": {
            "time_us": res.host_time_us,
            "stem": stem_where(res.workload.program),  # where the stem conv runs: "host" or "on chip (stem_unit)"
            "stem_macs": res.stem_macs,
            "classifier_macs": res.classifier_macs,
            "overhead_us": cfg.host.overhead_us,
            "macs_per_second": cfg.host.macs_per_second,
        },
        "energy": energy_summary(res),
        "trained_accuracy": trained_accuracy(res.workload),
        "layers": layer_rows(res),
        "provenance": provenance(wl, command, overrides),
    } | ({} if res.stream is None else {"stream": stream_summary(res.stream, cfg.clock_mhz)})


def trained_accuracy(wl: Workload) -> dict[str, Any] | None:
    """Test accuracy the trainer recorded in the model's and the baseline's provenance (measured at
    export on the whole test set, not by this run). None when neither model carries one."""
    out = {}
    for role, model in (("model", wl.model), ("baseline", wl.baseline)):
        prov = model.meta.get("provenance")
        if not isinstance(prov, dict) or not isinstance(prov.get("int_accuracy"), float):
            continue
        out[role] = {k: prov.get(k) for k in ("dataset", "test_images", "int_accuracy", "float_accuracy")}
        # over the whole test set, as recorded at export (the run's own ideal_speedup covers its samples only)
        out[role] |= {k: prov[k] for k in ("ideal_speedup", "kernel_density", "spatial_density") if k in prov}
    return out or None


def _accuracy_line(wl: Workload) -> list[str]:
    acc = trained_accuracy(wl)
    if acc is None:
        return []
    parts = [f"{role} {100 * a['int_accuracy']:.2f} %" for role, a in acc.items()]
    a = next(iter(acc.values()))
    n = a["test_images"]
    return [
        f"accuracy          {', '.join(parts)} integer-mode test accuracy ({a['dataset']}"
        + (f", {n:,} images" if isinstance(n, int) else "")
        + "; recorded at export, not measured by this run)"
    ]


_ACCOUNT_LABELS = {
    "useful": "useful PE work",  # kept kernels x active positions / PEs
    "partial": "partial tiles",
    "waiting": "PE waiting",
    "load_store": "LOAD + STORE",
}


def _accounting_lines(res: RunResult) -> list[str]:
    """Where the cycles go, dense vs pruned, and how it explains achieved / ideal speedup."""
    d, s = res.dense_accounting, res.sparse_accounting
    lines = ["cycle accounting         dense       pruned"]
    for a in ACCOUNTS:
        lines.append(
            f"  {_ACCOUNT_LABELS[a]:<18} {_cyc(d[a]):>11}  {_cyc(s[a]):>11}   "
            f"({100 * d[a] / res.dense.done:4.1f}% / {100 * s[a] / res.sparse_cycles_mean:4.1f}%)"
        )
    u_d, u_s = d["useful"] / res.dense.done, s["useful"] / res.sparse_cycles_mean
    lines.append(
        f"  achieved / ideal = {res.speedup / res.ideal_speedup:.3f} = pruned useful share {u_s:.3f} / "
        f"dense useful share {u_d:.3f}"
    )
    return lines


def energy_summary(res: RunResult) -> dict[str, Any] | None:
    """Energy per inference, its breakdown per block, efficiency (docs/energy.md). None without a table."""
    if res.dense_energy is None:
        return None
    wl, cfg = res.workload, res.workload.config
    sp = res.sparse_energy
    n = len(sp)
    f = cfg.clock_hz
    dense_t = res.dense.done / f
    sparse_t = res.sparse_cycles_mean / f
    dense_j = res.dense_energy.total_pj * 1e-12
    sparse_j = res.sparse_energy_pj_mean * 1e-12
    d_ops, s_ops = res.dense_ops, res.sparse_ops
    sparse_blocks = mean_blocks(sp)
    dense_parts, sparse_parts = res.dense_energy.parts, [e.parts for e in sp]

    def uj(pj: float) -> float:
        return pj * 1e-6

    return {
        "table": wl.energy.name if wl.energy else None,
        "table_file": str(wl.energy_path),
        "note": "estimates from a table of published figures and stated scaling assumptions, not measurements; "
        "low/high use the ends of every value's range",
        "blocks": list(BLOCKS),
        "ratio": dense_j / sparse_j,
        "ops": {"dense": d_ops, "sparse_actual": s_ops},
        "dense": {
            "total_uj": uj(res.dense_energy.total_pj),
            "low_uj": uj(res.dense_energy.total_low_pj),
            "high_uj": uj(res.dense_energy.total_high_pj),
            "blocks_uj": {b: uj(v) for b, v in res.dense_energy.blocks_pj.items()},
            "load_uj": uj(dense_parts[0].total_pj),
            "store_uj": uj(dense_parts[-1].total_pj),
            "counts": res.dense_energy.counts(),
            "average_power_w": dense_j / dense_t,
            "inferences_per_joule": 1 / dense_j,
            "gops": d_ops / dense_t * 1e-9,
            "gops_per_watt": d_ops / dense_j * 1e-9,
        },
        "sparse": {
            "total_uj": uj(res.sparse_energy_pj_mean),
            "low_uj": uj(sum(e.total_low_pj for e in sp) / n),
            "high_uj": uj(sum(e.total_high_pj for e in sp) / n),
            "blocks_uj": {b: uj(v) for b, v in sparse_blocks.items()},
            "load_uj": uj(sum(p[0].total_pj for p in sparse_parts) / n),
            "store_uj": uj(sum(p[-1].total_pj for p in sparse_parts) / n),
            "counts": {k: _num(sum(e.counts()[k] for e in sp) / n) for k in sp[0].counts()},
            "average_power_w": sparse_j / sparse_t,
            "inferences_per_joule": 1 / sparse_j,
            "gops_effective": d_ops / sparse_t * 1e-9,
            "gops_actual": s_ops / sparse_t * 1e-9,
            "gops_per_watt_effective": d_ops / sparse_j * 1e-9,
            "gops_per_watt_actual": s_ops / sparse_j * 1e-9,
        },
    }


def layers_csv(res: RunResult) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*LAYER_COLUMNS, *EXTRA_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row in layer_rows(res):
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def write_results(
    out_dir: str | Path, res: RunResult, command: str | None = None, overrides: dict[str, Any] | None = None
) -> list[Path]:
    """Write DIR/layers.csv and DIR/summary.json together: both or neither (fileio.atomic_write_files)."""
    out = Path(out_dir)
    text = json.dumps(summary(res, command, overrides), indent=2, allow_nan=False) + "\n"
    csv_text = layers_csv(res)
    return atomic_write_files(out, {"layers.csv": csv_text, "summary.json": text})


# --------------------------------------------------------------------------- printed report


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _load_cycles(sched: Any) -> int:
    """The LOAD's own cycles: those before layer 1 starts (with an input buffer the rest overlaps layer 1),
    so that LOAD + every layer + STORE add up to DONE."""
    return sched.layers[0].start if sched.layers else sched.load_done


def _cyc(v: float) -> str:
    return f"{v:,.0f}" if not math.isnan(v) else "-"


def format_report(res: RunResult) -> str:
    wl, cfg = res.workload, res.workload.config
    pe = cfg.pe_array
    lines: list[str] = []
    if wl.synthetic:
        lines += [SYNTHETIC_BANNER, ""]
    n = len(res.samples)
    lines.append(f"workload  {wl.name} ({wl.path})")
    if wl.description:
        lines.append(f"          {wl.description}")
    lines.append(
        f"hardware  {cfg.name}: {pe.rows}x{pe.cols} PE array, acc_depth {pe.acc_depth}, {cfg.clock_mhz:g} MHz; "
        f"timing mode {res.mode}"
    )
    shown = ", ".join(map(str, res.samples[:8])) + (", ..." if n > 8 else "")
    lines.append(f"samples   {n} ({shown})" + ("; sparse cycles are the mean over samples" if n > 1 else ""))
    lines.append("")

    head = (
        "layer",
        "shape",
        "kernel",
        "spatial",
        "dense cyc",
        "sparse cyc",
        "speedup",
        "PE util",
        "DMA bytes",
        "bound",
    )
    rows = []
    for L in res.layers:
        shape = f"{L.c_in}->{L.c_out} {L.h_out}x{L.w_out} s{L.stride}" + (" 1x1" if L.kernel == 1 else "")
        rows.append(
            (
                L.name,
                shape,
                f"{L.kernel_density:.3f}",
                f"{L.spatial_density:.3f}",
                _cyc(L.dense_cycles),
                _cyc(L.sparse_cycles_mean),
                f"{L.speedup:.2f}x",
                _pct(L.pe_utilization(pe.rows, pe.cols)),
                f"{L.dma_bytes:,}",
                f"{L.bound[0]} {_pct(L.bound[1])}",
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines.append(fmt.format(*head))
    lines.append("  ".join("-" * w for w in widths))
    lines += [fmt.format(*r) for r in rows]
    lines.append(
        "bound: the busiest unit of the pruned run and its busy cycles / layer cycles (pe array, dma = the "
        "layer's weight stream, gather, epilogue, mask unit; dma above 100% was partly prefetched)"
    )
    lines.append("")

    dense_c, sparse_c = res.dense.done, res.sparse_cycles_mean
    s0 = res.sparse[0]
    spread = f" (mean of {n}; min {_cyc(min(res.sparse_cycles))}, max {_cyc(max(res.sparse_cycles))})" if n > 1 else ""
    host = cfg.host
    lines += [
        f"LOAD / STORE      {_cyc(_load_cycles(s0))} / {_cyc(s0.done - s0.store_start)} cycles"
        + (
            f"   (the LOAD ends at cycle {_cyc(s0.load_done)}, overlapping layer 1: input buffer)"
            if s0.load_done != _load_cycles(s0)
            else ""
        )
        + (
            f"   (the STORE writes the {res.workload.program.store_beats * cfg.beat_bytes:,} bytes of pooled sums)"
            if res.workload.program.pooled
            else ""
        ),
        f"total cycles      dense {_cyc(dense_c)}   pruned {_cyc(sparse_c)}{spread}",
        f"speedup           {res.speedup:.2f}x   (ideal {res.ideal_speedup:.2f}x = dense work / pruned work, "
        "work = kept kernels x active positions)",
        *_equal_area_lines(res),
        *_accounting_lines(res),
        f"throughput        dense {res.fps(dense_c):,.0f} fps   pruned {res.fps(sparse_c):,.0f} fps   "
        f"(accelerator alone at {cfg.clock_mhz:g} MHz)",
        f"host time         {res.host_time_us:,.2f} us = {host.overhead_us:g} us + "
        + (
            f"{res.classifier_macs:,} classifier MACs / {host.macs_per_second:.3g} MAC/s"
            if wl.program.stem_unit
            else f"({res.stem_macs:,} stem + {res.classifier_macs:,} classifier MACs) / {host.macs_per_second:.3g} MAC/s"
        ),
        f"stem              {stem_where(wl.program)}"
        + ("   (the LOAD reads the raw image; docs/timing.md 3.1)" if wl.program.stem_unit else ""),
        f"latency           dense {res.latency_us(dense_c):,.2f} us   pruned {res.latency_us(sparse_c):,.2f} us   "
        "(host time + accelerator)",
        *_energy_lines(res),
        *_accuracy_line(wl),
        f"functional check  {_check_line(res)}",
    ]
    if res.stream is not None:  # throughput mode: an added section, the latency-mode lines above unchanged
        lines += stream_lines(res.stream, cfg.clock_mhz)
    if wl.synthetic:
        lines += ["", SYNTHETIC_BANNER]
    return "\n".join(lines)


FAIRNESS = (
    "the dense baseline runs on the same hardware configuration as the pruned model (every buffer, "
    "the weight ring and its blob slots, the AXI port), with the index decoder and the mask unit bypassed"
)


def _equal_area_lines(res: RunResult) -> list[str]:
    pe = res.workload.config.pe_array
    out = [f"fairness          {FAIRNESS}"]
    if res.workload.config.buffers.early_scan:
        out.append(
            "                  early mask scan (buffers.early_scan) on: it cannot help the dense baseline, "
            "whose mask unit is bypassed (docs/timing.md 4.5)"
        )
    if res.equal_area_dense is not None:
        out.append(
            f"equal area        {res.equal_area_speedup:.2f}x against the dense model on {pe.rows} x "
            f"{res.equal_area_cols} PEs ({_cyc(res.equal_area_dense.done)} cycles): the dense build given the "
            "LUTs of the sparse logic (baseline.equal_area_cols, docs/resources.md)"
        )
    return out


def _energy_lines(res: RunResult) -> list[str]:
    e = energy_summary(res)
    if e is None:
        return ["energy            not modelled: no energy table (name one with 'energy:' in the workload)"]
    d, s = e["dense"], e["sparse"]
    lines = [
        f"energy            dense {d['total_uj']:,.1f} uJ   pruned {s['total_uj']:,.1f} uJ   ({e['ratio']:.2f}x less) "
        f"per inference, ESTIMATES from {e['table_file']}",
        f"  range           dense {d['low_uj']:,.0f}-{d['high_uj']:,.0f} uJ   pruned {s['low_uj']:,.0f}-{s['high_uj']:,.0f} uJ "
        "(every table value at its low / high end)",
        f"  {'block':<17}{'dense uJ':>10}{'pruned uJ':>11}",
    ]
    for b in e["blocks"]:
        lines.append(f"  {b:<17}{d['blocks_uj'][b]:>10,.2f}{s['blocks_uj'][b]:>11,.2f}")
    lines += [
        f"efficiency        dense {d['inferences_per_joule']:,.0f} inf/J, {d['gops_per_watt']:,.0f} GOPS/W   "
        f"pruned {s['inferences_per_joule']:,.0f} inf/J, {s['gops_per_watt_effective']:,.0f} GOPS/W effective, "
        f"{s['gops_per_watt_actual']:,.0f} GOPS/W actual",
        f"  ops             2 x K x K per kernel and position: dense {e['ops']['dense'] / 1e9:.3f} GOP, pruned "
        f"{e['ops']['sparse_actual'] / 1e9:.3f} GOP performed; effective = dense GOP / pruned time",
        f"power             dense {d['average_power_w']:.3f} W   pruned {s['average_power_w']:.3f} W   "
        "(average while the accelerator runs; host not included)",
    ]
    return lines


def _check_line(res: RunResult) -> str:
    n = len(res.samples)
    parts = [f"model {res.check.status.upper()} ({n} sample{'s' if n > 1 else ''}, every layer, mask and logit)"]
    if res.baseline_check.checked:
        parts.append(f"baseline {res.baseline_check.status.upper()}")
    else:
        parts.append("baseline not checked (no baseline trace)")
    verdict = "PASS" if res.functional_pass else "FAIL"
    return f"{verdict}: " + "; ".join(parts)


def format_mismatches(res: RunResult, limit: int = 10) -> str:
    lines = []
    for what, chk in (("model", res.check), ("baseline", res.baseline_check)):
        for m in chk.mismatches[:limit]:
            lines.append(f"MISMATCH {what}: {m}")
        if len(chk.mismatches) > limit:
            lines.append(f"MISMATCH {what}: ... and {len(chk.mismatches) - limit} more")
    return "\n".join(lines)
