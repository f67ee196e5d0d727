"""Bi-Real-style binary ResNet-18, CIFAR variant, exactly as docs/architecture.md section 1,
or any network a description gives (archsim.networks, docs/formats.md section 6).

Layer order is the model-file order: a stage's stride-2 1x1 `shortcut` layer comes just
before the main 3x3 conv whose residual it provides. Every binary conv has its own
shortcut: x_next = r + mask * BN(conv(sign(x))), r = x (identity) or the shortcut's
output; `mask` is 1 except where a spatial predictor switches a position off.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archsim.network import LayerShape, resnet18_layers
from archsim.networks import network_from_dict

from .binary import BinaryConv2d, SpatialPredictor, sign_ste

# Layer names of the trained models (their checkpoints' module keys): s1b1c1, s2b1sc, ...
LayerSpec = LayerShape


def compact_name(stage: int, block: int, conv: int) -> str:
    return f"s{stage}b{block}sc" if conv == 0 else f"s{stage}b{block}c{conv}"


def layer_specs(width: float, size: int = 32) -> list[LayerSpec]:
    return resnet18_layers(width, size, size, name=compact_name)


def fake_quant_int8(w: Tensor) -> tuple[Tensor, Tensor]:
    """Per-output-channel symmetric int8 rounding (straight-through); returns (w_q, scale)."""
    scale = (w.detach().abs().amax(dim=(1, 2, 3)) / 127.0).clamp(min=1e-12)
    q = torch.round(w / scale[:, None, None, None]).clamp(-127, 127) * scale[:, None, None, None]
    return q.detach() + (w - w.detach()), scale  # exactly q forward, identity gradient


class _NamedModules(nn.ModuleDict):
    """A ModuleDict keyed by layer names that may hold '.', which torch reserves for its
    parameter paths: stored with '/' instead (the compact ResNet-18 names have no '.', so
    their checkpoints keep their keys)."""

    @staticmethod
    def _key(name: str) -> str:
        return name.replace(".", "/")

    def __getitem__(self, name: str) -> nn.Module:
        return super().__getitem__(self._key(name))

    def __setitem__(self, name: str, module: nn.Module) -> None:
        super().__setitem__(self._key(name), module)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(self._key(name))

    def __iter__(self):  # type: ignore[override]
        return (k.replace("/", ".") for k in super().__iter__())

    def keys(self):  # type: ignore[override]
        return list(iter(self))

    def items(self):  # type: ignore[override]
        return [(k, self[k]) for k in self]


def network_classifier(network: dict | None) -> str:
    """The host classifier's kind: the description's (validated by network_specs), else sum-pool."""
    if network is None:
        return "sum_pool_linear"
    return str(network["classifier"]["kind"])


def classifier_features(spec: LayerSpec, kind: str) -> int:
    """Inputs of the linear classifier after the last layer `spec` (pooled if it pools)."""
    if kind != "flatten_linear":
        return spec.c_out
    h, w = (spec.h_out // 2, spec.w_out // 2) if spec.maxpool else (spec.h_out, spec.w_out)
    return spec.c_out * h * w


def network_specs(network: dict, width: float, c_img: int, size: int) -> list[LayerSpec]:
    """The binary layers of a network description (its parsed YAML mapping), refusing what
    the accelerator cannot run yet with one line naming the layer and field."""
    name = str(network.get("name", "network")) if isinstance(network, dict) else "network"
    return network_from_dict(network, name).layer_shapes(width, (c_img, size, size))


class BiRealResNet18(nn.Module):
    """The trained network: ResNet-18 by default, or the one `network` (a parsed description) gives."""

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
        network: dict | None = None,
    ) -> None:
        super().__init__()
        self.c_img, self.n_classes, self.width, self.size = c_img, n_classes, width, size
        self.input_offset, self.input_scale, self.ste = int(input_offset), float(input_scale), ste
        self.network = network
        self.specs = layer_specs(width, size) if network is None else network_specs(network, width, c_img, size)
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
        self.predictors = _NamedModules(
            {s.name: SpatialPredictor(s.c_in, s.stride) for s in self.specs if s.name in predict_layers}
        )
        self.classifier_kind = network_classifier(network)
        self.fc = nn.Linear(classifier_features(self.specs[-1], self.classifier_kind), n_classes)

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
        res = x  # the residual buffer: the stem output, then what each layer with res_write writes
        pool = False  # the previous layer max-pools its output bits
        for spec, conv in zip(self.specs, self.convs, strict=True):
            bits = sign_ste(x, self.ste)
            if pool:  # max of +-1 bits: their OR (docs/architecture.md 1.2)
                bits = F.max_pool2d(bits, 2)
            if spec.role == "shortcut":
                res = conv(bits)
                continue
            y = conv(bits)
            if spec.name in self.predictors:
                m = self.predictors[spec.name](bits, noise_scale, generator)
                masks[spec.name] = m
                y = y * m[:, None]
            x = res + y if spec.residual else y
            if spec.res_write:
                res = x
            pool = spec.maxpool
        if pool:  # the last layer's pooling runs on the host, on the values
            x = F.max_pool2d(x, 2)
        if self.classifier_kind == "flatten_linear":
            return self.fc(x.flatten(1)), masks
        return self.fc(x.mean(dim=(2, 3))), masks

    def binary_convs(self) -> list[tuple[LayerSpec, BinaryConv2d]]:
        return list(zip(self.specs, self.convs, strict=True))  # type: ignore[arg-type]
