"""Every shipped network description (networks/*.yaml) through the generated RTL under Icarus.

Issue 14's ladder for the descriptions themselves: each one, built by `archsim synth --network` at a
small width and input on the 4x4-PE test configuration, runs its sparse programme (the synthetic
pruned model: kept kernels, predictors where the description puts them) through the sparse build and
its dense model's dense programme through the dense build; outputs bit-exact, DONE, every layer end and every DMA burst in the cycle the
contract says, and archsim's SimPy model equal to both (`check_exact`).
"""

from __future__ import annotations

import functools

import pytest

from archsim.format import BnnModel
from archsim.functional import stem_forward
from archsim.networks import load_network
from archsim.synthetic import SynthSpec, generate
from tests.rtlsim.configs import tiny
from tests.rtlsim.harness import Case, build, run
from tests.synth_helpers import ROOT
from tests.test_rtl_layers import check_exact

pytestmark = pytest.mark.rtl

# (description, width, input): 2 to 64 channels, the last map 1x1 or 2x2, so that a test takes seconds
# under Icarus and every network fits the test configuration (below) and the RTL's 64 passes
NETWORKS = (
    ("resnet18", 0.0625, (1, 16, 16)),
    ("reactnet", 0.0625, (1, 16, 16)),
    ("resnet20", 0.5, (1, 16, 16)),
    ("vgg_small", 0.125, (1, 8, 8)),
)


def _cfg():
    return tiny(buffers={"res_depth": 512, "list_depth": 256, "act_bank_depth": 128})


@functools.cache
def _synth(name: str) -> tuple[BnnModel, BnnModel, object]:
    width, shape = next((w, s) for n, w, s in NETWORKS if n == name)
    spec = SynthSpec(
        name=name,
        samples=1,
        seed=14,
        width=width,
        input_shape=shape,
        network=load_network(ROOT / "networks" / f"{name}.yaml"),
    )
    syn = generate(spec, _cfg())
    return syn.pruned, syn.dense, syn.inputs


@pytest.mark.parametrize("mode", ["sparse", "dense"])
@pytest.mark.parametrize("name", [n for n, _, _ in NETWORKS])
def test_network_description_through_the_rtl(name, mode, tmp_path):
    pruned, dense, images = _synth(name)
    model = pruned if mode == "sparse" else dense
    x0 = stem_forward(model, images)[0]
    o = run(
        build(_cfg(), sparse=mode == "sparse", sim="icarus"), Case(f"net_{name}_{mode}", model, x0, mode=mode), tmp_path
    )
    check_exact(o)
    if mode == "sparse" and any(L.predictor is not None for L in model.layers):
        # the predictors really prune somewhere
        assert any(m is not None and 0 < m.sum() < m.size for m in o.masks), [
            None if m is None else int(m.sum()) for m in o.masks
        ]
