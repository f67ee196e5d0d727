"""Hardware configurations for tests: the Ultra96v2 file and small variants of it."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from archsim.config import HardwareConfig, apply_overrides, load_config

ROOT = Path(__file__).resolve().parents[2]
ULTRA96 = ROOT / "configs" / "ultra96v2.yaml"


def ultra96() -> HardwareConfig:
    return load_config(ULTRA96)


def tiny_dict(**over: dict) -> dict:
    """A 4x4 PE array with 2-slot accumulators and 8-channel activation words."""
    d = yaml.safe_load(ULTRA96.read_text())
    d = copy.deepcopy(d)
    d["name"] = "tiny"
    d["pe_array"].update(rows=4, cols=4, acc_depth=2, acc_bits=12, split_tiles=False)  # T3: the "split_" cases
    # input_buffer, pooled_store and early_scan off: the cases test the LOAD-then-layer rule, the map STORE
    # and the scan with its layer unless they turn them on (the "inbuf_", "pooled_" and "early_" cases)
    d["buffers"].update(
        act_word_bits=8,
        act_bank_depth=64,
        res_depth=512,
        weight_depth=256,
        list_depth=128,
        input_buffer=False,
        pooled_store=False,
        early_scan=False,
    )
    d["stem_unit"]["enabled"] = False  # the host stem unless a case turns the unit on (STEM)
    d["axi"].update(
        data_bits=32,
        max_burst_beats=4,
        read_latency=5,
        write_latency=3,
        max_outstanding_reads=2,
        max_outstanding_writes=2,
        read_beat_cycles=1,
        hp_ports=1,
    )
    for sect, vals in over.items():
        d[sect].update(vals)
    return d


def tiny(**over: dict) -> HardwareConfig:
    return HardwareConfig.model_validate(tiny_dict(**over))


def write_config(cfg: HardwareConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
    return path


# The stem unit (docs/timing.md 3.1) on the tiny array: a 64-bit bus gives 4 x0 values a beat, so 12 stem
# channels are Q = 3 beats a position (the unit's least), 8 x 8 images at most.
STEM = {"axi": {"data_bits": 64}, "stem_unit": {"enabled": True, "channels": 12, "max_height": 8, "max_width": 8}}


def _with(cfg: HardwareConfig, field: str, value: object) -> HardwareConfig:
    """`cfg` with one dotted field set, as `--set` does it (archsim.config.apply_overrides)."""
    return HardwareConfig.model_validate(apply_overrides(cfg.model_dump(), {field: value}, cfg.name))


def with_stem(cfg: HardwareConfig, enabled: bool = True) -> HardwareConfig:
    """`cfg` with its stem unit switched on (or off), its sizes as configured."""
    return _with(cfg, "stem_unit.enabled", enabled)


def with_split(cfg: HardwareConfig, enabled: bool = True) -> HardwareConfig:
    """`cfg` with split tiles (docs/timing.md 4.2, T3) switched on (or off)."""
    return _with(cfg, "pe_array.split_tiles", enabled)
