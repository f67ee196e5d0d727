"""The shipped trained workloads (once they replace the synthetic ones): real, documented, bit-exact, small."""

import pytest

from archsim.format import load_model
from archsim.runner import run_workload
from archsim.workload import load_workload
from tests.trainer_helpers import ROOT

WL = ROOT / "workloads"


def _trained(name: str):
    path = WL / "models" / f"{name}.npz"
    if not path.exists():
        pytest.skip(f"workloads/models/{name}.npz not shipped")
    m = load_model(path)
    if m.synthetic:
        pytest.skip(f"workloads/models/{name}.npz is still the synthetic placeholder")
    return m


def test_shipped_files_are_small():
    for p in WL.rglob("*.npz"):
        assert p.stat().st_size < 20 * 2**20, p.name


@pytest.mark.parametrize("name", ["resnet18_dense", "resnet18_pruned"])
def test_shipped_model_provenance(name):
    prov = _trained(name).meta["provenance"]
    assert prov["command"].startswith("python -m trainer train")
    assert prov["dataset"] and prov["epochs"] >= 1 and prov["test_images"] >= 10000
    for key in ("float_accuracy", "int_accuracy", "kernel_density", "ideal_speedup"):
        assert isinstance(prov[key], float), key


def test_pruned_model_meets_the_goal():
    """ICCAD'22 headline: >= 5.4x ideal speedup; ours: integer accuracy within 1 point of the dense BNN."""
    pruned = _trained("resnet18_pruned").meta["provenance"]
    dense = _trained("resnet18_dense").meta["provenance"]
    assert pruned["ideal_speedup"] >= 5.4
    assert dense["int_accuracy"] - pruned["int_accuracy"] <= 0.01


def test_shipped_pruned_workload_runs_bit_exact():
    _trained("resnet18_pruned")
    wl = load_workload(WL / "resnet18_pruned.yaml")
    assert not wl.synthetic
    res = run_workload(wl, progress=False)
    assert res.functional_pass


def test_readme_quotes_the_shipped_models():
    """The README's accuracy sentence is the models' provenance, not typed-in numbers."""
    p = _trained("resnet18_pruned").meta["provenance"]
    d = _trained("resnet18_dense").meta["provenance"]
    readme = " ".join((ROOT / "README.md").read_text().split())
    pa, da = 100 * p["int_accuracy"], 100 * d["int_accuracy"]
    for quoted in (
        f"Fashion-MNIST ({p['epochs']} epochs, seed {p['seed']})",
        f"integer-mode test accuracy {pa:.2f} % against {da:.2f} % ({round(da, 2) - round(pa, 2):.2f} points apart)",
        f"kernel density {p['kernel_density']:.3f}",
        f"{100 * p['spatial_density']:.0f} % of the positions of stages 1-3 active",
        f"ideal speedup {p['ideal_speedup']:.2f}x over the test set",
    ):
        assert quoted in readme, quoted
