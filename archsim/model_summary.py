"""`archsim summary MODEL.npz`: what a model costs before it is simulated (in the spirit of larq's
model summary): per accelerator layer its shape, kept kernels, the bits of its weights and their
channel-slot indices, its MACs dense and after kernel pruning, and whether a spatial predictor
gates it; then totals and the compression of the binary weights.

Spatial pruning depends on the input, so pruned MACs here count kernel pruning only; `archsim run`
measures the active positions on the trace's samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from archsim.config import HardwareConfig
from archsim.format import BnnModel


@dataclass(frozen=True)
class LayerCost:
    layer: str
    kind: str
    kernel: int
    stride: int
    c_in: int
    c_out: int
    h_out: int
    w_out: int
    kept_kernels: int
    dense_kernels: int
    weight_bits: int  # kept kernels x K x K (1 bit each)
    index_bits: int  # kept kernels x the channel-slot index width of the hardware
    epilogue_bits: int  # c_out x (mult_bits + bias_bits)
    macs_dense: int  # binary MACs: c_in x c_out x K x K x H_out x W_out
    macs_pruned: int  # kept kernels x K x K x H_out x W_out
    predictor: bool

    @property
    def kernel_density(self) -> float:
        return self.kept_kernels / self.dense_kernels


def model_costs(model: BnnModel, cfg: HardwareConfig) -> list[LayerCost]:
    ib, ep = cfg.index_bits, cfg.epilogue.mult_bits + cfg.epilogue.bias_bits
    rows = []
    for L in model.layers:
        kept, kk = int(L.keep.sum()), L.kernel * L.kernel
        positions = L.h_out * L.w_out
        rows.append(
            LayerCost(
                layer=L.name,
                kind=L.role,
                kernel=L.kernel,
                stride=L.stride,
                c_in=L.c_in,
                c_out=L.c_out,
                h_out=L.h_out,
                w_out=L.w_out,
                kept_kernels=kept,
                dense_kernels=L.c_in * L.c_out,
                weight_bits=kept * kk,
                index_bits=kept * ib,
                epilogue_bits=L.c_out * ep,
                macs_dense=L.c_in * L.c_out * kk * positions,
                macs_pruned=kept * kk * positions,
                predictor=L.predictor is not None,
            )
        )
    return rows


def totals(model: BnnModel, costs: list[LayerCost]) -> dict[str, Any]:
    dense_bits = sum(c.dense_kernels * c.kernel * c.kernel for c in costs)
    stored = sum(c.weight_bits + c.index_bits for c in costs)
    host = model.stem.weight.size + model.classifier.weight.size
    return {
        "layers": len(costs),
        "kept_kernels": sum(c.kept_kernels for c in costs),
        "dense_kernels": sum(c.dense_kernels for c in costs),
        "kernel_density": sum(c.kept_kernels for c in costs) / sum(c.dense_kernels for c in costs),
        "weight_bits": sum(c.weight_bits for c in costs),
        "index_bits": sum(c.index_bits for c in costs),
        "epilogue_bits": sum(c.epilogue_bits for c in costs),
        "dense_weight_bits": dense_bits,
        "compression": dense_bits / stored if stored else float("inf"),
        "macs_dense": sum(c.macs_dense for c in costs),
        "macs_pruned": sum(c.macs_pruned for c in costs),
        "predicted_layers": sum(c.predictor for c in costs),
        "host_parameters": int(host),  # stem and classifier weights, run on the host (8/16-bit)
    }


def summary_dict(model: BnnModel, cfg: HardwareConfig) -> dict[str, Any]:
    costs = model_costs(model, cfg)
    return {
        "model": model.name,
        "synthetic": model.synthetic,
        "input_shape": list(model.input_shape),
        "config": cfg.name,
        "index_bits_per_kernel": cfg.index_bits,
        "layers": [{**asdict(c), "kernel_density": c.kernel_density} for c in costs],
        "totals": totals(model, costs),
    }


def _n(v: int) -> str:
    return f"{v:,}"


def format_summary(model: BnnModel, cfg: HardwareConfig) -> str:
    costs = model_costs(model, cfg)
    t = totals(model, costs)
    head = ("layer", "kind", "shape (in -> out, K/s)", "kept kernels", "weight bits", "index bits", "MACs dense")
    head += ("MACs pruned", "predictor")
    rows = []
    for c in costs:
        shape = f"{c.c_in}->{c.c_out} {c.h_out}x{c.w_out} {c.kernel}x{c.kernel}/{c.stride}"
        kept = f"{_n(c.kept_kernels)} ({100 * c.kernel_density:.1f}%)"
        rows.append((c.layer, c.kind, shape, kept, _n(c.weight_bits), _n(c.index_bits), _n(c.macs_dense)))
        rows[-1] += (_n(c.macs_pruned), "yes" if c.predictor else "-")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r: tuple[str, ...]) -> str:
        return "  ".join(v.ljust(w) if i < 3 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))

    tag = "  SYNTHETIC (random weights)" if model.synthetic else ""
    out = [f"model {model.name}: input {'x'.join(map(str, model.input_shape))}, hardware {cfg.name}{tag}", ""]
    out += [line(head), "  ".join("-" * w for w in widths), *(line(r) for r in rows), ""]
    out += [
        f"kept kernels      {_n(t['kept_kernels'])} of {_n(t['dense_kernels'])} ({100 * t['kernel_density']:.1f}%)",
        f"binary weights    {_n(t['weight_bits'])} bits + {_n(t['index_bits'])} index bits "
        f"({cfg.index_bits} per kept kernel) = {(t['weight_bits'] + t['index_bits']) / 8 / 1024:,.1f} KiB; "
        f"dense {_n(t['dense_weight_bits'])} bits",
        f"compression       {t['compression']:.2f}x (dense weight bits / kept weight and index bits)",
        f"epilogue          {_n(t['epilogue_bits'])} bits (per-channel multiplier and bias)",
        f"binary MACs       dense {_n(t['macs_dense'])}, after kernel pruning {_n(t['macs_pruned'])} "
        f"({t['macs_dense'] / max(1, t['macs_pruned']):.2f}x fewer; spatial pruning, on "
        f"{t['predicted_layers']} predicted layers, comes on top and depends on the input)",
        f"host              {_n(t['host_parameters'])} stem and classifier weights",
    ]
    return "\n".join(out)
