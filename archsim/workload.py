"""Workload files (docs/formats.md section 1): what `archsim run` simulates.

A workload names a hardware configuration, a pruned model with its trace, and the
dense baseline model (optionally with its own trace). Loading validates everything
once: the YAML against a strict schema, every referenced file, that each trace
belongs to its model, that the baseline has the model's shape, and that both
models fit the hardware (their programmes compile). Paths are relative to the
workload file. Every problem is an ArchsimError naming the workload file and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from archsim.buildable import check_program
from archsim.config import NAME_PATTERN, HardwareConfig, apply_overrides, load_config
from archsim.energy import EnergyTable, check_table_for, default_table_path, load_energy_table
from archsim.errors import ArchsimError, ConfigError
from archsim.format import BnnModel, Trace, check_trace_matches, load_model, load_trace, model_checksum
from archsim.program import Program, compile_program
from archsim.yamlio import PathText, read_yaml, validate

_Path = Annotated[PathText, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BaselineSpec(_Strict):
    model: _Path
    trace: _Path | None = None
    # PE columns of the dense build that costs the sparse build's LUTs (docs/resources.md,
    # `equal_area`): the run also times the dense model on that array.
    equal_area_cols: int | None = Field(default=None, ge=1, le=256, strict=True)


class WorkloadSpec(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]  # names result files and figures: an identifier
    description: Annotated[str, Field(max_length=2000)] = ""
    hardware: _Path
    model: _Path
    trace: _Path
    samples: int | tuple[int, ...] | None = None
    baseline: BaselineSpec
    energy: _Path | None = None  # energy table; default: energy/<hardware stem>.yaml beside the hardware config

    @field_validator("samples", mode="before")
    @classmethod
    def _samples(cls, v: object) -> object:
        def index(x: object) -> bool:
            return isinstance(x, int) and not isinstance(x, bool) and x >= 0

        if v is None or (index(v) and v >= 1) or (isinstance(v, list) and v and all(index(x) for x in v)):
            return tuple(v) if isinstance(v, list) else v
        raise PydanticCustomError(
            "samples",
            # validate() appends ", got <input>"
            "must be a count N >= 1 (the first N samples) or a non-empty list of indices >= 0",
        )


@dataclass(frozen=True, eq=False)
class Workload:
    path: Path
    name: str
    description: str
    config_path: Path
    config: HardwareConfig
    model_path: Path
    model: BnnModel
    trace_path: Path
    trace: Trace
    samples: tuple[int, ...]  # trace indices selected by the workload
    baseline_path: Path
    baseline: BnnModel
    baseline_trace_path: Path | None
    baseline_trace: Trace | None
    program: Program  # the pruned model, sparse mode
    baseline_program: Program  # the dense model, dense mode (index decoder and mask unit bypassed)
    # the dense model on the equal-area dense build (more PE columns), if the workload names one
    equal_area: tuple[HardwareConfig, Program] | None = None
    energy_path: Path | None = None
    energy: EnergyTable | None = None  # None: no table named and none beside the hardware config

    @property
    def synthetic(self) -> bool:
        """True if any model or trace of the workload is synthetic (not trained)."""
        traces = [t for t in (self.trace, self.baseline_trace) if t is not None]
        return self.model.synthetic or self.baseline.synthetic or any(t.meta.get("synthetic") for t in traces)


def _wrap(wl: Path, fld: str, exc: ArchsimError) -> ConfigError:
    return ConfigError(f"{wl}: field '{fld}': {exc}")


def _same_architecture(model: BnnModel, base: BnnModel) -> str | None:
    """Why the baseline cannot serve as the dense twin of `model`, or None."""
    if base.input_shape != model.input_shape:
        return f"input shape {base.input_shape} differs from the model's {model.input_shape}"
    if len(base.layers) != len(model.layers):
        return f"{len(base.layers)} layers, the model has {len(model.layers)}"
    for i, (a, b) in enumerate(zip(model.layers, base.layers, strict=True)):
        sa = (a.role, a.kernel, a.stride, a.c_in, a.c_out, a.h_in, a.w_in)
        sb = (b.role, b.kernel, b.stride, b.c_in, b.c_out, b.h_in, b.w_in)
        if sa != sb:
            return f"layer {i} ({b.name}) is (role, kernel, stride, c_in, c_out, h, w) = {sb}, the model's is {sa}"
    return None


def load_workload(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Workload:
    """Read, validate and compile a workload; raises ArchsimError naming the file and field.
    `overrides` (dotted config field -> value, from --set) change its hardware configuration."""
    wl = Path(path)
    spec = validate(WorkloadSpec, read_yaml(wl), wl)
    base_dir = wl.parent

    def resolve(p: str) -> Path:
        return base_dir / p

    cfg_path = resolve(spec.hardware)
    try:
        cfg = load_config(cfg_path, overrides)
    except ArchsimError as exc:
        raise _wrap(wl, "hardware", exc) from None

    def model_and_sum(p: Path, fld: str) -> tuple[BnnModel, str]:
        try:
            return load_model(p), model_checksum(p)
        except ArchsimError as exc:
            raise _wrap(wl, fld, exc) from None

    def trace_for(p: Path, fld: str, model: BnnModel, msum: str) -> Trace:
        try:
            tr = load_trace(p)
            check_trace_matches(tr, model, msum, p)
        except ArchsimError as exc:
            raise _wrap(wl, fld, exc) from None
        return tr

    model_path, trace_path = resolve(spec.model), resolve(spec.trace)
    model, msum = model_and_sum(model_path, "model")
    trace = trace_for(trace_path, "trace", model, msum)

    n = trace.n_samples
    if spec.samples is None:
        samples: tuple[int, ...] = tuple(range(n))
    elif isinstance(spec.samples, int):
        if spec.samples > n:
            raise ConfigError(f"{wl}: field 'samples': {spec.samples} samples requested, the trace holds {n}")
        samples = tuple(range(spec.samples))
    else:
        bad = [s for s in spec.samples if s >= n]
        if bad:
            raise ConfigError(f"{wl}: field 'samples': index {bad[0]} out of range, the trace holds {n} samples")
        if len(set(spec.samples)) != len(spec.samples):
            raise ConfigError(f"{wl}: field 'samples': indices repeat")
        samples = tuple(spec.samples)
    if not samples:
        raise ConfigError(f"{wl}: field 'trace': the trace holds no sample")

    base_path = resolve(spec.baseline.model)
    base, bsum = model_and_sum(base_path, "baseline.model")
    why = _same_architecture(model, base)
    if why:
        raise ConfigError(f"{wl}: field 'baseline.model': {base_path}: not the dense twin of the model: {why}")
    pruned = [L.name for L in base.layers if not L.keep.all()]
    if pruned:
        raise ConfigError(
            f"{wl}: field 'baseline.model': {base_path}: the dense baseline must keep every kernel, "
            f"layer '{pruned[0]}' is pruned"
        )
    base_trace_path = base_trace = None
    if spec.baseline.trace is not None:
        base_trace_path = resolve(spec.baseline.trace)
        base_trace = trace_for(base_trace_path, "baseline.trace", base, bsum)
        if max(samples) >= base_trace.n_samples:
            raise ConfigError(
                f"{wl}: field 'baseline.trace': holds {base_trace.n_samples} samples, "
                f"the workload selects sample {max(samples)}"
            )

    try:
        program = compile_program(model, cfg, "sparse", where=f"{cfg_path} (model {model_path.name})")
        base_program = compile_program(base, cfg, "dense", where=f"{cfg_path} (baseline {base_path.name})")
        check_program(program, cfg, f"{cfg_path} (model {model_path.name})")  # what rtl/gen.py can build
        check_program(base_program, cfg, f"{cfg_path} (baseline {base_path.name})")
    except ArchsimError as exc:
        raise _wrap(wl, "hardware", exc) from None
    if program.stem_unit != base_program.stem_unit:  # docs/timing.md 3.1, ST6: both sides' stems run in one place
        raise ConfigError(
            f"{wl}: field 'baseline.model': {base_path}: the stem unit computes the "
            f"{'model' if program.stem_unit else 'baseline'}'s stem but not the "
            f"{'baseline' if program.stem_unit else 'model'}'s "
            f"({program.stem_bypassed or base_program.stem_bypassed}): the two would not run on the same hardware"
        )

    equal_area = None
    if spec.baseline.equal_area_cols is not None:
        cols = {"pe_array.cols": spec.baseline.equal_area_cols}
        try:
            iso_cfg = validate(HardwareConfig, apply_overrides(cfg.model_dump(), cols, str(cfg_path)), cfg_path)
            iso_prog = compile_program(
                base, iso_cfg, "dense", where=f"{cfg_path} with pe_array.cols={cols['pe_array.cols']}"
            )
            check_program(iso_prog, iso_cfg, f"{cfg_path} with pe_array.cols={cols['pe_array.cols']}")
        except ArchsimError as exc:
            raise _wrap(wl, "baseline.equal_area_cols", exc) from None
        equal_area = (iso_cfg, iso_prog)

    energy_path, energy = find_energy_table(wl, spec.energy, cfg_path, cfg)
    return Workload(
        path=wl,
        name=spec.name,
        description=spec.description,
        config_path=cfg_path,
        config=cfg,
        model_path=model_path,
        model=model,
        trace_path=trace_path,
        trace=trace,
        samples=samples,
        baseline_path=base_path,
        baseline=base,
        baseline_trace_path=base_trace_path,
        baseline_trace=base_trace,
        program=program,
        baseline_program=base_program,
        equal_area=equal_area,
        energy_path=energy_path,
        energy=energy,
    )


def find_energy_table(
    where: Path, named: str | None, cfg_path: Path, cfg: HardwareConfig, fld: str = "energy"
) -> tuple[Path | None, EnergyTable | None]:
    """The energy table `named` (relative to `where`'s folder), else the default beside the
    hardware config, else none. A named table must exist; errors name `where` and `fld`."""
    path = where.parent / named if named is not None else default_table_path(cfg_path)
    if named is None and not path.exists():
        return None, None
    try:
        table = load_energy_table(path)
        check_table_for(table, cfg, str(path))
    except ArchsimError as exc:
        raise _wrap(where, fld, exc) from None
    return path, table
