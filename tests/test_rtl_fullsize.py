"""The full-size Ultra96v2 accelerator (16x16 PEs) under Verilator on ResNet-18 layers.

The first block of stage 3 of the CIFAR ResNet-18 (docs/architecture.md section 1):
the 1x1 stride-2 shortcut 128 -> 256, the 3x3 stride-2 conv 128 -> 256 and the 3x3
conv 256 -> 256, a quarter of the kernels kept, both convs with a spatial predictor
(about half the positions active). Checked exactly like the small cases: bit-exact
output, DONE and every layer end equal to archsim.contract.schedule().
Verilator build about a minute, simulation a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.rtlsim.cases import choose_thresholds
from tests.rtlsim.configs import ultra96
from tests.rtlsim.harness import Case, build, run
from tests.rtlsim.models import LayerSpec, make_model, random_x0
from tests.test_rtl_layers import check_exact

pytestmark = [pytest.mark.rtl, pytest.mark.slow]

STAGE3_BLOCK1 = (
    LayerSpec("s3.b1.shortcut", 256, kernel=1, stride=2, role="shortcut", residual=False, k=2),
    LayerSpec("s3.b1.conv1", 256, stride=2, k=2, predictor="p"),
    LayerSpec("s3.b1.conv2", 256, k=2, predictor="p"),
)


def stage3_case() -> Case:
    cfg = ultra96()
    model = make_model(cfg, 128, 16, 16, list(STAGE3_BLOCK1), seed=2022, name="resnet18-s3b1")
    x0 = random_x0(np.random.default_rng(2023), 128, 16, 16)
    model = choose_thresholds(model, x0, {1: "sparse", 2: "sparse"})
    return Case("resnet18_s3b1", model, x0)


def test_ultra96_stage3_block_verilator(tmp_path):
    built = build(ultra96(), sparse=True, sim="verilator")
    o = run(built, stage3_case(), tmp_path)
    check_exact(o)
    active = [int(m.sum()) for m in o.masks if m is not None]
    assert all(0 < a < 64 for a in active), active  # the predictors really prune
