"""archsim: cycle-accurate simulator of a sparse BNN accelerator (see docs/architecture.md).

Python API (docs/api.md): `archsim.run(workload, ...)` and `archsim.sweep(sweep_file, out, ...)`,
per-layer results and sweep tables as pandas DataFrames. Imported lazily, so that `import archsim`
(and the command line) stays quick.
"""

from typing import Any

from archsim.version import __version__

__all__ = ["RunOutput", "SweepOutput", "__version__", "run", "sample_workload", "sweep"]


def __getattr__(name: str) -> Any:
    if name == "SweepOutput":
        from archsim.sweep import SweepOutput

        return SweepOutput
    if name in ("run", "RunOutput"):
        from archsim import api

        return getattr(api, name)
    if name == "sweep":  # the module archsim/sweep.py, made callable as archsim.api.sweep
        import archsim.sweep

        return archsim.sweep
    if name == "sample_workload":
        from archsim.packaged import sample_workload

        return sample_workload
    raise AttributeError(f"module 'archsim' has no attribute {name!r}")
