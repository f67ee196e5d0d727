"""Yosys runs and what their `stat` reports count, shared by `rtl.resources` (the flattened builds) and
`rtl.resources_blocks` (the per-block build).

LUT counts logic LUTs plus the LUTs of LUT-RAM and shift-register primitives (LUTRAM_LUTS); BRAM36
counts a RAMB18 as half. A build's cell counts are kept in CACHE under a key of the generated Verilog
and the Yosys flow (`verilog_key`), so any change of the design misses.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from archsim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

# The Verilog defines that select Xilinx primitives where Yosys would map worse: DSP48E2 where it would
# leave adders in fabric (bnn_dsp_madd, the stem unit), MUXF7 / MUXF8 where it would build wide bit
# selects of LUTs alone (bnn_bitsel)
DSP_DEFINE = "BNN_DSP48E2"
MUXF_DEFINE = "BNN_MUXF"
DEFINES = (DSP_DEFINE, MUXF_DEFINE)
DEFINE_FLAGS = " ".join(f"-D{d}" for d in DEFINES)


# LUTs per LUT-RAM / shift-register primitive (UltraScale+ CLB)
LUTRAM_LUTS = {
    "RAM16X1D": 2,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32M16": 8,
    "RAM64M8": 8,
    "SRL16E": 1,
    "SRLC32E": 1,
}


FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")


@dataclass
class Usage:
    lut_logic: int
    lut_ram: int
    ff: int
    bram36: float
    dsp: int
    cells: dict[str, int]

    @property
    def lut(self) -> int:
        return self.lut_logic + self.lut_ram


def parse_stat(text: str) -> Usage:
    """Cell counts from the last `stat` report in a Yosys log."""
    idx = text.rfind("Number of cells:")
    if idx < 0:
        raise ValueError("no 'Number of cells' in the Yosys log")
    return usage_of(cell_counts(text[idx:], "the Yosys log"))


def usage_of(cells: dict[str, int]) -> Usage:
    """Resource counts from Yosys cell counts."""
    lut_logic = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6](_2)?", c))
    lut_ram = sum(LUTRAM_LUTS[c] * n for c, n in cells.items() if c in LUTRAM_LUTS)
    ff = sum(cells.get(c, 0) for c in FF_CELLS)
    bram = cells.get("RAMB36E2", 0) + 0.5 * cells.get("RAMB18E2", 0)
    dsp = cells.get("DSP48E2", 0)
    return Usage(lut_logic, lut_ram, ff, bram, dsp, cells)


CACHE = ROOT / "build" / "yosys-cache"


class NotCached(ConfigError):
    """`cached_only` and the build is not in the cache: not synthesized (never estimated otherwise)."""


def verilog_key(files: list[Path], abc9: bool) -> str:
    """The cache key of a build: the Yosys version and flow (with the defines `read_command` sets), and every
    generated Verilog file."""
    h = hashlib.sha256(f"{yosys_version()}\n{' -abc9' if abc9 else ''}\n{DEFINE_FLAGS}\n".encode())
    for f in sorted(files, key=lambda f: f.name):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def read_command(vdir: Path, files: list[Path]) -> str:
    """Yosys' read of the generated design, Xilinx primitives selected (DEFINES)."""
    return f"read_verilog {DEFINE_FLAGS} -I{vdir} " + " ".join(str(f) for f in files) + "; "


def run_yosys(yosys: str, script: str, log: Path, what: str) -> tuple[str, float]:
    """Run one Yosys script; returns (its log, seconds). A failure is one ConfigError naming `what`."""
    t0 = time.perf_counter()
    proc = subprocess.run([yosys, "-q", "-l", str(log), "-p", script], capture_output=True, text=True)
    secs = time.perf_counter() - t0
    text = log.read_text() if log.exists() else ""
    if proc.returncode != 0:
        raise ConfigError(f"yosys failed on {what}: {(proc.stderr or text)[-800:]}")
    return text, secs


def yosys_version() -> str:
    try:
        v = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
        m = re.search(r"Yosys (\S+)", v)
        return m.group(1) if m else v
    except OSError:
        return "?"


def cell_counts(section: str, where: str) -> dict[str, int]:
    """The cell lines after 'Number of cells:' in one `=== name ===` section of a stat report."""
    lines = section.splitlines()
    at = next((i for i, ln in enumerate(lines) if ln.strip().startswith("Number of cells:")), None)
    if at is None:
        raise ValueError(f"{where}: no 'Number of cells'")
    cells: dict[str, int] = {}
    for line in lines[at + 1 :]:
        m = re.fullmatch(r"\s+(\S+)\s+(\d+)\s*", line)
        if not m:
            break
        cells[m.group(1)] = cells.get(m.group(1), 0) + int(m.group(2))
    return cells


def resource_fields(u: Usage) -> dict:
    return {"lut": u.lut, "lut_ram": u.lut_ram, "ff": u.ff, "bram36": u.bram36, "dsp": u.dsp}
