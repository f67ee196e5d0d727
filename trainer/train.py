"""Training loop: seeded, checkpointed atomically, resumable bit for bit.

Every random draw is a pure function of (seed, epoch) or (seed, step): the epoch's sample
order and each step's augmentation and Gumbel noise come from generators seeded from
them, so a run resumed from a checkpoint continues exactly as if never interrupted.
A run directory holds `config.json`, `checkpoint.pt` (the latest state, written
atomically) and `log.jsonl` (one line per finished epoch).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import shlex
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from archsim.config import load_config
from archsim.errors import ArchsimError
from archsim.fileio import atomic_write_bytes, atomic_write_text
from archsim.networks import network_data, network_from_dict

from .binary import native_bf16, set_train_conv_dtype
from .data import Dataset, augment, load_dataset
from .model import BiRealResNet18, LayerSpec, layer_specs, network_specs
from .pruning import balanced_keep, k_for_density, kernel_importance, max_slots, schedule_k


class RunError(ArchsimError):
    """A run directory is inconsistent with the command (or unreadable)."""


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    train_subset: int = 0
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-6  # real-valued parameters only; binary latents get none
    seed: int = 0
    width: float = 1.0
    kernel_density: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)  # per stage
    prune_start: float = 0.05  # fraction of all steps
    prune_end: float = 0.6
    prune_every: int = 50  # steps between mask updates during the schedule
    spatial_budget: float | None = None  # target active fraction of the predicted layers' work; None = no predictors
    budget_weight: float = 10.0
    hardware: str = "configs/ultra96v2.yaml"
    ste: str = "clipped"
    bf16: bool = True
    network: str | None = None  # network description file; None = the built-in ResNet-18

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kernel_density"] = list(self.kernel_density)
        if self.network is None:
            del d["network"]  # runs without --network record exactly what they always did
        return d


@dataclass
class RunOptions:
    """Settings that do not change the result (may differ between a run and its resume)."""

    threads: int = 2
    ckpt_minutes: float = 10.0
    ckpt_every: int = 0  # also checkpoint every N steps (tests)
    progress: bool = True
    crash_at_step: int = -1  # tests: raise after this global step, as if killed
    extra: dict[str, Any] = field(default_factory=dict)


def hw_geometry(cfg: TrainConfig) -> tuple[int, int, int]:
    hw = load_config(cfg.hardware)
    return hw.pe_array.rows, hw.pe_array.acc_depth, hw.pe_array.cols


def predicted_layers(specs: list[LayerSpec], cols: int) -> tuple[str, ...]:
    """Main 3x3 layers whose output map spans more than one tile of `cols` positions.

    Where a whole map fits one tile (stage 4 on a 16-column array: 4x4 = 16 positions)
    skipping positions saves no PE cycles, so those layers get no predictor.
    """
    return tuple(s.name for s in specs if s.role == "main" and s.kernel == 3 and s.residual and s.positions > cols)


def read_network(cfg: TrainConfig) -> dict[str, Any] | None:
    """The run's network description as a validated mapping (kept in the checkpoint, so an
    export does not depend on the file), refusing operators the accelerator lacks; None = ResNet-18."""
    if cfg.network is None:
        return None
    data = network_data(cfg.network)
    network_from_dict(data, cfg.network).check_supported()
    return data


def model_args(cfg: TrainConfig, ds: Dataset) -> dict[str, Any]:
    _, _, cols = hw_geometry(cfg)
    offset, scale = ds.input_stats()
    network = read_network(cfg)
    if network is None:
        specs = layer_specs(cfg.width)
    else:
        marked = network_from_dict(network, str(cfg.network)).predicted()
        specs = [s for s in network_specs(network, cfg.width, ds.c_img, 32) if s.name in marked]
    preds = predicted_layers(specs, cols) if cfg.spatial_budget is not None else ()
    args: dict[str, Any] = {
        "c_img": ds.c_img,
        "n_classes": ds.n_classes,
        "width": cfg.width,
        "input_offset": offset,
        "input_scale": scale,
        "predict_layers": list(preds),
        "ste": cfg.ste,
    }
    if network is not None:
        args["network"] = network
    return args


def build_model(args: dict[str, Any]) -> BiRealResNet18:
    a = dict(args)
    a["predict_layers"] = tuple(a["predict_layers"])
    return BiRealResNet18(**a)


def final_k(cfg: TrainConfig, spec: LayerSpec, rows: int, depth: int) -> int:
    return k_for_density(spec.c_out, cfg.kernel_density[spec.stage - 1], rows, depth)


# --------------------------------------------------------------------------- measurements


def work(model: BiRealResNet18, active: dict[str, float]) -> tuple[float, float]:
    """(dense, pruned) work per sample: kernels x positions, summed over binary layers."""
    dense = pruned = 0.0
    for spec, conv in model.binary_convs():
        dense += spec.c_in * spec.c_out * spec.positions
        pruned += float(conv.keep.sum()) * spec.positions * active.get(spec.name, 1.0)
    return dense, pruned


def kernel_densities(model: BiRealResNet18) -> dict[str, float]:
    return {spec.name: float(conv.keep.mean()) for spec, conv in model.binary_convs()}


def overall_kernel_density(model: BiRealResNet18) -> float:
    kept = sum(float(c.keep.sum()) for c in model.convs)
    return kept / sum(c.keep.numel() for c in model.convs)


def spatial_summary(model: BiRealResNet18, active: dict[str, float]) -> float | None:
    """Active fraction of all positions of the predicted layers."""
    if not active:
        return None
    pos = {s.name: s.positions for s in model.specs}
    return sum(active[n] * pos[n] for n in active) / sum(pos[n] for n in active)


def batches(n: int, batch: int, desc: str, progress: bool) -> Iterable[int]:
    """Start indices of the batches of n items, with a progress bar on stderr when asked."""
    starts = range(0, n, batch)
    if not progress:
        return starts
    tty = sys.stderr.isatty()
    return tqdm(starts, desc=desc, unit="batch", mininterval=1.0 if tty else 60.0, dynamic_ncols=True)


@torch.no_grad()
def evaluate(
    model: BiRealResNet18, x: torch.Tensor, y: torch.Tensor, batch: int = 500, progress: bool = False
) -> dict[str, Any]:
    """Float-model test accuracy (hard masks, float32) and per-layer active fractions."""
    model.eval()
    correct, sums = 0, {n: 0.0 for n in model.predictors}
    for i in batches(len(y), batch, "float model", progress):
        logits, masks = model(x[i : i + batch].float())
        correct += int((logits.argmax(1) == y[i : i + batch]).sum())
        for n, m in masks.items():
            sums[n] += float(m.mean(dim=(1, 2)).sum())
    active = {n: s / len(y) for n, s in sums.items()}
    dense, pruned = work(model, active)
    return {
        "accuracy": correct / len(y),
        "spatial_density_per_layer": active,
        "spatial_density": spatial_summary(model, active),
        "ideal_speedup": dense / pruned,
    }


# --------------------------------------------------------------------------- training


def _budget_loss(model: BiRealResNet18, masks: dict[str, torch.Tensor], target: float, progress: float) -> torch.Tensor:
    """DynConv's compute-budget loss on the predicted layers.

    Network level: (sum_l W_l a_l / sum_l W_l - target)^2, W_l = kept kernels x positions,
    a_l = the layer's active fraction in this batch (straight-through). Layer level: a
    band whose bounds anneal (cosine) from [0, 1] to [target / 2, (1 + target) / 2], so
    no layer collapses to all-off or stays dense while the network meets the budget.
    """
    if not masks:
        return torch.zeros(())
    convs = {s.name: c for s, c in model.binary_convs()}
    specs = {s.name: s for s in model.specs}
    w = {n: float(convs[n].keep.sum()) * specs[n].positions for n in masks}
    total = sum(w.values())
    a = {n: m.mean() for n, m in masks.items()}
    net = (sum(w[n] * a[n] for n in masks) / total - target) ** 2
    c = 0.5 * (1 - math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    lo, hi = c * target / 2, 1 - c * (1 - (1 + target) / 2)
    layer = sum(F.relu(a[n] - hi) ** 2 + F.relu(lo - a[n]) ** 2 for n in masks) / len(masks)
    return net + layer


def _update_masks(model: BiRealResNet18, cfg: TrainConfig, progress: float, rows: int, depth: int) -> None:
    for spec, conv in model.binary_convs():
        kf = final_k(cfg, spec, rows, depth)
        g = max_slots(spec.c_out, rows, depth)
        if kf >= g:
            continue
        k = schedule_k(kf, g, progress)
        conv.keep.copy_(balanced_keep(kernel_importance(conv.weight), k, rows, depth))


def _seeded(seed: int, *keys: int) -> torch.Generator:
    s = seed
    for k in keys:
        s = (s * 1_000_003 + k) % (2**63 - 1)
    return torch.Generator().manual_seed(s)


def _save(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "checkpoint.pt"
    if not path.exists():
        raise RunError(f"{path}: no checkpoint (train first: python -m trainer train --run-dir {run_dir} ...)")
    try:
        # weights_only: tensors and plain types only, so a checkpoint file cannot run code when loaded
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise RunError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None


PREDICTOR_LR_MULT = 10.0  # the gates' scale and bias must move a unit or more within a short run


def _param_groups(model: BiRealResNet18, wd: float) -> list[dict[str, Any]]:
    binary = [c.weight for c in model.convs] + [p.weight for p in model.predictors.values()]
    gates = [t for p in model.predictors.values() for t in (p.log_a, p.b)]
    ids = {id(p) for p in binary + gates}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [
        {"params": binary, "weight_decay": 0.0, "lr_mult": 1.0},
        {"params": gates, "weight_decay": 0.0, "lr_mult": PREDICTOR_LR_MULT},
        {"params": rest, "weight_decay": wd, "lr_mult": 1.0},
    ]


def train(
    cfg: TrainConfig, run_dir: Path, opts: RunOptions | None = None, command: str | None = None
) -> dict[str, Any]:
    """Train (or resume) the run in `run_dir`; returns the final checkpoint state."""
    opts = opts or RunOptions()
    torch.set_num_threads(opts.threads)
    set_train_conv_dtype(torch.bfloat16 if cfg.bf16 else torch.float32)
    # Check the inputs before anything is written, so a typo does not pin a run directory.
    rows, depth, _ = hw_geometry(cfg)
    read_network(cfg)
    ds = load_dataset(cfg.dataset, Path(cfg.data_dir) if cfg.data_dir else None, cfg.train_subset, cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as exc:
            raise RunError(f"{cfg_path}: malformed JSON ({exc})") from None
        diff = [k for k, v in cfg.to_json().items() if old.get(k) != v]
        if diff:
            k = diff[0]
            raise RunError(
                f"{cfg_path}: field '{k}': this run directory holds a run with {k}={old.get(k)!r}, the command asks for {cfg.to_json()[k]!r} (use a new --run-dir)"
            )
    else:
        atomic_write_text(cfg_path, json.dumps(cfg.to_json(), indent=2) + "\n")

    margs = model_args(cfg, ds)
    torch.manual_seed(cfg.seed)
    model = build_model(margs)
    opt = torch.optim.Adam(_param_groups(model, cfg.weight_decay), lr=cfg.lr)
    steps_per_epoch = math.ceil(len(ds.train_y) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    start_step, end_step = round(cfg.prune_start * total), round(cfg.prune_end * total)
    pruning = any(d < 1.0 for d in cfg.kernel_density)

    ckpt_path = run_dir / "checkpoint.pt"
    if ckpt_path.exists():
        st = load_checkpoint(run_dir)
        if st["model_args"].get("network") != margs.get("network"):
            raise RunError(
                f"{cfg.network}: the network description changed since this run started (use a new --run-dir)"
            )
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        if st["done"]:
            print(f"{run_dir}: already finished ({cfg.epochs} epochs); nothing to do", file=sys.stderr)
            return st
        print(
            f"{run_dir}: resuming at epoch {st['epoch'] + 1}, step {st['step_in_epoch']}/{steps_per_epoch}",
            file=sys.stderr,
        )
    else:
        st = {
            "config": cfg.to_json(),
            "model_args": margs,
            "command": command or "",
            "epoch": 0,
            "step_in_epoch": 0,
            "global_step": 0,
            "acc": {"loss": 0.0, "budget": 0.0, "correct": 0, "seen": 0, "active": 0.0, "seconds": 0.0},
            "history": [],
            "done": False,
        }

    def checkpoint() -> None:
        st["model"], st["optimizer"] = model.state_dict(), opt.state_dict()
        _save(ckpt_path, st)

    if cfg.bf16 and native_bf16() is False:
        print(
            "trainer: warning: this CPU has no native bfloat16 (no avx512_bf16 or amx_bf16 flag), so the bf16 "
            "training convs are emulated and run several times slower than float32 (docs/trainer.md); "
            "--no-bf16 trains in float32",
            file=sys.stderr,
        )
    last_ckpt = time.monotonic()
    while st["epoch"] < cfg.epochs:
        ep = st["epoch"]
        order = torch.randperm(len(ds.train_y), generator=_seeded(cfg.seed, 1, ep))
        bar = tqdm(
            range(st["step_in_epoch"], steps_per_epoch),
            initial=st["step_in_epoch"],
            total=steps_per_epoch,
            desc=f"epoch {ep + 1}/{cfg.epochs}",
            disable=not opts.progress,
            mininterval=1.0 if sys.stderr.isatty() else 60.0,
            dynamic_ncols=True,
        )
        t_seg = time.monotonic()
        model.train()
        for i in bar:
            gs = st["global_step"]
            if (
                pruning
                and start_step <= gs <= end_step
                and ((gs - start_step) % cfg.prune_every == 0 or gs == end_step)
            ):
                _update_masks(model, cfg, (gs - start_step) / max(1, end_step - start_step), rows, depth)
            progress = gs / total
            lr = 0.5 * cfg.lr * (1 + math.cos(math.pi * progress))
            for grp in opt.param_groups:
                grp["lr"] = lr * grp["lr_mult"]
            idx = order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            gen = _seeded(cfg.seed, 2, gs)
            xb = augment(ds.train_x[idx], gen, flip=ds.flip).float()
            yb = ds.train_y[idx]
            logits, masks = model(xb, noise_scale=1.0 - progress, generator=gen)
            ce = F.cross_entropy(logits, yb)
            budget = _budget_loss(model, masks, cfg.spatial_budget, progress) if masks else torch.zeros(())
            loss = ce + cfg.budget_weight * budget
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for c in model.convs:
                    c.weight.clamp_(-1.0, 1.0)
                for p in model.predictors.values():
                    p.weight.clamp_(-1.0, 1.0)
            a = st["acc"]
            a["loss"] += float(ce.detach()) * len(yb)
            a["budget"] += float(budget.detach()) * len(yb)
            a["correct"] += int((logits.argmax(1) == yb).sum())
            a["seen"] += len(yb)
            if masks:
                a["active"] += float(sum(m.detach().mean() for m in masks.values()) / len(masks)) * len(yb)
            st["step_in_epoch"], st["global_step"] = i + 1, gs + 1
            if a["seen"]:
                bar.set_postfix(
                    loss=f"{a['loss'] / a['seen']:.3f}", acc=f"{a['correct'] / a['seen']:.3f}", refresh=False
                )
            now = time.monotonic()
            due = opts.ckpt_every and st["global_step"] % opts.ckpt_every == 0
            if (due or now - last_ckpt > 60 * opts.ckpt_minutes) and i + 1 < steps_per_epoch:
                a["seconds"] += now - t_seg
                t_seg = now
                checkpoint()
                last_ckpt = now
            if st["global_step"] - 1 == opts.crash_at_step:
                raise KeyboardInterrupt(f"simulated crash after step {opts.crash_at_step}")
        bar.close()
        a = st["acc"]
        a["seconds"] += time.monotonic() - t_seg
        ev = evaluate(model, ds.test_x, ds.test_y)
        rec = {
            "epoch": ep + 1,
            "train_loss": a["loss"] / a["seen"],
            "budget_loss": a["budget"] / a["seen"],
            "train_accuracy": a["correct"] / a["seen"],
            "train_active": a["active"] / a["seen"] if model.predictors else None,
            "test_accuracy": ev["accuracy"],
            "kernel_density": overall_kernel_density(model),
            "spatial_density": ev["spatial_density"],
            "ideal_speedup": ev["ideal_speedup"],
            "lr_end": 0.5 * cfg.lr * (1 + math.cos(math.pi * st["global_step"] / total)),
            "epoch_seconds": a["seconds"],
            "spatial_density_per_layer": ev["spatial_density_per_layer"],
            "kernel_density_per_layer": kernel_densities(model),
        }
        st["history"].append(rec)
        st["epoch"], st["step_in_epoch"] = ep + 1, 0
        st["acc"] = {"loss": 0.0, "budget": 0.0, "correct": 0, "seen": 0, "active": 0.0, "seconds": 0.0}
        st["done"] = st["epoch"] >= cfg.epochs
        checkpoint()
        last_ckpt = time.monotonic()
        atomic_write_text(run_dir / "log.jsonl", "".join(json.dumps(r) + "\n" for r in st["history"]))
        sd = "-" if rec["spatial_density"] is None else f"{rec['spatial_density']:.3f}"
        print(
            f"epoch {rec['epoch']}/{cfg.epochs}: loss {rec['train_loss']:.4f} train acc {rec['train_accuracy']:.4f} "
            f"test acc {rec['test_accuracy']:.4f} kernel density {rec['kernel_density']:.3f} spatial density {sd} "
            f"ideal speedup {rec['ideal_speedup']:.2f}x ({rec['epoch_seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return st


def command_line(argv: list[str]) -> str:
    """The command as typed, with the run directory (a local path) shown as <run-dir>."""
    out, skip = [], False
    for a in argv:
        if skip:
            out.append("<run-dir>")
            skip = False
        elif a == "--run-dir":
            out.append(a)
            skip = True
        elif a.startswith("--run-dir="):
            out.append("--run-dir=<run-dir>")
        else:
            out.append(a)
    return shlex.join(["python", "-m", "trainer", *out])
