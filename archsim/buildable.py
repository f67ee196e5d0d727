"""What the RTL generator can build: the one rule that archsim and rtl/ share.

archsim may not import rtl/, so the generator's limits live here and rtl/params.py calls
them: a configuration or model that archsim accepts is one `rtl/gen.py` generates, and one
it refuses is refused by both with the same words. Two levels:

- the configuration: archsim.config.rtl_limit (run by HardwareConfig's validation);
- the programme a model compiles to (`program_problem`, below): layers and weight passes
  the register map holds, input channels the window buffers hold, the 32-bit DDR address.
  archsim checks it when it loads a workload or builds a sweep point, rtl/gen.py when it
  writes a model's DDR image (`RtlParams.check_layout`).

docs/config.md ("Limits") lists every limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from archsim.config import RTL_LIMIT, RTL_MAX_LAYERS, RTL_MAX_PASSES, HardwareConfig
from archsim.errors import ConfigError
from archsim.program import Program

__all__ = [
    "DDR_LIMIT",
    "RTL_LIMIT",
    "RTL_MAX_LAYERS",
    "RTL_MAX_PASSES",
    "check_program",
    "ddr_end",
    "limits_problem",
    "program_problem",
    "window_channels",
    "window_words",
]

DDR_LIMIT = 1 << 32  # the AXI masters drive 32-bit addresses


def window_words(cfg: HardwareConfig, max_cin: int | None = None) -> int:
    """Activation words per position that the window buffers hold (a power of two, at least 2).

    The generator sizes them for `max_cin` input channels (its --max-cin), by default
    buffers.weight_depth // pe_array.acc_depth: a dense pass of that many channels fills half the ring."""
    ba = cfg.buffers.act_word_bits
    c = max_cin if max_cin is not None else cfg.buffers.weight_depth // cfg.pe_array.acc_depth
    need = math.ceil(max(ba, c) / ba)
    return 1 << max(1, (need - 1).bit_length())


def window_channels(cfg: HardwareConfig, max_cin: int | None = None) -> int:
    """Input channels a layer may have on the generated RTL."""
    return window_words(cfg, max_cin) * cfg.buffers.act_word_bits


def ddr_end(program: Program, cfg: HardwareConfig, base: int = 0) -> int:
    """First byte after the DDR images of `program` placed from `base` (as archsim.layout.build_layout
    places them: LOAD map, STORE map, then every blob, each aligned to a burst), without packing them."""
    a, beat = cfg.burst_bytes, cfg.beat_bytes

    def align(addr: int) -> int:
        return -(-addr // a) * a

    addr = align(align(base + program.load_beats * beat) + program.store_beats * beat)
    for L in program.layers:
        for p in L.passes:
            addr = align(addr + p.blob_beats * beat)
    return addr


def limits_problem(
    cfg: HardwareConfig,
    n_layers: int,
    n_passes: int,
    layer_inputs: Iterable[tuple[str, int]],
    end: int,
    max_layers: int = RTL_MAX_LAYERS,
    max_passes: int = RTL_MAX_PASSES,
    max_cin: int | None = None,
) -> str | None:
    """The first limit of the generated RTL that a programme breaks, as one sentence, else None.

    `layer_inputs`: (name, input channels) of every layer; `end`: the end of its DDR images.
    The defaults are the generator's (rtl/gen.py without --max-layers / --max-passes / --max-cin)."""
    if n_layers > max_layers:
        return f"{n_layers} layers exceed the RTL's max_layers={max_layers}"
    if n_passes > max_passes:
        return f"{n_passes} passes exceed the RTL's max_passes={max_passes}"
    cap = window_channels(cfg, max_cin)
    for name, c_in in layer_inputs:
        if c_in > cap:
            return f"layer '{name}' has {c_in} input channels; the window buffers hold {cap} (raise --max-cin)"
    if end > DDR_LIMIT:
        return f"the DDR images end at {end:#x}, beyond a 32-bit address"
    return None


def program_problem(program: Program, cfg: HardwareConfig) -> str | None:
    """`limits_problem` of a compiled programme, for the generator's default limits."""
    return limits_problem(
        cfg,
        len(program.layers),
        sum(len(L.passes) for L in program.layers),
        ((L.name, L.c_in) for L in program.layers),
        ddr_end(program, cfg),
    )


def check_program(program: Program, cfg: HardwareConfig, where: object) -> None:
    """Refuse a programme the generated RTL cannot run: one line naming `where` and the limit."""
    problem = program_problem(program, cfg)
    if problem is not None:
        raise ConfigError(f"{where}: {problem} {RTL_LIMIT}")
