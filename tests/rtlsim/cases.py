"""The cross-check cases: small seeded models on small configurations.

Shared by tests/test_rtl_layers.py (asserts) and bench/rtl_crosscheck.py (prints the
table of archsim vs RTL cycles). Predictor thresholds are chosen from the scores the
layer actually sees, so "sparse" really is about half the positions, "empty" none,
"all" every one (the mask unit still runs), "few" the top scores only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from archsim.config import HardwareConfig
from archsim.functional import stem_output
from tests.rtlsim.configs import tiny
from tests.rtlsim.harness import Built, Case, build
from tests.rtlsim.models import LayerSpec, make_model, random_image, random_x0, unit_stem, with_thresholds
from tests.rtlsim.reference import layer_inputs, predictor_score


def choose_thresholds(model, x0: np.ndarray, kinds: dict[int, str]):
    """Set the thresholds of the layers in `kinds` one after the other (earlier ones shape later inputs)."""
    for i in sorted(kinds):
        bits = layer_inputs(model, x0, "sparse")[i]
        s = predictor_score(model.layers[i], bits)
        t = {
            "sparse": int(np.median(s)),
            "empty": int(s.max()) + 1,
            "all": int(s.min()),
            "few": int(np.sort(s.reshape(-1))[-3]),
        }[kinds[i]]
        model = with_thresholds(model, {i: t})
    return model


@dataclass(frozen=True)
class CaseSpec:
    name: str
    what: str
    cfg_over: dict = field(default_factory=dict)
    c0: int = 8
    h: int = 6
    w: int = 6
    layers: tuple[LayerSpec, ...] = ()
    thresholds: dict = field(default_factory=dict)
    seed: int = 0
    mode: str = "sparse"

    def config(self) -> HardwareConfig:
        return tiny(**self.cfg_over)

    @property
    def stem(self) -> bool:
        """The configuration has the stem unit: the case's input is a raw image (docs/timing.md 3.1)."""
        return self.config().stem_unit.enabled

    def sample(self, model, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """(x0, raw image or None) of one sample: with the stem unit x0 is the image's stem output."""
        if not self.stem:
            return random_x0(rng, self.c0, self.h, self.w), None
        img = random_image(rng, self.h, self.w)
        return stem_output(model.stem, img[None])[0], img

    def make(self, backpressure: bool = False, mem_seed: int = 0) -> Case:
        cfg = self.config()
        layers = list(self.layers)
        if self.mode == "dense":
            layers = [LayerSpec(**{**s.__dict__, "k": None}) for s in layers]
        model = make_model(cfg, self.c0, self.h, self.w, layers, self.seed, name=self.name)
        if self.stem:
            model = replace(model, stem=unit_stem(np.random.default_rng([self.seed, 5]), self.c0))
        x0, img = self.sample(model, np.random.default_rng([self.seed, 7]))
        if self.thresholds:
            model = choose_thresholds(model, x0, self.thresholds)
        return Case(self.name, model, x0, self.mode, backpressure, mem_seed, image=img)


_BUILT: dict[tuple[str, str], Built] = {}


def built_for(spec: CaseSpec) -> Built:
    """`spec`'s configuration and mode built for Icarus, once per test process (and cached on disk)."""
    key = (spec.config().model_dump_json(), spec.mode)
    if key not in _BUILT:
        _BUILT[key] = build(spec.config(), sparse=spec.mode == "sparse", sim="icarus")
    return _BUILT[key]


SC = {"role": "shortcut", "residual": False, "kernel": 1, "stride": 2}
G4 = {"pe_array": {"acc_depth": 4}, "buffers": {"act_word_bits": 16}}
INBUF = {"buffers": {"input_buffer": True}}
POOLED = {"buffers": {"pooled_store": True}}
EARLY = {"buffers": {"early_scan": True}}

PROGRAM_LAYERS = (
    LayerSpec("c1", 8, k=1),
    LayerSpec("c2", 8, k=2, predictor="p"),
    LayerSpec("sc", 16, k=1, **SC),
    LayerSpec("c3", 16, stride=2, k=1, predictor="p"),
    LayerSpec("c4", 16, k=1, predictor="p"),
)
# Ten blobs of 8 to 48 weight entries: enough to fill a small weight ring and wrap it.
RING_LAYERS = (
    LayerSpec("c1", 16, k=1, residual=False),
    LayerSpec("c2", 16, k=2, predictor="p"),
    LayerSpec("c3", 24, k=1, residual=False),
    LayerSpec("c4", 24, k=2, predictor="p"),
)

RING_WRAP = CaseSpec(
    "ring_wrap",
    "weight ring of 128 entries, 8 blob slots: blobs wait for the ring (need from the ring), the last wraps",
    cfg_over={"buffers": {"weight_depth": 48, "blob_slots": 8}},
    c0=8,
    h=6,
    w=6,
    layers=RING_LAYERS,
    thresholds={1: "sparse", 3: "sparse"},
    seed=15,
)

CASES: tuple[CaseSpec, ...] = (
    CaseSpec(
        "c3_s1",
        "3x3 stride 1, half the kernels kept, every position (no predictor)",
        layers=(LayerSpec("conv", 8, k=1),),
        seed=1,
    ),
    CaseSpec(
        "pair_s2",
        "1x1 stride-2 shortcut + 3x3 stride-2 main, 8 -> 12 channels (not a multiple of a pass)",
        c0=8,
        h=7,
        w=7,
        layers=(LayerSpec("sc", 12, k=1, **SC), LayerSpec("main", 12, stride=2, k=1)),
        seed=2,
    ),
    CaseSpec(
        "odd_ch",
        "10 -> 6 channels (multiples of neither rows nor words), 5x7 map, no residual",
        c0=10,
        h=5,
        w=7,
        layers=(LayerSpec("conv", 6, k=2, residual=False),),
        seed=3,
    ),
    CaseSpec(
        "dens_1of4",
        "kernel density 1/4 (k=1 of 4 slots), 2 activation words per position",
        cfg_over=G4,
        c0=20,
        h=4,
        w=5,
        layers=(LayerSpec("conv", 20, k=1),),
        seed=4,
    ),
    CaseSpec(
        "dens_3of4",
        "kernel density 3/4 (k=3 of 4 slots), 3 passes",
        cfg_over=G4,
        c0=12,
        h=4,
        w=4,
        layers=(LayerSpec("conv", 36, k=3, residual=False),),
        seed=5,
    ),
    CaseSpec(
        "mask_sparse",
        "3x3 stride 1 with a predictor, about half the positions active (centre-bit copies)",
        c0=8,
        h=7,
        w=6,
        layers=(LayerSpec("conv", 8, k=1, predictor="p"),),
        thresholds={0: "sparse"},
        seed=6,
    ),
    CaseSpec(
        "mask_empty",
        "predictor threshold above every score: no active position at all",
        layers=(LayerSpec("conv", 8, k=1, predictor="p"),),
        thresholds={0: "empty"},
        seed=7,
    ),
    CaseSpec(
        "mask_all",
        "predictor below every score: all active, mask unit still running",
        c0=16,
        h=5,
        w=5,
        layers=(LayerSpec("conv", 16, k=2, predictor="p"),),
        thresholds={0: "all"},
        seed=8,
    ),
    CaseSpec(
        "mask_s2",
        "shortcut + stride-2 main with a predictor: skipped positions keep the shortcut",
        c0=8,
        h=8,
        w=8,
        layers=(LayerSpec("sc", 16, k=1, **SC), LayerSpec("main", 16, stride=2, k=1, predictor="p")),
        thresholds={1: "sparse"},
        seed=9,
    ),
    CaseSpec(
        "mask_sc_s1",
        "stride-1 shortcut (8 -> 12) + predicted stride-1 main: no centre copy after a shortcut",
        c0=8,
        h=5,
        w=6,
        layers=(
            LayerSpec("sc", 12, k=1, role="shortcut", residual=False, kernel=1, stride=1),
            LayerSpec("main", 12, k=1, predictor="p"),
        ),
        thresholds={1: "sparse"},
        seed=14,
    ),
    CaseSpec(
        "program",
        "multi-layer programme: 3x3, predicted 3x3, shortcut pair with predictor, 3x3",
        c0=8,
        h=8,
        w=8,
        layers=PROGRAM_LAYERS,
        thresholds={1: "sparse", 3: "few", 4: "sparse"},
        seed=10,
    ),
    CaseSpec(
        "odd_array",
        "3 PE columns, 3 slots per row, 4-channel words; predictor",
        cfg_over={"pe_array": {"cols": 3, "acc_depth": 3}, "buffers": {"act_word_bits": 4}},
        c0=6,
        h=5,
        w=5,
        layers=(LayerSpec("conv", 14, k=2, residual=False), LayerSpec("c2", 14, k=1, predictor="p")),
        thresholds={1: "sparse"},
        seed=11,
    ),
    CaseSpec(
        "slow_mem",
        "slow memory: 2 cycles per beat, 1 outstanding burst each way, 2-beat bursts, 64-bit bus",
        cfg_over={
            "axi": {
                "data_bits": 64,
                "max_burst_beats": 2,
                "read_beat_cycles": 2,
                "read_latency": 9,
                "write_latency": 7,
                "max_outstanding_reads": 1,
                "max_outstanding_writes": 1,
            }
        },
        c0=8,
        h=6,
        w=6,
        layers=(LayerSpec("c1", 8, k=1, predictor="p"), LayerSpec("c2", 8, k=2)),
        thresholds={0: "sparse"},
        seed=12,
    ),
    CaseSpec(
        "saturate",
        "large multipliers and biases: the epilogue saturates both ways",
        c0=8,
        h=5,
        w=5,
        layers=(LayerSpec("c1", 8, k=1, mult_range=32767, shift=2), LayerSpec("c2", 8, k=2, mult_range=32767, shift=0)),
        seed=13,
    ),
    RING_WRAP,
    replace(
        RING_WRAP,
        name="slots_4",
        what="the same programme with 4 blob slots: blobs wait for their parameter/predictor slot",
        cfg_over={"buffers": {"weight_depth": 48, "blob_slots": 4}},
    ),
    CaseSpec(
        "slots_2",
        "the multi-layer programme with 2 blob slots (blob i waits for blob i - 2)",
        cfg_over={"buffers": {"blob_slots": 2}},
        c0=8,
        h=8,
        w=8,
        layers=PROGRAM_LAYERS,
        thresholds={1: "sparse", 3: "few", 4: "sparse"},
        seed=10,
    ),
    CaseSpec(
        "dense_prog",
        "dense baseline (index decoder and mask unit bypassed) running the programme unpruned",
        c0=8,
        h=8,
        w=8,
        layers=(
            LayerSpec("c1", 8, k=1),
            LayerSpec("c2", 8, k=2, predictor="p"),
            LayerSpec("sc", 16, k=1, **SC),
            LayerSpec("c3", 16, stride=2, k=1, predictor="p"),
        ),
        thresholds={1: "sparse", 3: "sparse"},
        seed=10,
        mode="dense",
    ),
    # Input buffer (docs/timing.md 4.4): layer 1 overlaps the LOAD; its units wait for the LOADed rows.
    CaseSpec(
        "inbuf_mask",
        "input buffer: a predicted 3x3 first layer scans the rows as they are LOADed (mask unit waits)",
        cfg_over=INBUF,
        c0=8,
        h=10,
        w=9,
        layers=(LayerSpec("c1", 8, k=1, predictor="p"), LayerSpec("c2", 8, k=2)),
        thresholds={0: "sparse"},
        seed=16,
    ),
    CaseSpec(
        "inbuf_program",
        "input buffer: the multi-layer programme, its first layer without predictor (gather waits)",
        cfg_over=INBUF,
        c0=8,
        h=8,
        w=8,
        layers=PROGRAM_LAYERS,
        thresholds={1: "sparse", 3: "few", 4: "sparse"},
        seed=10,
    ),
    CaseSpec(
        "inbuf_pair",
        "input buffer: a shortcut first, then the predicted stride-2 main layer also reads the input set",
        cfg_over=INBUF,
        c0=8,
        h=9,
        w=8,
        layers=(LayerSpec("sc", 16, k=1, **SC), LayerSpec("main", 16, stride=2, k=1, predictor="p")),
        thresholds={1: "sparse"},
        seed=17,
    ),
    CaseSpec(
        "inbuf_dense",
        "input buffer on the dense baseline: the gather of the first layer waits for rows",
        cfg_over=INBUF,
        c0=8,
        h=8,
        w=8,
        layers=(LayerSpec("c1", 8, k=1), LayerSpec("c2", 8, k=2, predictor="p")),
        thresholds={1: "sparse"},
        seed=18,
        mode="dense",
    ),
    # Pooled STORE (docs/timing.md 5): the last layer's epilogue sums every output word into the sum
    # store, the STORE writes the int32 channel sums.
    CaseSpec(
        "pooled_program",
        "pooled STORE: the multi-layer programme ending in 12 channels (two passes, phantom rows), 4x4",
        cfg_over=POOLED,
        c0=8,
        h=8,
        w=8,
        layers=(*PROGRAM_LAYERS[:4], LayerSpec("c4", 16, k=1), LayerSpec("c5", 12, k=1, residual=False)),
        thresholds={1: "sparse", 3: "sparse"},
        seed=19,
    ),
    CaseSpec(
        "pooled_inbuf_dense",
        "pooled STORE with the input buffer on the dense baseline: sums over 64 positions, 2 passes of 8",
        cfg_over={"buffers": {"pooled_store": True, "input_buffer": True}},
        c0=8,
        h=8,
        w=8,
        layers=(LayerSpec("c1", 8, k=1), LayerSpec("c2", 16, k=1, residual=False)),
        seed=20,
        mode="dense",
    ),
)

# Block residuals (model format version 2): a layer without residual leaves the residual buffer
# alone, so a later layer adds the block's input (or the block's 1x1 shortcut) over two convs.
KEEP = {"residual": False, "res_write": False}
CASES += (
    CaseSpec(
        "block_res",
        "block residual: conv1 leaves the residual buffer alone, predicted conv2 adds the block's input",
        c0=8,
        h=7,
        w=6,
        layers=(LayerSpec("c1", 8, k=1, **KEEP), LayerSpec("c2", 8, k=2, predictor="p"), LayerSpec("c3", 8, k=1)),
        thresholds={1: "sparse"},
        seed=19,
    ),
    CaseSpec(
        "block_sc",
        "projecting block: 1x1 stride-2 shortcut on the block input, stride-2 conv1 keeps it, conv2 adds it",
        c0=8,
        h=8,
        w=7,
        layers=(
            LayerSpec("sc", 12, k=1, **SC),
            LayerSpec("c1", 12, stride=2, k=1, **KEEP),
            LayerSpec("c2", 12, k=2),
            LayerSpec("c3", 12, k=1, **KEEP),
            LayerSpec("c4", 12, k=1, predictor="p"),
        ),
        thresholds={4: "sparse"},
        seed=20,
    ),
    CaseSpec(
        "inbuf_block",
        "input buffer: layer 1 leaves the residual buffer to layer 2, so the LOAD also writes it and set 0"
        " (layer 2's skipped positions keep sign(x0) for layer 3)",
        cfg_over=INBUF,
        c0=8,
        h=8,
        w=8,
        layers=(LayerSpec("c1", 8, k=1, **KEEP), LayerSpec("c2", 8, k=1, predictor="p"), LayerSpec("c3", 8, k=2)),
        thresholds={1: "sparse"},
        seed=21,
    ),
)

# 2x2 max-pool in the epilogue (docs/timing.md 2, rtl/verilog/bnn_maxpool.v): a pooled layer writes its
# bits OR-ed into the pooled word of the output set, the next layer reads the pooled map. The channel
# counts give 1, 2 and 4 channel slots per position, so a pooled word's next OR comes 1, 2 (forwarded
# writes) or 4 cycles (the output set's old word) after the write before it.
POOL = {"residual": False, "res_write": False, "maxpool": True}
CASES += (
    CaseSpec(
        "pool_c3",
        "a no-residual conv, then one with a 2x2 max-pool (8x8 -> 4x4, one slot per position) into the set"
        " the LOAD wrote (its old bits must not leak in), then a 3x3 conv",
        c0=8,
        h=8,
        w=8,
        layers=(
            LayerSpec("c0", 8, k=2, residual=False, res_write=False),
            LayerSpec("c1", 4, k=1, **POOL),
            LayerSpec("c2", 8, k=1, residual=False),
        ),
        seed=30,
    ),
    CaseSpec(
        "pool_odd_1x1",
        "odd map 7x9: the pool drops the last row and column (-> 3x4), then a 1x1 conv; two slots",
        c0=8,
        h=7,
        w=9,
        layers=(LayerSpec("c1", 8, k=2, **POOL), LayerSpec("c2", 8, kernel=1, k=1, residual=False)),
        seed=31,
    ),
    CaseSpec(
        "pool_passes",
        "max-pool over 3 passes of 4-slot rows and 3 activation words (36 ch, 9x8 -> 4x4), twice in a row",
        cfg_over=G4,
        c0=12,
        h=9,
        w=8,
        layers=(
            LayerSpec("c1", 36, k=2, **POOL),
            LayerSpec("c2", 20, k=1, **POOL),
            LayerSpec("c3", 8, k=1, residual=False),
        ),
        seed=32,
    ),
    CaseSpec(
        "pool_then_mask",
        "pooled conv, then a 1x1 shortcut and a predicted 3x3 on the pooled map (mask unit reads it)",
        c0=8,
        h=10,
        w=10,
        layers=(
            LayerSpec("c1", 8, k=1, **POOL),
            LayerSpec("sc", 8, k=1, role="shortcut", residual=False, kernel=1, stride=1),
            LayerSpec("c2", 8, k=1, predictor="p"),
        ),
        thresholds={2: "sparse"},
        seed=33,
    ),
    CaseSpec(
        "pool_s2_last",
        "stride-2 conv with a max-pool (12x11 -> 6x6 -> 3x3), a 3x3 conv whose pool is the host's",
        c0=8,
        h=12,
        w=11,
        layers=(LayerSpec("c1", 8, stride=2, k=1, **POOL), LayerSpec("c2", 12, k=1, residual=False, maxpool=True)),
        seed=34,
    ),
    CaseSpec(
        "pool_inbuf",
        "input buffer: the first layer pools while the LOAD is still running (its gather waits for rows)",
        cfg_over=INBUF,
        c0=8,
        h=8,
        w=8,
        layers=(LayerSpec("c1", 8, k=1, **POOL), LayerSpec("c2", 8, k=2, residual=False)),
        seed=35,
    ),
    CaseSpec(
        "pool_dense",
        "dense baseline: a pooled layer, then a 3x3 conv, unpruned",
        c0=8,
        h=6,
        w=6,
        layers=(LayerSpec("c1", 8, **POOL), LayerSpec("c2", 8, residual=False)),
        seed=36,
        mode="dense",
    ),
    CaseSpec(
        "pool_pred_dense",
        "a pooled layer with an identity residual and a predictor, on the dense baseline (mask unit bypassed,"
        " every position pooled; the sparse programme is refused: skipped positions' bits are not pooled)",
        c0=8,
        h=8,
        w=8,
        layers=(
            LayerSpec("c1", 8, residual=True, res_write=False, maxpool=True, predictor="p"),
            LayerSpec("c2", 8, residual=False),
        ),
        thresholds={0: "sparse"},
        seed=37,
        mode="dense",
    ),
)

# Early mask scan (docs/timing.md 4.5): the mask unit scans layer l + 1 while layer l runs, each row
# once layer l's output rows it reads are final.
CASES += (
    CaseSpec(
        "early_chain",
        "early scan: three predicted 3x3 layers after an unpredicted one, two passes each, each scanned"
        " while the previous one runs (row waits bind; c2 after c1's last gather, as c1 changes the channels)",
        cfg_over=EARLY,
        c0=8,
        h=8,
        w=8,
        layers=(
            LayerSpec("c1", 16, k=1, residual=False),
            LayerSpec("c2", 16, k=2, predictor="p"),
            LayerSpec("c3", 16, k=2, predictor="p"),
            LayerSpec("c4", 16, k=1, predictor="p"),
        ),
        thresholds={1: "sparse", 2: "sparse", 3: "few"},
        seed=22,
    ),
    CaseSpec(
        "early_stop",
        "early scan on the multi-layer programme: c2 scans while c1 runs; c3 follows a shortcut (E2 stops it),"
        " c4 copies centre bits into the input set of a stride-2 layer (E4 b: from c3's last gather on)",
        cfg_over=EARLY,
        c0=8,
        h=8,
        w=8,
        layers=PROGRAM_LAYERS,
        thresholds={1: "sparse", 3: "sparse", 4: "sparse"},
        seed=23,
    ),
    CaseSpec(
        "early_late",
        "late early scan (docs/timing.md 4.5, E4 b): a stride-2 layer without predictor, then a predicted"
        " identity-residual layer whose centre-bit copies go into the stride-2 layer's input set: its scan"
        " starts when that layer's last gather ends (9 tiles a pass: the term binds, on c3's end too, as its"
        " few active positions wait for the scan's end); then a same-shape layer scanned early as before",
        cfg_over=EARLY,
        c0=8,
        h=12,
        w=12,
        layers=(
            LayerSpec("c1", 8, k=1),
            LayerSpec("c2", 32, stride=2, k=1, residual=False),
            LayerSpec("c3", 32, k=1, predictor="p"),
            LayerSpec("c4", 32, k=1, predictor="p"),
        ),
        thresholds={2: "few", 3: "sparse"},
        seed=26,
    ),
    CaseSpec(
        "early_empty",
        "early scan: a predicted layer with no active position (its tile count, zero, handed over), then one"
        " that scans while it runs",
        cfg_over=EARLY,
        c0=8,
        h=6,
        w=7,
        layers=(
            LayerSpec("c1", 8, k=1),
            LayerSpec("c2", 8, k=2, predictor="p"),
            LayerSpec("c3", 8, k=1, predictor="p"),
        ),
        thresholds={1: "empty", 2: "sparse"},
        seed=24,
    ),
    CaseSpec(
        "early_inbuf",
        "early scan with the input buffer: a predicted first layer scans the LOADed rows, the second scans"
        " its output rows while it runs (port B leaves the input set)",
        cfg_over={"buffers": {"early_scan": True, "input_buffer": True}},
        c0=8,
        h=8,
        w=8,
        layers=(
            LayerSpec("c1", 8, k=1, predictor="p"),
            LayerSpec("c2", 8, k=2, predictor="p"),
            LayerSpec("c3", 8, k=1),
        ),
        thresholds={0: "sparse", 1: "sparse"},
        seed=25,
    ),
)

# Block-major gather (docs/timing.md 4.2, T1 and T2): the PE array starts a tile once its first channel
# block is gathered when B_A k_q >= n_t, else after the whole gather.
NARROW = {"pe_array": {"cols": 8}, "buffers": {"act_word_bits": 4, "input_buffer": True}}
CASES += (
    CaseSpec(
        "bg_blocks",
        "block-major gather with the input buffer: 3 channel blocks, 9 tiles a pass; the first layer's first"
        " sweeps wait for the LOADed rows and the PE array starts each tile from its first block; then a"
        " predicted layer, 3 passes each",
        cfg_over=INBUF,
        c0=24,
        h=6,
        w=6,
        layers=(LayerSpec("c1", 24, k=1), LayerSpec("c2", 24, k=2, predictor="p")),
        thresholds={1: "sparse"},
        seed=40,
    ),
    CaseSpec(
        "bg_narrow",
        "B_A = 4 < P_X = 8: with k_q = 1 a full tile (n_t = 8) is read faster than gathered, so the PE array"
        " waits for the whole gather; with k_q = 2, or the last tile (n_t = 1), it starts from the first block",
        cfg_over=NARROW,
        c0=8,
        h=5,
        w=5,
        layers=(LayerSpec("c1", 8, k=1), LayerSpec("c2", 8, k=2, predictor="p")),
        thresholds={1: "sparse"},
        seed=41,
    ),
)

# Split tiles (docs/timing.md 4.2, T3): a tile of at most P_X / 2 = 3 positions runs two steps per cycle. A
# 4 x 8-slot array on a 64-bit bus holds an even number of steps per weight entry (2 of a 3x3 step, 6 of a 1x1).
SPLIT = {
    "pe_array": {"cols": 6, "acc_depth": 8, "split_tiles": True},
    "buffers": {"act_word_bits": 8},
    "axi": {"data_bits": 64},
}
CASES += (
    CaseSpec(
        "split_mask",
        "split tiles: a predicted 3x3 layer with k = 3, so a pair of steps often spans two input channels;"
        " the partial tiles of up to 3 positions take two steps a cycle",
        cfg_over=SPLIT,
        c0=12,
        h=7,
        w=6,
        layers=(LayerSpec("conv", 12, k=3, predictor="p"),),
        thresholds={0: "sparse"},
        seed=50,
    ),
    CaseSpec(
        "split_odd_steps",
        "split tiles: 9 input channels (two channel blocks), k = 3: 27 steps, the last pair holds one step;"
        " 25 positions, so every pass ends with a tile of 1",
        cfg_over=SPLIT,
        c0=9,
        h=5,
        w=5,
        layers=(LayerSpec("conv", 9, k=3),),
        seed=51,
    ),
    CaseSpec(
        "split_pair_s2",
        "split tiles: a 1x1 stride-2 shortcut (6 steps an entry) + a predicted 3x3 stride-2 main, 8 -> 40"
        " channels (2 passes)",
        cfg_over=SPLIT,
        c0=8,
        h=9,
        w=9,
        layers=(LayerSpec("sc", 40, k=1, **SC), LayerSpec("main", 40, stride=2, k=2, predictor="p")),
        thresholds={1: "sparse"},
        seed=52,
    ),
    CaseSpec(
        "split_dense",
        "split tiles in dense mode (k = g = 4 steps a channel): 25 positions, every pass ends with a tile of 1",
        cfg_over=SPLIT,
        c0=16,
        h=5,
        w=5,
        layers=(LayerSpec("conv", 16, k=2),),
        seed=53,
        mode="dense",
    ),
    CaseSpec(
        "split_early",
        "split tiles with the early scan and the input buffer: predicted layers whose tiles of up to 3"
        " positions split, the scan of the next running beside them",
        cfg_over={**SPLIT, "buffers": {"act_word_bits": 8, "early_scan": True, "input_buffer": True}},
        c0=8,
        h=7,
        w=7,
        layers=(
            LayerSpec("c1", 8, k=1, predictor="p"),
            LayerSpec("c2", 8, k=2, predictor="p"),
            LayerSpec("c3", 8, k=2),
        ),
        thresholds={0: "sparse", 1: "few"},
        seed=54,
    ),
)

BACKPRESSURE = "program"  # the case also run with random AXI back-pressure


def case(name: str) -> CaseSpec:
    return next(c for c in CASES if c.name == name)
