"""One cocotb test of one Verilog block under Icarus, built in the test's own folder (tests/test_rtl_units.py,
test_rtl_hp_split.py, test_rtl_stem.py)."""

from __future__ import annotations

from pathlib import Path

from tests.rtlsim.configs import ROOT


def run_block(
    top: str,
    sources: list[Path],
    params: dict,
    test_module: str,
    tmp_path: Path,
    env: dict[str, str],
    testcase: str | None = None,
) -> None:
    """Build `top` from `sources` with `params` and run `test_module` (its `testcase`, else all its tests); the
    build folder is rebuilt on every call (always=True), the test's own, never shared between workers."""
    from cocotb_tools.runner import get_runner

    runner = get_runner("icarus")
    bdir = tmp_path / "build"
    runner.build(
        sources=sources, hdl_toplevel=top, build_dir=bdir, parameters=params, timescale=("1ns", "1ps"), always=True
    )
    res = runner.test(
        test_module=test_module,
        hdl_toplevel=top,
        hdl_toplevel_lang="verilog",
        testcase=testcase,
        build_dir=bdir,
        test_dir=tmp_path,
        extra_env={**env, "PYTHONPATH": str(ROOT)},
        results_xml=str(tmp_path / "results.xml"),
    )
    text = res.read_text()
    assert 'failures="0"' in text and "<testcase" in text and "<failure" not in text, text[-3000:]
