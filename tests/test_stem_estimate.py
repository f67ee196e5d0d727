"""bench/stem_estimate.py: its replaced LOAD follows the module's rules and leaves the contract as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from archsim import contract
from bench.stem_estimate import estimate, main, raw_image_beats, stem_macs_per_cycle, stem_on_chip, unit_latency

WORKLOAD = str(Path(__file__).resolve().parents[1] / "workloads" / "resnet18_pruned.yaml")


def test_sizes_of_the_shipped_stem(shipped_run):
    wl, _ = shipped_run
    assert unit_latency(wl) == 32 + 4 + 16  # bnn_stem.v: w + Q + 16 for a full-size image
    assert raw_image_beats(wl.model.input_shape, wl.config) == 1 * 32 * 32 // 32
    assert stem_macs_per_cycle(1, wl.config, 1) == 16 * 9
    assert stem_macs_per_cycle(1, wl.config, 4) == 36


@pytest.mark.parametrize("rate", [1, 3])
def test_the_load_is_the_raw_image_then_one_x0_beat_every_rate_cycles(shipped_run, rate):
    wl, _ = shipped_run
    cfg, lat = wl.config, contract.LATENCIES
    with stem_on_chip(32, rate, latency=5):
        reader = contract.ReadEngine(cfg)
        job = contract.Job("load", -1, 0, 4096)
        bursts = reader.run(job, lat)
        rows = contract.row_visible((128, 4096), bursts, cfg.axi.read_beat_cycles, lat)
    # the raw image alone goes over the bus: 2 bursts of 16 beats
    assert len(reader.beat_done) == 2
    first = reader.beat_done[-1] + 5  # latency counts from the raw image's last beat
    assert bursts == [(first, 4096)]
    assert job.beats == 4096 and job.loaded == first + rate * 4095 + lat.load
    assert rows == [first + rate * 127 + lat.load, first + rate * 4095 + lat.load]


def test_the_contract_is_restored_and_slower_stems_cost_more(shipped_run):
    wl, res = shipped_run
    d1, p1 = estimate(wl, res.actives, 1, 52)
    d2, p2 = estimate(wl, res.actives, 2, 52)
    assert p2 > p1 and d2 > d1
    # outside the block the shipped contract answers as before
    assert contract.schedule(wl.program, wl.config, res.actives[0]).done == res.sparse_cycles[0]


def test_readme_quotes_the_scripts_estimate(capsys):
    """README's sentence on the on-chip stem quotes this script's output, not typed numbers."""
    assert main([WORKLOAD, "--rates", "1,2"]) == 0
    out = capsys.readouterr().out.splitlines()
    one, two = (x.split() for x in out if x.split()[1:2] == ["c"])
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert (
        f"one beat per cycle ({one[2]} MACs per cycle), it keeps the cycles (dense {one[3]}, pruned {one[4]}, "
        f"{one[5]}) and brings the pruned end-to-end latency to {one[6]} us; at half that pace the speedup falls "
        f"to {two[5]}" in readme
    )
