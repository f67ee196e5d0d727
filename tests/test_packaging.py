"""The package as a user installs it: a wheel in a fresh virtual environment, used outside the checkout.

The wheel must carry everything a command needs by default (configurations, energy tables, the
sample workload, Verilog sources, the published figures) and find it from the package; trainer,
rtl and analysis are installed under bnn_archsim, so no generic top-level name can clash.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from archsim import __version__
from archsim.fileio import file_lock
from archsim.packaged import SAMPLE_WORKLOAD, config_path, data_root, resolve_workload, sample_workload
from archsim.verify_rtl import have_verilator
from tests.synth_helpers import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_numpy_floor_admits_only_numpy_2():
    """archsim uses np.bitwise_count (numpy 2.0); numpy 1.26 crashed `archsim run` with a traceback."""
    import numpy as np

    assert hasattr(np, "bitwise_count")
    numpy_dep = [d for d in PYPROJECT["project"]["dependencies"] if d.split(">")[0].strip() == "numpy"]
    assert numpy_dep == ["numpy>=2.0"]


def test_package_data_names_existing_files():
    """Every package-data pattern matches a file (the old entry named an archsim/data folder that did not exist)."""
    tool = PYPROJECT["tool"]["setuptools"]
    dirs = tool["package-dir"]
    for pkg, patterns in tool["package-data"].items():
        folder = next((ROOT / d for p, d in dirs.items() if pkg == p), None)
        mapped = [p for p in dirs if pkg.startswith(p + ".")]
        if folder is None and mapped:  # a subpackage of a mapped package: archsim.data.configs.energy -> configs/energy
            base = max(mapped, key=len)
            folder = ROOT / dirs[base] / pkg[len(base) + 1 :].replace(".", "/")
        elif folder is None:  # a package in its own folder: archsim -> archsim/
            folder = ROOT / pkg.replace(".", "/")
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{pkg}: {pattern} matches nothing in {folder}"


def test_data_found_from_the_package_in_a_clone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not from the working folder
    assert data_root() == ROOT
    assert config_path() == ROOT / "configs/ultra96v2.yaml"
    assert sample_workload() == ROOT / "workloads" / f"{SAMPLE_WORKLOAD}.yaml"
    assert resolve_workload(SAMPLE_WORKLOAD) == sample_workload()


def test_version_option(capsys):
    from archsim.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"archsim {__version__}"


@pytest.mark.parametrize(
    "cmd", [["-m", "trainer", "--help"], ["-m", "analysis", "all", "--help"], ["rtl/gen.py", "-h"]]
)
def test_clone_entry_points_still_work(cmd):
    p = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "usage:" in p.stdout


@contextlib.contextmanager
def _no_new_egg_info() -> Iterator[None]:
    """An in-tree build writes bnn_archsim.egg-info, build/lib and build/bdist.* into the checkout: remove
    the ones that were not there. One in-tree build at a time (pytest -n runs both builds of this file in
    parallel otherwise, and one would delete the egg-info under the other)."""
    with file_lock(ROOT / "build" / "in-tree-build.lock"):
        before = set(_build_leftovers())
        try:
            yield
        finally:
            for path in set(_build_leftovers()) - before:
                shutil.rmtree(path, ignore_errors=True)


def _build_leftovers() -> list[Path]:
    """The in-tree build's outputs that exist now."""
    paths = [ROOT / "bnn_archsim.egg-info", ROOT / "build" / "lib", *(ROOT / "build").glob("bdist.*")]
    return [p for p in paths if p.exists()]


def fresh_venv(venv: Path) -> Path:
    """A venv without pip whose dependencies (numpy, pandas, simpy...) are the test interpreter's, found
    after the venv's own packages: a .pth line adds a path without running that folder's .pth files, so
    an editable install of a checkout there stays off. Nothing is downloaded."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True)
    (Path(site.strip()) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return py


@pytest.mark.slow
def test_editable_install_runs_from_any_folder(tmp_path):
    """The README's first command (pip install -e .) with the package-dir mapping: data found from the package."""
    py = fresh_venv(tmp_path / "venv")
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-build-isolation", "-q"]
    with _no_new_egg_info():
        subprocess.run([*pip, "-e", str(ROOT)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    cmd = [str(tmp_path / "venv/bin/archsim"), "run", SAMPLE_WORKLOAD, "--quiet"]
    p = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "functional check  PASS" in p.stdout, p.stderr
    where = subprocess.run(
        [py, "-c", "import bnn_archsim.rtl.gen as g; print(g.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip() == str(ROOT / "rtl" / "gen.py"), where.stderr


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_outside_the_checkout(tmp_path):
    """Build the wheel, install it (no dependency download: the test interpreter's packages are reused),
    and from a folder outside the checkout run the main job on the packaged sample, synth, the RTL
    generator, the analysis, the model summary, verify-rtl (when Verilator is installed) and the example script."""
    from importlib.metadata import version

    assert int(version("setuptools").split(".")[0]) >= 77, "the [dev] extra brings the setuptools that builds it"
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)]
    with _no_new_egg_info():
        subprocess.run([*build, str(ROOT)], check=True, capture_output=True)
    (wheel,) = dist.glob("bnn_archsim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"archsim", "bnn_archsim"}  # no top-level trainer, rtl or analysis
    for needed in (
        "archsim/data/configs/ultra96v2.yaml",
        "archsim/data/configs/energy/ultra96v2.yaml",
        f"archsim/data/workloads/{SAMPLE_WORKLOAD}.yaml",
        "bnn_archsim/rtl/verilog/bnn_core.v",
        "bnn_archsim/rtl/vivado/build.tcl",
        "bnn_archsim/analysis/published.yaml",
        "bnn_archsim/data/resources.json",
        "bnn_archsim/rtlsim/harness.py",  # verify-rtl's testbench
        "bnn_archsim/rtlsim/tb_accel.py",
    ):
        assert needed in names, needed

    venv = tmp_path / "venv"
    py = fresh_venv(venv)
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"

    def sh(*cmd: str | Path) -> subprocess.CompletedProcess:
        p = subprocess.run([str(c) for c in cmd], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"{cmd}: {p.stdout[-2000:]}\n{p.stderr[-2000:]}"
        return p

    where = sh(py, "-c", "import archsim, bnn_archsim.rtl.gen as g; print(archsim.__file__); print(g.__file__)")
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout
    assert (
        sh(
            py, "-c", "import importlib.util as u; print([u.find_spec(n) for n in ('rtl', 'trainer', 'analysis')])"
        ).stdout.strip()
        == "[None, None, None]"
    )

    assert sh(venv / "bin/archsim", "--version").stdout.strip() == f"archsim {__version__}"
    run = sh(venv / "bin/archsim", "run", SAMPLE_WORKLOAD, "--out", "r", "--quiet")
    assert "functional check  PASS" in run.stdout
    summary = json.loads((work / "r/summary.json").read_text())
    assert summary["provenance"]["archsim_version"] == __version__
    assert summary["provenance"]["files"]["model"]["path"].startswith(str(venv))

    sh(venv / "bin/archsim", "synth", "--out", "s", "--width", "0.25", "--input-shape", "3,12,12", "--samples", "1")
    assert "functional check  PASS" in sh(venv / "bin/archsim", "run", "s/resnet18_pruned.yaml", "--quiet").stdout

    sh(venv / "bin/archsim-rtl", "--out", "rtl_out")
    assert (work / "rtl_out/verilog/bnn_accel.v").exists() and (work / "rtl_out/vivado/build.tcl").exists()
    sh(py, "-m", "bnn_archsim.rtl.gen", "--dense", "--out", "rtl_dense")
    assert ".SPARSE(0)" in (work / "rtl_dense/verilog/bnn_accel.v").read_text()

    sh(venv / "bin/archsim-analysis", "all", "--results", "r", "--out", "figs")
    assert (work / "figs/comparison.md").exists() and list((work / "figs").glob("layers_*.pdf"))

    assert "compression" in sh(venv / "bin/archsim", "summary", "s/models/resnet18_pruned.npz").stdout
    # verify-rtl: the wheel ships the Verilog and the cocotb testbench; without Verilator, one clear line
    no_cocotb = "import sys; sys.modules['cocotb'] = None; from archsim.cli import main; sys.exit(main())"
    v = subprocess.run([py, "-c", no_cocotb, "verify-rtl", SAMPLE_WORKLOAD], cwd=work, env=env, capture_output=True)
    assert v.returncode == 2 and v.stderr.decode().count("\n") == 1, v.stderr
    assert "Verilator and cocotb are not installed" in v.stderr.decode()
    if have_verilator():  # the [rtl] extra: the packaged sample through the generated RTL (about 1.5 min)
        v = subprocess.run(
            [venv / "bin/archsim", "verify-rtl", SAMPLE_WORKLOAD, "--samples", "1"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert v.returncode == 0 and "verify-rtl        PASS" in v.stdout, v.stdout[-2000:] + v.stderr[-2000:]
        assert "-sparse-sample0" in v.stdout and (work / "build/sim_cache").is_dir()  # cache: not in site-packages
    sh(py, ROOT / "examples/quickstart.py", work / "example")
    assert not (ROOT / "build" / "rtl" / "rtl_out").exists()


def test_trainer_without_torch_is_one_clear_line():
    code = "import sys; sys.modules['torch'] = None; from trainer.__main__ import main; sys.exit(main())"
    p = subprocess.run([sys.executable, "-c", code, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert (
        p.returncode == 2 and p.stderr == "trainer: error: torch is not installed: pip install 'bnn-archsim[train]'\n"
    )
