"""Benchmark wrapper: `python -m pytest -m bench tests/test_timing_bench.py -s` prints the figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_sim.py"


@pytest.mark.bench
def test_bench_sim() -> None:
    spec = importlib.util.spec_from_file_location("bench_sim", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.main(["--runs", "5"])
    assert figures["fast_median_s"] < 5.0  # the budget for one ResNet-18 inference in fast mode
