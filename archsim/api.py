"""Python API: `archsim.run(...)` and `archsim.sweep(...)`, results as pandas DataFrames (docs/api.md).

The same code paths as `archsim run` and `archsim sweep`: inputs are validated the same way and
bad input raises archsim.errors.ArchsimError (its message names the file and field).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archsim.config import parse_overrides
from archsim.errors import ConfigError
from archsim.packaged import resolve_workload

if TYPE_CHECKING:
    import pandas as pd

    from archsim.runner import RunResult
    from archsim.sweep import SweepOutput

OverridesArg = Mapping[str, Any] | Iterable[str] | None


@dataclass
class RunOutput:
    """What `archsim.run` returns: the summary.json content, the per-layer table and the raw result."""

    summary: dict[str, Any]
    layers: pd.DataFrame  # one row per layer: layers.csv's columns
    result: RunResult
    files: list[Path] = field(default_factory=list)  # written with out=

    @property
    def passed(self) -> bool:
        """The functional check: every layer of every sample bit-exact against the trace."""
        return self.result.functional_pass

    @property
    def speedup(self) -> float:
        return self.result.speedup

    @property
    def ideal_speedup(self) -> float:
        return self.result.ideal_speedup

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"RunOutput(workload={s['workload']!r}, config={s['config']!r}, samples={len(s['samples'])}, "
            f"speedup={self.speedup:.2f}x, ideal={self.ideal_speedup:.2f}x, functional_check={s['functional_check']!r})"
        )


def _call(name: str, first: Any, **kwargs: Any) -> str:
    """The call as provenance records it (in place of a command line)."""
    args = [repr(str(first))] + [f"{k}={v!r}" for k, v in kwargs.items() if v is not None]
    return f"archsim.{name}({', '.join(args)})"


def run(
    workload: str | Path,
    *,
    samples: int | None = None,
    mode: str = "fast",
    overrides: OverridesArg = None,
    out: str | Path | None = None,
    progress: bool = False,
    stream: int | str | None = None,
) -> RunOutput:
    """Check and time a workload, as `archsim run` does.

    workload: a workload YAML file, or the name of a packaged workload (e.g. 'resnet18_half_both').
    samples: use only the first N of the workload's samples. mode: 'fast' or 'cycle' (same cycles).
    overrides: hardware config fields to change, {'pe_array.cols': 20} or ['pe_array.cols=20'] (as --set).
    out: also write summary.json and layers.csv there.
    stream: also run throughput mode on the first N >= 2 samples, or 'all' (as --stream N): summary['stream'].
    """
    import pandas as pd

    from archsim.results import layer_rows, summary, write_results
    from archsim.runner import run_workload
    from archsim.sim import SIM_MODES
    from archsim.stream import check_stream, run_stream
    from archsim.workload import load_workload

    if mode not in SIM_MODES:
        raise ConfigError(f"mode: expected one of {', '.join(SIM_MODES)}, got {mode!r}")
    if samples is not None and (not isinstance(samples, int) or isinstance(samples, bool) or samples < 1):
        raise ConfigError(f"samples: expected an integer >= 1, got {samples!r}")
    ov = parse_overrides(overrides)
    wl = load_workload(resolve_workload(workload), ov)
    chosen = list(wl.samples[:samples] if samples else wl.samples)
    if stream is not None:
        check_stream(stream, len(chosen), "stream")
    res = run_workload(wl, chosen, mode, progress=progress)
    if stream is not None:
        res.stream = run_stream(res, stream)
    command = _call("run", workload, samples=samples, mode=mode, overrides=ov or None, stream=stream)
    files = write_results(out, res, command, ov) if out is not None else []
    return RunOutput(
        summary=summary(res, command, ov), layers=pd.DataFrame(layer_rows(res)), result=res, files=list(files)
    )


def sweep(
    sweep_file: str | Path,
    out: str | Path,
    *,
    jobs: int | None = 1,
    scheduler: str | None = None,
    overrides: OverridesArg = None,
    progress: bool = False,
) -> SweepOutput:
    """Run a design-space sweep, as `archsim sweep` does (resumable: finished points in `out` are kept).

    jobs: local worker processes (default 1; None: one per CPU core). scheduler: a Dask scheduler
    address instead. overrides: as for run(), applied to every point's base hardware configuration.
    """
    from archsim.sweep import sweep_frame

    return sweep_frame(sweep_file, out, jobs=jobs, scheduler=scheduler, overrides=overrides, progress=progress)
