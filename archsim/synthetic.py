"""Synthetic workloads: a structured-pruned ResNet-18 with random weights, for trying archsim.

`archsim synth` builds the CIFAR-variant ResNet-18 of docs/architecture.md section 1
with random binary weights, keep masks balanced for the hardware's PE array, random
spatial predictors, and epilogue parameters calibrated on random images the way batch
norm would be (per channel, from the dot products' mean and spread) so the residual
stream stays in a healthy range. It writes the pruned model, the matching dense model
(same weights, every kernel kept, no predictors), a trace of each (expected outputs
from archsim.functional) and two workload files.

Nothing here is trained: every file is marked `synthetic: true` and every report made
from it says SYNTHETIC. The numbers it yields measure the hardware on this random
network, not on a real one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from archsim.buildable import check_program
from archsim.config import HardwareConfig
from archsim.errors import ConfigError
from archsim.fileio import atomic_write_text, staged_output, unwritable_target
from archsim.format import BinaryConv, BnnModel, Classifier, Predictor, Stem, Trace, save_model, save_trace
from archsim.functional import BitSets, layer_dot, predictor_score, run_model, stem_conv, stem_output
from archsim.network import LayerShape, resnet18_layers
from archsim.networks import Network
from archsim.program import compile_program, pass_geometry, real_rows
from archsim.yamlio import short

GENERATOR = "archsim synth"


@dataclass(frozen=True)
class SynthSpec:
    """Everything that determines a synthetic workload (same spec + config, same bytes)."""

    name: str = "resnet18"
    kernel_density: float = 0.25  # kept kernels / all kernels, per layer unless overridden
    layer_density: tuple[tuple[str, float], ...] = ()  # (layer name, density) overrides
    spatial_budget: float = 0.5  # target fraction of active positions per predicted layer
    predict_stages: tuple[int, ...] = (1, 2, 3)  # stages whose main layers get a predictor
    width: float = 1.0  # channel multiplier on 64/128/256/512
    input_shape: tuple[int, int, int] = (3, 32, 32)
    samples: int = 2
    classes: int = 10
    seed: int = 0
    frac_bits: int = 6
    network: Network | None = None  # a network description; None: the built-in ResNet-18 code path

    def check(self) -> None:
        """Reject impossible requests with a one-line error naming the option."""

        def bad(opt: str, msg: str) -> ConfigError:
            return ConfigError(f"option '{opt}': {msg}")

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,55}", self.name):  # NAME_PATTERN with '_pruned'
            raise bad(
                "--name",
                f"must be 1-56 letters, digits, '_', '-', '.', starting with a letter or digit, got {short(self.name)}",
            )
        if not 0 < self.width <= 4:  # before skeleton(): it needs a sane width and shape
            raise bad("--width", f"must be in (0, 4], got {self.width}")
        shape = self.input_shape
        if len(shape) != 3 or any(isinstance(v, bool) for v in shape) or min(shape) < 1 or max(shape) > 1024:
            raise bad("--input-shape", f"must be C,H,W with each in [1, 1024], got {short(shape)}")
        if not 0 < self.kernel_density <= 1:
            raise bad("--kernel-density", f"must be in (0, 1], got {self.kernel_density}")
        try:
            names = {s.name for s in skeleton(self.width, self.input_shape, self.network)}
        except (ValueError, ArithmeticError) as exc:
            what = "ResNet-18" if self.network is None else f"network '{self.network.name}'"
            raise bad("--input-shape", f"no {what} fits width {self.width:g} and shape {shape} ({exc})") from None
        for lname, d in self.layer_density:
            if not 0 < d <= 1:
                raise bad("--layer-density", f"density of {short(lname)} must be in (0, 1], got {d}")
            if lname not in names:
                raise bad("--layer-density", f"no layer named {short(lname)} (layers: {', '.join(sorted(names))})")
        if not 0 < self.spatial_budget <= 1:
            raise bad("--spatial-budget", f"must be in (0, 1], got {self.spatial_budget}")
        if any(s not in (1, 2, 3, 4) for s in self.predict_stages):
            raise bad("--predict-stages", f"stages are 1..4, got {short(list(self.predict_stages))}")
        if not 1 <= self.samples <= 64:
            raise bad("--samples", f"must be in [1, 64], got {self.samples}")
        if not 1 <= self.classes <= 1000:
            raise bad("--classes", f"must be in [1, 1000], got {self.classes}")
        if self.seed < 0:
            raise bad("--seed", f"must be >= 0, got {self.seed}")

    def command(self) -> str:
        """The `archsim synth` options that reproduce this spec (the output folder aside)."""
        parts = [
            GENERATOR,
            f"--name {self.name}",
            f"--kernel-density {self.kernel_density:g}",
            *(f"--layer-density {n}={d:g}" for n, d in self.layer_density),
            f"--spatial-budget {self.spatial_budget:g}",
            f"--predict-stages {','.join(map(str, self.predict_stages)) or 'none'}",
            f"--width {self.width:g}",
            f"--input-shape {','.join(map(str, self.input_shape))}",
            f"--samples {self.samples}",
            f"--classes {self.classes}",
            f"--seed {self.seed}",
        ]
        if self.network is not None:
            parts.append(f"--network {self.network.source}")
        return " ".join(parts)


def skeleton(width: float, input_shape: tuple[int, int, int], network: Network | None = None) -> list[LayerShape]:
    """The binary layers in run order: of `network`, or of the CIFAR ResNet-18 (docs/architecture.md section 1)."""
    if network is not None:
        return network.layer_shapes(width, input_shape)
    return resnet18_layers(width, input_shape[1], input_shape[2])


# --------------------------------------------------------------------------- random parts


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent stream per purpose, so changing one option does not reshuffle the rest."""
    return np.random.default_rng([seed, *keys])


def random_images(rng: np.random.Generator, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    """Smooth random uint8 images: bilinear-upsampled coarse noise plus fine noise."""
    c, h, w = shape

    def interp(size: int, coarse: int) -> np.ndarray:
        grid = np.linspace(0, coarse - 1, size)
        return np.stack([np.interp(grid, np.arange(coarse), np.eye(coarse)[j]) for j in range(coarse)], axis=1)

    ch, cw = max(2, h // 6), max(2, w // 6)
    coarse = rng.standard_normal((n, c, ch, cw))
    img = interp(h, ch) @ coarse @ interp(w, cw).T + 0.35 * rng.standard_normal((n, c, h, w))
    return np.clip(np.rint(128 + 55 * img), 0, 255).astype(np.uint8)


def balanced_keep(rng: np.random.Generator, c_out: int, c_in: int, k: int, rows: int, acc_depth: int) -> np.ndarray:
    """A keep mask with exactly min(k, real slots) kept kernels per (pass, row, input channel).

    Channel c_lo + s*rows + r is slot s of row r; for each (row, input channel) a random
    choice of its real slots is kept (docs/architecture.md section 5).
    """
    keep = np.zeros((c_out, c_in), dtype=bool)
    for lo, hi, g in pass_geometry(c_out, rows, acc_depth):
        n_real = real_rows(hi - lo, rows, g)  # [rows]
        slot_real = (np.arange(g)[:, None] * rows + np.arange(rows)[None, :]) < hi - lo  # [g, rows]
        key = rng.random((g, rows, c_in))
        key[~slot_real] = np.inf  # phantom slots are never chosen
        rank = np.argsort(np.argsort(key, axis=0, kind="stable"), axis=0, kind="stable")
        kept = rank < np.minimum(k, n_real)[None, :, None]
        keep[lo:hi] = kept.reshape(g * rows, c_in)[: hi - lo]
    return keep


def layer_k(density: float, c_out: int, rows: int, acc_depth: int) -> int:
    """Kept kernels per (row, input channel) closest to `density` of the first pass's slots."""
    g = pass_geometry(c_out, rows, acc_depth)[0][2]
    return int(min(g, max(1, round(density * g))))


def pick_threshold(score: np.ndarray, budget: float) -> int:
    """Integer threshold whose active fraction (score >= t) is nearest the budget."""
    values = np.unique(score)
    frac = np.array([(score >= t).mean() for t in values])
    return int(values[int(np.argmin(np.abs(frac - budget)))])


def _affine(
    stats: np.ndarray, gamma: np.ndarray, beta: np.ndarray, frac_bits: int, mult_bits: int, bias_bits: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """(mult, bias, shift) so that (v * mult + bias) >> shift ~ (gamma (v - mean)/std + beta) 2^frac_bits.

    `stats` is [channels, values]: what batch norm would normalise. The shift is the
    largest that keeps mult and bias within their bit widths (the most precision).
    """
    mean = stats.mean(axis=1)
    std = np.maximum(stats.std(axis=1), 1.0)
    for shift in range(40, -1, -1):
        scale = float(1 << (frac_bits + shift))
        mult = np.maximum(np.rint(gamma * scale / std), 1).astype(np.int64)
        bias = np.rint((beta - gamma * mean / std) * scale).astype(np.int64)
        if mult.max() < (1 << (mult_bits - 1)) and np.abs(bias).max() < (1 << (bias_bits - 1)) - 1:
            return mult.astype(np.int32), bias, shift
    raise ConfigError(f"epilogue.mult_bits={mult_bits} / bias_bits={bias_bits} too narrow for a synthetic epilogue")


# --------------------------------------------------------------------------- generation


@dataclass
class Synthesis:
    pruned: BnnModel
    dense: BnnModel
    inputs: np.ndarray
    health: dict[str, Any] = field(default_factory=dict)


def _build_layers(
    spec: SynthSpec,
    cfg: HardwareConfig,
    shapes: list[LayerShape],
    x0: np.ndarray,
    keeps: list[np.ndarray],
    predicted: set[int],
) -> tuple[list[BinaryConv], dict[str, Any]]:
    """Create the layers one by one, calibrating each on the activations the previous ones produce."""
    ep = cfg.epilogue
    state = BitSets(x0, ep.value_bits)
    layers: list[BinaryConv] = []
    sat_frac, flip_frac, spatial = [], [], {}
    lim = 1 << (ep.value_bits - 1)
    for i, s in enumerate(shapes):
        w_rng = _rng(spec.seed, 100, i)
        # Pruned kernels are stored as zeros: never read, and they compress away in the file.
        weight = (w_rng.random((s.c_out, s.c_in, s.kernel, s.kernel)) < 0.5) & keeps[i][:, :, None, None]
        pred = None
        if i in predicted:
            u = _rng(spec.seed, 200, i).random((s.c_in, 3, 3)) < 0.5
            pred = Predictor(weight=u, threshold=0)
        # Residual layers add a fraction of a unit to the stream; a shortcut restarts it at ~1.
        p_rng = _rng(spec.seed, 300, i)
        gamma = p_rng.uniform(0.3, 0.6, s.c_out) if s.residual else p_rng.uniform(0.8, 1.2, s.c_out)
        beta = p_rng.normal(0.0, 0.15, s.c_out)
        layer = BinaryConv(
            name=s.name,
            role=s.role,
            kernel=s.kernel,
            stride=s.stride,
            c_in=s.c_in,
            c_out=s.c_out,
            h_in=s.h_in,
            w_in=s.w_in,
            weight=weight,
            keep=keeps[i],
            mult=np.ones(s.c_out, np.int32),
            bias=np.zeros(s.c_out, np.int64),
            shift=0,
            residual=s.residual,
            predictor=pred,
            res_write=s.res_write,
            maxpool=s.maxpool,
        )
        bits = state.bits
        if pred is not None:
            theta = pick_threshold(predictor_score(layer, bits), spec.spatial_budget)
            pred = Predictor(weight=pred.weight, threshold=theta)
        dot = layer_dot(layer, bits)  # [N, O, H, W]
        stats = dot.transpose(1, 0, 2, 3).reshape(s.c_out, -1).astype(np.float64)
        mult, bias, shift = _affine(stats, gamma, beta, spec.frac_bits, ep.mult_bits, ep.bias_bits)
        layer = replace(layer, mult=mult, bias=bias, shift=shift, predictor=pred)
        prev_bits = state.bits
        step = state.step(i, layer, use_predictor=True)
        layers.append(layer)
        sat_frac.append(float(((step.z <= -lim) | (step.z >= lim - 1)).mean()))
        if s.role == "main" and step.bits_out.shape == prev_bits.shape:  # maps that keep their shape
            flip_frac.append(float((step.bits_out != prev_bits).mean()))
        if step.mask is not None:
            spatial[s.name] = round(float(step.mask.mean()), 4)
    health = {
        "max_saturated_fraction": round(max(sat_frac), 6),
        "min_bit_flip_fraction": round(min(flip_frac), 4) if flip_frac else None,
        "max_bit_flip_fraction": round(max(flip_frac), 4) if flip_frac else None,
        "spatial_density": spatial,
    }
    return layers, health


def generate(spec: SynthSpec, cfg: HardwareConfig) -> Synthesis:
    """Build the pruned and dense models (in memory) for `spec`, balanced for `cfg`."""
    spec.check()
    shapes = skeleton(spec.width, spec.input_shape, spec.network)
    rows, depth = cfg.pe_array.rows, cfg.pe_array.acc_depth
    ep = cfg.epilogue
    c_img, _, _ = spec.input_shape
    c0 = shapes[0].c_in
    inputs = random_images(_rng(spec.seed, 1), spec.samples, spec.input_shape)

    # Stem: random int8 kernels, affine calibrated so x0 has about unit spread.
    s_rng = _rng(spec.seed, 2)
    stem_w = s_rng.integers(-64, 64, (c0, c_img, 3, 3)).astype(np.int8)
    probe = Stem(weight=stem_w, mult=np.ones(c0, np.int32), bias=np.zeros(c0, np.int64), shift=0, input_offset=128)
    acc = stem_conv(probe, inputs).astype(np.float64)  # [N, H, W, C0]
    mult, bias, shift = _affine(
        acc.reshape(-1, c0).T, s_rng.uniform(0.8, 1.2, c0), s_rng.normal(0, 0.2, c0), spec.frac_bits, 16, 48
    )
    stem = replace(probe, mult=mult, bias=bias, shift=shift)
    x0 = stem_output(stem, inputs, ep.value_bits)

    overrides = dict(spec.layer_density)
    densities = [overrides.get(s.name, spec.kernel_density) for s in shapes]
    keeps = [
        balanced_keep(_rng(spec.seed, 400, i), s.c_out, s.c_in, layer_k(d, s.c_out, rows, depth), rows, depth)
        for i, (s, d) in enumerate(zip(shapes, densities, strict=True))
    ]
    predicted = {i for i, s in enumerate(shapes) if s.role == "main" and s.stage in spec.predict_stages}
    if spec.network is not None:  # only the layers the description marks may carry one
        marked = spec.network.predicted()
        predicted = {i for i in predicted if shapes[i].name in marked}
    f_rng = _rng(spec.seed, 3)
    last = shapes[-1]
    kind = spec.network.classifier if spec.network is not None else "sum_pool_linear"
    n_last = last.c_out  # features: channels, or the flattened (pooled) last map
    if kind == "flatten_linear":
        n_last *= (last.h_out // 2) * (last.w_out // 2) if last.maxpool else last.h_out * last.w_out
    classifier = Classifier(
        weight=f_rng.integers(-128, 128, (spec.classes, n_last)).astype(np.int16),
        bias=f_rng.integers(-1000, 1000, spec.classes).astype(np.int64),
        kind=kind,
    )
    common = {
        "synthetic": True,
        "generator": GENERATOR,
        "command": spec.command(),
        "seed": spec.seed,
        "hardware": cfg.name,
        "width": spec.width,
        "note": "random weights and random images, not a trained network",
    }
    if spec.network is not None:
        common["network"] = spec.network.name

    p_layers, p_health = _build_layers(spec, cfg, shapes, x0, keeps, predicted)
    d_layers, d_health = _build_layers(spec, cfg, shapes, x0, [np.ones_like(k) for k in keeps], set())
    n_kept = sum(int(k.sum()) for k in keeps)
    n_all = sum(k.size for k in keeps)
    pruned = BnnModel(
        name=f"{spec.name}_pruned",
        input_shape=spec.input_shape,
        frac_bits=spec.frac_bits,
        stem=stem,
        layers=tuple(p_layers),
        classifier=classifier,
        balance=(rows, depth),
        meta={
            **common,
            "provenance": {
                "kernel_density_target": spec.kernel_density,
                "layer_density_targets": dict(spec.layer_density),
                "kernel_density": round(n_kept / n_all, 6),
                "spatial_budget": spec.spatial_budget,
                "predict_stages": list(spec.predict_stages),
                "health": p_health,
            },
        },
    )
    dense = BnnModel(
        name=f"{spec.name}_dense",
        input_shape=spec.input_shape,
        frac_bits=spec.frac_bits,
        stem=stem,
        layers=tuple(d_layers),
        classifier=classifier,
        balance=None,
        meta={**common, "provenance": {"kernel_density": 1.0, "health": d_health}},
    )
    return Synthesis(pruned=pruned, dense=dense, inputs=inputs, health={"pruned": p_health, "dense": d_health})


# --------------------------------------------------------------------------- files


def make_trace(model: BnnModel, model_sum: str, inputs: np.ndarray, value_bits: int) -> Trace:
    """The trace of `model` on `inputs`: expected outputs from the functional model."""
    run = run_model(model, inputs, "sparse", value_bits)
    return Trace(
        model_checksum=model_sum,
        inputs=inputs,
        labels=np.full(len(inputs), -1, dtype=np.int64),
        stem_out=run.stem_out,
        layer_out=tuple(run.layer_out),
        masks=tuple(run.masks),
        logits=run.logits,
        meta={"synthetic": True, "generator": GENERATOR, "model": model.name, "labels": "unknown (random images)"},
    )


def _workload_yaml(
    name: str, description: str, hardware: str, model: str, trace: str, base_model: str, base_trace: str, command: str
) -> str:
    return (
        "# SYNTHETIC workload: random weights and random images, not a trained network.\n"
        f"# Made by: {command}\n"
        f"name: {name}\n"
        f"description: {description}\n"
        f"hardware: {hardware}\n"
        f"model: {model}\n"
        f"trace: {trace}\n"
        "baseline:\n"
        f"  model: {base_model}\n"
        f"  trace: {base_trace}\n"
    )


def synthetic_outputs(spec: SynthSpec, out_dir: Path) -> list[Path]:
    """The files write_synthetic writes for `spec` into `out_dir`."""
    models = out_dir / "models"
    files = [models / f"{spec.name}_{tag}{ext}" for tag in ("pruned", "dense") for ext in (".npz", ".trace.npz")]
    return files + [out_dir / f"{spec.name}_{tag}.yaml" for tag in ("pruned", "dense")]


def write_synthetic(spec: SynthSpec, cfg: HardwareConfig, config_path: Path, out_dir: Path) -> list[Path]:
    """Generate and write models, traces and workloads; returns the files written.

    Everything is computed and checked against the hardware first, so bad options
    or a configuration the model cannot fit leave no file behind.
    """
    syn = generate(spec, cfg)
    for model, mode in ((syn.pruned, "sparse"), (syn.dense, "dense")):  # and what rtl/gen.py can build
        check_program(compile_program(model, cfg, mode, where=f"{config_path}"), cfg, config_path)
    names = [f"{spec.name}_{tag}.yaml" for tag in ("pruned", "dense")]
    model_names = [f"{m.name}{ext}" for m in (syn.pruned, syn.dense) for ext in (".npz", ".trace.npz")]
    why = unwritable_target(out_dir, names) or unwritable_target(out_dir / "models", model_names)
    if why:
        raise NotADirectoryError(why)
    vb = cfg.epilogue.value_bits
    written = []
    rel = {}
    net = "ResNet-18" if spec.network is None else f"network '{spec.network.name}'"
    with staged_output(out_dir) as stage:  # all files or, on any failure, none
        for tag, model in (("pruned", syn.pruned), ("dense", syn.dense)):
            mname, tname = f"{model.name}.npz", f"{model.name}.trace.npz"
            msum = save_model(stage / "models" / mname, model)
            save_trace(stage / "models" / tname, make_trace(model, msum, syn.inputs, vb))
            written += [out_dir / "models" / mname, out_dir / "models" / tname]
            rel[tag] = (f"models/{mname}", f"models/{tname}")
        hardware = Path(os.path.relpath(Path(config_path).resolve(), out_dir.resolve())).as_posix()
        command = f"{spec.command()} --config {Path(config_path).as_posix()} --out {out_dir.as_posix()}"
        kd = syn.pruned.meta["provenance"]["kernel_density"]
        for tag in ("pruned", "dense"):
            name = f"{spec.name}_{tag}"
            if tag == "pruned":
                desc = (
                    f"SYNTHETIC structured-pruned {net} (width {spec.width:g}, kernel density {kd:.3f}, "
                    f"spatial budget {spec.spatial_budget:g} on stages {','.join(map(str, spec.predict_stages)) or 'none'}, "
                    f"seed {spec.seed}) against its dense twin"
                )
            else:
                desc = f"SYNTHETIC dense {net} (width {spec.width:g}, seed {spec.seed}) on the sparse datapath against itself in dense mode"
            atomic_write_text(
                stage / f"{name}.yaml", _workload_yaml(name, desc, hardware, *rel[tag], *rel["dense"], command)
            )
            written.append(out_dir / f"{name}.yaml")
    return written
