"""Network descriptions (docs/formats.md section 6): the shipped files, validation errors, and
`archsim synth --network` (same bytes as the built-in ResNet-18; other networks run bit-exactly)."""

from __future__ import annotations

import copy
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from archsim.cli import main
from archsim.errors import ConfigError
from archsim.format import load_model
from archsim.network import resnet18_layers
from archsim.networks import BUILTIN, builtin, builtin_text, load_network, network_from_dict, resolve_network
from tests.synth_helpers import ROOT

NETWORKS = ROOT / "networks"
SMALL = ["--width", "0.25", "--input-shape", "3,12,12", "--samples", "2", "--seed", "5"]


def _synth(out: Path, *extra: str) -> int:
    return main(["synth", "--out", str(out), *SMALL, *extra])


@pytest.mark.parametrize("name", BUILTIN)
def test_shipped_descriptions_parse_and_are_the_packaged_ones(name):
    path = NETWORKS / f"{name}.yaml"
    net = load_network(path)
    assert net.name == name and net.layers
    # archsim reads its copy from the package (not the cwd); the user-facing file is the same text.
    assert path.read_text() == builtin_text(name)
    assert builtin(name) == net
    assert resolve_network(name) == net


def test_shipped_descriptions_have_their_structure():
    vgg = load_network(NETWORKS / "vgg_small.yaml")
    assert vgg.stem_channels == 128 and vgg.classifier == "flatten_linear"
    assert [(L.channels, L.maxpool, L.residual) for L in vgg.layers] == [
        (128, True, "none"),
        (256, False, "none"),
        (256, True, "none"),
        (512, False, "none"),
        (512, True, "none"),
    ]
    r20 = load_network(NETWORKS / "resnet20.yaml")
    assert len(r20.layers) == 18 and [L.residual for L in r20.layers[:2]] == ["none", "block"]
    assert [L.name for L in r20.layers if L.residual == "block_shortcut"] == ["s2.b1.conv2", "s3.b1.conv2"]
    react = load_network(NETWORKS / "reactnet.yaml")
    assert [L.kernel for L in react.layers] == [3, 1] * 7
    react.check_supported()  # everything in it runs today


@pytest.mark.parametrize("width", [1.0, 0.25, 0.125, 0.3])
@pytest.mark.parametrize("hw", [(32, 32), (12, 12), (28, 20), (7, 9)])
def test_resnet18_description_is_the_built_in_resnet18(width, hw):
    net = load_network(NETWORKS / "resnet18.yaml")
    assert net.layer_shapes(width, (3, *hw)) == resnet18_layers(width, *hw)
    assert net.predicted() == {s.name for s in resnet18_layers(width, *hw) if s.role == "main"}


def test_synth_with_the_resnet18_description_gives_the_same_bytes(tmp_path):
    assert _synth(tmp_path / "a") == 0
    assert _synth(tmp_path / "b", "--network", str(NETWORKS / "resnet18.yaml")) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "models").iterdir())
    assert len(files) == 4
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert main(["run", str(tmp_path / "b" / "resnet18_pruned.yaml"), "--quiet"]) == 0  # and it runs: PASS


def test_reactnet_synth_then_run_passes_fast_and_cycle(tmp_path, capsys):
    out = tmp_path / "rn"
    assert main(["synth", "--out", str(out), "--name", "rn", *SMALL, "--network", "reactnet"]) == 0
    model = load_model(out / "models" / "rn_pruned.npz")
    net = load_network(NETWORKS / "reactnet.yaml")
    assert [L.name for L in model.layers] == [s.name for s in net.layer_shapes(0.25, (3, 12, 12))]
    assert sum(L.role == "shortcut" for L in model.layers) == 7 and sum(L.kernel == 1 for L in model.layers) == 14
    assert model.meta["network"] == "reactnet" and "--network reactnet" in model.meta["command"]
    # Predictors only where the description marks them (the 3x3 convs) and --predict-stages allows.
    assert {L.name for L in model.layers if L.predictor is not None} == {
        L.name for L in net.layers if L.predictor and L.stage <= 3
    }
    for mode in ("fast", "cycle"):
        capsys.readouterr()
        assert main(["run", str(out / "rn_pruned.yaml"), "--mode", mode, "--out", str(tmp_path / mode)]) == 0
        assert "MISMATCH" not in capsys.readouterr().out
        assert json.loads((tmp_path / mode / "summary.json").read_text())["functional_check"] == "pass"
    fast, cycle = (json.loads((tmp_path / m / "summary.json").read_text()) for m in ("fast", "cycle"))
    for part in ("dense", "sparse"):
        assert fast[part]["cycles"] == cycle[part]["cycles"]


def test_synth_refuses_unsupported_operators_in_one_line(tmp_path, capsys):
    data = yaml.safe_load((NETWORKS / "vgg_small.yaml").read_text())
    data["layers"][0]["maps"] = "tiled"
    path = tmp_path / "vgg_tiled.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    message = (
        "layer 0 'conv2': field 'maps': tiling maps through DDR is not supported by the accelerator yet (issue 14)"
    )
    assert _synth(tmp_path / "o", "--network", str(path)) == 2
    err = capsys.readouterr().err
    assert err == f"archsim synth: error: {path}: {message}\n"
    assert not (tmp_path / "o").exists()
    docs = " ".join((ROOT / "docs/formats.md").read_text().split())  # the example docs/formats.md quotes
    assert f"`vgg_tiled.yaml: {message}`" in docs


def _edit(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((NETWORKS / "reactnet.yaml").read_text())
    change(data)
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _layer(data: dict, block: int, layer: int) -> dict:
    return data["layers"][block]["layers"][layer]


BAD = [
    (lambda d: _layer(d, 0, 0).update(kernel=5), "layer 0 'b1.conv3x3': field 'kernel': Input should be 1 or 3"),
    (lambda d: _layer(d, 1, 0).update(stride=3), "layer 2 'b2.conv3x3': field 'stride'"),
    (lambda d: _layer(d, 1, 1).update(channels=0), "layer 3 'b2.conv1x1': field 'channels'"),
    (
        lambda d: _layer(d, 1, 1).update(channels="64"),
        "layer 3 'b2.conv1x1': field 'channels': Input should be a valid",
    ),
    (lambda d: _layer(d, 0, 1).update(colour="red"), "layer 1 'b1.conv1x1': field 'colour': unknown key"),
    (lambda d: _layer(d, 0, 1).pop("residual"), "layer 1 'b1.conv1x1': field 'residual': required field is missing"),
    (
        lambda d: _layer(d, 0, 1).update(residual="identity"),
        "layer 1 'b1.conv1x1': field 'residual': identity adds the layer's input",
    ),
    (
        lambda d: _layer(d, 1, 1).update(residual="block"),
        "layer 3 'b2.conv1x1': field 'residual': the block's input (64, 32, 32) must have the output shape",
    ),  # a block residual whose block input has another shape
    (lambda d: _layer(d, 2, 0).update(residual="block"), "layer 4 'b3.conv3x3': field 'residual': the first layer"),
    (lambda d: _layer(d, 0, 1).update(predictor=True), "layer 1 'b1.conv1x1': field 'predictor': only 3x3 layers"),
    (
        lambda d: _layer(d, 2, 0).update(residual="none"),
        "layer 4 'b3.conv3x3': field 'predictor': a spatially pruned layer needs a residual",
    ),
    (lambda d: _layer(d, 0, 0).update(stage=2), "layer 0 'b1.conv3x3': field 'stage': a layer inside a block"),
    (lambda d: _layer(d, 0, 0).update(name="conv1x1"), "layer 1 'b1.conv1x1': field 'name': the name 'b1.conv1x1'"),
    (lambda d: _layer(d, 0, 0).update(name="a b"), "layer 0 'b1.a b': field 'name': String should match pattern"),
    (lambda d: _layer(d, 0, 1).update(shortcut_name="x", residual="identity"), "field 'shortcut_name'"),
    (lambda d: d["layers"][1].update(block="b1"), "layer 2 'b1': field 'block': the block name 'b1' is used twice"),
    (
        lambda d: d["layers"][1]["layers"].append([1, 2]),
        "layer 4 '?': field '(layer)': expected a mapping, got list",
    ),
    (lambda d: d["layers"][1]["layers"].append({"block": "x"}), "layer 4 'x': field 'block': blocks do not nest"),
    (
        lambda d: d["layers"].append({"name": "loose", "channels": 8, "residual": "none"}),
        "layer 14 'loose': field 'stage': required field is missing",
    ),
    (
        lambda d: d["layers"].append({"name": "l", "stage": 4, "channels": 512, "residual": "block"}),
        "layer 14 'l': field 'residual': 'block' adds the enclosing block's input; this layer is in no block",
    ),
    (
        lambda d: d["layers"].append({"name": "p", "stage": 4, "channels": 512, "residual": "none", "maxpool": True}),
        "layer 14 'p': field 'maxpool': a 2x2 max-pool needs a map of at least 2x2",
    ),  # at an 8x8 input (set below) the last map is 1x1
    (lambda d: d.update(version=2), "field 'version': network description version 2 is not supported"),
    (lambda d: d.update(kind="model"), "field 'kind'"),
    (lambda d: d.update(input=[3, 32]), "field 'input'"),
    (lambda d: d.pop("classifier"), "field 'classifier': required field is missing"),
    (lambda d: d["classifier"].update(kind="softmax"), "field 'classifier.kind'"),
    (lambda d: d.update(layers=[]), "field 'layers'"),
    (lambda d: d["layers"].append(7), "layer 14 '?': field '(layer)': expected a mapping, got int"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_malformed_description_gets_one_line_naming_file_layer_and_field(tmp_path, capsys, change, message):
    path = _edit(tmp_path, change)
    if "'maxpool': a 2x2" in message:  # shrink the image so the last map is 1x1 before the pool
        data = yaml.safe_load(path.read_text())
        data["input"] = [3, 8, 8]
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert _synth(tmp_path / "o", "--network", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"archsim synth: error: {path}: ") and err.count("\n") == 1, err
    assert message in err, err
    assert not (tmp_path / "o").exists()


def test_unsupported_operators_parse_and_are_refused_by_name(tmp_path):
    tiled = _edit(tmp_path, lambda d: _layer(d, 3, 0).update(maps="tiled"))
    with pytest.raises(ConfigError, match=r"layer 6 'b4.conv3x3': field 'maps': tiling maps through DDR is not"):
        load_network(tiled).layer_shapes(1.0)


def test_missing_and_malformed_files(tmp_path, capsys):
    assert _synth(tmp_path / "o", "--network", str(tmp_path / "nope.yaml")) == 2
    assert "nope.yaml: YAML file not found" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    assert _synth(tmp_path / "o", "--network", str(tmp_path / "bad.yaml")) == 2
    assert "bad.yaml: malformed YAML" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="expected a mapping"):
        network_from_dict([1], "x.yaml")


def _sweep(tmp_path: Path, name: str, **params) -> Path:
    data = {
        "name": name,
        "hardware": str(ROOT / "configs/ultra96v2.yaml"),
        "synthetic": {"width": 0.125, "input_shape": [3, 8, 8], "samples": 1, "seed": 1},
        "parameters": {"synthetic.kernel_density": [0.25, 0.5], **params},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_sweep_network_field(tmp_path):
    from archsim.sweep import load_sweep, run_sweep

    shutil.copy(NETWORKS / "reactnet.yaml", tmp_path / "mine.yaml")  # a file path, relative to the sweep file
    nets = _sweep(tmp_path, "nets", **{"synthetic.network": ["resnet18", "mine.yaml"]})
    plain = _sweep(tmp_path, "plain")
    rows = {}
    for path in (nets, plain):
        stats = run_sweep(load_sweep(path), tmp_path / path.stem, jobs=1, progress=False)
        assert stats.computed == stats.total and not stats.failed and not stats.invalid
        with open(tmp_path / path.stem / "results.csv", newline="") as f:
            rows[path.stem] = list(csv.DictReader(f))
    assert [r["functional_check"] for r in rows["nets"]] == ["pass"] * 4
    # resnet18 by description is the default network: the same cycles as the sweep without the field.
    by_net = {(r["synthetic.kernel_density"], r["synthetic.network"]): r["sparse_cycles"] for r in rows["nets"]}
    for r in rows["plain"]:
        assert by_net[(r["synthetic.kernel_density"], "resnet18")] == r["sparse_cycles"]
    assert by_net[("0.25", "mine.yaml")] != by_net[("0.25", "resnet18")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope.yaml", "field 'parameters.synthetic.network[0]': "),
        (7, "field 'parameters.synthetic.network[0]': expected a network description file or built-in name"),
    ],
)
def test_sweep_bad_network(tmp_path, value, message):
    from archsim.sweep import load_sweep

    path = _sweep(tmp_path, "bad", **{"synthetic.network": [value]})
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    assert str(err.value).startswith(f"{path}: {message}"), err.value


MIXED = {  # every residual kind that runs today, including plain convs that only feed the next sign
    "kind": "archsim-network",
    "version": 1,
    "name": "mixed",
    "input": [1, 10, 10],
    "stem": {"channels": 8},
    "layers": [
        {"name": "a", "stage": 1, "channels": 8, "residual": "identity", "predictor": True},
        {"name": "b", "stage": 1, "channels": 12, "residual": "none"},
        {"name": "c", "stage": 2, "kernel": 1, "channels": 16, "residual": "none"},
        {"name": "d", "stage": 2, "channels": 16, "stride": 2, "residual": "shortcut", "predictor": True},
        {"name": "e", "stage": 3, "kernel": 1, "channels": 24, "residual": "shortcut"},
        {"name": "f", "stage": 3, "channels": 24, "residual": "none"},
    ],
    "classifier": {"kind": "sum_pool_linear"},
}


def test_no_residual_layers_synth_and_run(tmp_path, capsys):
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(MIXED, sort_keys=False))
    out = tmp_path / "o"
    assert main(["synth", "--out", str(out), "--name", "m", "--network", str(path), "--samples", "2"]) == 0
    model = load_model(out / "models" / "m_pruned.npz")
    assert model.input_shape == (1, 10, 10)  # the description's, as no --input-shape was given
    assert [(L.name, L.role, L.residual) for L in model.layers] == [
        ("a", "main", True),
        ("b", "main", False),
        ("c", "main", False),
        ("d.shortcut", "shortcut", False),
        ("d", "main", True),
        ("e.shortcut", "shortcut", False),
        ("e", "main", True),
        ("f", "main", False),
    ]
    assert [L.name for L in model.layers if L.predictor is not None] == ["a", "d"]
    capsys.readouterr()
    for mode in ("fast", "cycle"):
        assert main(["run", str(out / "m_pruned.yaml"), "--mode", mode, "--quiet"]) == 0
        assert "functional check  PASS" in capsys.readouterr().out


def test_recorded_command_reproduces_the_files(tmp_path):
    assert _synth(tmp_path / "a", "--network", "reactnet", "--kernel-density", "0.5") == 0
    # Without --name the files take the network's name (they would collide with ResNet-18's otherwise).
    command = load_model(tmp_path / "a" / "models" / "reactnet_pruned.npz").meta["command"]
    argv = command.split()
    assert argv[:2] == ["archsim", "synth"] and "--network" in argv
    assert main([*argv[1:], "--out", str(tmp_path / "b")]) == 0
    for f in sorted((tmp_path / "a" / "models").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / "models" / f.name).read_bytes(), f.name


JUNK = [None, True, -1, 0, 2, 3, 5, 1.5, "", "x", "none", "block", [], [1], {}, {"a": 1}, "a" * 100]


def test_random_corruptions_give_one_clear_error_or_a_valid_network():
    """Seeded mutations of a shipped description: the parser either accepts the result or raises
    ConfigError naming the source; nothing else escapes (no traceback at the command line)."""
    rng = np.random.default_rng(14)
    base = yaml.safe_load((NETWORKS / "resnet20.yaml").read_text())
    outcomes = {"ok": 0, "error": 0}
    for _ in range(400):
        data = copy.deepcopy(base)
        for _ in range(int(rng.integers(1, 4))):
            node, key = data, None
            while True:  # walk down to a random leaf or container
                keys = list(node) if isinstance(node, dict) else list(range(len(node)))
                if not keys:
                    key = None
                    break
                key = keys[int(rng.integers(len(keys)))]
                if not isinstance(node[key], dict | list) or rng.random() < 0.3:
                    break
                node = node[key]
            if key is None:
                continue
            if rng.random() < 0.15 and isinstance(node, dict):
                del node[key]
            else:
                node[key] = copy.deepcopy(JUNK[int(rng.integers(len(JUNK)))])
        try:
            net = network_from_dict(data, "fuzz.yaml")
        except ConfigError as exc:
            assert str(exc).startswith("fuzz.yaml: ") and "\n" not in str(exc)
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        try:
            net.layer_shapes(0.5, (3, 16, 16))
        except ConfigError as exc:
            assert str(exc).startswith("fuzz.yaml: ")
    assert outcomes["error"] > 100 and outcomes["ok"] > 0, outcomes
