"""Structured kernel masks are balanced exactly as archsim.program verifies them."""

import itertools

import pytest
import torch

from archsim.config import HardwareConfig
from archsim.errors import ConfigError
from archsim.format import BinaryConv
from archsim.program import kept_counts, layer_k, pass_geometry, real_rows
from trainer.pruning import balanced_keep, k_for_density, max_slots, schedule_k


def _cfg(rows: int, depth: int) -> HardwareConfig:
    word = rows * depth if (rows * depth) % rows == 0 else rows
    return HardwareConfig.model_validate(
        {
            "name": "t",
            "clock_mhz": 100,
            "pe_array": {"rows": rows, "cols": 4, "acc_depth": depth, "acc_bits": 16},
            "buffers": {
                "act_word_bits": word,
                "act_bank_depth": 64,
                "res_depth": 64,
                "weight_depth": 64,
                "list_depth": 64,
            },
            "epilogue": {"value_bits": 16, "mult_bits": 16, "bias_bits": 32},
            "axi": {
                "data_bits": max(32, min(128, rows * 16)),  # the RTL's rule: it divides rows x value_bits
                "max_burst_beats": 16,
                "read_latency": 1,
                "write_latency": 1,
                "max_outstanding_reads": 1,
                "max_outstanding_writes": 1,
                "read_beat_cycles": 1,
            },
            "host": {"macs_per_second": 1e9, "overhead_us": 0},
        }
    )


def _layer(keep: torch.Tensor) -> BinaryConv:
    import numpy as np

    c_out, c_in = keep.shape
    return BinaryConv(
        name="L",
        role="main",
        kernel=3,
        stride=1,
        c_in=c_in,
        c_out=c_out,
        h_in=4,
        w_in=4,
        weight=np.ones((c_out, c_in, 3, 3), bool),
        keep=keep.bool().numpy(),
        mult=np.ones(c_out, np.int32),
        bias=np.zeros(c_out, np.int64),
        shift=0,
        residual=True,
    )


@pytest.mark.parametrize(
    ("rows", "depth", "c_out", "c_in"),
    [(16, 8, 64, 64), (16, 8, 128, 32), (16, 8, 300, 7), (4, 4, 13, 5), (8, 2, 37, 3), (2, 3, 17, 4), (16, 8, 10, 6)],
)
@pytest.mark.parametrize("density", [0.125, 0.25, 0.5, 0.75])
def test_balanced_keep_passes_archsim_layer_k(rows, depth, c_out, c_in, density):
    imp = torch.rand(c_out, c_in, generator=torch.Generator().manual_seed(c_out * 31 + c_in))
    k = k_for_density(c_out, density, rows, depth)
    keep = balanced_keep(imp, k, rows, depth)
    assert layer_k(_layer(keep), _cfg(rows, depth), "test") == k
    # Every (pass, row, input channel) keeps exactly min(k, real channels of that row).
    for (lo, hi, g), cnt in zip(
        pass_geometry(c_out, rows, depth), kept_counts(keep.bool().numpy(), rows, depth), strict=True
    ):
        want = torch.minimum(torch.tensor(k), torch.from_numpy(real_rows(hi - lo, rows, g)))
        assert (torch.from_numpy(cnt) == want[:, None]).all()


def test_balanced_keep_keeps_the_largest_kernels():
    rows, depth = 2, 2
    imp = torch.tensor([[1.0, 9.0], [5.0, 1.0], [3.0, 2.0], [4.0, 8.0]])  # rows: channels {0, 2} and {1, 3}
    keep = balanced_keep(imp, 1, rows, depth)
    assert keep.tolist() == [[0, 1], [1, 0], [1, 0], [0, 1]]


def test_unbalanced_mask_is_rejected_by_archsim():
    keep = balanced_keep(torch.rand(32, 4), 2, 16, 8)
    keep[0, 0] = 1 - keep[0, 0]
    with pytest.raises(ConfigError, match="not balanced"):
        layer_k(_layer(keep), _cfg(16, 8), "test")


def test_density_steps_and_schedule():
    assert max_slots(64, 16, 8) == 4 and max_slots(512, 16, 8) == 8 and max_slots(10, 16, 8) == 1
    assert k_for_density(64, 0.5, 16, 8) == 2
    assert k_for_density(512, 0.125, 16, 8) == 1
    assert k_for_density(10, 0.1, 16, 8) == 1  # never below one kernel per group
    ks = [schedule_k(2, 8, p / 20) for p in range(21)]
    assert ks[0] == 8 and ks[-1] == 2
    assert all(a >= b for a, b in itertools.pairwise(ks))
