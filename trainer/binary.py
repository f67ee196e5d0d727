"""Binary layers for training: sign with a straight-through gradient, binary convs, predictors.

Forward passes compute exactly what the accelerator sees: activations and weights are
+-1 (sign(0) = +1), pruned kernels are 0, padding is 0 (a padded tap contributes
nothing), so `F.conv2d` returns the hardware's integer `dot` (exact in float32: every
partial sum is an integer far below 2^24). Only the gradients are approximations.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

STE_KINDS = ("clipped", "approxsign")


def hard_sign(x: Tensor) -> Tensor:
    """+1 where x >= 0, else -1 (the hardware's sign: sign(0) = +1)."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


class _SignClipped(torch.autograd.Function):
    """sign forward; gradient 1 inside [-1, 1], 0 outside (clipped STE, BinaryConnect/XNOR-Net)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return hard_sign(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


class _SignApprox(torch.autograd.Function):
    """sign forward; gradient of Bi-Real's ApproxSign, 2 - 2|x| inside [-1, 1]."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return hard_sign(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * torch.clamp(2.0 - 2.0 * x.abs(), min=0.0)


def sign_ste(x: Tensor, kind: str = "clipped") -> Tensor:
    if kind == "clipped":
        return _SignClipped.apply(x)
    if kind == "approxsign":
        return _SignApprox.apply(x)
    raise ValueError(f"unknown STE kind {kind!r}, expected one of {STE_KINDS}")


# Training may run the binary convs in bfloat16 (about 1.7x faster on CPUs with AVX512-BF16, and
# several times slower where the CPU lacks it and oneDNN emulates it: docs/trainer.md): +-1/0
# operands are exact in bfloat16 and accumulate in float32, but the result is rounded to 8
# significant bits, so |dot| > 256 is approximate in training. Evaluation, export and the integer
# mode always run in float32, where the dot is exact.
_CONV_DTYPE = {"dtype": torch.float32}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of native bfloat16 arithmetic


def native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether the CPU computes bfloat16 natively (a flag of BF16_CPU_FLAGS in `cpuinfo`); None
    where that cannot be told (no such file, as on macOS)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.partition(":")[2].split()}
    return any(f in flags for f in BF16_CPU_FLAGS)


def set_train_conv_dtype(dtype: torch.dtype) -> None:
    _CONV_DTYPE["dtype"] = dtype


def binary_conv(bits: Tensor, w: Tensor, stride: int, pad: int) -> Tensor:
    dt = _CONV_DTYPE["dtype"]
    if dt == torch.float32 or not torch.is_grad_enabled():
        return F.conv2d(bits, w, stride=stride, padding=pad)
    return F.conv2d(bits.to(dt), w.to(dt), stride=stride, padding=pad).float()


class BinaryConv2d(nn.Module):
    """Binary conv + BN: y = BN(alpha[o] * conv(sign(x), sign(w) * keep)).

    `keep` [C_out, C_in] is the structured kernel-pruning mask (a buffer, set by the
    pruner). `alpha` is the mean |w| of each output channel's kept latent weights; with
    BN after it, it only shapes the gradients, and it folds into the fixed-point
    epilogue at export together with BN.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, ste: str = "clipped") -> None:
        super().__init__()
        self.c_in, self.c_out, self.kernel, self.stride = c_in, c_out, kernel, stride
        self.pad = (kernel - 1) // 2
        self.ste = ste
        self.weight = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        # Small uniform init: latent weights live in [-1, 1] (clipped after every step).
        bound = 1.0 / math.sqrt(c_in * kernel * kernel)
        nn.init.uniform_(self.weight, -bound, bound)
        self.register_buffer("keep", torch.ones(c_out, c_in))
        self.bn = nn.BatchNorm2d(c_out)

    def binary_weight(self) -> Tensor:
        """+-1 weights with pruned kernels zeroed; straight-through gradient to the latents."""
        return sign_ste(self.weight, "clipped") * self.keep[:, :, None, None]

    def alpha(self) -> Tensor:
        keep = self.keep[:, :, None, None]
        n = (keep.sum(dim=(1, 2, 3)) * self.kernel * self.kernel).clamp(min=1)
        return (self.weight.abs() * keep).sum(dim=(1, 2, 3)) / n

    def dot(self, bits: Tensor) -> Tensor:
        """The hardware's integer dot product (as float) for +-1 input `bits`."""
        return binary_conv(bits, self.binary_weight(), self.stride, self.pad)

    def forward(self, bits: Tensor) -> Tensor:
        return self.bn(self.dot(bits) * self.alpha()[None, :, None, None])


class SpatialPredictor(nn.Module):
    """Per-position gate of a 3x3 layer: a 1-output binary 3x3 conv on the layer's input bits.

    score = conv(bits, sign(u)) (an integer); the position is active iff
    a * score / sqrt(n) + b >= 0 with a > 0, n = 9 C_in (score / sqrt(n) is about unit
    variance for random bits), i.e. iff score >= theta with the integer
    theta = ceil(-b sqrt(n) / a). Training uses a Gumbel-sigmoid with a
    straight-through hard decision (DynConv); evaluation uses exactly `score >= theta`.
    """

    def __init__(self, c_in: int, stride: int, init_bias: float = 1.0) -> None:
        super().__init__()
        self.c_in, self.stride = c_in, stride
        self.n = 9 * c_in
        self.weight = nn.Parameter(torch.empty(1, c_in, 3, 3))
        nn.init.uniform_(self.weight, -1.0 / math.sqrt(self.n), 1.0 / math.sqrt(self.n))
        self.log_a = nn.Parameter(torch.zeros(()))  # a = exp(log_a) > 0 keeps the threshold's direction fixed
        self.b = nn.Parameter(torch.tensor(float(init_bias)))  # starts mostly active

    def score(self, bits: Tensor) -> Tensor:
        w = sign_ste(self.weight, "clipped")
        return binary_conv(bits, w, self.stride, 1)[:, 0]

    def threshold(self) -> int:
        """Integer threshold theta: active iff score >= theta."""
        a = math.exp(float(self.log_a.detach()))
        return math.ceil(-float(self.b.detach()) * math.sqrt(self.n) / a)

    def forward(self, bits: Tensor, noise_scale: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """Mask [N, H_out, W_out]: hard 0/1 values; in training with straight-through gradients."""
        s = self.score(bits)
        if not self.training:
            return (s >= self.threshold()).to(bits.dtype)
        logit = torch.exp(self.log_a) * s / math.sqrt(self.n) + self.b
        if noise_scale > 0:
            u = torch.rand(s.shape, generator=generator, dtype=s.dtype).clamp_(1e-6, 1 - 1e-6)
            logit = logit + noise_scale * (torch.log(u) - torch.log1p(-u))  # Gumbel(0,1) - Gumbel(0,1) = logistic
        soft = torch.sigmoid(logit)
        hard = (logit >= 0).to(soft.dtype)
        return hard + (soft - soft.detach())  # exactly 0/1 forward, sigmoid gradient
