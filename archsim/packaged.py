"""Files that ship with archsim: hardware configurations, energy tables and sample workloads.

In an installed wheel they live inside the package (archsim/data/, mapped from the repository's
configs/ and workloads/ folders by pyproject.toml); in a clone they are those folders themselves.
Either way they are found from the package, never from the working folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from archsim.errors import ConfigError

SAMPLE_WORKLOAD = "resnet18_half_both"  # the trained half-width ResNet-18 (2.4 MB); see docs/usage.md
DEFAULT_CONFIG = "ultra96v2"


def data_root() -> Path:
    """The folder that holds configs/ and workloads/."""
    pkg = Path(str(resources.files("archsim")))
    inside = pkg / "data"
    if (inside / "configs").is_dir():
        return inside
    return pkg.parent  # a clone (or an editable install): the repository root


def config_path(name: str = DEFAULT_CONFIG) -> Path:
    """A packaged hardware configuration by name (e.g. 'ultra96v2')."""
    return data_root() / "configs" / f"{name}.yaml"


def workloads() -> dict[str, Path]:
    """Packaged workloads by name. A wheel ships SAMPLE_WORKLOAD; a clone has every shipped workload."""
    folder = data_root() / "workloads"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def sample_workload() -> Path:
    """The packaged sample workload: a trained, pruned half-width ResNet-18 against its dense twin."""
    return workloads()[SAMPLE_WORKLOAD]


def resolve_workload(arg: str | Path) -> Path:
    """A workload argument: an existing path, else the name of a packaged workload."""
    path = Path(arg)
    if path.exists() or path.suffix or len(path.parts) != 1:
        return path
    known = workloads()
    if str(arg) in known:
        return known[str(arg)]
    names = ", ".join(known) or "none"
    raise ConfigError(f"{arg}: no such file, nor a packaged workload (packaged: {names})")
