"""Small synthetic workloads for tests (a few hundred kB, generated in well under a second)."""

from __future__ import annotations

from pathlib import Path

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
