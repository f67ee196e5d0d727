"""`python -m trainer train --network`: a tiny network from a description trains, exports and runs
bit-exactly in archsim; descriptions the accelerator cannot run yet are refused in one line."""

from __future__ import annotations

import json

import pytest

from archsim.cli import main as archsim_main
from archsim.config import load_config
from archsim.format import load_model
from archsim.networks import load_network
from archsim.program import compile_program
from tests.trainer_helpers import ROOT, small_hw, tiny_train_argv
from trainer.cli import main as trainer_main
from trainer.train import TrainConfig

REACTNET = ROOT / "networks" / "reactnet.yaml"
FAST = ("--threads", "1", "--no-progress", "--train-subset", "256", "--network", str(REACTNET))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("netexport")
    hw = small_hw(tmp)
    dense = tiny_train_argv(tmp / "dense", hw, *FAST, epochs=1, kernel_density=(1.0,) * 4, spatial_budget=None)
    assert trainer_main(dense) == 0
    assert trainer_main(tiny_train_argv(tmp / "pruned", hw, *FAST, epochs=1)) == 0  # kernel and spatial pruning
    out = tmp / "wl"
    common = ["--out", str(out), "--samples", "3", "--threads", "1", "--no-progress"]
    assert trainer_main(["export", "--run-dir", str(tmp / "dense"), "--name", "rn_dense", *common]) == 0
    base = out / "models" / "rn_dense"
    pruned = ["export", "--run-dir", str(tmp / "pruned"), "--name", "rn_pruned", *common]
    assert trainer_main([*pruned, "--baseline", f"{base}.npz", "--baseline-trace", f"{base}.trace.npz"]) == 0
    return {"out": out, "hw": hw}


def test_network_trains_exports_and_runs_bit_exact(exported, capsys):
    out = exported["out"]
    model = load_model(out / "models" / "rn_pruned.npz")
    net = load_network(REACTNET)
    assert [L.name for L in model.layers] == [s.name for s in net.layer_shapes(0.125, (1, 32, 32))]
    assert model.meta["provenance"]["train_config"]["network"] == str(REACTNET)
    # Both prunings, balanced for the array: kernels pruned, predictors only on marked layers.
    compile_program(model, load_config(exported["hw"]), "sparse")  # checks the balance per (pass, row, channel)
    assert model.meta["provenance"]["kernel_density"] < 0.6
    predicted = {L.name for L in model.layers if L.predictor is not None}
    assert predicted and predicted <= net.predicted()
    res = out / "results"
    capsys.readouterr()
    rc = archsim_main(["run", str(out / "rn_pruned.yaml"), "--out", str(res), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0, text
    summary = json.loads((res / "summary.json").read_text())
    assert summary["functional_check"] == "pass" and not summary["synthetic"]
    assert "network 'reactnet'" in (out / "rn_pruned.yaml").read_text()


def test_trainer_refuses_unsupported_networks_in_one_line(tmp_path, capsys):
    import yaml

    data = yaml.safe_load((ROOT / "networks" / "vgg_small.yaml").read_text())
    data["layers"][0]["maps"] = "tiled"
    path = tmp_path / "vgg_tiled.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    message = "layer 0 'conv2': field 'maps': tiling maps through DDR is not supported by the accelerator yet"
    argv = tiny_train_argv(tmp_path / "run", small_hw(tmp_path), "--network", str(path), "--no-progress")
    assert trainer_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_without_network_the_run_config_is_unchanged():
    assert "network" not in TrainConfig().to_json()
    assert TrainConfig(network="x.yaml").to_json()["network"] == "x.yaml"


def test_folded_network_integer_mode_is_archsim_functional_model(tmp_path):
    """The trainer's integer mode and archsim's functional model agree bit for bit on a folded
    description with plain (no-residual) convs, shortcuts and predictors, before any training."""
    import numpy as np
    import torch

    from archsim.format import load_model, save_model
    from archsim.functional import run_model
    from tests.test_networks import MIXED
    from trainer.intmode import IntModel, fold
    from trainer.train import build_model

    torch.manual_seed(0)
    args = {"c_img": 1, "n_classes": 3, "width": 1.0, "input_offset": 100, "input_scale": 60.0}
    net = build_model({**args, "predict_layers": ["a", "d"], "ste": "clipped", "network": MIXED, "size": 10})
    pixels = torch.randint(0, 256, (6, 1, 10, 10), dtype=torch.uint8)
    net.train()
    with torch.no_grad():
        net(pixels.float())  # BN running statistics from real activations
    net.eval()
    model = fold(net, load_config(ROOT / "configs/ultra96v2.yaml"), 6, "mixed", None, {})
    save_model(tmp_path / "m.npz", model)
    model = load_model(tmp_path / "m.npz")  # the structure checks of the model format
    assert [L.residual for L in model.layers if L.role == "main"] == [True, False, False, True, True, False]
    ours = IntModel(model).run(pixels)
    ref = run_model(model, pixels.numpy(), "sparse", 16)
    for got, want in zip(ours.layer_out, ref.layer_out, strict=True):
        assert np.array_equal(got.numpy(), want)
    assert np.array_equal(ours.logits.numpy(), ref.logits)
