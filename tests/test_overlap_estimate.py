"""bench/overlap_estimate.py: without a lever it is the contract's own schedule, layer by layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from archsim.contract import schedule, schedule_stream
from archsim.runner import run_workload
from archsim.workload import load_workload
from bench.overlap_estimate import OVERLAP_FORMS, VARIANTS, block_passes, estimate, layer_ends, ways

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = str(ROOT / "workloads" / "resnet18_pruned.yaml")


@pytest.mark.parametrize("name", ["resnet18_pruned", "resnet20_pruned", "vgg_small_pruned"])
def test_without_levers_every_layer_ends_as_in_the_contract(name):
    wl = load_workload(ROOT / "workloads" / f"{name}.yaml")
    res = run_workload(wl, progress=False)
    runs = [(wl.program, a) for a in res.actives] + [(wl.baseline_program, [None] * len(wl.baseline_program.layers))]
    for program, active in runs:
        want = [lt.end for lt in schedule(program, wl.config, active).layers]
        assert layer_ends(program, wl.config, active) == want


def test_each_lever_ends_no_later_and_layer_overlap_gains_on_both_sides(shipped_run):
    wl, res = shipped_run
    dense_acts = [None] * len(wl.baseline_program.layers)
    for levers in VARIANTS.values():  # every form of overlap, and the stream's levers
        for program, active in [(wl.program, res.actives[1]), (wl.baseline_program, dense_acts)]:
            assert layer_ends(program, wl.config, active, **levers)[-1] <= layer_ends(program, wl.config, active)[-1]
    # the tail of each layer (its last epilogue) hides under the next layer's work: dense and pruned gain
    for program, active in [(wl.program, res.actives[1]), (wl.baseline_program, dense_acts)]:
        ends = [layer_ends(program, wl.config, active, overlap=f)[-1] for f in OVERLAP_FORMS]
        assert ends == sorted(ends, reverse=True) and ends[1] < ends[0]  # each form at least as fast as the one before


def test_block_passes_names_the_pass_that_writes_each_channel_block(shipped_run):
    wl, _ = shipped_run
    s4 = next(L for L in wl.program.layers if L.name == "s4b1c2")  # 512 channels: passes of 128
    assert block_passes(s4, 8, 64) == [0, 0, 1, 1, 2, 2, 3, 3]
    s1 = next(L for L in wl.program.layers if L.name == "s1b1c1")  # 64 channels: one pass
    assert block_passes(s1, 1, 64) == [0]


def test_readme_quotes_the_scripts_estimate():
    """README's sentence on the remaining levers quotes this script's figures, not typed numbers."""
    rows = {r["variant"]: r for r in estimate(WORKLOAD)}
    readme = " ".join((ROOT / "README.md").read_text().split())
    lag, full, both = rows["epilogue lag, pass"], rows["layer overlap"], rows["all three"]
    assert f"{lag['speedup']:.2f}x (achieved / ideal {lag['ratio']:.3f}) when only the epilogue lags" in readme
    assert f"up to {full['speedup']:.2f}x (achieved / ideal {full['ratio']:.3f}) in the fullest form" in readme
    assert f"{lag['stream_speedup']:.2f}x ({lag['stream_ratio']:.3f}) up to" in readme
    assert f"up to {full['stream_speedup']:.2f}x ({full['stream_ratio']:.3f})." in readme
    assert f"with the fullest layer overlap {both['stream_speedup']:.2f}x ({both['stream_ratio']:.3f})" in readme
    # with the fullest overlap the throughput target's achieved / ideal >= 0.95 is within the estimate
    assert full["stream_ratio"] >= 0.95 > rows["today"]["stream_ratio"]
    ideal = rows["today"]["ideal_stream"]
    assert f"ideal {ideal:.2f}x, so the target of 5.9x would take achieved / ideal {5.9 / ideal:.2f} there" in readme


def test_today_is_what_archsim_measures_in_both_modes(shipped_run):
    """The `today` row: latency-mode DONE as `archsim run`, and the stream period as the contract's stream."""
    wl, res = shipped_run
    today = estimate(WORKLOAD)[0]
    assert today["dense"] == res.dense.done and today["pruned"] == pytest.approx(res.sparse_cycles_mean)
    dense_acts = [None] * len(wl.baseline_program.layers)
    n = len(res.actives)
    assert today["dense_period"] == schedule_stream(wl.baseline_program, wl.config, [dense_acts] * n).period
    assert today["pruned_period"] == pytest.approx(schedule_stream(wl.program, wl.config, res.actives).period)


def test_ways_is_the_largest_power_of_two_that_fits():
    """m columns per position, m a power of two up to the lever's, n_t m <= P_X (rule T3 is m = 2)."""
    assert [ways(n, 16, 2) for n in (1, 8, 9, 16)] == [2, 2, 1, 1]
    assert [ways(n, 16, 4) for n in (1, 4, 5, 8, 9)] == [4, 4, 2, 2, 1]
    assert ways(3, 16, 1) == 1
    with pytest.raises(ValueError, match="split: a power of two"):
        layer_ends(None, None, [], split=3)  # type: ignore[arg-type]


def test_split_as_configured_and_four_ways(shipped_run):
    """Without the argument the estimate splits as the configuration does (rule T3, the contract's figures);
    split=1 is the design without it. The shipped dense baseline has no tile of 8 positions or fewer (every
    map a multiple of 16 positions), so none of it changes its cycles; the pruned run gains, more with 4."""
    wl, res = shipped_run
    dense_acts = [None] * len(wl.baseline_program.layers)
    dense = [layer_ends(wl.baseline_program, wl.config, dense_acts, split=m) for m in (1, 2, 4)]
    assert dense[0] == dense[1] == dense[2] == layer_ends(wl.baseline_program, wl.config, dense_acts)
    pruned = [layer_ends(wl.program, wl.config, res.actives[1], split=m)[-1] for m in (1, 2, 4)]
    assert pruned[0] > pruned[1] >= pruned[2] and pruned[1] == layer_ends(wl.program, wl.config, res.actives[1])[-1]
