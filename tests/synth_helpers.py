"""Small synthetic workloads for tests (a few hundred kB, generated in well under a second)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archsim.config import load_config
from archsim.synthetic import SynthSpec, write_synthetic

ROOT = Path(__file__).resolve().parents[1]
ULTRA96 = ROOT / "configs/ultra96v2.yaml"

SMALL = SynthSpec(name="small", width=0.25, input_shape=(3, 12, 12), samples=3, seed=11)


def small_config(tmp: Path, rows: int = 4, cols: int = 4, depth: int = 4, word: int = 16, **edits: str) -> Path:
    """A PE array small enough that a width-0.125 network still spans several passes."""
    text = ULTRA96.read_text()
    text = text.replace("rows: 16 ", f"rows: {rows} ").replace("cols: 16 ", f"cols: {cols} ")
    text = text.replace("acc_depth: 8 ", f"acc_depth: {depth} ").replace("act_word_bits: 64", f"act_word_bits: {word}")
    if rows * 16 < 256:  # the RTL's rule (archsim.config.rtl_limit): axi.data_bits divides rows x value_bits
        text = text.replace("data_bits: 256 ", f"data_bits: {max(32, rows * 16)} ").replace(
            "hp_ports: 2 ", "hp_ports: 1 "
        )
    for old, new in edits.items():
        text = text.replace(old, new)
    path = tmp / "small_hw.yaml"
    path.write_text(text)
    return path


def make_workload(out: Path, spec: SynthSpec = SMALL, config: Path = ULTRA96) -> list[Path]:
    return write_synthetic(spec, load_config(config), config, out)


def make_workload_with_set(out: Path, images: int, seed: int) -> Path:
    """A SMALL synthetic workload in `out` and `out/set.npz`: `images` random 3 x 12 x 12 images, labels 0..9."""
    make_workload(out)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (images, 3, 12, 12), dtype=np.uint8)
    np.savez(out / "set.npz", images=x, labels=rng.integers(0, 10, images))
    return out
