"""Bi-Real-style binary ResNet-18, CIFAR variant, exactly as docs/architecture.md section 1.

Layer order is the model-file order: a stage's stride-2 1x1 `shortcut` layer comes just
before the main 3x3 conv whose residual it provides. Every binary conv has its own
shortcut: x_next = r + mask * BN(conv(sign(x))), r = x (identity) or the shortcut's
output; `mask` is 1 except where a spatial predictor switches a position off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from trainer.binary import BinaryConv2d, SpatialPredictor, sign_ste

BASE_CHANNELS = (64, 128, 256, 512)


@dataclass(frozen=True)
class LayerSpec:
    name: str
    role: str  # "main" or "shortcut"
    kernel: int
    stride: int
    c_in: int
    c_out: int
    h_in: int
    w_in: int
    residual: bool
    stage: int  # 1..4

    @property
    def h_out(self) -> int:
        pad = (self.kernel - 1) // 2
        return (self.h_in + 2 * pad - self.kernel) // self.stride + 1

    @property
    def w_out(self) -> int:
        pad = (self.kernel - 1) // 2
        return (self.w_in + 2 * pad - self.kernel) // self.stride + 1

    @property
    def positions(self) -> int:
        return self.h_out * self.w_out


def stage_channels(width: float) -> tuple[int, ...]:
    return tuple(max(1, round(c * width)) for c in BASE_CHANNELS)


def layer_specs(width: float, size: int = 32) -> list[LayerSpec]:
    chans = stage_channels(width)
    specs: list[LayerSpec] = []
    c, h = chans[0], size
    for s, c_out in enumerate(chans, start=1):
        for blk in (1, 2):
            for conv in (1, 2):
                stride = 2 if (s > 1 and blk == 1 and conv == 1) else 1
                if stride == 2:
                    specs.append(LayerSpec(f"s{s}b{blk}sc", "shortcut", 1, 2, c, c_out, h, h, False, s))
                spec = LayerSpec(f"s{s}b{blk}c{conv}", "main", 3, stride, c, c_out, h, h, True, s)
                specs.append(spec)
                c, h = c_out, spec.h_out
    return specs


def fake_quant_int8(w: Tensor) -> tuple[Tensor, Tensor]:
    """Per-output-channel symmetric int8 rounding (straight-through); returns (w_q, scale)."""
    scale = (w.detach().abs().amax(dim=(1, 2, 3)) / 127.0).clamp(min=1e-12)
    q = torch.round(w / scale[:, None, None, None]).clamp(-127, 127) * scale[:, None, None, None]
    return q.detach() + (w - w.detach()), scale  # exactly q forward, identity gradient


class BiRealResNet18(nn.Module):
    def __init__(
        self,
        c_img: int,
        n_classes: int,
        width: float = 1.0,
        input_offset: int = 0,
        input_scale: float = 1.0,
        predict_layers: tuple[str, ...] = (),
        ste: str = "clipped",
        size: int = 32,
    ) -> None:
        super().__init__()
        self.c_img, self.n_classes, self.width, self.size = c_img, n_classes, width, size
        self.input_offset, self.input_scale, self.ste = int(input_offset), float(input_scale), ste
        self.specs = layer_specs(width, size)
        c0 = self.specs[0].c_in
        # Real-valued stem; its weights see int8 rounding in training as they will on the host.
        self.stem_weight = nn.Parameter(torch.empty(c0, c_img, 3, 3))
        nn.init.kaiming_normal_(self.stem_weight, nonlinearity="linear")
        self.stem_bn = nn.BatchNorm2d(c0)
        self.convs = nn.ModuleList(BinaryConv2d(s.c_in, s.c_out, s.kernel, s.stride, ste) for s in self.specs)
        names = {s.name for s in self.specs if s.role == "main" and s.kernel == 3}
        bad = [p for p in predict_layers if p not in names]
        if bad:
            raise ValueError(f"predictors requested for unknown layers {bad}")
        self.predictors = nn.ModuleDict(
            {s.name: SpatialPredictor(s.c_in, s.stride) for s in self.specs if s.name in predict_layers}
        )
        self.fc = nn.Linear(self.specs[-1].c_out, n_classes)

    def stem(self, pixels: Tensor) -> Tensor:
        w, _ = fake_quant_int8(self.stem_weight)
        x = F.conv2d(pixels - self.input_offset, w, padding=1) / self.input_scale
        return self.stem_bn(x)

    def forward(
        self, pixels: Tensor, noise_scale: float = 1.0, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Logits and the spatial masks [N, H, W] of the layers with predictors."""
        x = self.stem(pixels)
        masks: dict[str, Tensor] = {}
        residual: Tensor | None = None
        for spec, conv in zip(self.specs, self.convs, strict=True):
            bits = sign_ste(x, self.ste)
            if spec.role == "shortcut":
                residual = conv(bits)
                continue
            r = x if residual is None else residual
            residual = None
            y = conv(bits)
            if spec.name in self.predictors:
                m = self.predictors[spec.name](bits, noise_scale, generator)
                masks[spec.name] = m
                y = y * m[:, None]
            x = r + y
        return self.fc(x.mean(dim=(2, 3))), masks

    def binary_convs(self) -> list[tuple[LayerSpec, BinaryConv2d]]:
        return list(zip(self.specs, self.convs, strict=True))  # type: ignore[arg-type]
