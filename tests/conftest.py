"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.synth_helpers import make_workload

SHIPPED_WORKLOAD = str(Path(__file__).resolve().parents[1] / "workloads" / "resnet18_pruned.yaml")


@pytest.fixture(scope="module")
def wdir(tmp_path_factory) -> Path:
    """A small synthetic workload folder (small_pruned.yaml, small_dense.yaml and their models), one per module."""
    out = tmp_path_factory.mktemp("wl")
    make_workload(out)
    return out


@pytest.fixture(scope="session")
def shipped_run():
    """The shipped ResNet-18 workload and its latency-mode run (fast mode, its trace samples)."""
    from archsim.runner import run_workload
    from archsim.workload import load_workload

    wl = load_workload(SHIPPED_WORKLOAD)
    return wl, run_workload(wl, progress=False)
