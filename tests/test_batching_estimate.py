"""bench/batching_estimate.py: its stacked-group programme is the contract's own one at batch 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsim.contract import schedule
from bench.batching_estimate import batched_program, capacity_batch, group_cycles, renumber_needs, stages

WORKLOAD = str(Path(__file__).resolve().parents[1] / "workloads" / "resnet18_pruned.yaml")


def test_stages_and_capacity_of_the_shipped_network(shipped_run):
    wl, _ = shipped_run
    spans = stages(wl.program)
    assert [wl.program.layers[a].name for a, _ in spans] == ["s1b1c1", "s2b1sc", "s3b1sc", "s4b1sc"]
    cfg = wl.config
    assert [capacity_batch(wl.program, s, cfg.buffers.res_depth, cfg.pe_array.rows) for s in spans] == [1, 2, 4, 8]


def test_renumbered_needs_are_the_shipped_programmes(shipped_run):
    wl, _ = shipped_run
    again = renumber_needs(wl.program, wl.config.buffers.blob_slots)
    assert [p.need for L in again.layers for p in L.passes] == [p.need for L in wl.program.layers for p in L.passes]


@pytest.mark.parametrize("side", ["sparse", "dense"])
def test_one_image_unbatched_is_the_contracts_schedule(shipped_run, side):
    wl, res = shipped_run
    program = wl.program if side == "sparse" else wl.baseline_program
    actives = res.actives if side == "sparse" else [[None] * len(program.layers)]
    one = [1] * len(stages(program))
    assert group_cycles(wl, program, actives, one, 1) == schedule(program, wl.config, actives[0]).done


def test_a_batched_layer_holds_every_images_positions_offset_in_the_stack(shipped_run):
    wl, res = shipped_run
    spans = stages(wl.program)
    prog, acts = batched_program(wl.program, spans, [1, 2, 4, 8], 8, res.actives)
    # stage 3 (4 images) runs twice; its first masked layer of the first run: images 0..3 stacked
    i = next(j for j, L in enumerate(prog.layers) if L.name == "s3b1c1")
    plan, src = prog.layers[i], wl.program.layers[10]
    assert (plan.h_out, plan.h_in) == (4 * src.h_out, 4 * src.h_in)
    want = np.concatenate([np.asarray(res.actives[k][10]) + k * src.positions for k in range(4)])
    assert np.array_equal(acts[i], want)
    assert len(prog.layers) == 8 * 4 + 4 * 5 + 2 * 5 + 5


def test_readme_quotes_the_scripts_estimate(capsys):
    """README's sentence on batching quotes this script's output, not typed numbers."""
    from bench.batching_estimate import main

    assert main([WORKLOAD]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("estimate"))
    words = line.split()
    dense, pruned, speedup, ratio = words[2], words[4].rstrip(":"), words[5].rstrip(","), words[-1]
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert (
        f"dense {dense} and pruned {pruned} cycles per image, about **{speedup}** (achieved / ideal {ratio})" in readme
    )
