"""Shared pieces of the trainer tests: a small PE array and a tiny training configuration."""

from __future__ import annotations

from pathlib import Path

from trainer.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def small_hw(tmp: Path, rows: int = 4, acc_depth: int = 4, cols: int = 16) -> Path:
    """The Ultra96v2 configuration with a small PE array, so a tiny model gets pruned."""
    text = (ROOT / "configs/ultra96v2.yaml").read_text()
    text = text.replace("rows: 16", f"rows: {rows}").replace("cols: 16", f"cols: {cols}")
    text = text.replace("acc_depth: 8", f"acc_depth: {acc_depth}").replace(
        "act_word_bits: 64", f"act_word_bits: {rows * acc_depth}"
    )
    # the RTL's rule (archsim.config.rtl_limit): axi.data_bits divides rows x value_bits
    text = text.replace("data_bits: 256 ", f"data_bits: {max(32, min(128, rows * 16))} ")
    text = text.replace("hp_ports: 2 ", "hp_ports: 1 ")  # one port of data_bits (a timing model of a small array)
    path = tmp / "small_hw.yaml"
    path.write_text(text)
    return path


def tiny_config(hw: Path, **kw) -> TrainConfig:
    base = {
        "dataset": "digits",
        "epochs": 2,
        "batch_size": 64,
        "lr": 5e-3,
        "width": 0.125,
        "kernel_density": (0.5, 0.5, 0.25, 0.25),
        "prune_start": 0.0,
        "prune_end": 0.5,
        "prune_every": 5,
        "spatial_budget": 0.6,
        "hardware": str(hw),
        "seed": 1,
        # float32: where the CPU lacks native bfloat16 the bf16 convs are emulated and a tiny epoch
        # takes about 4x as long (docs/trainer.md); tests/test_trainer_bf16.py covers the bf16 path
        "bf16": False,
    }
    base.update(kw)
    return TrainConfig(**base)


def tiny_train_argv(run_dir: Path, hw: Path, *extra: str, **kw) -> list[str]:
    """`python -m trainer train` arguments for tiny_config(hw, **kw), so a run started from the
    command line trains exactly what the in-process reference does."""
    c = tiny_config(hw, **kw)
    flags = {
        "--dataset": c.dataset,
        "--epochs": c.epochs,
        "--batch-size": c.batch_size,
        "--lr": c.lr,
        "--width": c.width,
        "--kernel-density": ",".join(map(str, c.kernel_density)),
        "--prune-start": c.prune_start,
        "--prune-end": c.prune_end,
        "--prune-every": c.prune_every,
        "--spatial-budget": "none" if c.spatial_budget is None else c.spatial_budget,
        "--hardware": c.hardware,
        "--seed": c.seed,
    }
    bf16 = () if c.bf16 else ("--no-bf16",)
    return ["train", "--run-dir", str(run_dir), *(x for kv in flags.items() for x in map(str, kv)), *bf16, *extra]
