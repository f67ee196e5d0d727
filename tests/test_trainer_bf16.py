"""The bfloat16 training convs: exact where docs/trainer.md says, a warning where the CPU emulates them.

The other trainer tests train in float32 (tests/trainer_helpers.py), so this file is where the
bf16 path (`train --bf16`, the default) runs."""

from __future__ import annotations

import json

import pytest
import torch

import trainer.train as train_mod
from tests.trainer_helpers import small_hw, tiny_config
from trainer.binary import binary_conv, native_bf16, set_train_conv_dtype
from trainer.train import RunOptions, train


@pytest.mark.parametrize(
    ("flags", "want"),
    [("fpu sse avx2 avx512f avx512_bf16", True), ("fpu amx_bf16 amx_tile", True), ("fpu sse avx2 avx512f", False)],
)
def test_native_bf16_reads_the_cpu_flags(tmp_path, flags, want):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert native_bf16(info) is want
    assert native_bf16(tmp_path / "absent") is None  # cannot tell: no warning then


def test_bf16_conv_is_exact_up_to_256_and_rounded_beyond():
    g = torch.Generator().manual_seed(3)

    def sign(*shape: int) -> torch.Tensor:
        return torch.randint(0, 2, shape, generator=g).float() * 2 - 1

    try:
        set_train_conv_dtype(torch.bfloat16)
        with torch.enable_grad():
            # 16 input channels x 9 taps: |dot| <= 144, every value a bfloat16 holds exactly
            x, w = sign(2, 16, 6, 6), sign(8, 16, 3, 3) * (torch.rand(8, 16, 1, 1, generator=g) > 0.3)
            assert torch.equal(binary_conv(x, w, 1, 1), torch.nn.functional.conv2d(x, w, padding=1))
            # 64 x 9 taps: |dot| up to 576, rounded to bfloat16's 8 significant bits (training only)
            x, w = sign(2, 64, 6, 6), sign(8, 64, 3, 3)
            exact, got = torch.nn.functional.conv2d(x, w, padding=1), binary_conv(x, w, 1, 1)
            assert torch.equal(got, exact.bfloat16().float())
    finally:
        set_train_conv_dtype(torch.float32)


@pytest.mark.parametrize("native", [False, True])
def test_bf16_training_warns_only_where_the_cpu_emulates_it(tmp_path, capsys, monkeypatch, native):
    monkeypatch.setattr(train_mod, "native_bf16", lambda: native)
    cfg = tiny_config(small_hw(tmp_path), epochs=1, train_subset=128, bf16=True)
    st = train(cfg, tmp_path / "run", RunOptions(threads=1, progress=False))
    assert st["done"] and json.loads((tmp_path / "run" / "config.json").read_text())["bf16"] is True
    assert ("no native bfloat16" in capsys.readouterr().err) is not native
    train(cfg, tmp_path / "run", RunOptions(threads=1, progress=False))  # finished: nothing to train, no warning
    assert "no native bfloat16" not in capsys.readouterr().err
