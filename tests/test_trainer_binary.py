"""Sign, straight-through estimators and the binary conv's exact integer dot product."""

import itertools

import numpy as np
import pytest
import torch

from trainer.binary import BinaryConv2d, SpatialPredictor, hard_sign, sign_ste


def test_sign_is_plus_one_at_zero():
    x = torch.tensor([-2.0, -1e-7, 0.0, -0.0, 1e-7, 3.0])
    assert hard_sign(x).tolist() == [-1, -1, 1, 1, 1, 1]
    assert sign_ste(x).tolist() == [-1, -1, 1, 1, 1, 1]


def test_clipped_ste_gradient():
    x = torch.tensor([-1.5, -1.0, -0.3, 0.0, 0.7, 1.0, 1.2], requires_grad=True)
    sign_ste(x, "clipped").sum().backward()
    assert x.grad.tolist() == [0, 1, 1, 1, 1, 1, 0]


def test_approxsign_gradient():
    x = torch.tensor([-1.5, -0.5, 0.0, 0.25, 1.0], requires_grad=True)
    sign_ste(x, "approxsign").sum().backward()
    assert x.grad.tolist() == pytest.approx([0.0, 1.0, 2.0, 1.5, 0.0])


def test_unknown_ste_kind():
    with pytest.raises(ValueError, match="unknown STE kind"):
        sign_ste(torch.zeros(1), "bogus")


def _xnor_dot(bits, w, keep, stride, pad):
    """docs/architecture.md section 3, literally: masked XNOR-popcount per kept kernel."""
    c_out, c_in, k, _ = w.shape
    h = bits.shape[1]
    ho = (h + 2 * pad - k) // stride + 1
    out = np.zeros((c_out, ho, ho), dtype=np.int64)
    for o, yo, xo in itertools.product(range(c_out), range(ho), range(ho)):
        acc = 0
        for c in range(c_in):
            if not keep[o, c]:
                continue
            for ky, kx in itertools.product(range(k), range(k)):
                y, x = stride * yo + ky - pad, stride * xo + kx - pad
                if 0 <= y < h and 0 <= x < h:
                    acc += 2 * int(w[o, c, ky, kx] == bits[c, y, x]) - 1
        out[o, yo, xo] = acc
    return out


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (3, 2), (1, 2)])
def test_binary_conv_dot_is_the_hardware_dot(kernel, stride):
    g = torch.Generator().manual_seed(3)
    conv = BinaryConv2d(5, 4, kernel, stride)
    with torch.no_grad():
        conv.weight.uniform_(-1, 1, generator=g)
        conv.keep.copy_((torch.rand(4, 5, generator=g) < 0.6).float())
    x = torch.randn(1, 5, 7, 7, generator=g)
    x[0, 0, 0, 0] = 0.0  # sign(0) = +1
    bits = hard_sign(x)
    got = conv.dot(bits)[0].round().long().numpy()
    want = _xnor_dot((x[0] >= 0).numpy(), (conv.weight >= 0).numpy(), conv.keep.bool().numpy(), stride, conv.pad)
    assert np.array_equal(got, want)


def test_predictor_threshold_matches_its_logit():
    g = torch.Generator().manual_seed(0)
    p = SpatialPredictor(6, 1)
    with torch.no_grad():
        p.weight.uniform_(-1, 1, generator=g)
        p.b.fill_(-0.37)
        p.log_a.fill_(0.4)
    bits = hard_sign(torch.randn(8, 6, 5, 5, generator=g))
    score = p.score(bits)
    logit = torch.exp(p.log_a) * score / p.n**0.5 + p.b
    p.eval()
    assert torch.equal(p(bits).bool(), score >= p.threshold())
    assert torch.equal(score >= p.threshold(), logit >= 0)


def test_predictor_training_gradient_reaches_bias():
    p = SpatialPredictor(4, 1)
    p.train()
    m = p(hard_sign(torch.randn(2, 4, 6, 6)), noise_scale=0.0)
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    m.mean().backward()
    assert p.b.grad is not None and float(p.b.grad) > 0
