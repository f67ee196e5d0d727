"""What overlapping layers, a stream's next LOAD and four-way split tiles could buy: an ESTIMATE for a design
that is not built.

    python bench/overlap_estimate.py [WORKLOAD]

Issue 10's throughput target asks for achieved / ideal >= 0.95 with both sides streaming. The pruned
run loses, per image, its layers' pipeline fills and tails (`archsim run`'s `PE waiting` line: above
all each layer's last epilogue, n_t g_q = 128 cycles of a full tile, while the PE array idles) and
its partial tiles (the `partial tiles` line; split tiles, rule T3, halve those of at most 8
positions). This script asks what three more levers would take, with the timing contract's own formulas (archsim/contract.py) and the rules drafted here; nothing of it exists in the
contract, the simulator or the RTL.

**Layer overlap (draft rules O1-O5).** Today a layer starts when the previous one has written its
last output (docs/timing.md 4.3), so every layer pays its first gather and its last epilogue in full
(the last epilogue is n_t g_q cycles, 128 for a full tile of 8 slots, while the PE array idles).

* O1. The gather, the PE array and the epilogue each run the tiles of all layers in one sequence,
  u counting across layers: the window-buffer and accumulator-bank hand-overs of section 4.2
  (C_end(u-2), E_end(u-2)) run on across the layer boundary. Layer l+1 starts (`start_l`) either
  once layer l's PE array has run its last tile, its scan is over and its blobs are loaded, plus
  lambda_layer (forms `pass` and `row`: only the epilogue lags), or once layer l's last gather has
  ended and its scan is over (form `full`: the gather and the PE array may work on different layers).
* O2. The epilogue lags: it finishes layer l's tiles while the units before it work on l+1, with
  layer l's fields latched. The epilogues stay in order, so layer l+1's residual reads find layer l's
  outputs written.
* O3. Data: the gather copies (position p, channel block b) of layer l+1 once its input is final:
  in form `pass` once the source pass q that writes block b has written every tile (the sequencer
  already counts finished passes), in forms `row` and `full` once the source's output row need(y_p)
  of pass q is final, OR_q(need) (rule E7 counted per pass). The source is the latest main layer
  before l+1; the input buffer's rows as today.
* O4. The PE array starts block b of a tile (step b B_A k on) only once the gather has written it
  (T2 with a wait per block).
* O5. A predictor layer that does not scan early reads its source's whole output: its scan waits for
  the source's last output. A scan does not start before layer l-1's epilogue is over (the active
  list of layer l+1 is the one layer l-1 used, E6).

**Four-way split tiles.** Rule T3 (docs/timing.md 4.2, built) splits a tile of at most P_X / 2
positions two ways. Four ways (variant `split 4`): a tile of at most P_X / 4 positions holds
each position in four columns and runs four steps per cycle, C_end(u) = C_start(u) + ceil(C_in k_q /
4) (counted per block here), T2 with 4 n_t, the epilogue's read adding four columns' sums. On the
Ultra96v2 a weight entry holds two 3x3 steps, so this needs two entries per cycle (a second read port
or a double-width ring) besides two more decoded kernels per row.

**Stream LOAD overlap.** In a stream, image n's LOAD (raw image, stem unit, x0 into the input
buffer) runs during image n-1's later stages, so that image n's first layer finds every input row
loaded at S(n) (variant `x0 early`); optionally its first blob is fetched early too. Today it cannot: the
LOAD also writes x0 into the residual buffer, for the positions layer 1 skips, and image n-1 uses
that buffer until its last layer. A built version would, for example, keep a bit per stage-1
position saying whether an epilogue has written it and read x0 from the input buffer where not,
until the map shape changes (so the input buffer is held through stage 1 and the LOAD waits for it).

Optimistic: O1-O5 are what the contract would need, not a design checked against the RTL's one
current layer (bnn_seq.v: every unit loads the new layer's fields at `layer_init`); a hazard found
in building them can only add cycles. One is known: while layer l's epilogue lags, it writes
layer l's output set on port A (docs/timing.md 4.5, E6), and layer l + 1's gather reads that same
set on port A (all nine banks each cycle); port B is the mask unit's. A built design needs a third
access path (a replicated set, BRAM the Ultra96v2 build has little of) or a gather that yields to
the epilogue's writes, whose stalls these figures do not count. Both sides get the same rules; the dense baseline bypasses
the mask unit as today. The stream figure uses rule S2/S3's fact that image n runs as one image
from S(n) = end_L(n-1): the period is the mean of end_L(n) - S(n) over images 1 .. N-1 (exact for
today's design, which this script reproduces: `today` equals contract.schedule's end_L).
Only configurations with an input buffer (others are refused); the stream figure takes S(n) = end_L(n-1),
rule S2 with a pooled STORE (with a map STORE S(n) also waits for STORE(n-1)'s last W beat).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from archsim.config import HardwareConfig  # noqa: E402
from archsim.contract import (  # noqa: E402
    LATENCIES,
    NEG,
    Job,
    Latencies,
    ReadEngine,
    Schedule,
    epilogue_cycles,
    list_ready_times,
    mask_cycles,
    output_rows_final,
    row_visible,
    scan_row_starts,
    stem_train,
    window_ready,
)
from archsim.program import LayerPlan, Program, ceil_div  # noqa: E402
from archsim.runner import run_workload  # noqa: E402
from archsim.workload import load_workload  # noqa: E402

OVERLAP_FORMS = ("", "pass", "row", "full")  # none, then the forms of rules O1 and O3
VARIANTS: dict[str, dict[str, str | bool]] = {
    "today": {},
    "epilogue lag, pass": {"overlap": "pass"},
    "epilogue lag, row": {"overlap": "row"},
    "layer overlap": {"overlap": "full"},
    "x0 early": {"x0_early": True},
    "x0 and blob 0 early": {"x0_early": True, "blob0_early": True},
    "all three": {"overlap": "full", "x0_early": True, "blob0_early": True},
    "split 4": {"split": 4},
    "split 4, all three": {"split": 4, "overlap": "full", "x0_early": True, "blob0_early": True},
}


def block_passes(src: LayerPlan, nblk: int, word_bits: int) -> list[int]:
    """For each input channel block of the next layer, the last pass of `src` that writes a channel of it."""
    return [
        max(q for q, p in enumerate(src.passes) if p.c_lo <= min((b + 1) * word_bits, src.c_out) - 1)
        for b in range(nblk)
    ]


def ways(n: int, cols: int, split: int) -> int:
    """The ways a tile of n positions splits its steps: the largest power of two m <= split with
    n m <= cols (rule T3 is split = 2)."""
    m = 1
    while m < split and n * 2 * m <= cols:
        m *= 2
    return m


def layer_ends(
    program: Program,
    cfg: HardwareConfig,
    active: list[np.ndarray | None],
    lat: Latencies = LATENCIES,
    *,
    overlap: str = "",
    x0_early: bool = False,
    blob0_early: bool = False,
    split: int | None = None,
) -> list[int]:
    """Each layer's end (its last output written + lambda_layer) of one image from cycle 0, under the
    chosen levers (module docstring); with none of them, contract.schedule's layer ends."""
    if overlap not in OVERLAP_FORMS:
        raise ValueError(f"overlap: one of {OVERLAP_FORMS}, got {overlap!r}")
    if split is not None and (split < 1 or split & (split - 1)):
        raise ValueError(f"split: a power of two, got {split}")
    if not program.input_buffer:
        raise ValueError("only configurations with an input buffer (buffers.input_buffer)")
    cols, word_bits = cfg.pe_array.cols, cfg.buffers.act_word_bits
    reader = ReadEngine(cfg)
    blobs: list[Job] = []
    free: list[int] = []
    passes = [(plan.index, p) for plan in program.layers for p in plan.passes]

    def loaded(i: int) -> int:
        while len(blobs) <= i:
            j = len(blobs)
            plan_j, pass_j = passes[j]
            job = Job(
                "blob", plan_j, pass_j.index, pass_j.blob_beats, allowed=free[pass_j.need - 1] if pass_j.need else 0
            )
            if blob0_early and j == 0:
                job.loaded = 0  # fetched during the previous image
            else:
                reader.run(job, lat)
            blobs.append(job)
        return blobs[i].loaded

    for i in range(program.pre_load):
        loaded(i)
    load = Job("load", -1, 0, program.load_beats, allowed=0)
    if x0_early:
        load.loaded = 0
        rows_in = [0] * len(program.load_row_beats)
    else:
        bursts, beat_cycles = reader.run(load, lat), cfg.axi.read_beat_cycles
        if program.stem_unit:
            bursts, beat_cycles = stem_train(program, load, lat), 1
        rows_in = row_visible(program.load_row_beats, bursts, beat_cycles, lat)

    gb: list[int] = []  # per tile u, across layers: G_end, C_end, E_end
    cb: list[int] = []
    eb: list[int] = []
    rows_final: dict[int, list[list[int]]] = {}  # layer -> per pass, OR_q(r) of its output
    ends: list[int] = []
    src = -1  # the latest main layer: the one whose output the next layer reads
    prev_end = lat.layer
    prev_start = prev_mask_end = prev_gather_end = prev_pe_free = NEG
    for plan in program.layers:
        li = plan.index
        if not overlap or not li:
            start = prev_end
        elif overlap == "full":
            start = max(prev_gather_end, prev_mask_end)
        else:
            start = prev_pe_free
        row_ready = [rows_in[program.row_need(plan, y)] for y in range(plan.h_out)] if plan.reads_input else None
        src_rows = rows_final[src] if overlap and not plan.reads_input else None
        if src_rows and program.layers[src].h_out != plan.h_in:  # a 2x2 max-pool: pooled row r after rows 2r, 2r + 1
            src_rows = [[q_rows[2 * r + 1] for r in range(plan.h_in)] for q_rows in src_rows]
        q_of_block = block_passes(program.layers[src], plan.nblk, word_bits) if src_rows else []
        list_free = ends[li - 2] if overlap and li >= 2 else NEG  # O5: the active list of layer li - 2
        first_blob = len(free)
        if plan.mask_enabled:
            acts = np.asarray(active[li], dtype=np.int64)
        else:
            acts = np.arange(plan.positions, dtype=np.int64)
        n_act = len(acts)
        tiles = ceil_div(n_act, cols)
        sizes = [min(cols, n_act - t * cols) for t in range(tiles)]
        if plan.early_scan:
            mask_start = max(prev_start, prev_mask_end, loaded(first_blob), list_free)
            if plan.late_scan:
                mask_start = max(mask_start, prev_gather_end)
            prev_rows = rows_final[li - 1][-1]
            rs = scan_row_starts(plan, mask_start, [prev_rows[program.row_need(plan, y)] for y in range(plan.h_out)])
        elif plan.mask_enabled:
            whole = max(max(r) for r in src_rows) if src_rows else NEG  # O5
            mask_start = max(start, loaded(first_blob), whole, list_free)
            rs = scan_row_starts(plan, mask_start, row_ready)
        if plan.mask_enabled:
            mask_end = int(rs[-1]) + mask_cycles(plan.w_out, plan.nblk) + lat.mask
            ready0 = list_ready_times(plan, acts, rs, cols, lat)
        else:
            mask_end = start
            ready0 = np.full(tiles, start, dtype=np.int64)
        layer_eb: list[int] = []
        layer_split = cfg.split_pairs(plan.kernel, program.mode == "sparse")  # rule T3 as configured
        for p in plan.passes:
            ready = loaded(first_blob + p.index)
            for t in range(tiles):
                u, n = len(gb), sizes[t]
                m = ways(n, cols, split if split is not None else 2 if layer_split else 1)  # T3 (or 4 ways)
                lr = int(ready0[t]) if p.index == 0 else mask_end
                g = max(start, gb[u - 1] if u else NEG, lr, cb[u - 2] if u >= 2 else NEG)
                sweeps = []  # rule T1, each (position, block) once its input is there (4.4 rule 4, O3)
                for b in range(plan.nblk):
                    for pos in acts[t * cols : t * cols + n].tolist():
                        y = pos // plan.w_out
                        wait = row_ready[y] if row_ready is not None and b == 0 else NEG
                        if src_rows:
                            q_rows = src_rows[q_of_block[b]]
                            wait = max(wait, max(q_rows) if overlap == "pass" else q_rows[program.row_need(plan, y)])
                        g = max(g, wait) + 1
                    sweeps.append(g)
                # PE array: T2 (contract.window_ready); with O4 block b's B_A k steps wait for its sweep instead
                window = (
                    sweeps[0] + lat.gather
                    if overlap
                    else window_ready(sweeps[0], sweeps[-1], n * m, p.k, word_bits, lat)  # P2
                )
                c = max(cb[u - 1] if u else NEG, eb[u - 2] if u >= 2 else NEG, ready, window)
                steps = word_bits * p.k
                for b in range(plan.nblk):
                    if overlap:
                        c = max(c, sweeps[b] + lat.gather)
                    c += ceil_div(min(steps, plan.c_in * p.k - b * steps), m)
                e_start = max(eb[u - 1] if u else NEG, c + lat.compute)
                gb.append(sweeps[-1])
                cb.append(c)
                eb.append(e_start + epilogue_cycles(n, p.g))  # P3: the m partial sums added on the read
                layer_eb.append(eb[-1])
            free.append(max(ready, layer_eb[-1] if tiles else NEG, mask_end))
        out_end = layer_eb[-1] + lat.epilogue if tiles else NEG
        load_end = load.loaded if plan.reads_input else NEG
        ends.append(max(out_end, mask_end, load_end, *(b.loaded for b in blobs[first_blob:])) + lat.layer)
        # O3: OR_q(r) per pass; a row is final no earlier than the layer's scan (its skipped positions)
        rows_final[li] = [
            [max(r, mask_end) for r in output_rows_final(plan, acts, layer_eb[q * tiles : (q + 1) * tiles], cols, lat)]
            if tiles
            else [mask_end] * plan.h_out
            for q in range(len(plan.passes))
        ]
        if plan.role == "main":
            src = li
        prev_end, prev_start, prev_mask_end = ends[-1], start, mask_end
        prev_gather_end = gb[-1] if tiles else prev_gather_end
        # O1, forms pass and row: the PE array's last tile run, the scan over, the blobs loaded
        pe_end = cb[-1] if tiles else NEG
        prev_pe_free = max(pe_end, mask_end, load_end, *(b.loaded for b in blobs[first_blob:])) + lat.layer
    return ends


def store(sched: Schedule) -> int:
    """Cycles from end_L to DONE: the STORE."""
    return sched.done - sched.store_start


def estimate(workload: str) -> list[dict[str, float | str]]:
    """Per variant: dense and pruned DONE in latency mode (sample mean) and the period of a stream of the
    samples (end_L(n) - S(n) over images 1 .. N-1), speedups and achieved / ideal for both."""
    wl = load_workload(workload)
    res = run_workload(wl, progress=False)
    cfg = wl.config
    dense_acts: list[np.ndarray | None] = [None] * len(wl.baseline_program.layers)
    ideal, ideal_stream = res.ideal_speedup, res.dense_work / float(np.mean(res.sparse_work[1:]))
    rows: list[dict[str, float | str]] = []
    for name, levers in VARIANTS.items():
        stream_only = {k: v for k, v in levers.items() if k in ("x0_early", "blob0_early")}
        # image 0 (and latency mode) has no image before it
        first = {"overlap": levers.get("overlap", ""), "split": levers.get("split")}
        dense_end = layer_ends(wl.baseline_program, cfg, dense_acts, **first)[-1]
        pruned_ends = [layer_ends(wl.program, cfg, a, **first)[-1] for a in res.actives]
        if stream_only:  # the stream's own levers: images 1 .. N-1 again with them
            dense_s = layer_ends(wl.baseline_program, cfg, dense_acts, **first, **stream_only)[-1]
            pruned_s = float(
                np.mean([layer_ends(wl.program, cfg, a, **first, **stream_only)[-1] for a in res.actives[1:]])
            )
        else:
            dense_s, pruned_s = dense_end, float(np.mean(pruned_ends[1:]))
        # latency mode: DONE, the STORE after end_L as measured (it does not depend on the levers)
        dense = dense_end + store(res.dense)
        pruned = float(np.mean([e + store(s) for e, s in zip(pruned_ends, res.sparse, strict=True)]))
        rows.append(
            {
                "variant": name,
                "dense": dense,
                "pruned": pruned,
                "speedup": dense / pruned,
                "ratio": dense / pruned / ideal,
                "dense_period": dense_s,
                "pruned_period": pruned_s,
                "stream_speedup": dense_s / pruned_s,
                "stream_ratio": dense_s / pruned_s / ideal_stream,
                "ideal": ideal,
                "ideal_stream": ideal_stream,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", nargs="?", default=str(ROOT / "workloads" / "resnet18_pruned.yaml"))
    args = ap.parse_args(argv)
    rows = estimate(args.workload)
    r0 = rows[0]
    print("ESTIMATE for a design that is not built (layer overlap, stream LOAD overlap, 4-way split; module docstring)")
    print("latency mode: DONE (sample mean); stream: period per image, end_L(n) - S(n) over images 1..N-1")
    print(
        f"{'variant':<20} {'latency: dense':>14} {'pruned':>9} {'speedup':>8} {'/ideal':>7}   "
        f"{'stream: dense':>13} {'pruned':>9} {'speedup':>8} {'/ideal':>7}"
    )
    for r in rows:
        print(
            f"{r['variant']:<20} {r['dense']:>14,.0f} {r['pruned']:>9,.1f} {r['speedup']:>7.2f}x {r['ratio']:>7.3f}   "
            f"{r['dense_period']:>13,.0f} {r['pruned_period']:>9,.1f} {r['stream_speedup']:>7.2f}x {r['stream_ratio']:>7.3f}"
        )
    print(
        f"ideal             latency {r0['ideal']:.2f}x (the samples); stream {r0['ideal_stream']:.2f}x "
        "(images 1..N-1, rule S6); the stream's x0 and blob 0 levers apply to images 1..N-1 only"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
