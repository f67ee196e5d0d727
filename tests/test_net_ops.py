"""Network operators of issue 14: layers without a residual that leave the residual buffer alone
(model format version 2, `res_write`), and block residuals (ResNet-20) built on them.

The generated RTL runs the same operators in tests/test_rtl_layers.py (cases block_res, block_sc,
inbuf_block); here: the description, the model format, the functional and batched models, the
trainer, and the timing (which `res_write` does not change)."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from archsim.batched import BatchedModel
from archsim.cli import main
from archsim.config import load_config
from archsim.errors import FormatError
from archsim.format import load_model, residual_bits, save_model, validate_model
from archsim.functional import run_model
from archsim.networks import load_network, network_from_dict
from archsim.program import compile_program
from archsim.sim import simulate
from archsim.synthetic import SynthSpec, generate
from tests.trainer_helpers import ROOT, small_hw, tiny_train_argv
from trainer.cli import main as trainer_main

NETWORKS = ROOT / "networks"
CFG = ROOT / "configs" / "ultra96v2.yaml"
SMALL = ["--width", "0.25", "--input-shape", "3,16,16", "--samples", "2"]


def _synth(out: Path, *extra: str) -> int:
    return main(["synth", "--out", str(out), "--name", "r20", *SMALL, *extra])


@pytest.fixture(scope="module")
def r20(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("r20")
    assert _synth(out, "--network", str(NETWORKS / "resnet20.yaml")) == 0
    return out


def test_resnet20_expands_into_blocks_that_keep_the_residual_buffer():
    shapes = load_network(NETWORKS / "resnet20.yaml").layer_shapes(1.0)
    by_name = {s.name: s for s in shapes}
    # conv1 of every block leaves the residual buffer holding the block's input; conv2 adds it
    for s in shapes:
        if s.name.endswith("conv1"):
            assert not s.residual and not s.res_write, s.name
        if s.name.endswith("conv2"):
            assert s.residual and s.res_write, s.name
    # the projecting blocks' 1x1 stride-2 shortcut runs on the block input, before conv1
    names = [s.name for s in shapes]
    for blk, c_in, c_out in (("s2.b1", 16, 32), ("s3.b1", 32, 64)):
        sc = by_name[f"{blk}.shortcut"]
        assert names.index(sc.name) + 1 == names.index(f"{blk}.conv1")
        assert (sc.role, sc.kernel, sc.stride, sc.c_in, sc.c_out, sc.res_write) == ("shortcut", 1, 2, c_in, c_out, True)
        assert (sc.h_out, sc.w_out) == (by_name[f"{blk}.conv2"].h_out, by_name[f"{blk}.conv2"].w_out)


def test_a_plain_layer_writes_the_residual_buffer_only_when_a_later_layer_adds_it():
    base = {"kind": "archsim-network", "version": 1, "name": "t", "input": [3, 8, 8], "stem": {"channels": 8}}
    layers = [
        {"name": "a", "stage": 1, "channels": 8, "residual": "none"},  # b adds it (identity)
        {"name": "b", "stage": 1, "channels": 8, "residual": "identity"},
        {"name": "c", "stage": 1, "channels": 8, "residual": "none"},  # d has a shortcut: not needed
        {"name": "d", "stage": 2, "channels": 16, "stride": 2, "residual": "shortcut"},
        {"name": "e", "stage": 2, "channels": 16, "residual": "none"},  # the block's input: f adds it
        {
            "block": "k",
            "stage": 2,
            "layers": [
                {"name": "f1", "channels": 16, "residual": "none"},
                {"name": "f2", "channels": 16, "residual": "block"},
            ],
        },
        {"name": "g", "stage": 3, "channels": 16, "residual": "none"},  # the last map: the STORE reads it
    ]
    net = network_from_dict({**base, "layers": layers, "classifier": {"kind": "sum_pool_linear"}}, "t.yaml")
    got = {s.name: s.res_write for s in net.layer_shapes(1.0)}
    assert got == {
        "a": True,
        "b": True,
        "c": False,
        "d.shortcut": True,
        "d": True,
        "e": True,
        "k.f1": False,
        "k.f2": True,
        "g": True,
    }


def test_resnet20_synth_runs_with_functional_pass_fast_and_cycle(r20, tmp_path, capsys):
    model = load_model(r20 / "models" / "r20_pruned.npz")
    meta = json.loads(np.load(r20 / "models" / "r20_pruned.npz")["meta.json"].tobytes())
    assert meta["version"] == 2 and [m["res_write"] for m in meta["layers"]] == [L.res_write for L in model.layers]
    assert sum(not L.res_write for L in model.layers) == 9  # every conv1
    assert {L.name for L in model.layers if L.predictor is not None} >= {"s1.b1.conv2", "s2.b2.conv2"}
    for mode in ("fast", "cycle"):
        capsys.readouterr()
        assert main(["run", str(r20 / "r20_pruned.yaml"), "--mode", mode, "--out", str(tmp_path / mode)]) == 0
        assert "MISMATCH" not in capsys.readouterr().out
        assert json.loads((tmp_path / mode / "summary.json").read_text())["functional_check"] == "pass"
    fast, cycle = (json.loads((tmp_path / m / "summary.json").read_text()) for m in ("fast", "cycle"))
    for part in ("dense", "sparse"):
        assert fast[part]["cycles"] == cycle[part]["cycles"]


def test_block_residual_adds_the_block_input_not_conv1(r20):
    """The residual conv2 adds is the block's input: with conv1 writing the residual buffer (format
    version 1 semantics) the block computes something else."""
    model = load_model(r20 / "models" / "r20_dense.npz")
    x = np.random.default_rng(0).integers(0, 256, (2, *model.input_shape), dtype=np.uint8)
    run = run_model(model, x, "dense")
    x0 = run.stem_out.astype(np.int64)
    # layer 0 is s1.b1.conv1 (no residual), layer 1 s1.b1.conv2: z1 = sat(y1 + x0)
    from archsim.functional import epilogue, layer_dot, saturate

    L1 = model.layers[1]
    y1 = epilogue(layer_dot(L1, run.layer_out[0] >= 0), L1, channel_axis=1)
    assert np.array_equal(run.layer_out[1], saturate(y1 + x0, 16))
    v1 = replace(model, layers=tuple(replace(L, res_write=True) for L in model.layers[:6]) + model.layers[6:])
    assert not np.array_equal(run_model(v1, x, "dense").layer_out[1], run.layer_out[1])


def test_batched_model_agrees_with_the_functional_model(r20):
    for kind, mode in (("pruned", "sparse"), ("dense", "dense")):
        model = load_model(r20 / "models" / f"r20_{kind}.npz")
        x = np.random.default_rng(1).integers(0, 256, (3, *model.input_shape), dtype=np.uint8)
        ref = run_model(model, x, mode)
        got = BatchedModel(model, mode).run(x, keep_maps=True)
        assert np.array_equal(got.logits, ref.logits)
        for a, b in zip(got.layer_out, ref.layer_out, strict=True):
            assert np.array_equal(a, b)


def test_res_write_changes_no_cycle_only_residual_writes(r20):
    """Leaving the residual buffer alone is a write enable: the schedule is the same, both SimPy
    modes, only the residual-buffer write count (and so its energy) drops."""
    cfg = load_config(CFG)
    model = load_model(r20 / "models" / "r20_pruned.npz")
    x = np.random.default_rng(2).integers(0, 256, (1, *model.input_shape), dtype=np.uint8)
    masks = run_model(model, x, "sparse").masks
    active = [None if m is None else np.flatnonzero(m[0]) for m in masks]
    kept = compile_program(model, cfg, "sparse")
    written = compile_program(
        replace(model, layers=tuple(replace(L, res_write=True) for L in model.layers)), cfg, "sparse"
    )
    assert [p.res_write for p in kept.layers] == [L.res_write for L in model.layers]
    for mode in ("fast", "cycle"):
        a, b = simulate(kept, cfg, active, mode), simulate(written, cfg, active, mode)
        assert a.total_cycles == b.total_cycles
        assert [lt.end for lt in a.layers] == [lt.end for lt in b.layers]
        for L, la, lb in zip(model.layers, a.layers, b.layers, strict=True):
            assert (la.activity.res_writes == 0) == (not L.res_write)
            assert lb.activity.res_writes > 0


def test_a_layer_that_keeps_the_buffer_needs_no_residual_words(tmp_path):
    """conv1 widens the map to 64 channels but writes only bits: a residual buffer too small for
    its output still runs the block; a layer that must write it is refused naming it."""
    text = """
kind: archsim-network
version: 1
name: wide
input: [3, 8, 8]
stem: {channels: 16}
layers:
  - block: b
    stage: 1
    layers:
      - {name: conv1, channels: 64, residual: none}
      - {name: conv2, channels: 16, residual: block}
classifier: {kind: sum_pool_linear}
"""
    (tmp_path / "wide.yaml").write_text(text)
    net = load_network(tmp_path / "wide.yaml")
    cfg = load_config(CFG)
    rows = cfg.pe_array.rows
    need16, need64 = 64 * (16 // rows), 64 * (64 // rows)
    small = cfg.model_copy(update={"buffers": cfg.buffers.model_copy(update={"res_depth": need16})})
    spec = SynthSpec(width=1.0, input_shape=(3, 8, 8), samples=1, network=net)
    model = generate(spec, cfg).dense
    assert [L.res_write for L in model.layers] == [False, True]
    compile_program(model, small, "dense")  # 64 words: conv2's output; conv1's 256 are never written
    wide = replace(model, layers=(replace(model.layers[0], res_write=True), model.layers[1]))
    with pytest.raises(Exception, match=f"layer 'b.conv1': output needs {need64} residual-buffer words"):
        compile_program(wide, small, "dense")


def test_model_format_version_2_only_when_used(tmp_path, r20):
    model = load_model(r20 / "models" / "r20_pruned.npz")
    # a model whose layers all write the residual buffer is a version-1 file, without the field
    v1 = replace(model, layers=model.layers[:6])
    v1 = replace(v1, layers=tuple(replace(L, res_write=True) for L in v1.layers))
    v1 = replace(v1, classifier=replace(v1.classifier, weight=v1.classifier.weight[:, : v1.layers[-1].c_out]))
    save_model(tmp_path / "v1.npz", v1)
    meta = json.loads(np.load(tmp_path / "v1.npz")["meta.json"].tobytes())
    assert meta["version"] == 1 and all("res_write" not in m for m in meta["layers"])
    assert all(L.res_write for L in load_model(tmp_path / "v1.npz").layers)
    # the shipped version-1 ResNet-18 still loads, every layer writing the residual buffer
    shipped = load_model(ROOT / "workloads" / "models" / "resnet18_pruned.npz")
    assert all(L.res_write for L in shipped.layers) and residual_bits(shipped.layers)[0] == "input"


def test_version_2_fields_are_checked(tmp_path, r20):
    model = load_model(r20 / "models" / "r20_pruned.npz")
    last = len(model.layers) - 1
    bad = replace(model, layers=(*model.layers[:-1], replace(model.layers[-1], res_write=False)))
    with pytest.raises(FormatError, match=rf"field 'layers\[{last}\].res_write': the last layer must write"):
        validate_model(bad, "m.npz")
    # a predictor whose skipped positions have no residual bits in any set: the shortcut, then a
    # layer keeping the buffer, then a predicted layer adding the shortcut
    i = next(i for i, L in enumerate(model.layers) if L.name == "s2.b1.conv2")
    L = model.layers[i]
    pred = next(x.predictor for x in model.layers if x.predictor is not None and x.c_in == L.c_in)
    bad = replace(model, layers=(*model.layers[:i], replace(L, predictor=pred), *model.layers[i + 1 :]))
    with pytest.raises(FormatError, match=rf"field 'layers\[{i}\] \(s2.b1.conv2\).predictor': no activation set"):
        validate_model(bad, "m.npz")


def test_predictor_on_a_projecting_block_is_refused_in_one_line(tmp_path, capsys):
    data = yaml.safe_load((NETWORKS / "resnet20.yaml").read_text())
    data["layers"][3]["layers"][1]["predictor"] = True
    path = tmp_path / "r20p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert _synth(tmp_path / "o", "--network", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"archsim synth: error: {path}: layer 7 's2.b1.conv2': field 'predictor': ") and (
        err.count("\n") == 1
    ), err
    assert not (tmp_path / "o").exists()


def test_tiny_resnet20_trains_exports_and_runs_bit_exact(tmp_path, capsys):
    hw = small_hw(tmp_path)
    net = NETWORKS / "resnet20.yaml"
    fast = ("--threads", "1", "--no-progress", "--train-subset", "256", "--network", str(net))
    dense = tiny_train_argv(tmp_path / "dense", hw, *fast, epochs=1, kernel_density=(1.0,) * 4, spatial_budget=None)
    assert trainer_main(dense) == 0
    assert trainer_main(tiny_train_argv(tmp_path / "run", hw, *fast, epochs=1)) == 0  # both prunings
    out = tmp_path / "wl"
    common = ["--out", str(out), "--samples", "3", "--threads", "1", "--no-progress"]
    assert trainer_main(["export", "--run-dir", str(tmp_path / "dense"), "--name", "r20d", *common]) == 0
    base = out / "models" / "r20d"
    pruned = ["export", "--run-dir", str(tmp_path / "run"), "--name", "r20", *common]
    assert trainer_main([*pruned, "--baseline", f"{base}.npz", "--baseline-trace", f"{base}.trace.npz"]) == 0
    model = load_model(out / "models" / "r20.npz")
    assert sum(not L.res_write for L in model.layers) == 9 and any(L.predictor is not None for L in model.layers)
    capsys.readouterr()
    assert main(["run", str(out / "r20.yaml"), "--out", str(tmp_path / "res"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert summary["functional_check"] == "pass" and not summary["synthetic"]


# --------------------------------------------------------------------------- VGG-small: max-pool, flatten


@pytest.fixture(scope="module")
def vgg(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vgg")
    assert main(["synth", "--out", str(out), "--name", "vgg", *SMALL, "--network", "vgg_small"]) == 0
    return out


def test_vgg_small_synth_runs_with_functional_pass_fast_and_cycle(vgg, tmp_path, capsys):
    model = load_model(vgg / "models" / "vgg_pruned.npz")
    meta = json.loads(np.load(vgg / "models" / "vgg_pruned.npz")["meta.json"].tobytes())
    assert meta["version"] == 2 and meta["classifier"] == "flatten_linear"
    assert [L.maxpool for L in model.layers] == [True, False, True, False, True]
    assert [L.res_write for L in model.layers] == [False] * 4 + [True]
    last = model.layers[-1]  # the host pools the STOREd 2x2 map to 1x1, then flattens
    assert model.classifier.weight.shape == (10, last.c_out * (last.h_out // 2) * (last.w_out // 2))
    for mode in ("fast", "cycle"):
        capsys.readouterr()
        assert main(["run", str(vgg / "vgg_pruned.yaml"), "--mode", mode, "--out", str(tmp_path / mode)]) == 0
        assert "MISMATCH" not in capsys.readouterr().out
        assert json.loads((tmp_path / mode / "summary.json").read_text())["functional_check"] == "pass"
    fast, cycle = (json.loads((tmp_path / m / "summary.json").read_text()) for m in ("fast", "cycle"))
    for part in ("dense", "sparse"):
        assert fast[part]["cycles"] == cycle[part]["cycles"]
    assert fast["host"]["classifier_macs"] == model.classifier.weight.size


def test_maxpool_is_the_or_of_the_sign_bits_and_the_host_pools_the_last_map(vgg):
    from archsim.functional import iter_layers, stem_forward

    model = load_model(vgg / "models" / "vgg_dense.npz")
    x = np.random.default_rng(3).integers(0, 256, (2, *model.input_shape), dtype=np.uint8)
    steps = list(iter_layers(model, stem_forward(model, x), "dense"))
    for a, b in itertools.pairwise(steps):
        s = a.z >= 0
        h, w = s.shape[2] // 2, s.shape[3] // 2
        want = s[:, :, 0 : 2 * h : 2, 0 : 2 * w : 2] | s[:, :, 0 : 2 * h : 2, 1 : 2 * w : 2]
        want |= s[:, :, 1 : 2 * h : 2, 0 : 2 * w : 2] | s[:, :, 1 : 2 * h : 2, 1 : 2 * w : 2]
        assert np.array_equal(b.bits_in, want if model.layers[a.index].maxpool else s)
    z = steps[-1].z.astype(np.int64)  # the host pools the values (4x4 -> 2x2), then flattens (c, y, x)
    n, c, h, w = z.shape
    feats = z.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5)).reshape(n, -1)
    want = feats @ model.classifier.weight.astype(np.int64).T + model.classifier.bias
    assert np.array_equal(run_model(model, x, "dense").logits, want)


def test_batched_model_agrees_on_vgg(vgg):
    for kind, mode in (("pruned", "sparse"), ("dense", "dense")):
        model = load_model(vgg / "models" / f"vgg_{kind}.npz")
        x = np.random.default_rng(4).integers(0, 256, (3, *model.input_shape), dtype=np.uint8)
        ref = run_model(model, x, mode)
        got = BatchedModel(model, mode).run(x, keep_maps=True)
        assert np.array_equal(got.logits, ref.logits)
        for a, b in zip(got.layer_out, ref.layer_out, strict=True):
            assert np.array_equal(a, b)


def test_maxpool_layers_get_the_rtl_pool_flag_except_the_last(vgg):
    from archsim.layout import build_layout

    cfg = load_config(CFG)
    model = load_model(vgg / "models" / "vgg_pruned.npz")
    lay = build_layout(model, compile_program(model, cfg, "sparse"), cfg)
    assert [L.maxpool for L in lay.layers] == [True, False, True, False, False]  # the host pools the last map


def test_vgg_maps_that_do_not_fit_are_refused_naming_layer_buffer_and_words(vgg, tmp_path, capsys):
    rc = main(["run", str(vgg / "vgg_pruned.yaml"), "--quiet", "--set", "buffers.act_bank_depth=8"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert "layer 'conv2': input bit map needs 36 words per activation bank, buffers.act_bank_depth is 8" in err


def test_tiny_vgg_small_trains_exports_and_runs_bit_exact(tmp_path, capsys):
    hw = small_hw(tmp_path)
    fast = ("--threads", "1", "--no-progress", "--train-subset", "256", "--network", str(NETWORKS / "vgg_small.yaml"))
    dense = tiny_train_argv(tmp_path / "dense", hw, *fast, epochs=1, kernel_density=(1.0,) * 4, spatial_budget=None)
    assert trainer_main(dense) == 0
    assert trainer_main(tiny_train_argv(tmp_path / "run", hw, *fast, epochs=1)) == 0
    out = tmp_path / "wl"
    common = ["--out", str(out), "--samples", "3", "--threads", "1", "--no-progress"]
    assert trainer_main(["export", "--run-dir", str(tmp_path / "dense"), "--name", "vd", *common]) == 0
    base = out / "models" / "vd"
    pruned = ["export", "--run-dir", str(tmp_path / "run"), "--name", "vgg", *common]
    assert trainer_main([*pruned, "--baseline", f"{base}.npz", "--baseline-trace", f"{base}.trace.npz"]) == 0
    model = load_model(out / "models" / "vgg.npz")
    assert [L.maxpool for L in model.layers] == [True, False, True, False, True]
    assert model.classifier.kind == "flatten_linear" and model.meta["provenance"]["kernel_density"] < 1.0
    capsys.readouterr()
    assert main(["run", str(out / "vgg.yaml"), "--out", str(tmp_path / "res"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "res" / "summary.json").read_text())
    assert summary["functional_check"] == "pass" and not summary["synthetic"]


def test_sweep_over_the_new_networks(tmp_path):
    import csv

    from archsim.sweep import load_sweep, run_sweep

    data = {
        "name": "ops",
        "hardware": str(CFG),
        "synthetic": {"width": 0.25, "input_shape": [3, 8, 8], "samples": 1, "seed": 1},
        "parameters": {"synthetic.network": ["resnet20", "vgg_small"]},
    }
    (tmp_path / "ops.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    stats = run_sweep(load_sweep(tmp_path / "ops.yaml"), tmp_path / "out", jobs=1, progress=False)
    assert stats.computed == stats.total == 2 and not stats.failed and not stats.invalid
    with open(tmp_path / "out" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["functional_check"] for r in rows] == ["pass", "pass"]
    assert all(float(r["sparse_cycles"]) > 0 for r in rows)


def test_energy_events_equal_the_simpy_activity_on_resnet20(r20):
    """energy.py's counts and both SimPy modes' activity agree on a block-residual network with the
    input buffer: layers that keep the residual buffer write none, the LOAD writes x0 and its bits
    twice (layer 1 leaves the residual buffer to layer 2)."""
    from archsim.energy import EVENTS, inference_energy
    from tests.test_energy import unit_table

    cfg = load_config(CFG)
    assert cfg.buffers.input_buffer
    model = load_model(r20 / "models" / "r20_pruned.npz")
    x = np.random.default_rng(5).integers(0, 256, (1, *model.input_shape), dtype=np.uint8)
    masks = run_model(model, x, "sparse").masks
    prog = compile_program(model, cfg, "sparse")
    assert (prog.load_res_copies, prog.load_act_copies) == (2, 2)
    active = [np.flatnonzero(masks[i][0]) if p.mask_enabled else None for i, p in enumerate(prog.layers)]
    for mode in ("fast", "cycle"):
        sched = simulate(prog, cfg, active, mode)
        mine = inference_energy(prog, sched, cfg, unit_table()).activity
        theirs = [sched.load_activity, *sched.layer_activity(), sched.store_activity]
        for part, sim in zip(mine, theirs, strict=True):
            e, s = part.events, sim.as_dict()
            for key in EVENTS:
                if key in s and key != "pe_ops":
                    assert e[key] == s[key], (mode, part.name, key)
            assert e["act_writes_bits"] + e["act_writes_words"] == s["act_writes"], (part.name, mode)
        words = prog.load_shape[1] * prog.load_shape[2] * -(-prog.load_shape[0] // cfg.pe_array.rows)
        assert sched.load_activity.act_writes == 2 * words


def test_train_networks_script_commands_parse_and_share_the_recipe():
    """scripts/train_networks.sh: every trainer command it would run parses, dense and pruned
    runs of each network share the recipe, and the pruned ones use the shipped ResNet-18's."""
    import os
    import shlex
    import subprocess

    from trainer.cli import _parser

    env = {**os.environ, "PRINT": "1", "PYTHON": "python"}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts/train_networks.sh"), "some/runs"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert not (ROOT / "some").exists()
    cmds = [shlex.split(line) for line in out.stdout.splitlines()]
    trainer = [c[3:] for c in cmds if c[:3] == ["python", "-m", "trainer"]]
    args = {}
    for c in trainer:
        a = _parser().parse_args(c)
        if a.cmd == "train":
            args[a.run_dir.name] = vars(a)
    assert sorted(args) == ["fm_r20_dense", "fm_r20_pruned", "fm_vgg_dense", "fm_vgg_pruned"]
    recipe = ("dataset", "epochs", "seed", "batch_size", "lr", "weight_decay", "width", "ste", "network")
    for net in ("r20", "vgg"):
        dense, pruned = args[f"fm_{net}_dense"], args[f"fm_{net}_pruned"]
        assert {k: dense[k] for k in recipe} == {k: pruned[k] for k in recipe}
        assert dense["kernel_density"] == (1.0,) * 4 and dense["spatial_budget"] is None
        assert pruned["kernel_density"] == (0.5, 0.25, 0.25, 0.125) and pruned["spatial_budget"] == 0.5
        assert dense["epochs"] == 8 and dense["seed"] == 0
    for a in args.values():
        load_network(ROOT / a["network"])  # the descriptions it names exist and validate
    assert [c[c.index("--name") + 1] for c in trainer if c[0] == "export"] == [
        "resnet20_dense",
        "resnet20_pruned",
        "vgg_small_dense",
        "vgg_small_pruned",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["layers"][0].pop("res_write"), "layers[0].res_write"),
        (lambda m: m["layers"][1].update(maxpool=1), "layers[1].maxpool"),
        (lambda m: m.update(classifier="avg_pool"), "classifier"),
        (lambda m: m.pop("classifier"), "classifier"),
        (lambda m: m.update(version=3), "version"),
    ],
)
def test_hostile_version_2_fields_are_refused_naming_the_field(vgg, tmp_path, change, field):
    from tests.test_hostile import rewrite_npz

    path = tmp_path / "m.npz"
    path.write_bytes((vgg / "models" / "vgg_pruned.npz").read_bytes())
    rewrite_npz(path, lambda arrays, meta: change(meta) and None)
    with pytest.raises(FormatError, match=rf"^{path}: field '{re.escape(field)}': "):
        load_model(path)


@pytest.mark.parametrize("name", ["resnet20_pruned", "vgg_small_pruned"])
def test_shipped_network_workloads_are_trained_and_pass(name, capsys):
    """The shipped ResNet-20 and VGG-small workloads (scripts/train_networks.sh): trained models, not
    synthetic, with the description's operators, from the recipe their provenance records; `archsim run`
    in fast and cycle mode passes the functional check against the trainer's trace."""
    wl = yaml.safe_load((ROOT / f"workloads/{name}.yaml").read_text())
    for key in ("model", "baseline"):
        path = ROOT / "workloads" / (wl[key] if key == "model" else wl[key]["model"])
        m = load_model(path)
        assert not m.synthetic, path
        prov = m.meta["provenance"]
        assert prov["epochs"] == 8 and prov["dataset"] == "fashion-mnist" and prov["int_accuracy"] > 0.8
        assert Path(prov["train_config"]["network"]).stem == name.rsplit("_", 1)[0]
    model = load_model(ROOT / "workloads" / wl["model"])
    if name.startswith("vgg"):
        assert [L.maxpool for L in model.layers] == [True, False, True, False, True]
    else:
        assert sum(not L.res_write for L in model.layers) == 9
        assert any(L.predictor is not None for L in model.layers)
    for mode in ("fast", "cycle"):
        assert main(["run", str(ROOT / f"workloads/{name}.yaml"), "--mode", mode, "--quiet"]) == 0
        out = capsys.readouterr().out
        assert "functional check  PASS" in out, out
    # README's row of this workload is this run's numbers
    from archsim.runner import run_workload
    from archsim.workload import load_workload

    r = run_workload(load_workload(ROOT / f"workloads/{name}.yaml"), mode="fast", progress=False)
    pruned, dense = (
        load_model(ROOT / "workloads" / wl["model"]),
        load_model(ROOT / "workloads" / wl["baseline"]["model"]),
    )
    acc = (
        f"{100 * pruned.meta['provenance']['int_accuracy']:.2f} / {100 * dense.meta['provenance']['int_accuracy']:.2f}"
    )
    row = f"| {acc} | {r.dense.total_cycles:,} | {r.sparse_cycles_mean:,.0f} | {r.speedup:.2f}x | {r.ideal_speedup:.2f}x |"
    line = next(x for x in (ROOT / "README.md").read_text().splitlines() if x.startswith(f"| `workloads/{name}.yaml`"))
    assert line.endswith(row), (line, row)
