#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian 12 machine, then run it.
# Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v iverilog >/dev/null || need_apt+=(iverilog)
command -v yosys >/dev/null || need_apt+=(yosys)
command -v g++ >/dev/null || need_apt+=(g++)   # Verilator compiles its model with the C++ compiler
command -v make >/dev/null || need_apt+=(make)
command -v tclsh >/dev/null || need_apt+=(tcl)   # runs rtl/vivado/build.tcl against stub Vivado commands
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need_apt+=(dataset-fashion-mnist)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need_apt[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the CPU build that a range would replace with a multi-GB CUDA download.
.venv/bin/python -m pip install -q "torch==2.13.0" -e ".[train,rtl,dev]"

# One pytest worker per core (pytest-xdist). worksteal hands each worker a contiguous share of the
# suite (a module's fixtures mostly built once) and moves queued tests to whichever worker runs dry,
# so one long test does not leave the other cores idle at the end. The caller's arguments come after
# and win: `./scripts/test.sh -n 0 -k foo` runs in one process (as --pdb does).
# pytest exits 5 when it collects no test: that is a failure here, like any non-zero code.
exec .venv/bin/python -m pytest -n auto --dist worksteal "$@"
