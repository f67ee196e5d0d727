"""The comparison table: this design (from archsim results files) next to published FPGA BNN
accelerators (analysis/published.yaml, each figure with its source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .readers import ResourceEntry, RunResults, show


def _fmt(v: float | None, spec: str = ",.0f", suffix: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{suffix}"


def _resources(res: dict[str, float] | None) -> str:
    if not res:
        return "-"
    parts = [
        f"{res[k]:,.0f} {name}"
        for k, name in (("lut", "LUT"), ("ff", "FF"), ("bram36", "BRAM36"), ("dsp", "DSP"))
        if k in res
    ]
    return ", ".join(parts)


def _our_resources(run: RunResults, resources: list[ResourceEntry] | None, design: str) -> dict[str, float] | None:
    """The build of the run's PE array: the dense baseline's own build for the dense row."""
    if not resources:
        return None
    hw = run.summary.get("hardware", {})
    for e in resources:
        if e.matches(hw.get("pe_rows"), hw.get("pe_cols"), design):
            return e.values
    only = [e for e in resources if e.rows is None and e.cols is None]
    return only[0].values if len(only) == 1 else None


DATASETS = {"fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "digits": "digits"}


def _accuracy(run: RunResults, role: str) -> str:
    """The trainer's integer-mode test accuracy, as the run's summary.json recorded it."""
    if run.synthetic:
        return "n/a (random weights)"
    a = (run.summary.get("trained_accuracy") or {}).get(role)
    if not a:
        return "-"
    return f"{DATASETS.get(a['dataset'], a['dataset'])} {100 * a['int_accuracy']:.2f} % (integer mode)"


def _our_clocks(runs: list[RunResults]) -> str:
    return ", ".join(sorted({f"{float(r.summary['clock_mhz']):g} MHz" for r in runs}))


def _host_work(runs: list[RunResults]) -> tuple[str, str]:
    """What the modelled host time covers: the stem only where a run computed it on the host (summary.json's
    host.stem; runs from before the stem unit have no such field and ran it on the host)."""
    if all(r.summary.get("host", {}).get("stem", "host") != "host" for r in runs):
        return "the classifier on the ARM cores; the stem runs on chip, `stem_unit`", "its classifier"
    return "stem and classifier on the ARM cores", "its stem and classifier"


def _our_datasets(runs: list[RunResults]) -> str:
    names = set()
    for run in runs:
        if run.synthetic:
            names.add("random synthetic inputs")
        for a in (run.summary.get("trained_accuracy") or {}).values():
            names.add(DATASETS.get(a.get("dataset"), str(a.get("dataset"))))
    return ", ".join(sorted(names)) or "not recorded"


def our_rows(run: RunResults, resources: list[ResourceEntry] | None, resource_file: Path) -> list[dict[str, Any]]:
    """Two rows (dense baseline, pruned) with the raw numbers read from the run's summary.json."""
    s = run.summary
    e = s.get("energy") or {}
    tag = " [SYNTHETIC workload: random weights]" if run.synthetic else ""
    rows = []
    stream = s.get("stream")  # throughput mode, when the run streamed (archsim run --stream N)
    for mode, label in (("dense", "dense baseline"), ("sparse", "pruned")):
        m = s[mode]
        em = e.get(mode, {})
        res = _our_resources(run, resources, mode)
        rows.append(
            {
                "system": f"this design, {label} (archsim, workload {run.name}){tag}",
                "board": f"Ultra96v2 ({s['config']})",
                "clock_mhz": s["clock_mhz"],
                "fps": m["fps"],
                "latency_us": 1e6 / m["fps"],
                "latency_with_host_us": m["latency_us"],
                "stream_fps": stream[mode]["fps"] if stream else None,
                "system_fps": stream["system"][f"{mode}_fps"] if stream and "system" in stream else None,
                "resources": res,
                "resources_note": "" if res else f"no RTL resource report ({show(resource_file)})",
                "power_w": em.get("average_power_w"),
                "inferences_per_joule": em.get("inferences_per_joule"),
                "gops_per_watt": em.get("gops_per_watt") if mode == "dense" else em.get("gops_per_watt_effective"),
                "gops_per_watt_actual": em.get("gops_per_watt_actual"),
                "accuracy": _accuracy(run, "model" if mode == "sparse" else "baseline"),
                "speedup": 1.0 if mode == "dense" else s["speedup"],
                # pruned vs the dense build given the sparse logic's LUTs (more PE columns), if the run has it
                "equal_area": None if mode == "dense" else s.get("equal_area"),
                "stream_speedup": stream["speedup"] if stream and mode == "sparse" else None,
                "system_speedup": stream["system"]["speedup"]
                if stream and "system" in stream and mode == "sparse"
                else None,
                "source": f"{show(run.path / 'summary.json')}; energy: ESTIMATES ({e.get('table_file', 'no table')})",
            }
        )
    return rows


def comparison(
    runs: list[RunResults], published: dict[str, Any], resources: list[ResourceEntry] | None, resource_file: Path
) -> tuple[list[dict[str, Any]], str]:
    """Rows (ours with raw numbers, then published ones) and the Markdown text."""
    ours = [row for run in runs for row in our_rows(run, resources, resource_file)]
    paper = published["paper"]
    pub = [
        {
            "system": paper["name"],
            "board": paper["board"],
            "speedup": paper["speedup_over_dense"],
            "source": paper["source"],
        },
        *[
            {
                "system": p["name"],
                "board": f"{p['board']} ({p['part']})",
                "clock_mhz": p.get("clock_mhz"),
                "fps": p.get("fps"),
                "fps_note": p.get("fps_note"),
                "latency_us": p.get("latency_us"),
                "resources": p.get("resources"),
                "accuracy": p.get("accuracy", "-"),
                "source": p["source"],
            }
            for p in published["systems"]
        ],
    ]
    head = (
        "| system | board | clock (MHz) | FPS | latency (us) | resources | power (W) | energy efficiency "
        "| accuracy | speedup over own dense | source |"
    )
    lines = [
        "# This design next to published FPGA BNN accelerators",
        "",
        "Generated by `python -m analysis all` from archsim results files (our rows) and "
        "`analysis/published.yaml` (published rows, each with its source). Do not edit by hand.",
        "",
    ]
    if any(r.synthetic for r in runs):
        lines += [
            "**Our rows come from a SYNTHETIC workload** (random weights and random inputs, not a trained network): "
            "their cycles, throughput and energy describe the hardware on this network's sparsity; "
            "there is no accuracy to report.",
            "",
        ]
    lines += [
        "Our FPS and latency are the accelerator alone (cycles / clock), one image at a time; the latency in "
        f"brackets adds the modelled host time ({_host_work(runs)[0]}). Where the run also streamed "
        "images (throughput mode, docs/timing.md section 9), the FPS in brackets are the stream's (FINN's period) "
        f"and the whole system's at best with the host ({_host_work(runs)[1]} overlapped with the accelerator: "
        "period = max(host time, accelerator period)), and the speedup column adds both. Our power and energy efficiency are "
        "ESTIMATES of archsim's energy model (accelerator and DDR, host not included; docs/energy.md); "
        "GOPS count 2 x K x K binary operations per kernel and position; for the pruned model 'effective' "
        "divides the dense model's operations by the pruned energy, 'actual' the operations it performs.",
        "",
        "Caveats when reading across rows: our resources are Yosys estimates before place and route "
        "(docs/resources.md), not Vivado reports; our clock "
        f"({_our_clocks(runs)}, the configuration's clock_mhz) "
        "is assumed, not met by a timing-closed build; our accuracy and throughput are on our dataset and input size "
        f"({_our_datasets(runs)}), while the published rows report their own (see each row's accuracy column), "
        "so speedups and accuracies are not measured on the same task.",
        "",
        head,
        "|" + " --- |" * 11,
    ]
    for r in ours:
        eff = "-"
        if r["inferences_per_joule"] is not None:
            eff = f"{r['inferences_per_joule']:,.0f} inf/J; {r['gops_per_watt']:,.0f} GOPS/W"
            if r["gops_per_watt_actual"] is not None:
                eff += f" effective ({r['gops_per_watt_actual']:,.0f} actual)"
        speed = f"{r['speedup']:.2f}x" + (f" (paper: {paper['speedup_over_dense']:g}x)" if r["speedup"] != 1.0 else "")
        ea = r.get("equal_area")
        if ea:
            speed += f"; {ea['speedup']:.2f}x at equal area (dense on {ea['dense_pe_cols']} PE columns)"
        if r["stream_speedup"] is not None:
            speed += f"; {r['stream_speedup']:.2f}x streaming"
        if r["system_speedup"] is not None:
            speed += f", {r['system_speedup']:.2f}x with the host"
        fps = f"{r['fps']:,.0f}"
        if r["stream_fps"] is not None:
            fps += f" ({r['stream_fps']:,.0f} streaming"
            fps += f"; {r['system_fps']:,.0f} with the host)" if r["system_fps"] is not None else ")"
        lines.append(
            f"| {r['system']} | {r['board']} | {r['clock_mhz']:g} | {fps} | {r['latency_us']:,.1f} "
            f"({r['latency_with_host_us']:,.1f}) | {_resources(r['resources']) if r['resources'] else r['resources_note']} "
            f"| {_fmt(r['power_w'], '.3f')} | {eff} | {r['accuracy']} | {speed} | {r['source']} |"
        )
    for r in pub:
        fps = r.get("fps_note") or _fmt(r.get("fps"))
        speed = f"{r['speedup']:g}x" if r.get("speedup") else "-"
        lines.append(
            f"| {r['system']} | {r['board']} | {_fmt(r.get('clock_mhz'), 'g')} | {fps} | {_fmt(r.get('latency_us'), ',.0f')} "
            f"| {_resources(r.get('resources'))} | - | - | {r.get('accuracy', '-')} | {speed} | {r['source']} |"
        )
    return [*ours, *pub], "\n".join(lines) + "\n"
