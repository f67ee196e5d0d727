"""Generate the BNN accelerator's Verilog for a hardware configuration.

    python rtl/gen.py [--config configs/ultra96v2.yaml] [--model M.npz] [--dense] [--out DIR]
                      [--resources]

writes, into DIR (default build/rtl/<config name>[-dense]):
  verilog/       the hand-written modules (rtl/verilog/*.v), the register-map header
                 bnn_regmap.vh and the top level bnn_accel.v with every parameter set
                 bnn_accel_axi.v: the top level with Vivado's AXI interface names (rtl/board.py)
  vivado/        the Ultra96v2 Vivado build: build.tcl, config.tcl (this configuration's part,
                 clock, HP-port width, register window, sources), bnn_accel.xdc; see
                 rtl/vivado/README.md (skipped, with a note, when the configuration names no part)
  params.json    the RTL parameters and the register map
  report.md      parameters, memories and the resource estimate (with --resources)
  mem/           with --model: the DDR image of the model's blobs (ddr.bin, from
                 address `blob_base`), the register writes that programme it (regs.json)
                 and the DDR layout (layout.json)
--resources also runs Yosys on the sparse and the dense design and writes docs/resources.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__" and not __package__:  # run as a script (python rtl/gen.py) from a clone
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    __package__ = "rtl"  # so the relative imports below resolve

from archsim.config import HardwareConfig, load_config  # noqa: E402
from archsim.errors import ArchsimError, ConfigError  # noqa: E402
from archsim.fileio import atomic_write_bytes, atomic_write_text, staged_output, unwritable_target  # noqa: E402
from archsim.packaged import config_path  # noqa: E402
from archsim.yamlio import one_line, path_problem, short  # noqa: E402

from . import regmap  # noqa: E402
from .emit import SOURCES, TOP, VERILOG_DIR, build_root, in_clone, top_wrapper, write_verilog  # noqa: E402
from .params import RtlParams  # noqa: E402

__all__ = ["SOURCES", "TOP", "VERILOG_DIR", "build_root", "in_clone", "main", "top_wrapper", "write_verilog"]


def params_json(prm: RtlParams) -> dict:
    return {
        "config": prm.cfg.name,
        "mode": "sparse" if prm.sparse else "dense",
        "clock_mhz": prm.cfg.clock_mhz,
        "verilog_parameters": prm.verilog(),
        "steps_per_entry": {str(k): v for k, v in prm.steps_per_entry.items()},
        "register_map": {
            "id_magic": regmap.ID_MAGIC,
            "ctrl": regmap.CTRL,
            "status": regmap.STATUS,
            "cycles": regmap.CYCLES,
            "id": regmap.ID,
            "hw_base": regmap.HW_BASE,
            "hw_fields": list(regmap.HW_FIELDS),
            "stem_prm": regmap.STEM_PRM,
            "global_base": regmap.GLOBAL_BASE,
            "global_fields": list(regmap.GLOBAL_FIELDS),
            "layer_base": regmap.LAYER_BASE,
            "layer_stride": regmap.LAYER_STRIDE,
            "layer_fields": list(regmap.LAYER_FIELDS),
            "layer_flags": list(regmap.LAYER_FLAGS),
            "pass_base": regmap.PASS_BASE,
            "pass_stride": regmap.PASS_STRIDE,
            "pass_fields": list(regmap.PASS_FIELDS),
            "log_base": regmap.LOG_BASE,
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python rtl/gen.py", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--config", default=str(config_path()), help="hardware configuration (default: the packaged Ultra96v2)"
    )
    ap.add_argument("--model", default=None, help="model (.npz) whose DDR images to write")
    ap.add_argument("--dense", action="store_true", help="the dense baseline (index decoder and mask unit bypassed)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--max-layers", type=int, default=None)
    ap.add_argument("--max-passes", type=int, default=None)
    ap.add_argument("--max-cin", type=int, default=None)
    ap.add_argument(
        "--stream", type=int, default=1, help="with --model: DDR room and n_images for a stream of N images (default 1)"
    )
    ap.add_argument("--resources", action="store_true", help="run Yosys (sparse and dense), write docs/resources.md")
    args = ap.parse_args(argv)
    out: Path | None = None
    try:
        cfg = load_config(args.config)
        prm = make_params(cfg, not args.dense, args, args.config)
        out = _out_folder(args, cfg)
        # every input is read and checked before the first file is written
        if args.stream != 1 and not args.model:
            raise ConfigError(f"--stream {args.stream}: a stream's DDR layout needs --model")
        images = make_images(prm, Path(args.model), args.stream) if args.model else None
        with staged_output(out) as stage:
            files = write_verilog(prm, stage / "verilog")
            atomic_write_text(stage / "params.json", json.dumps(params_json(prm), indent=2) + "\n")
            if images is not None:
                write_images(images, stage / "mem")
            report = [f"# RTL for '{cfg.name}' ({'sparse' if prm.sparse else 'dense'})", ""]
            report += [f"- {f.name}" for f in files]
            if cfg.part:
                from .board import write_vivado

                board = write_vivado(prm, stage, files)
                report += ["", "Vivado build (rtl/vivado/README.md):", ""]
                report += [f"- {f.relative_to(stage)}" for f in board]
            else:
                report += ["", f"No Vivado files: the configuration names no part ({args.config}, field 'part')."]
            if args.resources:
                from . import resources

                res = resources.run_both(cfg, args.config, resources.default_report(out), prm_args=_prm_kwargs(args))
                report += ["", res]
            atomic_write_text(stage / "report.md", "\n".join(report) + "\n")
        print(f"wrote {out}")
        return 0
    except ArchsimError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        msg = one_line(exc.strerror or str(exc))
        print(f"error: {out}: option '--out': cannot write ({msg})", file=sys.stderr)
        return 2


def _out_folder(args: argparse.Namespace, cfg: HardwareConfig) -> Path:
    """The output folder: --out, else build/rtl/<config name>[-dense], which must stay inside build/rtl."""
    if args.out:
        why = path_problem(args.out)
        if why:
            raise ConfigError(f"{short(args.out)}: option '--out': not a usable folder name ({why})")
        out = Path(args.out)
    else:
        build_dir = build_root() / "build" / "rtl"
        out = build_dir / (cfg.name + ("-dense" if args.dense else ""))
        if out.resolve().parent != build_dir.resolve():  # config names are single path components; stay sure
            raise ConfigError(f"{args.config}: field 'name': {short(cfg.name)} does not name a folder in build/rtl")
    why = unwritable_target(out, ["params.json", "report.md"])
    for sub in ("verilog", "vivado", "mem"):
        why = why or unwritable_target(out / sub, [])
    if why:
        raise ConfigError(f"{out}: option '--out': cannot write there ({why})")
    return out


def _prm_kwargs(args: argparse.Namespace) -> dict:
    kw = {}
    if args.max_layers is not None:
        kw["max_layers"] = args.max_layers
    if args.max_passes is not None:
        kw["max_passes"] = args.max_passes
    if args.max_cin is not None:
        kw["max_cin"] = args.max_cin
    return kw


def make_params(
    cfg: HardwareConfig, sparse: bool, args: argparse.Namespace | None = None, where: str = "<config>"
) -> RtlParams:
    kw = _prm_kwargs(args) if args is not None else {}
    return RtlParams(cfg, sparse=sparse, where=str(where), **kw)


def make_images(prm: RtlParams, model_path: Path, n_images: int = 1) -> dict[str, bytes | str]:
    """DDR image of the model's blobs, register writes and layout, for a host driver (file name -> content);
    with `n_images` > 1 for a stream (docs/timing.md 9): image n's input map at load_addr + n load_stride,
    its output at store_addr + n store_stride."""
    from archsim.format import load_model
    from archsim.layout import build_layout
    from archsim.program import compile_program

    model = load_model(model_path)
    mode = "sparse" if prm.sparse else "dense"
    prog = compile_program(model, prm.cfg, mode, model_path)
    try:
        lay = build_layout(model, prog, prm.cfg, n_images=n_images)
    except ConfigError as exc:  # a layer the RTL cannot run: name the model file too
        raise ConfigError(f"{model_path}: {exc}") from None
    writes = regmap.program_writes(lay, prm)
    base, blob = lay.blob_image()
    layout = {
        "mode": mode,
        "load_addr": lay.load_addr,
        "load_shape": list(prog.load_shape),
        "store_addr": lay.store_addr,
        "store_shape": list(prog.store_shape),
        "blob_base": base,
        "blob_bytes": len(blob),
        "n_images": lay.n_images,
        "load_stride": lay.load_stride,
        "store_stride": lay.store_stride,
        "stem_unit": lay.stem_unit,  # the LOAD holds raw images (docs/formats.md 4.4); regs.json has STEM_PRM
        "passes": [{"layer": p.layer, "pass": p.index, "addr": p.addr, "beats": p.blob_beats} for p in lay.passes],
    }
    return {
        "ddr.bin": blob,
        "regs.json": json.dumps([{"addr": w.addr, "value": w.value, "what": w.what} for w in writes], indent=1) + "\n",
        "layout.json": json.dumps(layout, indent=1) + "\n",
    }


def write_images(images: dict[str, bytes | str], outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for name, content in images.items():
        if isinstance(content, bytes):
            atomic_write_bytes(outdir / name, content)
        else:
            atomic_write_text(outdir / name, content)


if __name__ == "__main__":
    sys.exit(main())
