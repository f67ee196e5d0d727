"""Property-based fuzzing of every input the command line takes (issue 13).

Each test mutates one kind of input (hardware YAML, workload YAML, sweep YAML, model and trace
archives as raw bytes and structurally with a valid checksum, `archsim synth` options), runs the
command in-process, and checks the contract of docs/usage.md: exit 0 with valid results, or exit 2
with exactly one line naming the file and the field, no traceback, nothing left behind.

The default budget fits CI (about a minute, derandomized so CI is reproducible). For a long
campaign (docs/usage.md, "Fuzzing"):

    ARCHSIM_FUZZ_EXAMPLES=3000 ARCHSIM_FUZZ_REPORT=fuzz.json python -m pytest tests/test_fuzz.py

ARCHSIM_FUZZ_EXAMPLES sets the examples per input kind (random seeds when set),
ARCHSIM_FUZZ_SEED fixes the seed, ARCHSIM_FUZZ_REPORT writes the outcome counts as JSON (one file per
worker process under pytest -n: fuzz.gw0.json, ...).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
import os
import re
import resource
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from archsim import format as fmt  # noqa: E402
from archsim.cli import main  # noqa: E402
from tests.synth_helpers import ROOT, make_workload  # noqa: E402

ULTRA96 = ROOT / "configs/ultra96v2.yaml"
LONG = "ARCHSIM_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("ARCHSIM_FUZZ_EXAMPLES", "0"))
TIMEOUT_S = 120  # one example; a hang is a failure
OUTCOMES: Counter = Counter()


def fuzz_settings(ci_examples: int):
    s = settings(
        max_examples=EXAMPLES or ci_examples,
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    if "ARCHSIM_FUZZ_SEED" in os.environ:
        return lambda f: seed(int(os.environ["ARCHSIM_FUZZ_SEED"]))(s(f))
    return s


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The small synthetic workload, its hardware path made absolute so copies still resolve."""
    out = tmp_path_factory.mktemp("fuzzbase")
    make_workload(out)
    for y in out.glob("*.yaml"):
        y.write_text(re.sub(r"(?m)^hardware: .*$", f"hardware: {ULTRA96}", y.read_text()))
    return out


@pytest.fixture(scope="module", autouse=True)
def memory_cap_and_report() -> Iterator[None]:
    """Cap the address space (an input that exhausts memory fails as MemoryError, not the machine)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = 12 << 30
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        report = report_path()
        if report:
            report.write_text(json.dumps(dict(sorted(OUTCOMES.items())), indent=1) + "\n")


def report_path() -> Path | None:
    """ARCHSIM_FUZZ_REPORT, or None. Under pytest -n each worker process counts only its own examples, so
    each writes its own file, the worker's id before the suffix (fuzz.json -> fuzz.gw0.json): one shared
    file would hold whichever worker wrote last."""
    report = os.environ.get("ARCHSIM_FUZZ_REPORT")
    if not report:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return Path(report).with_stem(f"{Path(report).stem}.{worker}") if worker else Path(report)


@contextlib.contextmanager
def alarm(seconds: int) -> Iterator[None]:
    def fire(*_: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s (a hang)")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def example_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- the contract

# What a refusal may name besides the file: a field, an option, a place in the text.
MARKERS = (
    "field '",
    "option '",
    "malformed YAML",
    "not UTF-8",
    "not a readable",
    "not found",
    "not a regular file",
    "not a usable",
    "larger than the limit",
    "argument --",
)


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


def finite_json(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(finite_json(x) for x in v.values())
    if isinstance(v, list):
        return all(finite_json(x) for x in v)
    return True


def contract(kind: str, argv: list[Any], root: Path, out: Path, names: tuple[str, ...]) -> tuple[int, str]:
    """Run one command line and check the contract; returns (exit code, stderr)."""
    cmd = str(argv[0])
    so, se = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se), alarm(TIMEOUT_S):
        rc = main([str(a) for a in argv])
    err = se.getvalue().strip()
    assert "Traceback" not in err, err
    assert not leftovers(root), leftovers(root)
    if rc == 2:
        assert err and "\n" not in err, err
        assert err.startswith(f"archsim {cmd}: error: ") and len(err) <= 2100, err
        assert any(n in err for n in names), (names, err)
        assert any(m in err for m in MARKERS), err
        assert not out.exists(), f"{out} written although the command failed"
    elif rc == 0:
        check_results(cmd, out)
    elif rc == 1 and cmd == "run":  # a model the functional check disagrees with: a finding, not a crash
        assert "functional check  FAIL" in so.getvalue()
    else:
        raise AssertionError(f"exit {rc}: {err}")
    OUTCOMES[f"{kind}: exit {rc}"] += 1
    report = report_path()
    if report and sum(OUTCOMES.values()) % 50 == 0:  # a long campaign stopped early still has its counts
        report.write_text(json.dumps(dict(sorted(OUTCOMES.items())), indent=1) + "\n")
    return rc, err


def check_results(cmd: str, out: Path) -> None:
    if cmd == "run":
        summary = json.loads((out / "summary.json").read_text())
        assert finite_json(summary)
        with open(out / "layers.csv", newline="") as f:
            assert list(csv.DictReader(f))
    elif cmd == "sweep":
        with open(out / "results.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows and json.loads((out / "sweep.json").read_text())["complete"]
        for r in rows:
            assert r["status"] in ("ok", "invalid")
            if r["status"] == "invalid":  # recorded refusals: one line naming the field (quoted or as a.b)
                e = r["error"]
                names = "field '" in e or re.search(r"\b(buffers|pe_array|axi|epilogue|host)\.\w+", e)
                assert "\n" not in e and names and len(e) <= 2100, e
    elif cmd == "synth":
        from archsim.workload import load_workload

        for y in out.glob("*.yaml"):
            load_workload(y)


# --------------------------------------------------------------------------- strategies

HOSTILE_SCALARS = [
    "yes", "no", "on", "off", "null", "~", "''", ".inf", "-.inf", ".nan", "1e-300", "1e999", "1.0e9", "2e9", "0",
    "-1", "1", "2", "3", "4", "8", "16", "17", "64", "256", "4096", "65536", "2147483648", "9223372036854775808",
    "9" * 5000, "'16'", "\"false\"", "false", "true", "16.0", "0.5", "-0.0", "[1, 2]", "[]", "{}", "{a: 1}",
    "&a 1", "*a", "!!binary aGVsbG8=", "!!python/object/apply:os.system ['true']", "!!set {a, b}", "2001-01-01",
    "'a/b'", "'..'", "/dev/zero", "/dev/null", "/proc/self/mem", "'/'", '"a\\0b"', "x" * 300, "'" + "m/" * 2600 + "'",
    "[" * 60 + "]" * 60, "|\n  block text", "models/small_dense.npz", "models/small_pruned.trace.npz",
    "models/small_dense.trace.npz", "models/small_pruned.npz", "small_pruned.yaml", str(ULTRA96),
    "'xczu3eg-sbva484-1-i}; exec touch PWNED; set _x {'", "\"\\u00e9\"", "0x10", "0o17", "1_000", "+5", ":", "-",
]  # fmt: skip
SPECIAL_CHARS = [*":-[]{}&*!|>'\"%@`#,? \t\n", "\x00", "\xff", "\ufeff", "\u2028"]

yaml_value = st.one_of(
    st.sampled_from(HOSTILE_SCALARS),
    st.integers(-3, 40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr).map(lambda r: {"nan": ".nan", "inf": ".inf"}.get(r, r)),
    st.text(max_size=12).map(json.dumps),
)


@st.composite
def yaml_mutant(draw: st.DrawFn, text: str) -> bytes:
    """A YAML text with 1-3 mutations: a value replaced, a line dropped or doubled, characters changed."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["value", "value", "nudge", "nudge", "drop", "double", "chars", "indent"]))
        keyed = [i for i, L in enumerate(lines) if re.match(r"^\s*[\w.-]+:", L)] or [0]
        i = draw(st.sampled_from(keyed)) if lines else 0
        if not lines:
            lines = [""]
        number = re.match(r"^(\s*[\w.-]+:\s*)(-?\d{1,18})(\s.*|)$", lines[i])
        if how == "nudge" and number:  # a plausible edit: most give a valid file, exercising exit 0
            v = int(number.group(2))
            v = draw(st.sampled_from([v + 1, v - 1, 2 * v, v // 2, 0, 1]))
            lines[i] = f"{number.group(1)}{v}{number.group(3)}"
        elif how in ("value", "nudge"):
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {draw(yaml_value)}"
        elif how == "drop":
            del lines[i]
        elif how == "double":
            lines.insert(i, lines[i])
        elif how == "indent":
            lines[i] = draw(st.sampled_from(["  ", "\t", "    "])) + lines[i]
        else:
            line = lines[i]
            pos = draw(st.integers(0, len(line)))
            ins = "".join(draw(st.lists(st.sampled_from(SPECIAL_CHARS), min_size=1, max_size=4)))
            cut = draw(st.integers(0, 3))
            lines[i] = line[:pos] + ins + line[pos + cut :]
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # raw bytes: not UTF-8, NUL, truncation
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(st.binary(min_size=0, max_size=4)) + data[pos + draw(st.integers(0, 2)) :]
    return data


@st.composite
def byte_mutant(draw: st.DrawFn, data: bytes) -> bytes:
    """Raw damage to an archive: flipped bytes, a cut, an insertion."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "flip", "cut", "insert", "header"]))
        if how == "cut":
            del data[draw(st.integers(0, len(data))) :]
        elif how == "insert":
            pos = draw(st.integers(0, len(data)))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            # 'header': somewhere in the first or last 200 bytes (local and central zip headers)
            pos = draw(st.integers(0, len(data) - 1))
            if how == "header":
                pos = draw(st.sampled_from([pos % 200, max(0, len(data) - 1 - pos % 200)]))
            data[pos] = draw(st.integers(0, 255))
    return bytes(data)


JSON_VALUES = [
    None, True, False, 0, -1, 1, 2, 3, 7, 63, 255, 256, 2**31, 2**63, -(2**63), 10**30, 1.5, -0.5, "x", "", "false",
    "main", "shortcut", "a" * 1000, [], {}, [1], [16], [16, 8], [3, 8, 8], [3, 12, 12], [[1]], {"a": 1}, [None],
]  # fmt: skip


def json_paths(v: Any, at: tuple = ()) -> list[tuple]:
    out = [at]
    if isinstance(v, dict):
        for k, x in v.items():
            out += json_paths(x, (*at, k))
    elif isinstance(v, list):
        for i, x in enumerate(v[:8]):
            out += json_paths(x, (*at, i))
    return out


@st.composite
def archive_mutant(draw: st.DrawFn, data: bytes) -> bytes:
    """Structural damage with a valid zip and (mostly) a valid checksum: metadata fields replaced or
    dropped, arrays resized, retyped, dropped or added."""
    with np.load(io.BytesIO(data)) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta.json").tobytes())
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            paths = [p for p in json_paths(meta) if p and p[0] not in ("checksum",)]
            p = draw(st.sampled_from(paths))
            parent = meta
            for k in p[:-1]:
                parent = parent[k]
            if isinstance(parent, dict) and draw(st.integers(0, 3)) == 0:
                del parent[p[-1]]
            else:
                parent[p[-1]] = copy.deepcopy(draw(st.sampled_from(JSON_VALUES)))  # never share the pool's lists
        else:
            name = draw(st.sampled_from(sorted(arrays)))
            a = arrays[name]
            how = draw(st.sampled_from(["shrink", "grow", "dtype", "drop", "scalar", "extra", "empty", "values"]))
            if how == "shrink" and a.ndim:
                axis = draw(st.integers(0, a.ndim - 1))
                arrays[name] = np.take(a, range(max(0, a.shape[axis] - 1)), axis=axis)
            elif how == "grow" and a.ndim:
                axis = draw(st.integers(0, a.ndim - 1))
                arrays[name] = np.concatenate([a, np.take(a, [0] if a.shape[axis] else [], axis=axis)], axis=axis)
            elif how == "dtype":
                arrays[name] = a.astype(draw(st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, bool])))
            elif how == "drop":
                del arrays[name]
            elif how == "scalar":
                arrays[name] = np.asarray(draw(st.integers(-(2**31), 2**31 - 1)))
            elif how == "extra":
                arrays[f"L{draw(st.integers(0, 40))}.pred_weight"] = np.zeros(draw(st.integers(0, 64)), np.uint8)
            elif how == "empty":
                arrays[name] = a[:0] if a.ndim else a
            elif a.size and a.dtype.kind in "iu":
                flat = a.reshape(-1).copy()
                info = np.iinfo(a.dtype)
                flat[draw(st.integers(0, flat.size - 1))] = draw(
                    st.sampled_from([info.min, info.max, 0, -1 % info.max])
                )
                arrays[name] = flat.reshape(a.shape)
    if draw(st.integers(0, 9)):
        meta["checksum"] = fmt.checksum(arrays, meta)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# --------------------------------------------------------------------------- the tests


def _run_workload(kind: str, base: Path, mutate: dict[str, bytes], names: tuple[str, ...]) -> None:
    with example_dir() as d:
        w = d / "w"
        shutil.copytree(base, w)
        for rel, data in mutate.items():
            (w / rel).write_bytes(data)
        out = d / "results"
        contract(kind, ["run", w / "small_pruned.yaml", "--out", out, "--quiet"], d, out, names)


@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_hardware_yaml(base, data):
    hw = data.draw(yaml_mutant(ULTRA96.read_text()), label="hardware yaml")
    with example_dir() as d:
        w = d / "w"
        shutil.copytree(base, w)
        (w / "hw.yaml").write_bytes(hw)
        y = w / "small_pruned.yaml"
        y.write_text(re.sub(r"(?m)^hardware: .*$", "hardware: hw.yaml", y.read_text()))
        out = d / "results"
        contract("hardware yaml", ["run", y, "--out", out, "--quiet"], d, out, (str(y),))


@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_workload_yaml(base, data):
    text = (base / "small_pruned.yaml").read_text()
    _run_workload("workload yaml", base, {"small_pruned.yaml": data.draw(yaml_mutant(text))}, ("small_pruned.yaml",))


@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_model_archive(base, data):
    name = data.draw(st.sampled_from(["models/small_pruned.npz", "models/small_dense.npz"]))
    raw = (base / name).read_bytes()
    damaged = data.draw(st.one_of(byte_mutant(raw), archive_mutant(raw)), label="archive")
    _run_workload("model archive", base, {name: damaged}, ("small_pruned.yaml",))


@fuzz_settings(150)
@given(data=st.data())
def test_fuzz_trace_archive(base, data):
    name = data.draw(st.sampled_from(["models/small_pruned.trace.npz", "models/small_dense.trace.npz"]))
    raw = (base / name).read_bytes()
    damaged = data.draw(st.one_of(byte_mutant(raw), archive_mutant(raw)), label="archive")
    _run_workload("trace archive", base, {name: damaged}, ("small_pruned.yaml",))


SWEEP = f"""name: fz
hardware: {ULTRA96}
synthetic:
  width: 0.125
  input_shape: [3, 8, 8]
  samples: 1
  seed: 1
timing_mode: fast
parameters:
  hardware.clock_mhz: [100, 200]
  synthetic.kernel_density: [0.5]
  hardware.axi.read_latency: [8]
"""


@fuzz_settings(80)
@given(data=st.data())
def test_fuzz_sweep_yaml(data):
    text = data.draw(yaml_mutant(SWEEP), label="sweep yaml")
    with example_dir() as d:
        s = d / "s.yaml"
        s.write_bytes(text)
        out = d / "out"
        contract("sweep yaml", ["sweep", s, "--out", out, "--quiet", "--jobs", "1"], d, out, (str(s),))


SYNTH_OPTIONS = {
    "--kernel-density": ["0.5", "0", "1.5", "nan", "inf", "-1", "x", "1e-300", ""],
    "--spatial-budget": ["0.5", "0", "2", "nan", "-inf"],
    "--predict-stages": ["1,2,3", "none", "", "5", "0", "1,,2", "a", "1" * 50],
    "--width": ["0.125", "0", "-1", "inf", "nan", "5", "x", "1e-300", "0.0625"],
    "--input-shape": ["3,8,8", "1,2", "3,0,8", "3,8", "a,b,c", "3,8,8,8", "0,0,0", "3,2000,8", "1,4,4", "3,8,-8"],
    "--samples": ["1", "0", "-1", "65", "x", "9" * 5000],
    "--classes": ["2", "0", "1001", "x"],
    "--seed": ["0", "-1", "1" * 30, "x"],
    "--name": ["t", "a/b", "..", "", "x" * 300, "a\x00b", "é", "-x"],
    "--layer-density": ["s1.b1.conv1=0.5", "nope=0.5", "s1.b1.conv1=2", "=", "x", "s1.b1.conv1=nan"],
    "--config": [str(ULTRA96), "nowhere.yaml", "/dev/zero", "\x00", "/"],
}


@fuzz_settings(80)
@given(opts=st.dictionaries(st.sampled_from(sorted(SYNTH_OPTIONS)), st.just(None), max_size=4), data=st.data())
def test_fuzz_synth_options(opts, data):
    argv = ["synth", "--width", "0.125", "--input-shape", "3,8,8", "--samples", "1", "--predict-stages", "1"]
    for opt in opts:
        argv += [opt, data.draw(st.sampled_from(SYNTH_OPTIONS[opt]), label=opt)]
    with example_dir() as d:
        out = d / "o"
        names = ("option '", "argument --", "field '", ".yaml", "/dev/zero", "'\\x00'", "/: ")
        contract("synth options", [*argv, "--out", out], d, out, names)


def test_fuzz_report_is_one_file_per_worker(monkeypatch, tmp_path):
    """Under pytest -n the counts of each worker process go to a file of their own, serially to the named one."""
    monkeypatch.delenv("ARCHSIM_FUZZ_REPORT", raising=False)
    assert report_path() is None
    monkeypatch.setenv("ARCHSIM_FUZZ_REPORT", str(tmp_path / "fuzz.json"))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert report_path() == tmp_path / "fuzz.json"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert report_path() == tmp_path / "fuzz.gw1.json"
