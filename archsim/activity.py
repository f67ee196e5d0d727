"""Activity counters: how often each block acts, for the energy model.

The timing model counts these while it simulates (fast mode per tile and per
DMA job, cycle mode per cycle); the two modes must agree on every counter. An
energy model multiplies each counter by an energy per action. docs/simulator.md
defines every counter precisely.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from archsim.contract import LayerTiming, Schedule


@dataclass
class Activity:
    ddr_read_beats: int = 0  # R beats received (axi.data_bits each)
    ddr_write_beats: int = 0  # W beats sent
    weight_reads: int = 0  # weight-slot step reads: rows kernels (and their indices) per PE issue cycle
    param_reads: int = 0  # epilogue-parameter reads: mult and bias of one slot (rows channels) per cycle
    index_decodes: int = 0  # sparse indices decoded into accumulator slots (rows per step; 0 in dense mode)
    pe_ops: int = 0  # PE operations issued: rows x cols masked XNOR-popcount-accumulates per step
    pe_useful: int = 0  # of those, on a kept kernel of a real output channel at an occupied column
    window_writes: int = 0  # window-buffer writes by the gather: one (position, channel block) each
    window_reads: int = 0  # window-buffer reads by the PE array: one (column, input channel) each
    act_reads: int = 0  # activation-bank word reads (B_A bits each)
    act_writes: int = 0  # activation-bank writes (a word or part of one)
    res_reads: int = 0  # residual-buffer word reads (rows x value_bits each)
    res_writes: int = 0  # residual-buffer word writes
    list_writes: int = 0  # active-list entries appended by the mask unit
    list_reads: int = 0  # active-list entries read by the gather (every pass and channel-block sweep reads them again)
    mask_evals: int = 0  # mask-unit evaluations: one position and one channel block (9 B_A-bit XNOR-popcount)
    epilogue_ops: int = 0  # epilogue operations: affine, residual add, saturate and sign of one output value
    stem_macs: int = 0  # stem unit (docs/timing.md 3.1): 8-bit multiply-accumulates on its DSP48E2 slices

    def add(self, other: Activity) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class SimLayerTiming(LayerTiming):
    """contract.LayerTiming plus what the layer's blocks did (its blobs' DDR beats included)."""

    activity: Activity = field(default_factory=Activity)


@dataclass
class SimSchedule(Schedule):
    """contract.Schedule plus the mode that produced it and the LOAD's and STORE's activity."""

    mode: str = "fast"
    load_activity: Activity = field(default_factory=Activity)
    store_activity: Activity = field(default_factory=Activity)

    def layer_activity(self) -> list[Activity]:
        """Activity of each layer, in programme order (`layers` is typed as the contract's list)."""
        out = []
        for layer in self.layers:
            assert isinstance(layer, SimLayerTiming)
            out.append(layer.activity)
        return out

    def total_activity(self) -> Activity:
        total = Activity()
        for part in (self.load_activity, *self.layer_activity(), self.store_activity):
            total.add(part)
        return total
