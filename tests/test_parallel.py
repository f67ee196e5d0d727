"""The suite runs in parallel worker processes (scripts/test.sh: pytest-xdist, one worker per core).

What that relies on: the caller's -n after the script's wins, no test collected still fails, and
archsim.fileio.file_lock (which guards the shared RTL build cache and the in-tree wheel builds)
excludes other processes and lets go on an exception.
"""

from __future__ import annotations

import fcntl
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archsim.fileio import file_lock
from tests.synth_helpers import ROOT

PROBE = """import os
from pathlib import Path


def test_where():
    Path(os.environ["WHERE_FILE"]).write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))
"""


def script_args() -> list[str]:
    """The arguments scripts/test.sh puts before the caller's."""
    (line,) = [x for x in (ROOT / "scripts/test.sh").read_text().splitlines() if x.startswith("exec ")]
    m = re.fullmatch(r'exec \.venv/bin/python -m pytest (.*) "\$@"', line)
    assert m, line
    return m.group(1).split()


def pytest_in(folder: Path, *args: str) -> tuple[int, str]:
    """pytest on the probe file in `folder` (its own rootdir and basetemp: nothing of this run is touched)."""
    (folder / "test_probe.py").write_text(PROBE)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--basetemp", str(folder / "bt"), *args]
    env = {"WHERE_FILE": str(folder / "where"), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([*cmd, "test_probe.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.slow
def test_script_runs_on_every_core_and_the_callers_arguments_win(tmp_path):
    pytest.importorskip("xdist")
    args = script_args()
    assert args[:2] == ["-n", "auto"] and "--dist" in args
    rc, out = pytest_in(tmp_path, *args)
    assert rc == 0, out
    assert re.fullmatch(r"gw\d+", (tmp_path / "where").read_text()), "not run in a worker process"
    rc, out = pytest_in(tmp_path, *args, "-n", "0")
    assert rc == 0 and (tmp_path / "where").read_text() == "main", out
    rc, out = pytest_in(tmp_path, *args, "-k", "no_such_test")
    assert rc == 5, out  # no test collected: still a failure for CI


def _try_lock(path: Path) -> bool:
    """Whether another process can take the lock on `path` right now."""
    code = (
        "import fcntl, sys\n"
        "f = open(sys.argv[1], 'a')\n"
        "try:\n    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    sys.exit(3)\n"
    )
    rc = subprocess.run([sys.executable, "-c", code, str(path)], timeout=60).returncode
    assert rc in (0, 3)
    return rc == 0


def test_file_lock_excludes_other_processes_and_is_released(tmp_path):
    lock = tmp_path / "sub" / "x.lock"  # its folder is made
    with file_lock(lock):
        assert not _try_lock(lock)
    assert _try_lock(lock)
    with pytest.raises(RuntimeError), file_lock(lock):
        raise RuntimeError("a failed build")
    assert _try_lock(lock)
    with open(lock) as f:  # and nothing of this process still holds it
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
