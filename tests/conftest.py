"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.synth_helpers import make_workload


@pytest.fixture(scope="module")
def wdir(tmp_path_factory) -> Path:
    """A small synthetic workload folder (small_pruned.yaml, small_dense.yaml and their models), one per module."""
    out = tmp_path_factory.mktemp("wl")
    make_workload(out)
    return out
