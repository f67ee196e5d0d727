"""The timing model's single entry point: `simulate(program, cfg, active, mode)`.

PLACEHOLDER until the SimPy timing model (fast and cycle modes, one module per
hardware block) is merged: both modes return the closed-form schedule of
archsim.contract, the executable form of docs/timing.md that the SimPy model must
reproduce exactly. The integrator replaces this file with the SimPy implementation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from archsim.config import HardwareConfig
from archsim.contract import Schedule, schedule
from archsim.program import Program

SIM_MODES = ("fast", "cycle")


def simulate(
    program: Program, cfg: HardwareConfig, active: Sequence[np.ndarray | None], mode: str = "fast"
) -> Schedule:
    """Timing of one inference; `active[i]` = raster indices of layer i's active positions
    (used where the layer's mask unit is enabled, else ignored)."""
    if mode not in SIM_MODES:
        raise ValueError(f"mode must be one of {SIM_MODES}, got {mode!r}")
    return schedule(program, cfg, list(active))
