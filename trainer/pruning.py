"""Structured channel-wise kernel pruning, balanced the way the PE array consumes it.

The unit pruned is a whole KxK kernel w[o, c]. Output channels of a pass are spread over
the P_O rows (channel c_lo + s P_O + r is row r, slot s; see archsim.program.pass_geometry).
For every (pass, row, input channel) exactly min(k, n_r) kernels are kept, n_r being the
number of real channels of row r in that pass: the form `archsim.program.layer_k` verifies.
Within each such group the kernels with the largest latent-weight L1 norm are kept.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from archsim.program import pass_geometry


def max_slots(c_out: int, rows: int, acc_depth: int) -> int:
    """g of the widest pass: kernel density moves in steps of 1/g."""
    return max(g for _, _, g in pass_geometry(c_out, rows, acc_depth))


def k_for_density(c_out: int, density: float, rows: int, acc_depth: int) -> int:
    """Kept kernels per (row, input channel) closest to `density` (at least 1)."""
    g = max_slots(c_out, rows, acc_depth)
    return min(g, max(1, round(density * g)))


def balanced_keep(importance: Tensor, k: int, rows: int, acc_depth: int) -> Tensor:
    """Keep mask [C_out, C_in] (float 0/1) keeping the top min(k, n_r) kernels of every group.

    Ties are broken towards the lower slot (stable sort), so the mask is deterministic.
    """
    c_out, c_in = importance.shape
    keep = torch.zeros(c_out, c_in, dtype=importance.dtype)
    for lo, hi, g in pass_geometry(c_out, rows, acc_depth):
        n = hi - lo
        slots = torch.full((g * rows, c_in), -math.inf, dtype=torch.float64)
        slots[:n] = importance[lo:hi].double()
        slots = slots.view(g, rows, c_in)
        order = torch.argsort(slots, dim=0, descending=True, stable=True)[: min(k, g)]
        chosen = torch.zeros(g, rows, c_in, dtype=torch.bool)
        chosen.scatter_(0, order, True)
        chosen &= slots > -math.inf  # phantom slots (no real channel) are never kept
        keep[lo:hi] = chosen.view(g * rows, c_in)[:n].to(keep.dtype)
    return keep


def kernel_importance(weight: Tensor) -> Tensor:
    """L1 norm of each latent KxK kernel: [C_out, C_in]."""
    return weight.detach().abs().sum(dim=(2, 3))


def schedule_k(k_final: int, g: int, progress: float) -> int:
    """Gradual (cubic, Zhu & Gupta 2017) schedule of kept kernels per group.

    progress 0 -> dense (k = g); progress 1 -> k_final. Density follows
    d(p) = d_f + (1 - d_f)(1 - p)^3, rounded up to the next reachable k.
    """
    p = min(max(progress, 0.0), 1.0)
    d_f = k_final / g
    d = d_f + (1.0 - d_f) * (1.0 - p) ** 3
    return max(k_final, min(g, math.ceil(d * g - 1e-9)))
