"""`archsim run`: functional check, then timing of the pruned and dense programmes.

For every selected sample the functional model runs the pruned network, its
tensors are compared with the trace, and the masks it produces give each layer's
active positions; the timing model (archsim.sim.simulate) then schedules the
sparse programme for that sample. The dense baseline runs with its index decoder
and mask unit bypassed, so its timing does not depend on the input and is
simulated once. Results are plain numbers here; archsim/results.py formats and
writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from archsim.contract import LayerTiming, Schedule
from archsim.energy import InferenceEnergy, binary_ops, inference_energy
from archsim.functional import Mismatch, compare_with_trace, run_model
from archsim.sim import SIM_MODES, simulate
from archsim.workload import Workload

if TYPE_CHECKING:
    from archsim.config import Host
    from archsim.format import BnnModel
    from archsim.program import Program
    from archsim.stream import StreamResult

# Where an inference's cycles go (docs/usage.md, "Cycle accounting"): the PE array doing kept work at
# active positions, the array issuing steps with some PEs idle (partly filled tiles or rows), the array
# waiting inside layers (weights, mask unit, gather, epilogue, pipeline fill), and LOAD + STORE.
ACCOUNTS = ("useful", "partial", "waiting", "load_store")

# The units whose busy time bounds a layer, in the order the table names them.
UNITS = ("pe", "dma", "gather", "epilogue", "mask")


def unit_busy(lt: LayerTiming, read_beat_cycles: int) -> dict[str, int]:
    """Busy cycles of each unit for one layer of one schedule. The DMA's is the layer's blob
    streamed at the read port's rate (beta, docs/timing.md section 3), wherever it was loaded: above the
    layer's cycles when part of it came in before the layer started (the read DMA runs ahead)."""
    return {
        "pe": lt.pe_busy,
        "dma": lt.dma_beats * read_beat_cycles,
        "gather": lt.gather_busy,
        "epilogue": lt.epilogue_busy,
        "mask": lt.mask_busy,
    }


@dataclass
class LayerResult:
    index: int
    name: str
    kind: str  # "main" or "shortcut"
    kernel: int
    stride: int
    c_in: int
    c_out: int
    h_out: int
    w_out: int
    kept_kernels: int  # pruned model
    dense_kernels: int  # baseline (c_in x c_out)
    dense_cycles: int
    dense_dma_bytes: int
    dma_bytes: int  # pruned programme's blobs for this layer
    sparse_cycles: list[int] = field(default_factory=list)  # per sample
    active: list[int] = field(default_factory=list)  # active positions per sample
    dense_energy_pj: float | None = None  # None: no energy table
    sparse_energy_pj: list[float] = field(default_factory=list)  # per sample
    busy: list[dict[str, int]] = field(default_factory=list)  # per sample: unit_busy of the sparse run

    @property
    def positions(self) -> int:
        return self.h_out * self.w_out

    @property
    def kernel_density(self) -> float:
        return self.kept_kernels / self.dense_kernels

    @property
    def spatial_density(self) -> float:
        return float(np.mean(self.active)) / self.positions

    @property
    def sparse_cycles_mean(self) -> float:
        return float(np.mean(self.sparse_cycles))

    @property
    def speedup(self) -> float:
        return self.dense_cycles / self.sparse_cycles_mean

    def pe_utilization(self, rows: int, cols: int) -> float:
        """Useful PE operations (kept kernels x active positions) / (rows x cols x cycles), sample mean."""
        return float(
            np.mean(
                [
                    self.kept_kernels * a / (rows * cols * c)
                    for a, c in zip(self.active, self.sparse_cycles, strict=True)
                ]
            )
        )

    def busy_shares(self) -> dict[str, float]:
        """Each unit's busy cycles / the layer's cycles (sample mean): what the layer waits on."""
        return {
            u: float(np.mean([b[u] / c for b, c in zip(self.busy, self.sparse_cycles, strict=True)])) for u in UNITS
        }

    @property
    def bound(self) -> tuple[str, float]:
        """The busiest unit and its share of the layer's cycles."""
        shares = self.busy_shares()
        unit = max(UNITS, key=lambda u: shares[u])  # ties: the first in UNITS
        return unit, shares[unit]

    def dense_pe_utilization(self, rows: int, cols: int) -> float:
        return self.dense_kernels * self.positions / (rows * cols * self.dense_cycles)

    @property
    def sparse_energy_pj_mean(self) -> float | None:
        return float(np.mean(self.sparse_energy_pj)) if self.sparse_energy_pj else None


@dataclass
class FunctionalCheck:
    checked: bool
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.checked and not self.mismatches

    @property
    def status(self) -> str:
        return "not checked" if not self.checked else ("pass" if self.passed else "fail")


@dataclass
class RunResult:
    workload: Workload
    mode: str
    samples: list[int]
    check: FunctionalCheck  # pruned model against its trace
    baseline_check: FunctionalCheck  # baseline against its trace, if it has one
    dense: Schedule
    sparse: list[Schedule]  # per sample
    layers: list[LayerResult]
    stem_macs: int  # the host's: 0 when the stem unit computes the stem
    classifier_macs: int
    dense_energy: InferenceEnergy | None = None  # None: the workload has no energy table
    sparse_energy: list[InferenceEnergy] = field(default_factory=list)  # per sample
    equal_area_dense: Schedule | None = None  # the dense model on the equal-area dense build, if named
    actives: list[list[np.ndarray | None]] = field(default_factory=list)  # per sample: each layer's active positions
    stream: StreamResult | None = None  # throughput mode (--stream N), archsim.stream

    @property
    def equal_area_cols(self) -> int | None:
        ea = self.workload.equal_area
        return None if ea is None else ea[0].pe_array.cols

    @property
    def equal_area_speedup(self) -> float | None:
        """Pruned cycles against the dense model on the dense build of the same LUTs (more columns)."""
        if self.equal_area_dense is None:
            return None
        return self.equal_area_dense.done / self.sparse_cycles_mean

    @property
    def has_energy(self) -> bool:
        return self.dense_energy is not None

    @property
    def sparse_energy_pj_mean(self) -> float:
        return float(np.mean([e.total_pj for e in self.sparse_energy]))

    @property
    def dense_ops(self) -> float:
        """Binary operations of the dense baseline (2 x K x K per kernel and position)."""
        return sum(binary_ops(L.kernel, L.dense_kernels, L.positions) for L in self.layers)

    @property
    def sparse_ops(self) -> float:
        """Binary operations the pruned model performs: kept kernels at active positions (sample mean)."""
        return sum(binary_ops(L.kernel, L.kept_kernels, float(np.mean(L.active))) for L in self.layers)

    @property
    def functional_pass(self) -> bool:
        return self.check.passed and (self.baseline_check.passed or not self.baseline_check.checked)

    @property
    def sparse_cycles(self) -> list[int]:
        return [s.done for s in self.sparse]

    @property
    def sparse_cycles_mean(self) -> float:
        return float(np.mean(self.sparse_cycles))

    @property
    def speedup(self) -> float:
        return self.dense.done / self.sparse_cycles_mean

    @property
    def dense_work(self) -> int:
        """PE operations of the baseline: every kernel at every position, summed over layers."""
        return sum(L.dense_kernels * L.positions for L in self.layers)

    @property
    def sparse_work(self) -> list[int]:
        """Per sample: kept kernels x active positions, summed over layers."""
        return [sum(L.kept_kernels * L.active[j] for L in self.layers) for j in range(len(self.samples))]

    @property
    def ideal_speedup(self) -> float:
        return self.dense_work / float(np.mean(self.sparse_work))

    def accounting(self, sched: Schedule, kernels: list[int]) -> dict[str, float]:
        """ACCOUNTS of one schedule; `kernels` are each layer's kernels in that programme. The four
        add up to the schedule's cycles (each layer starts when the one before it ends)."""
        pes = self.workload.config.pe_array.rows * self.workload.config.pe_array.cols
        useful = sum(k * lt.n_active for k, lt in zip(kernels, sched.layers, strict=True)) / pes
        pe_busy = sum(lt.pe_busy for lt in sched.layers)
        in_layers = sum(lt.cycles for lt in sched.layers)
        return {
            "useful": useful,
            "partial": pe_busy - useful,
            "waiting": in_layers - pe_busy,
            "load_store": sched.done - in_layers,
        }

    @property
    def dense_accounting(self) -> dict[str, float]:
        return self.accounting(self.dense, [L.dense_kernels for L in self.layers])

    @property
    def sparse_accounting(self) -> dict[str, float]:
        """Sample mean. achieved / ideal speedup = (useful / cycles) pruned / (useful / cycles) dense."""
        per = [self.accounting(s, [L.kept_kernels for L in self.layers]) for s in self.sparse]
        return {a: float(np.mean([p[a] for p in per])) for a in ACCOUNTS}

    @property
    def host_time_us(self) -> float:
        return host_time_us(self.workload.config.host, self.stem_macs, self.classifier_macs)

    def latency_us(self, cycles: float) -> float:
        return self.host_time_us + cycles / self.workload.config.clock_mhz

    def fps(self, cycles: float) -> float:
        return self.workload.config.clock_hz / cycles


def host_macs(model: BnnModel, stem_on_chip: bool = False) -> tuple[int, int]:
    """MACs of the stem (3x3 over every input position) and of the classifier, run on the host. With the
    stem unit (`stem_unit.enabled`, docs/timing.md 3.1 and 6) the stem is the accelerator's: 0 host MACs."""
    c_img, h, w = model.input_shape
    stem = 0 if stem_on_chip else int(model.stem.weight.shape[0]) * c_img * 9 * h * w
    return stem, int(model.classifier.weight.size)


def stem_where(program: Program) -> str:
    """Where the stem conv runs, as reports state it (docs/timing.md 3.1, ST6 for a bypassed unit)."""
    if program.stem_unit:
        return "on chip (stem_unit)"
    return f"host (stem unit bypassed: {program.stem_bypassed})" if program.stem_bypassed else "host"


def host_time_us(host: Host, stem_macs: int, classifier_macs: int) -> float:
    """docs/timing.md section 6: overhead + (stem + classifier MACs) / MAC rate."""
    return host.overhead_us + (stem_macs + classifier_macs) / host.macs_per_second * 1e6


def run_workload(
    wl: Workload, samples: list[int] | None = None, mode: str = "fast", progress: bool = True
) -> RunResult:
    """Check and time `samples` (trace indices; default: the workload's selection)."""
    if mode not in SIM_MODES:
        raise ValueError(f"mode must be one of {SIM_MODES}, got {mode!r}")
    samples = list(wl.samples if samples is None else samples)
    cfg = wl.config
    vb = cfg.epilogue.value_bits
    beat = cfg.beat_bytes
    names = [L.name for L in wl.model.layers]

    dense = simulate(wl.baseline_program, cfg, [None] * len(wl.baseline_program.layers), mode)
    equal_area = None
    if wl.equal_area is not None:
        ea_cfg, ea_prog = wl.equal_area
        equal_area = simulate(ea_prog, ea_cfg, [None] * len(ea_prog.layers), mode)
    layers = [
        LayerResult(
            index=p.index,
            name=p.name,
            kind=p.role,
            kernel=p.kernel,
            stride=p.stride,
            c_in=p.c_in,
            c_out=p.c_out,
            h_out=p.h_out,
            w_out=p.w_out,
            kept_kernels=p.kept_kernels,
            dense_kernels=d.kept_kernels,
            dense_cycles=dt.cycles,
            dense_dma_bytes=d.blob_beats * beat,
            dma_bytes=p.blob_beats * beat,
        )
        for p, d, dt in zip(wl.program.layers, wl.baseline_program.layers, dense.layers, strict=True)
    ]
    check = FunctionalCheck(checked=True)
    base_check = FunctionalCheck(checked=wl.baseline_trace is not None)
    sparse: list[Schedule] = []
    actives: list[list[np.ndarray | None]] = []
    bar = tqdm(
        samples, desc=f"archsim run {wl.name}", unit="sample", disable=not progress or None, delay=0.5, leave=False
    )
    for s in bar:
        run = run_model(wl.model, wl.trace.inputs[s : s + 1], "sparse", vb)
        check.mismatches += compare_with_trace(run, wl.trace, [s], names)
        if wl.baseline_trace is not None:
            base_run = run_model(wl.baseline, wl.baseline_trace.inputs[s : s + 1], "dense", vb)
            base_check.mismatches += compare_with_trace(base_run, wl.baseline_trace, [s], names)
        active = [
            np.flatnonzero(run.masks[i][0]) if plan.mask_enabled and run.masks[i] is not None else None
            for i, plan in enumerate(wl.program.layers)
        ]
        sched = simulate(wl.program, cfg, active, mode)
        sparse.append(sched)
        actives.append(active)
        for L, lt in zip(layers, sched.layers, strict=True):
            L.sparse_cycles.append(lt.cycles)
            L.active.append(lt.n_active)
            L.busy.append(unit_busy(lt, cfg.axi.read_beat_cycles))
    bar.close()

    table = wl.energy
    dense_energy = None
    sparse_energy: list[InferenceEnergy] = []
    if table is not None:
        dense_energy = inference_energy(wl.baseline_program, dense, cfg, table)
        sparse_energy = [inference_energy(wl.program, s, cfg, table) for s in sparse]
        for i, L in enumerate(layers):
            L.dense_energy_pj = dense_energy.layers[i].total_pj
            L.sparse_energy_pj = [e.layers[i].total_pj for e in sparse_energy]

    stem_macs, classifier_macs = host_macs(wl.model, wl.program.stem_unit)
    return RunResult(
        workload=wl,
        mode=mode,
        samples=samples,
        check=check,
        baseline_check=base_check,
        dense=dense,
        sparse=sparse,
        layers=layers,
        stem_macs=stem_macs,
        classifier_macs=classifier_macs,
        dense_energy=dense_energy,
        sparse_energy=sparse_energy,
        equal_area_dense=equal_area,
        actives=actives,
    )
