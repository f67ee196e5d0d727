"""What cross-image batching per stage could buy: an ESTIMATE for a design that is not built.

    python bench/batching_estimate.py [WORKLOAD] [--batch 1,2,4,8] [--group 8]

Issue 10's remaining lever: run each stage of the network on B_s images at once, with tiles that
span images, so that a layer's partial last tile, its pipeline fill and its last epilogue are paid
once per B_s images instead of once per image, and its weights are fetched once per batch. Nothing
of it exists in the contract, the simulator or the RTL; this script only asks the existing timing
contract what such a programme would take.

How: a group of G images runs stage s as G / B_s layer sequences whose maps are the B_s images
stacked vertically (H x B_s rows; a stride-2 layer keeps its 2:1 row ratio), with every image's own
active positions, offset by its place in the stack, in raster order. The gather, PE array and
epilogue costs of a position do not depend on its neighbours' values, so the stacked layer takes the
cycles a batched layer would. Blob i may load once blob i - (blob_slots - 1) is free, the shipped
programme's rule. The group is one `contract.schedule` call.

Optimistic in three ways, the same for the dense baseline and the pruned model: only the group's
first image LOADs (the others' stem outputs appear for free), no STORE per image, and the bit maps
that cross a stage boundary while other images run the earlier stage are not spilled to DDR (about
(8 + 4 + 2) KB per image each way for ResNet-18; the read DMA is idle most of the time, so they may
largely hide). To separate the batching from those, the script also times the unbatched group
(every B_s = 1) under the same assumptions and reports the difference: `estimate` is the measured
latency-mode cycles minus that difference.

The default batches are what the residual buffer holds (`buffers.res_depth` words of P_O values; the
largest power of two up to 8 images of the stage's map), printed with the check.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from archsim.contract import schedule  # noqa: E402
from archsim.program import LayerPlan, Program  # noqa: E402
from archsim.runner import run_workload  # noqa: E402
from archsim.workload import load_workload  # noqa: E402

MAX_BATCH = 8


def stages(program: Program) -> list[tuple[int, int]]:
    """[first, end) layer ranges of equal output size: a new stage starts where the map shrinks."""
    out: list[tuple[int, int]] = []
    first = 0
    for i in range(1, len(program.layers)):
        if program.layers[i].h_out != program.layers[i - 1].h_out:
            out.append((first, i))
            first = i
    out.append((first, len(program.layers)))
    return out


def capacity_batch(program: Program, span: tuple[int, int], res_depth: int, rows: int) -> int:
    """Images of the stage whose residual maps fit the residual buffer (power of two, <= MAX_BATCH)."""
    words = max(-(-L.c_out // rows) * L.h_out * L.w_out for L in program.layers[span[0] : span[1]])
    b = 1
    while b * 2 <= MAX_BATCH and b * 2 * words <= res_depth:
        b *= 2
    return b


def batched_program(
    program: Program, spans: list[tuple[int, int]], batch: list[int], group: int, actives: list[list]
) -> tuple[Program, list]:
    """The group's programme: stage s as group / B_s runs of stacked layers (module docstring)."""
    layers: list[LayerPlan] = []
    acts: list = []
    for (a, b), bs in zip(spans, batch, strict=True):
        for g0 in range(0, group, bs):
            for li in range(a, b):
                plan = program.layers[li]
                first = li == a  # the previous layer is another batch's: no early scan across it
                layers.append(
                    replace(
                        plan,
                        index=len(layers),
                        h_in=plan.h_in * bs,
                        h_out=plan.h_out * bs,
                        reads_input=plan.reads_input and not layers,
                        early_scan=plan.early_scan and not first,
                        late_scan=plan.late_scan and not first,
                    )
                )
                if plan.mask_enabled:
                    pos = plan.positions
                    per = [actives[(g0 + j) % len(actives)][li] for j in range(bs)]
                    acts.append(np.concatenate([np.asarray(p, np.int64) + j * pos for j, p in enumerate(per)]))
                else:
                    acts.append(None)
    return replace(program, layers=tuple(layers)), acts


def renumber_needs(program: Program, slots: int) -> Program:
    """Blob i waits for blobs 0 .. i - slots (blob_slots - 1 blobs ahead), as in the shipped programme."""
    out, i = [], 0
    for plan in program.layers:
        passes = []
        for p in plan.passes:
            passes.append(replace(p, need=max(0, i - slots + 1)))
            i += 1
        out.append(replace(plan, passes=tuple(passes)))
    return replace(program, layers=tuple(out))


def group_cycles(wl, program: Program, actives: list[list], batch: list[int], group: int) -> float:
    spans = stages(program)
    prog, acts = batched_program(program, spans, batch, group, actives)
    prog = renumber_needs(prog, wl.config.buffers.blob_slots)
    return schedule(prog, wl.config, acts).done / group


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", nargs="?", default=str(ROOT / "workloads" / "resnet18_pruned.yaml"))
    ap.add_argument("--batch", help="images per stage, comma-separated (default: what the residual buffer holds)")
    ap.add_argument("--group", type=int, default=MAX_BATCH, help="images per group (a multiple of every batch)")
    args = ap.parse_args(argv)
    wl = load_workload(args.workload)
    res = run_workload(wl, progress=False)
    cfg = wl.config
    spans = stages(wl.program)
    if args.batch:
        batch = [int(x) for x in args.batch.split(",")]
        if len(batch) != len(spans):
            ap.error(f"--batch: {len(spans)} stages, got {len(batch)} values")
    else:
        batch = [capacity_batch(wl.program, s, cfg.buffers.res_depth, cfg.pe_array.rows) for s in spans]
    if any(b < 1 or args.group % b for b in batch):
        ap.error(f"--group {args.group} must be a multiple of every batch {batch}")
    dense_acts = [[None] * len(wl.baseline_program.layers)]
    one = [1] * len(spans)
    d1 = group_cycles(wl, wl.baseline_program, dense_acts, one, args.group)
    db = group_cycles(wl, wl.baseline_program, dense_acts, batch, args.group)
    s1 = group_cycles(wl, wl.program, res.actives, one, args.group)
    sb = group_cycles(wl, wl.program, res.actives, batch, args.group)
    dense, pruned, ideal = res.dense.done, res.sparse_cycles_mean, res.ideal_speedup
    print("ESTIMATE for a design that is not built (cross-image batching per stage; module docstring)")
    print(
        f"stages            {', '.join(f'{wl.program.layers[a].name}..{wl.program.layers[b - 1].name}' for a, b in spans)}"
    )
    print(f"images per stage  {batch}   (group of {args.group}: the trace's {len(res.actives)} samples in turn)")
    print(f"same assumptions  unbatched dense {d1:,.0f} pruned {s1:,.0f}; batched dense {db:,.0f} pruned {sb:,.0f}")
    print(f"                  per image: batching saves dense {d1 - db:,.0f}, pruned {s1 - sb:,.0f} cycles")
    de, pe = dense - (d1 - db), pruned - (s1 - sb)
    print(f"measured today    dense {dense:,} pruned {pruned:,.0f}: {dense / pruned:.2f}x (ideal {ideal:.2f}x)")
    print(f"estimate          dense {de:,.0f} pruned {pe:,.0f}: {de / pe:.2f}x, achieved / ideal {de / pe / ideal:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
