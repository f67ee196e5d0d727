"""Energy model: activity counts on hand-computed layers, the table's validation, and the
energy figures of `archsim run` (present, consistent, breakdown sums to total)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from archsim.cli import main
from archsim.config import load_config
from archsim.energy import (
    BLOCKS,
    COUNTS,
    EVENTS,
    EnergyTable,
    inference_energy,
    layer_activity,
    load_activity,
    load_energy_table,
    part_energy,
    store_activity,
)
from archsim.errors import ConfigError
from archsim.program import LayerPlan, PassPlan, compile_program
from archsim.runner import run_workload
from archsim.synthetic import SynthSpec
from archsim.workload import load_workload
from tests.synth_helpers import ROOT, make_workload, small_config

TABLE = ROOT / "configs/energy/ultra96v2.yaml"


def unit_table(**run_power: float) -> EnergyTable:
    """Every action costs 1 pJ (so energy = sum of counts) and run power is as given (default 0)."""
    data = yaml.safe_load(TABLE.read_text())
    for v in data["dynamic"].values():
        v.update(pj=1.0, low=0.5, high=2.0)
    for k, v in data["run_power"].items():
        w = run_power.get(k, 0.0)
        v.update(w=w, low=w, high=w)
    return EnergyTable.model_validate(data)


# --------------------------------------------------------------------------- hand-computed layer


def hand_layer() -> LayerPlan:
    """c_in 8 -> c_out 12, 3x3 stride 1 on a 4x4 map, one kept kernel per (row, input channel),
    with a predictor, for a 4x4 PE array of acc_depth 2 and 8-bit activation words.

    Passes (P_O G = 8 channels each): pass 0 channels 0-7 (g 2, k 1), pass 1 channels 8-11 (g 1, k 1).
    Blob beats (D = 128): steps 8 x 1 x 4 x (9 + 1 index bit) = 320 bits -> 3 beats per pass;
    parameters g x 4 x 48 bits -> 3 and 2 beats; predictor (pass 0) 1 + ceil(8 x 9 / 128) = 2 beats.
    """
    passes = (
        PassPlan(index=0, c_lo=0, c_hi=8, g=2, k=1, weight_beats=3, param_beats=3, predictor_beats=2),
        PassPlan(index=1, c_lo=8, c_hi=12, g=1, k=1, weight_beats=3, param_beats=2, predictor_beats=0),
    )
    return LayerPlan(
        index=0,
        name="hand",
        role="main",
        kernel=3,
        stride=1,
        c_in=8,
        c_out=12,
        h_in=4,
        w_in=4,
        h_out=4,
        w_out=4,
        nblk=1,
        residual=True,
        mask_enabled=True,
        copy_masked=True,
        k_layer=1,
        kept_kernels=8 * 4 * 2 + 8 * 4,
        passes=passes,
    )


def test_layer_counts_by_hand(tmp_path):
    cfg = load_config(small_config(tmp_path, rows=4, cols=4, depth=2, word=8))
    assert cfg.index_bits == 1 and cfg.res_word_bits == 64
    act = layer_activity(hand_layer(), n_active=6, cycles=1000, cfg=cfg, mode="sparse", port=72)
    # N = 6 active positions -> T = 2 tiles per pass, Q = 2 passes.
    # PE cycles = sum_q T c_in k_q = 2*8 + 2*8 = 32; PE ops = (8 + 8) steps x 4 rows x 6 positions = 384.
    # Gather cycles = Q N nblk = 12; epilogue cycles = N (g_0 + g_1) = 18; mask cycles = 16 positions x 1.
    # Events, named as the timing model's counters: N = 6 -> T = 2 tiles per pass, Q = 2 passes;
    # PE cycles = sum_q T c_in k_q = 32; gather cycles Q N nblk = 12; epilogue cycles N (2 + 1) = 18;
    # mask scan 16 positions x 1 block.
    events = {
        "slot_write_beats": 13,  # (3 + 3 + 2) + (3 + 2 + 0) blob beats
        "ddr_read_beats": 13,
        "ddr_write_beats": 0,  # only the STORE writes DDR
        "weight_reads": 32,
        "param_reads": 18,
        "index_decodes": 32 * 4,
        "pe_ops": (8 + 8) * 4 * 6,  # steps x rows x occupied columns
        "window_writes": 12,
        "window_reads": 2 * 6 * 8,  # Q N c_in
        "act_reads": 12 * 9 + 16 * 9,  # gather (3x3: nine banks) and mask unit
        "act_writes_bits": 18,
        "act_writes_words": 16,  # identity residual: the scan copies every position's centre bits
        "res_reads": 18,
        "res_writes": 18,
        "list_writes": 6,
        "list_reads": 12,
        "mask_evals": 16,
        "epilogue_ops": 6 * 8 + 6 * 4,  # real output values: 8 channels in pass 0, 4 in pass 1
        "stem_macs": 0,  # the stem unit works in the LOAD only
    }
    assert act.events == events
    want = {
        "ddr_read_bytes": 13 * 8,  # 64-bit AXI: the RTL needs data_bits to divide rows x value_bits = 64
        "ddr_write_bytes": 0,
        "weight_slots.write": 13,  # a 64-bit beat fits one 72-bit BRAM port
        # 32 steps (40 bits: one port) + 18 parameter reads (4 x 48 = 192 bits: 3) + 16 predictor blocks (72 bits)
        "weight_slots.read": 32 + 18 * 3 + 16,
        "activation_banks.read": (12 + 16) * 9,  # 8-bit words: one port each
        "activation_banks.write": 18 + 16,
        "residual_buffer.read": 18,  # 64-bit word: one port
        "residual_buffer.write": 18,
        "window_buffers.write": 12,  # 9 taps x 8 bits = 72 bits: one port
        "window_buffers.read": 96,  # 9 window + 9 mask bits
        "active_list.write": 6,
        "active_list.read": 12,
        "pe_ops": 384,
        "pe_array.register_bits": 384 * (9 + 2 * 16) + 96 * 18,
        "index_decodes": 128,
        "mask_bits": 16 * 9 * 8,
        "epilogue_ops": 72,
        "epilogue.register_bits": 72 * 16,
        "stem_macs": 0,
    }
    assert act.counts == want
    # Dense mode bypasses the index decoder; everything else is counted the same way.
    dense = layer_activity(hand_layer(), 6, 1000, cfg, "dense", 72)
    assert dense.counts["index_decodes"] == 0
    assert {k: v for k, v in dense.counts.items() if k != "index_decodes"} == {
        k: v for k, v in want.items() if k != "index_decodes"
    }

    # Energy = counts x pJ, run power x time: 1 pJ each, plus 0.5 W for 1000 cycles at 200 MHz.
    e = part_energy(act, unit_table(pl_static=0.5), cfg.clock_hz)
    assert e.total_pj == pytest.approx(sum(want.values()) + 0.5 * 1000 / 200e6 * 1e12)
    assert e.blocks_pj["pl_static"] == pytest.approx(2.5e6) and e.blocks_pj["clock"] == 0
    assert e.blocks_pj["pe_array"] == want["pe_ops"] + want["pe_array.register_bits"]
    assert e.blocks_pj["index_decoder"] == 128 and e.blocks_pj["mask_unit"] == 1152


def test_no_predictor_no_mask_or_list_activity(tmp_path):
    cfg = load_config(small_config(tmp_path, rows=4, cols=4, depth=2, word=8))
    plan = hand_layer()
    plain = LayerPlan(**{**plan.__dict__, "mask_enabled": False, "copy_masked": False, "residual": False})
    act = layer_activity(plain, 16, 10, cfg, "sparse", 72)  # every position active: T = 4 tiles
    c = act.counts
    assert c["mask_bits"] == c["active_list.read"] == c["active_list.write"] == c["residual_buffer.read"] == 0
    assert c["pe_ops"] == 16 * 4 * 16 and c["epilogue_ops"] == 16 * 12
    # 64 PE cycles (T = 4 tiles x 8 steps x 2 passes), 48 parameter reads of 3 ports, no predictor
    assert c["weight_slots.read"] == 64 + 48 * 3


def test_load_and_store_counts(tmp_path):
    cfg = load_config(small_config(tmp_path, rows=4, cols=4, depth=2, word=8))
    from archsim.synthetic import generate

    syn = generate(SynthSpec(width=0.125, input_shape=(3, 8, 8), samples=1, seed=3), cfg)
    prog = compile_program(syn.pruned, cfg, "sparse")
    c0, h, w = prog.load_shape  # 8 channels on 8x8: 64 positions x 2 words of 4 channels
    words = h * w * -(-c0 // 4)
    ld = load_activity(prog, 77, cfg, 72).counts
    assert ld["ddr_read_bytes"] == prog.load_beats * cfg.beat_bytes == words * 64 // 8
    # with the input buffer (the config's default) the words also go to the residual buffer when layer 1
    # has an identity residual (docs/architecture.md 5, "Input buffer")
    assert cfg.buffers.input_buffer and prog.layers[0].residual
    assert ld["residual_buffer.write"] == 2 * words and ld["activation_banks.write"] == words
    # the config's pooled STORE: int32 sums of whole rows of channels, read from the sum store, not the buffer
    st = store_activity(prog, 5, cfg, 72).counts
    c, h, w = prog.store_shape
    assert prog.pooled and st["ddr_write_bytes"] == prog.store_beats * cfg.beat_bytes == -(-c // 4) * 4 * 4
    assert st["residual_buffer.read"] == 0
    # the map STORE reads every word of the last map from the residual buffer
    plain = cfg.model_copy(update={"buffers": cfg.buffers.model_copy(update={"pooled_store": False})})
    prog = compile_program(syn.pruned, plain, "sparse")
    st = store_activity(prog, 5, plain, 72).counts
    assert not prog.pooled and st["ddr_write_bytes"] == prog.store_beats * cfg.beat_bytes == h * w * -(-c // 4) * 8
    assert st["residual_buffer.read"] == h * w * -(-c // 4)


def test_counts_match_the_schedule_busy_counters(tmp_path):
    """The documented formulas reproduce the timing model's busy cycles for every layer."""
    # 4 rows x 4 slots: 16 channels per pass, so the 0.125-wide ResNet-18 fits the RTL's 64 passes
    cfg_path = small_config(tmp_path, rows=4, cols=4, depth=4, word=8)
    make_workload(
        tmp_path / "w", SynthSpec(name="t", width=0.125, input_shape=(3, 12, 12), samples=2, seed=5), cfg_path
    )
    wl = load_workload(tmp_path / "w/t_pruned.yaml")
    res = run_workload(wl, progress=False)
    table = unit_table()
    for prog, sched in [(wl.baseline_program, res.dense), *((wl.program, s) for s in res.sparse)]:
        e = inference_energy(prog, sched, wl.config, table)
        for plan, lt, act in zip(prog.layers, sched.layers, e.activity[1:-1], strict=True):
            steps = sum(plan.c_in * p.k for p in plan.passes)
            assert lt.tiles == -(-lt.n_active // 4)
            # PE cycles of the formulas = the schedule's; a last tile of 1 or 2 positions is split (timing.md 4.2, T3)
            n_last = lt.n_active - 4 * (lt.tiles - 1)
            split = lt.tiles and wl.config.split_pairs(plan.kernel, prog.mode == "sparse") and n_last <= 2
            last = sum(-(-plan.c_in * p.k // 2) if split else plan.c_in * p.k for p in plan.passes)
            assert lt.pe_busy == (lt.tiles - 1) * steps + last if lt.tiles else lt.pe_busy == 0
            assert act.counts["pe_ops"] == steps * 4 * lt.n_active
            assert act.counts["index_decodes"] == (lt.tiles * steps * 4 if prog.mode == "sparse" else 0)
            assert act.counts["epilogue_ops"] == lt.epilogue_busy * 4
            assert act.counts["window_buffers.write"] == lt.gather_busy  # 9 taps x 8 bits = one 72-bit port
            assert act.counts["mask_bits"] == lt.mask_busy * 9 * 8
        assert sum(a.cycles for a in e.activity) == sched.done


@pytest.mark.parametrize("shipped", [False, True], ids=["small", "shipped"])
def test_events_match_the_timing_models_counters(tmp_path, shipped):
    """The formulas (programme + active positions) give the SimPy model's activity counters,
    in both timing modes; only pe_ops differs by design (idle columns of partial tiles). The shipped
    ResNet-18 on the Ultra96v2 has split tiles (docs/timing.md 4.2, T3)."""
    from archsim.functional import run_model
    from archsim.sim import SimSchedule, simulate

    if shipped:
        wl = load_workload(ROOT / "workloads/resnet18_pruned.yaml")
        assert wl.config.split_pairs(3, True)
    else:
        cfg_path = small_config(tmp_path, rows=4, cols=4, depth=4, word=8)  # within the RTL's 64 passes
        make_workload(
            tmp_path / "w", SynthSpec(name="t", width=0.125, input_shape=(3, 12, 12), samples=1, seed=5), cfg_path
        )
        wl = load_workload(tmp_path / "w/t_pruned.yaml")
    run = run_model(wl.model, wl.trace.inputs[:1], "sparse", wl.config.epilogue.value_bits)
    active = [np.flatnonzero(run.masks[i][0]) if p.mask_enabled else None for i, p in enumerate(wl.program.layers)]
    for prog, act_lists in ((wl.program, active), (wl.baseline_program, [None] * len(active))):
        for mode in ("fast", "cycle"):
            sched = simulate(prog, wl.config, act_lists, mode)
            assert isinstance(sched, SimSchedule)
            mine = inference_energy(prog, sched, wl.config, unit_table()).activity
            theirs = [sched.load_activity, *sched.layer_activity(), sched.store_activity]
            for part, sim in zip(mine, theirs, strict=True):
                e, s = part.events, sim.as_dict()
                for key in EVENTS:
                    if key in s and key != "pe_ops":
                        assert e[key] == s[key], (prog.mode, mode, part.name, key)
                assert e["act_writes_bits"] + e["act_writes_words"] == s["act_writes"], (part.name, mode)
                assert s["pe_useful"] <= e["pe_ops"] <= s["pe_ops"], (part.name, mode)


# --------------------------------------------------------------------------- archsim run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("en")
    make_workload(base / "w")
    out = base / "res"
    assert main(["run", str(base / "w/small_pruned.yaml"), "--out", str(out), "--quiet"]) == 0
    return out


def test_summary_energy_is_consistent(run_dir):
    s = json.loads((run_dir / "summary.json").read_text())
    e = s["energy"]
    assert e["table"] == "ultra96v2" and e["blocks"] == list(BLOCKS)
    for mode in ("dense", "sparse"):
        m = e[mode]
        assert s[mode]["energy_uj"] == m["total_uj"] > 0
        assert sum(m["blocks_uj"].values()) == pytest.approx(m["total_uj"], rel=1e-12)
        assert m["low_uj"] < m["total_uj"] < m["high_uj"]
        layers = sum(r[f"{mode}_energy_uj"] for r in s["layers"])
        assert layers + m["load_uj"] + m["store_uj"] == pytest.approx(m["total_uj"], rel=1e-12)
        assert set(m["counts"]) == set(COUNTS)
        cycles = s[mode]["cycles"]
        assert m["average_power_w"] == pytest.approx(m["total_uj"] * 1e-6 / (cycles / 200e6))
        assert m["inferences_per_joule"] == pytest.approx(1e6 / m["total_uj"])
    d, sp = e["dense"], e["sparse"]
    assert e["ratio"] == pytest.approx(d["total_uj"] / sp["total_uj"])
    # The pruned model does less work on the same hardware: fewer PE operations and DDR bytes.
    assert sp["counts"]["pe_ops"] < d["counts"]["pe_ops"]
    assert sp["counts"]["ddr_read_bytes"] < d["counts"]["ddr_read_bytes"]
    assert d["counts"]["index_decodes"] == d["counts"]["mask_bits"] == 0 < sp["counts"]["mask_bits"]
    # Efficiency: 2 x K x K binary ops per kernel and position.
    ops = sum(2 * r["kernel"] ** 2 * r["dense_kernels"] * r["positions"] for r in s["layers"])
    assert e["ops"]["dense"] == ops
    assert d["gops_per_watt"] == pytest.approx(ops / (d["total_uj"] * 1e-6) * 1e-9)
    assert sp["gops_per_watt_effective"] == pytest.approx(ops / (sp["total_uj"] * 1e-6) * 1e-9)
    actual = sum(2 * r["kernel"] ** 2 * r["kept_kernels"] * r["active_positions"] for r in s["layers"])
    assert sp["gops_actual"] == pytest.approx(actual / (s["sparse"]["cycles"] / 200e6) * 1e-9)
    per = s["sparse"]["per_sample_energy_uj"]
    assert sp["total_uj"] == pytest.approx(sum(per.values()) / len(per))


def test_layers_csv_energy_columns(run_dir):
    s = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "layers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r, j in zip(rows, s["layers"], strict=True):
        assert float(r["dense_energy_uj"]) == j["dense_energy_uj"]
        assert float(r["sparse_energy_uj"]) == j["sparse_energy_uj"]
        assert float(r["energy_ratio"]) == pytest.approx(j["dense_energy_uj"] / j["sparse_energy_uj"])


def test_printed_breakdown_has_one_line_per_block(tmp_path, capsys):
    make_workload(tmp_path)
    assert main(["run", str(tmp_path / "small_pruned.yaml"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "ESTIMATES" in out and "GOPS/W effective" in out
    for b in BLOCKS:
        assert sum(line.split()[:1] == [b] for line in out.splitlines()) == 1, b


# --------------------------------------------------------------------------- bad tables


def write_table(tmp: Path, edit) -> Path:
    data = yaml.safe_load(TABLE.read_text())
    edit(data)
    p = tmp / "table.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["dynamic"]["pe_op"].pop("source"), "dynamic.pe_op.source"),
        (lambda d: d["dynamic"]["bram_read"].update(low=5.0), "dynamic.bram_read"),
        (lambda d: d["dynamic"].pop("epilogue_op"), "dynamic.epilogue_op"),
        (lambda d: d["run_power"].update(fan={"w": 1}), "run_power.fan"),
        (lambda d: d.update(kind="other"), "kind"),
    ],
)
def test_bad_table_names_file_and_field(tmp_path, edit, field):
    p = write_table(tmp_path, edit)
    with pytest.raises(ConfigError, match=rf"{p}: field '{field}'"):
        load_energy_table(p)


def test_workload_energy_field(tmp_path, capsys):
    make_workload(tmp_path)
    y = tmp_path / "small_pruned.yaml"
    text = y.read_text()
    # Explicit table, relative to the workload file: a unit table changes the figures.
    t = write_table(tmp_path, lambda d: d["dynamic"]["pe_op"].update(pj=0.8, high=1.6))
    y.write_text(text + f"energy: {t.name}\n")
    doubled = run_workload(load_workload(y), progress=False)
    y.write_text(text)
    base = run_workload(load_workload(y), progress=False)
    ops = base.dense_energy.counts()["pe_ops"]
    assert doubled.dense_energy.total_pj - base.dense_energy.total_pj == pytest.approx(0.4 * ops)
    # A named table that is missing, or made for another part, is an error naming the field.
    y.write_text(text + "energy: nowhere.yaml\n")
    assert main(["run", str(y)]) == 2
    assert f"{y}: field 'energy': " in capsys.readouterr().err
    t = write_table(tmp_path, lambda d: d.update(part="xc7z020clg400-1"))
    y.write_text(text + f"energy: {t.name}\n")
    with pytest.raises(ConfigError, match=r"field 'energy': .*part 'xc7z020clg400-1'"):
        load_workload(y)


def test_no_table_means_no_energy(tmp_path, capsys):
    cfg = small_config(tmp_path, rows=8)  # no energy/small_hw.yaml beside it; 8 rows: within the RTL's 64 passes
    make_workload(tmp_path / "w", config=cfg)
    out = tmp_path / "r"
    assert main(["run", str(tmp_path / "w/small_pruned.yaml"), "--out", str(out), "--quiet"]) == 0
    assert "no energy table" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    assert s["energy"] is None and s["dense"]["energy_uj"] is None and s["layers"][0]["sparse_energy_uj"] is None


def test_shipped_table_values_are_sourced():
    table = load_energy_table(TABLE)
    assert table.part == load_config(ROOT / "configs/ultra96v2.yaml").part
    for group in (table.dynamic, table.run_power):
        for name, entry in group:
            assert entry.low <= entry.value <= entry.high, name
            assert len(entry.source) > 40, name


def test_docs_table_matches_the_shipped_table():
    """docs/energy.md quotes every value and range of configs/energy/ultra96v2.yaml."""
    doc = (ROOT / "docs/energy.md").read_text()
    table = load_energy_table(TABLE)
    for group in (table.dynamic, table.run_power):
        for name, e in group:
            row = next(line for line in doc.splitlines() if line.startswith(f"| `{name}` |"))
            cells = [c.strip() for c in row.split("|")[2:4]]
            assert float(cells[0]) == e.value, name
            assert [float(v) for v in cells[1].split("-")] == [e.low, e.high], name


def test_docs_reference_figures_are_the_shipped_run():
    """docs/energy.md's per-block table and the figures quoted below it are the shipped run's summary.json."""
    doc = (ROOT / "docs/energy.md").read_text()
    s = json.loads((ROOT / "docs/figures/data/resnet18_pruned/summary.json").read_text())
    e = s["energy"]
    d, p = e["dense"], e["sparse"]
    prose = " ".join(doc.split())
    for quoted in (
        f"Energy per inference falls {e['ratio']:.1f}x (cycles {s['speedup']:.1f}x)",
        f"Dense: {d['inferences_per_joule']:,.0f} inferences/J, {d['gops_per_watt']:,.0f} GOPS/W",
        f"({e['ops']['dense'] / 1e9:.3f} GOP per inference)",
        f"Pruned: {p['inferences_per_joule']:,.0f} inferences/J, {p['gops_per_watt_effective']:,.0f} GOPS/W effective, "
        f"{p['gops_per_watt_actual']:,.0f} GOPS/W actual ({e['ops']['sparse_actual'] / 1e9:.3f} GOP performed)",
        f"({p['average_power_w']:.2f} vs {d['average_power_w']:.2f} W)",
        f"falls in a run {s['speedup']:.1f}x shorter",
    ):
        assert quoted in prose, quoted
    for b in e["blocks"]:
        row = next(line for line in doc.splitlines() if line.startswith(f"| {b} |"))
        assert row == f"| {b} | {e['dense']['blocks_uj'][b]:.2f} | {e['sparse']['blocks_uj'][b]:.2f} |", b
    total = f"| **total** | **{e['dense']['total_uj']:,.1f}** (range {e['dense']['low_uj']:,.0f}-{e['dense']['high_uj']:,.0f}) | "
    assert (
        total
        + f"**{e['sparse']['total_uj']:,.1f}** (range {e['sparse']['low_uj']:,.0f}-{e['sparse']['high_uj']:,.0f}) |"
        in doc
    )
