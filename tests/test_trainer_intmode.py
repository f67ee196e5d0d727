"""Integer mode: folding to fixed point, and bit-exact agreement with archsim's functional model."""

import numpy as np
import pytest
import torch

from archsim.config import load_config
from archsim.functional import run_model
from tests.trainer_helpers import small_hw
from trainer.data import load_digits
from trainer.intmode import IntModel, fixed_point, fold
from trainer.model import BiRealResNet18
from trainer.pruning import balanced_keep, k_for_density
from trainer.train import evaluate


def test_fixed_point_rounds_to_nearest():
    rng = np.random.default_rng(0)
    m = rng.normal(0, 3, 50)
    b = rng.normal(0, 40, 50)
    mult, bias, shift = fixed_point(m, b, 16, 32)
    assert np.abs(mult).max() <= 32767 and np.abs(bias).max() < 2**31
    assert np.abs(mult).max() > 16383  # the largest multiplier uses the full width
    v = rng.integers(-4608, 4609, (1000, 1))
    got = (v * mult + bias) >> shift
    want = v * m + b
    # Error: 1/2 from rounding the result plus the multiplier's own rounding error.
    assert np.all(np.abs(got - want) <= 0.5 + np.abs(v) * 2.0**-shift / 2 + 1e-9)


def test_fixed_point_respects_bias_width():
    _mult, bias, shift = fixed_point(np.array([1e-3]), np.array([3e4]), 16, 24)
    assert abs(int(bias[0])) < 2**23 and shift <= 8


def _random_net(hw_path, seed: int) -> BiRealResNet18:
    """An untrained net with random BN statistics, balanced masks and predictors: stresses folding."""
    torch.manual_seed(seed)
    net = BiRealResNet18(
        1,
        10,
        width=0.125,
        input_offset=40,
        input_scale=80.0,
        predict_layers=("s1b1c1", "s1b2c2", "s2b1c1", "s2b2c1", "s3b1c1", "s3b2c2"),
    )
    hw = load_config(hw_path)
    rows, depth = hw.pe_array.rows, hw.pe_array.acc_depth
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in [net.stem_bn] + [c.bn for c in net.convs]:
            n = bn.num_features
            bn.running_mean.copy_(torch.randn(n, generator=g) * 20)
            bn.running_var.copy_(torch.rand(n, generator=g) * 400 + 1)
            bn.weight.copy_(torch.randn(n, generator=g))
            bn.bias.copy_(torch.randn(n, generator=g))
        for c in net.convs:
            c.weight.uniform_(-1, 1, generator=g)
            k = k_for_density(c.c_out, 0.5, rows, depth)
            c.keep.copy_(balanced_keep(torch.rand(c.c_out, c.c_in, generator=g), k, rows, depth))
        for p in net.predictors.values():
            p.weight.uniform_(-1, 1, generator=g)
            p.b.fill_(float(torch.randn((), generator=g)))
    net.eval()
    return net


@pytest.mark.parametrize(("seed", "frac_bits"), [(0, 8), (1, 13)])
def test_integer_mode_equals_archsim_functional_model(tmp_path, seed, frac_bits):
    hw_path = small_hw(tmp_path)
    net = _random_net(hw_path, seed)
    model = fold(net, load_config(hw_path), frac_bits, "t", (4, 4), {"synthetic": True})
    ds = load_digits()
    x = torch.cat(
        [
            ds.test_x[:6],
            torch.randint(0, 256, (2, 1, 32, 32), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8),
        ]
    )
    mine = IntModel(model).run(x)
    ref = run_model(model, x.numpy(), "sparse")
    assert np.array_equal(mine.stem_out.numpy(), ref.stem_out)
    for i, L in enumerate(model.layers):
        assert np.array_equal(mine.layer_out[i].numpy(), ref.layer_out[i]), L.name
        assert (mine.masks[i] is None) == (ref.masks[i] is None), L.name
        if ref.masks[i] is not None:
            assert np.array_equal(mine.masks[i].numpy(), ref.masks[i]), L.name
    assert np.array_equal(mine.logits.numpy(), ref.logits)
    masks = [m for m in ref.masks if m is not None]
    assert any(0 < m.mean() < 1 for m in masks)  # predictors really skip some positions
    if frac_bits == 13:  # the stream saturates somewhere: sat() is exercised
        assert any(np.abs(o).max() >= 32767 for o in ref.layer_out)


def test_integer_mode_tracks_the_float_model(tmp_path):
    """With a modest frac_bits, integer logits order like the float logits on most samples."""
    hw_path = small_hw(tmp_path)
    net = _random_net(hw_path, 2)
    model = fold(net, load_config(hw_path), 8, "t", (4, 4), {})
    x = load_digits().test_x[:64]
    with torch.no_grad():
        fl, _ = net(x.float())
    got = IntModel(model).run(x).logits
    agree = float((fl.argmax(1) == got.argmax(1)).double().mean())
    assert agree >= 0.9


def test_evaluation_runs_without_autograd(monkeypatch):
    """The float evaluation (every epoch, and export on the whole test set) must not record an
    autograd graph: with one, a full-width export needs several times the memory."""
    net = BiRealResNet18(1, 10, width=0.125, predict_layers=("s1b1c1",))
    seen: list[bool] = []
    forward = net.forward
    monkeypatch.setattr(net, "forward", lambda x: (seen.append(torch.is_grad_enabled()), forward(x))[1])
    x = torch.randint(0, 255, (6, 1, 32, 32), dtype=torch.uint8)
    out = evaluate(net, x, torch.zeros(6, dtype=torch.long), batch=4, progress=True)
    assert seen == [False, False] and 0 <= out["accuracy"] <= 1
