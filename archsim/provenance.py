"""Provenance recorded in summary.json: enough to trace a result back to its inputs and code.

Like FINN and Timeloop, which copy the whole specification into their outputs, a run records the
project version, the command line, the whole hardware configuration (after any --set override) and a
SHA-256 of every input file, so a summary.json can be checked against the files it came from.
"""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path
from typing import Any

import numpy as np

from archsim.version import __version__
from archsim.workload import Workload


def file_sha256(path: Path | None) -> str | None:
    """SHA-256 of a file's bytes; None for no file (e.g. a sweep's in-memory synthetic model)."""
    if path is None or not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def provenance(wl: Workload, command: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    files = {
        "workload": wl.path,
        "hardware": wl.config_path,
        "model": wl.model_path,
        "trace": wl.trace_path,
        "baseline": wl.baseline_path,
        "baseline_trace": wl.baseline_trace_path,
        "energy": wl.energy_path,
    }
    return {
        "archsim_version": __version__,
        "command": command,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "overrides": dict(overrides or {}),
        "hardware_config": wl.config.model_dump(mode="json"),
        # the content checksum stored in the model file, which its trace names (docs/formats.md)
        "model_checksum": wl.trace.model_checksum,
        "files": {
            role: {"path": str(p), "sha256": file_sha256(p)} if p is not None else None for role, p in files.items()
        },
    }
