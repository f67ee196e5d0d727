"""The network the accelerator is built for: Bi-Real-style binary ResNet-18, CIFAR variant.

One definition of its binary layers (docs/architecture.md section 1), shared by the synthetic
workload generator and the trainer, so both always build the same shapes in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

STAGE_CHANNELS = (64, 128, 256, 512)
BLOCKS_PER_STAGE = 2


class ConvGeometry:
    """Output geometry of a conv from its kernel, stride and input size ("same" padding).
    A mixin for the dataclasses that carry these four fields."""

    kernel: int
    stride: int
    h_in: int
    w_in: int

    @property
    def pad(self) -> int:
        return (self.kernel - 1) // 2

    @property
    def h_out(self) -> int:
        return (self.h_in + 2 * self.pad - self.kernel) // self.stride + 1

    @property
    def w_out(self) -> int:
        return (self.w_in + 2 * self.pad - self.kernel) // self.stride + 1

    @property
    def positions(self) -> int:
        return self.h_out * self.w_out


@dataclass(frozen=True)
class LayerShape(ConvGeometry):
    name: str
    role: str  # "main" or "shortcut"
    stage: int  # 1..4
    kernel: int
    stride: int
    c_in: int
    c_out: int
    h_in: int
    w_in: int
    residual: bool
    # Writes its output values to the residual buffer (archsim.format.BinaryConv.res_write).
    res_write: bool = True
    maxpool: bool = False  # 2x2 stride-2 max-pool of the output (archsim.format.BinaryConv.maxpool)


def stage_channels(width: float) -> tuple[int, ...]:
    """Channels of the four stages for a width multiplier (at least one each)."""
    return tuple(max(1, round(c * width)) for c in STAGE_CHANNELS)


def layer_name(stage: int, block: int, conv: int) -> str:
    """Readable layer name; conv 0 is the block's 1x1 downsampling shortcut."""
    return f"s{stage}.b{block}.shortcut" if conv == 0 else f"s{stage}.b{block}.conv{conv}"


def resnet18_layers(
    width: float, h: int, w: int, name: Callable[[int, int, int], str] = layer_name
) -> list[LayerShape]:
    """The binary layers in run order: a stage's stride-2 shortcut comes just before the main
    conv whose residual it provides. `name(stage, block, conv)` names each layer."""
    chans = stage_channels(width)
    c = chans[0]
    out: list[LayerShape] = []
    for s, co in enumerate(chans, start=1):
        for b in range(1, BLOCKS_PER_STAGE + 1):
            for j in (1, 2):
                stride = 2 if s > 1 and b == 1 and j == 1 else 1
                if stride == 2:
                    out.append(LayerShape(name(s, b, 0), "shortcut", s, 1, 2, c, co, h, w, False))
                main = LayerShape(name(s, b, j), "main", s, 3, stride, c, co, h, w, True)
                out.append(main)
                h, w, c = main.h_out, main.w_out, co
    return out
