"""The documentation's commands run: every fenced block marked `sh runnable` in README.md and docs/*.md
(each line a shell command, run from a copy of the repository), and the Dask snippet of docs/sweeps.md
as the script it claims to be. Stale lines fixed by issue 12 are checked not to come back."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synth_helpers import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```sh runnable\n(.*?)^```", re.S | re.M)


def runnable_blocks() -> list[tuple[str, str]]:
    return [(f"{p.relative_to(ROOT)}#{i}", b) for p in DOCS for i, b in enumerate(BLOCK.findall(p.read_text()))]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of the repository (no build outputs) with `archsim` and `python` meaning this checkout's code."""
    tmp = tmp_path_factory.mktemp("docs")
    repo = tmp / "repo"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "results", "runs", "__pycache__", "*.egg-info")
    shutil.copytree(ROOT, repo, ignore=skip)
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, target in (("archsim", f'"{sys.executable}" -m archsim'), ("python", f'"{sys.executable}"')):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {target} "$@"\n')
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(repo)
    return repo, env


def test_runnable_blocks_exist():
    names = [n for n, _ in runnable_blocks()]
    assert any(n.startswith("README.md") for n in names) and any(n.startswith("docs/usage.md") for n in names)


@pytest.mark.parametrize(("name", "block"), runnable_blocks(), ids=[n for n, _ in runnable_blocks()])
def test_runnable_block(name, block, checkout):
    repo, env = checkout
    p = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, f"{name}:\n{block}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"


@pytest.mark.slow
def test_sweeps_md_dask_snippet_runs_as_a_script(tmp_path):
    """docs/sweeps.md's LocalCluster snippet, saved as a script: it needs the __main__ guard (worker
    processes import the script again); a tiny sweep stands in for pe_array.yaml."""
    pytest.importorskip("distributed")
    text = (ROOT / "docs/sweeps.md").read_text()
    (snippet,) = [b for b in re.findall(r"^```python\n(.*?)^```", text, re.S | re.M) if "LocalCluster" in b]
    assert 'if __name__ == "__main__":' in snippet
    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(
        f"name: tiny\nhardware: {ROOT / 'configs/ultra96v2.yaml'}\n"
        "synthetic: {width: 0.125, input_shape: [3, 8, 8], samples: 1}\n"
        "parameters:\n  hardware.pe_array.rows: [16]\n  hardware.pe_array.cols: [4, 8]\n"
    )
    script = tmp_path / "snippet.py"
    script.write_text(snippet.replace("workloads/sweeps/pe_array.yaml", str(sweep)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert (tmp_path / "results/pe_array/results.csv").read_text().count("\n") == 3


def test_stale_lines_are_gone():
    usage = (ROOT / "docs/usage.md").read_text()
    assert "Until the SimPy timing model is merged" not in usage
    assert "The shipped workloads were made" not in usage
    assert "workloads/models/*.npz" not in (ROOT / "docs/trainer.md").read_text()  # picks up the traces too
    assert "2 samples" not in (ROOT / "bench/functional_speed.py").read_text()  # the workload has 4
    readme = (ROOT / "README.md").read_text()
    for extra in ("[train]", "[rtl]", "[cluster]", "[dev]"):
        assert f"`{extra}`" in readme, extra


def test_trainer_md_table_command_names_only_models():
    """The documented `trainer table` arguments expand to model files that exist, and no trace."""
    text = (ROOT / "docs/trainer.md").read_text()
    m = re.search(r"python -m trainer table (workloads/models/.*?)--out", text.replace("\\\n", " "), re.S)
    assert m
    expanded = subprocess.run(["bash", "-c", f"echo {m.group(1)}"], cwd=ROOT, capture_output=True, text=True).stdout
    files = expanded.split()
    assert len(files) == 10 and all((ROOT / f).is_file() and not f.endswith(".trace.npz") for f in files)
