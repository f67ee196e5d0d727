"""Network descriptions (YAML, docs/formats.md section 6): one file that says what a BNN is.

A description is validated once, here, into a `Network` (frozen dataclasses); every error is
one line naming the file, the layer (index and name) and the field. `Network.layer_shapes`
then expands it into today's binary layers (archsim.network.LayerShape: main and shortcut
convs), after `Network.check_supported` has refused what the accelerator cannot run yet.

The format can say more than the hardware runs today (maps tiled through DDR) so that such
operators can be added without changing the files that use them. Block residuals, layers that
leave the residual buffer alone, 2x2 max-pool and the flatten classifier expand into model-format
version 2 layers (docs/architecture.md 1.1-1.2).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archsim.errors import ConfigError
from archsim.format import residual_bits
from archsim.network import LayerShape
from archsim.yamlio import read_yaml

NETWORK_KIND = "archsim-network"
NETWORK_VERSION = 1
RESIDUALS = ("none", "identity", "shortcut", "block", "block_shortcut")
NOT_YET = "is not supported by the accelerator yet (issue 14)"


# --------------------------------------------------------------------------- the validated network


@dataclass(frozen=True)
class NetLayer:
    """One binary conv of a description, in run order (a block's layers are flattened)."""

    index: int  # position among the description's layers, counting those inside blocks
    name: str  # full name: "<block>.<layer>" inside a block
    stage: int  # 1..4: groups layers for per-stage options (kernel density, predictors)
    kernel: int
    stride: int
    channels: int
    residual: str  # one of RESIDUALS
    shortcut_name: str | None  # name of the 1x1 shortcut layer (residual "shortcut" / "block_shortcut")
    maxpool: bool  # 2x2 stride-2 max-pool on the layer's output map
    predictor: bool  # carries a spatial predictor (when the tool asks for spatial pruning)
    maps: str  # "on_chip", or "tiled" (through DDR, a later step)
    block: str | None  # enclosing block's name


@dataclass(frozen=True)
class Network:
    name: str = field(compare=False)
    description: str = field(compare=False)
    input_shape: tuple[int, int, int]  # nominal [C, H, W]; the layers are fully convolutional
    stem_channels: int
    layers: tuple[NetLayer, ...]
    classifier: str  # "sum_pool_linear" or "flatten_linear"
    source: str = field(default="<network>", compare=False)  # the file, as given, for messages

    def fail(self, layer: NetLayer | None, fld: str, msg: str) -> ConfigError:
        return _error(self.source, layer.index if layer else None, layer.name if layer else None, fld, msg)

    def check_supported(self) -> None:
        """Refuse, with one line, the first operator the accelerator (and the trainer) cannot run today."""
        for L in self.layers:
            if L.maps != "on_chip":
                raise self.fail(L, "maps", f"tiling maps through DDR {NOT_YET}")

    def layer_shapes(self, width: float, input_shape: tuple[int, int, int] | None = None) -> list[LayerShape]:
        """The binary layers in run order at a channel `width` multiplier: a "shortcut" residual
        becomes a 1x1 shortcut layer just before its main layer, a "block_shortcut" one just before
        the block's first layer (it reads the block's input). A layer without a residual writes the
        residual buffer only when a later layer reads its value (res_write, docs/architecture.md 1.1)."""
        self.check_supported()
        _, h, w = input_shape or self.input_shape
        c = scale(self.stem_channels, width)
        out: list[LayerShape] = []
        layers = self.layers
        for i, L in enumerate(layers):
            co = scale(L.channels, width)
            if L.block is not None and (i == 0 or layers[i - 1].block != L.block):
                out += self._block_shortcut(i, c, h, w, width)
            if L.residual == "shortcut":
                assert L.shortcut_name is not None
                out.append(LayerShape(L.shortcut_name, "shortcut", L.stage, 1, L.stride, c, co, h, w, False))
            res_write = self._res_write(i)
            main = LayerShape(
                L.name, "main", L.stage, L.kernel, L.stride, c, co, h, w, L.residual != "none", res_write, L.maxpool
            )
            if L.residual == "identity" and (co, main.h_out, main.w_out) != (c, h, w):
                raise self.fail(L, "residual", f"identity needs the output shape to equal the input {(c, h, w)}")
            if main.h_out < 1 or main.w_out < 1:
                raise self.fail(L, "stride", f"the map {(h, w)} is too small for this layer")
            out.append(main)
            c, h, w = co, main.h_out, main.w_out
            if L.maxpool:
                if i + 1 < len(layers) and res_write:
                    raise self.fail(L, "maxpool", "pools only the sign bits, but a later layer adds this layer's value")
                if h < 2 or w < 2:
                    raise self.fail(L, "maxpool", f"a 2x2 max-pool needs a map of at least 2x2, not {h}x{w}")
                h, w = h // 2, w // 2
        for s, where in zip(out, residual_bits(out), strict=True):
            L = next(x for x in layers if x.name == s.name) if s.role == "main" else None
            if L is not None and L.predictor and where == "none":
                raise self.fail(
                    L,
                    "predictor",
                    "its skipped positions would output a shortcut computed before the layer ahead of it, "
                    "whose sign bits no activation set holds then (not supported)",
                )
        return out

    def _res_write(self, i: int) -> bool:
        """Whether layer i writes the residual buffer: always with a residual of its own (as in
        format version 1), else only when a later layer adds its output: the next layer's identity
        residual, the "block" residual of the block it feeds, or the host classifier (the STORE)."""
        layers = self.layers
        if layers[i].residual != "none" or i + 1 == len(layers):
            return True
        nxt = layers[i + 1]
        if nxt.residual == "identity":
            return True
        starts_block = nxt.block is not None and nxt.block != layers[i].block
        return starts_block and any(x.block == nxt.block and x.residual == "block" for x in layers)

    def _block_shortcut(self, i: int, c: int, h: int, w: int, width: float) -> list[LayerShape]:
        """The 1x1 shortcut of a block with a "block_shortcut" residual, on the block's input."""
        members = [x for x in self.layers[i:] if x.block == self.layers[i].block]
        stride = 1
        for x in members:
            stride *= x.stride
            if x.residual != "block_shortcut":
                continue
            if stride > 2:
                raise self.fail(
                    x, "residual", "the block halves its map more than once; a 1x1 shortcut has stride 1 or 2"
                )
            assert x.shortcut_name is not None
            return [
                LayerShape(x.shortcut_name, "shortcut", x.stage, 1, stride, c, scale(x.channels, width), h, w, False)
            ]
        return []

    def predicted(self) -> set[str]:
        """Names of the layers that carry a spatial predictor."""
        return {L.name for L in self.layers if L.predictor}


def scale(channels: int, width: float) -> int:
    """Channels at a width multiplier (at least one), as archsim.network.stage_channels."""
    return max(1, round(channels * width))


def _error(source: str, index: int | None, name: str | None, fld: str, msg: str) -> ConfigError:
    where = f"layer {index} '{name}': " if index is not None else ""
    return ConfigError(f"{source}: {where}field '{fld}': {msg}")


# --------------------------------------------------------------------------- the YAML schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_NAME = r"^[A-Za-z0-9_.\-]+$"


class _Layer(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    stage: int | None = Field(None, ge=1, le=4)
    kernel: Literal[1, 3] = 3
    stride: Literal[1, 2] = 1
    channels: int = Field(ge=1, le=65536)
    residual: Literal["none", "identity", "shortcut", "block", "block_shortcut"]
    shortcut_name: str | None = Field(None, min_length=1, max_length=64, pattern=_NAME)
    maxpool: bool = False
    predictor: bool = False
    maps: Literal["on_chip", "tiled"] = "on_chip"


class _Block(_Strict):
    block: str = Field(min_length=1, max_length=64, pattern=_NAME)
    stage: int = Field(ge=1, le=4)
    layers: list[Any] = Field(min_length=1)  # items are checked one by one, to name them


class _Classifier(_Strict):
    kind: Literal["sum_pool_linear", "flatten_linear"]


class _Stem(_Strict):
    channels: int = Field(ge=1, le=65536)


class _Top(_Strict):
    kind: Literal["archsim-network"]
    version: int
    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    description: str = ""
    input: list[int] = Field(min_length=3, max_length=3)
    stem: _Stem
    layers: list[Any] = Field(min_length=1)  # items are checked one by one, to name them
    classifier: _Classifier


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    fld = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = {"extra_forbidden": "unknown key", "missing": "required field is missing"}.get(err["type"], err["msg"])
    return fld, msg


def _layer_label(raw: Any) -> str:
    name = raw.get("name", raw.get("block")) if isinstance(raw, dict) else None
    return name if isinstance(name, str) else "?"


def network_from_dict(data: Any, source: str) -> Network:
    """Validate a parsed description; errors name `source`, the layer and the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        top = _Top.model_validate(data)
    except ValidationError as exc:
        fld, msg = _first_error(exc)
        raise ConfigError(f"{source}: field '{fld}': {msg}") from None
    if top.version != NETWORK_VERSION:
        raise ConfigError(
            f"{source}: field 'version': network description version {top.version} is not supported "
            f"(this archsim reads version {NETWORK_VERSION})"
        )
    c_img, h, w = top.input
    if not (1 <= c_img <= 64 and 1 <= h <= 4096 and 1 <= w <= 4096):
        raise ConfigError(f"{source}: field 'input': must be [C, H, W] with C in [1, 64], H, W in [1, 4096]")

    # Flatten blocks into layers, naming each error by the layer's flat index.
    flat: list[tuple[int, Any, str | None, int | None, int]] = []  # (index, raw, block, block stage, item)
    blocks: set[str] = set()
    for item_no, item in enumerate(top.layers):
        if isinstance(item, dict) and "block" in item:
            try:
                blk = _Block.model_validate(item)
            except ValidationError as exc:
                fld, msg = _first_error(exc)
                raise _error(source, len(flat), _layer_label(item), f"block.{fld}", msg) from None
            if blk.block in blocks:
                raise _error(source, len(flat), blk.block, "block", f"the block name '{blk.block}' is used twice")
            blocks.add(blk.block)
            for raw in blk.layers:
                flat.append((len(flat), raw, blk.block, blk.stage, item_no))
        else:
            flat.append((len(flat), item, None, None, item_no))

    layers: list[NetLayer] = []
    names: set[str] = set()
    c, hh, ww = top.stem.channels, h, w
    block_in: tuple[int, int, int] | None = None
    prev_item = -1
    for idx, raw, block, block_stage, item_no in flat:
        nested = block and isinstance(raw, dict) and "block" not in raw
        label = f"{block}.{_layer_label(raw)}" if nested else _layer_label(raw)
        if not isinstance(raw, dict):
            raise _error(source, idx, label, "(layer)", f"expected a mapping, got {type(raw).__name__}")
        if "block" in raw:
            raise _error(source, idx, label, "block", "blocks do not nest")
        try:
            spec = _Layer.model_validate(raw)
        except ValidationError as exc:
            fld, msg = _first_error(exc)
            raise _error(source, idx, label, fld, msg) from None

        def bad(fld: str, msg: str, idx: int = idx, label: str = label) -> ConfigError:
            return _error(source, idx, label, fld, msg)

        full = f"{block}.{spec.name}" if block else spec.name
        if block is not None and spec.stage is not None:
            raise bad("stage", "a layer inside a block takes the block's stage")
        if block is None and spec.stage is None:
            raise bad("stage", "required field is missing (a layer outside a block names its stage, 1..4)")
        stage = block_stage if block is not None else spec.stage
        assert stage is not None
        first_in_block = block is not None and item_no != prev_item
        if item_no != prev_item:
            block_in, prev_item = (c, hh, ww), item_no
        sc_name = None
        if spec.residual in ("shortcut", "block_shortcut"):
            default = f"{block}.shortcut" if spec.residual == "block_shortcut" else f"{full}.shortcut"
            sc_name = f"{block}.{spec.shortcut_name}" if block and spec.shortcut_name else spec.shortcut_name or default
        elif spec.shortcut_name is not None:
            raise bad("shortcut_name", "only a layer with residual 'shortcut' or 'block_shortcut' has a shortcut")
        for n, fld in ((full, "name"), (sc_name, "shortcut_name")):
            if n is not None and n in names:
                raise bad(fld, f"the name '{n}' is used twice")
            if n is not None:
                names.add(n)
        pad = (spec.kernel - 1) // 2
        h_out = (hh + 2 * pad - spec.kernel) // spec.stride + 1
        w_out = (ww + 2 * pad - spec.kernel) // spec.stride + 1
        if h_out < 1 or w_out < 1:
            raise bad("stride", f"the {hh}x{ww} input map is too small")
        out = (spec.channels, h_out, w_out)
        if spec.residual == "identity" and out != (c, hh, ww):
            raise bad(
                "residual",
                f"identity adds the layer's input {(c, hh, ww)}, which needs the same output shape, not {out}; "
                "use 'shortcut' (a 1x1 conv of the input)",
            )
        if spec.residual in ("block", "block_shortcut"):
            if block is None:
                raise bad("residual", f"'{spec.residual}' adds the enclosing block's input; this layer is in no block")
            if first_in_block:
                raise bad(
                    "residual", "the first layer of a block would add its own input: use 'identity' or 'shortcut'"
                )
            if spec.residual == "block" and out != block_in:
                raise bad(
                    "residual",
                    f"the block's input {block_in} must have the output shape {out}; use 'block_shortcut'",
                )
        if spec.predictor:
            if spec.kernel != 3:
                raise bad("predictor", "only 3x3 layers may carry a spatial predictor")
            if spec.residual == "none":
                raise bad("predictor", "a spatially pruned layer needs a residual (skipped positions output it)")
        if spec.maxpool:
            if h_out < 2 or w_out < 2:
                raise bad("maxpool", f"a 2x2 max-pool needs a map of at least 2x2, this layer outputs {h_out}x{w_out}")
            h_out, w_out = h_out // 2, w_out // 2
        layers.append(
            NetLayer(
                index=idx,
                name=full,
                stage=stage,
                kernel=spec.kernel,
                stride=spec.stride,
                channels=spec.channels,
                residual=spec.residual,
                shortcut_name=sc_name,
                maxpool=spec.maxpool,
                predictor=spec.predictor,
                maps=spec.maps,
                block=block,
            )
        )
        c, hh, ww = spec.channels, h_out, w_out
    return Network(
        name=top.name,
        description=top.description,
        input_shape=(c_img, h, w),
        stem_channels=top.stem.channels,
        layers=tuple(layers),
        classifier=top.classifier.kind,
        source=source,
    )


def load_network(path: str | Path) -> Network:
    """Read and validate a network description file."""
    path = Path(path)
    return network_from_dict(read_yaml(path), str(path))


# --------------------------------------------------------------------------- shipped descriptions

BUILTIN = ("resnet18", "vgg_small", "resnet20", "reactnet")


def builtin_text(name: str) -> str:
    """The text of a description shipped with archsim (package data; `networks/` holds the same files)."""
    if name not in BUILTIN:
        raise ConfigError(f"no built-in network '{name}' (built-in: {', '.join(BUILTIN)})")
    return resources.files("archsim").joinpath("data", "networks", f"{name}.yaml").read_text()


@functools.cache
def builtin(name: str) -> Network:
    import yaml

    return network_from_dict(yaml.safe_load(builtin_text(name)), name)


def network_data(arg: str | Path) -> dict[str, Any]:
    """The parsed (not yet validated) mapping of a description file, or of a built-in one by name."""
    text = str(arg)
    if text in BUILTIN and not Path(text).exists():
        import yaml

        return yaml.safe_load(builtin_text(text))
    return read_yaml(Path(arg))


def resolve_network(arg: str | Path) -> Network:
    """A description from a file path, or a built-in one by name (e.g. `resnet18`)."""
    text = str(arg)
    if text in BUILTIN and not Path(text).exists():
        return builtin(text)
    return load_network(arg)
