"""Hostile and broken inputs (issue 13): one regression test per failure the fuzzing campaign found.

The contract: a bad input is exit 2 with one line on stderr naming the file and the field, no
traceback, nothing written; nothing bad is silently accepted; no input runs code or writes outside
the chosen output folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from archsim import format as fmt
from archsim.cli import main
from archsim.config import load_config
from archsim.errors import ArchsimError, ConfigError, FormatError
from archsim.yamlio import read_yaml
from tests.synth_helpers import ROOT, make_workload

ULTRA96 = ROOT / "configs/ultra96v2.yaml"
ENERGY = ROOT / "configs/energy/ultra96v2.yaml"


# --------------------------------------------------------------------------- helpers


def workload_copy(wdir: Path, tmp: Path) -> Path:
    """A private copy of the small workload whose hardware path still resolves; returns its folder."""
    dst = tmp / "w"
    shutil.copytree(wdir, dst)
    for y in dst.glob("*.yaml"):
        y.write_text(re.sub(r"(?m)^hardware: .*$", f"hardware: {ULTRA96}", y.read_text()))
    return dst


def cli(argv: list, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def assert_refused(rc: int, err: str, *names: str) -> None:
    """Exit 2, exactly one line, no traceback, naming each of `names`."""
    assert rc == 2, err
    line = err.strip()
    assert line and "\n" not in line and "Traceback" not in line, err
    assert len(line) < 2500
    for n in names:
        assert n in line, (n, line)


def run_refused(workload: Path, tmp: Path, capsys, *names: str) -> str:
    out = tmp / "results"
    rc, _, err = cli(["run", workload, "--out", out], capsys)
    assert_refused(rc, err, str(workload), *names)
    assert not out.exists()
    return err


def edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


def config_copy(tmp: Path, old: str, new: str, name: str = "hw.yaml") -> Path:
    path = tmp / name
    shutil.copy(ULTRA96, path)
    return edit(path, old, new)


def rewrite_npz(path: Path, change, fix_checksum: bool = True) -> None:
    """Change a model or trace's arrays/metadata, keeping the checksum valid unless told otherwise."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta.json").tobytes())
    meta = change(arrays, meta) or meta
    if fix_checksum and isinstance(meta, dict):
        meta["checksum"] = fmt.checksum(arrays, meta)
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())


# --------------------------------------------------------------------------- YAML reading


def test_yaml_that_is_not_utf8(tmp_path):
    bad = tmp_path / "hw.yaml"
    bad.write_bytes(ULTRA96.read_bytes().replace(b"name: ultra96v2", b"name: ultra\xff\xfe96"))
    with pytest.raises(ConfigError, match=r"hw\.yaml: not UTF-8 text \(invalid byte at offset \d+\)"):
        load_config(bad)


def test_deeply_nested_yaml_is_refused_not_a_recursion_error(tmp_path):
    for text in ("a: " + "[" * 5000 + "]" * 5000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 400))):
        bad = tmp_path / "deep.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match="nested deeper than 32 levels"):
            read_yaml(bad)


def test_alias_bomb_is_refused_at_once_with_a_short_message(wdir, tmp_path, capsys):
    w = workload_copy(wdir, tmp_path)
    bomb = "".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]\n" for i in range(1, 10))
    y = edit(w / "small_pruned.yaml", "baseline:", "x0: &x0 [1]\n" + bomb + "samples: *x9\nbaseline:")
    err = run_refused(y, tmp_path, capsys, "anchors (&name) are not allowed")
    assert len(err) < 500


def test_duplicate_keys_are_refused(tmp_path):
    bad = config_copy(tmp_path, "clock_mhz: 200", "clock_mhz: 200\nclock_mhz: 100")
    with pytest.raises(ConfigError, match=r"hw\.yaml: malformed YAML at line \d+, column 1: duplicate key 'clock_mhz'"):
        load_config(bad)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder", "huge"])
def test_hardware_that_is_not_a_small_regular_file(special, wdir, tmp_path, capsys):
    w = workload_copy(wdir, tmp_path)
    target = {"/dev/zero": Path("/dev/zero"), "fifo": tmp_path / "fifo", "folder": tmp_path, "huge": tmp_path / "big"}
    if special == "fifo":
        os.mkfifo(target["fifo"])
    if special == "huge":
        target["huge"].write_text("name: x\n" + "#" * (1 << 20))
    y = edit(w / "small_pruned.yaml", f"hardware: {ULTRA96}", f"hardware: {target[special]}")
    why = "larger than the limit" if special == "huge" else "not a regular file"
    run_refused(y, tmp_path, capsys, "'hardware'", why)


# --------------------------------------------------------------------------- strict types and ranges


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("cols: 16 ", "cols: yes ", "'pe_array.cols'"),
        ("rows: 16 ", "rows: 16.0 ", "'pe_array.rows'"),
        ("rows: 16 ", "rows: '16' ", "'pe_array.rows'"),
        ("clock_mhz: 200", "clock_mhz: .inf", "'clock_mhz'"),
        ("clock_mhz: 200", "clock_mhz: 1e-300", "'clock_mhz'"),
        ("clock_mhz: 200", "clock_mhz: .nan", "'clock_mhz'"),
        ("macs_per_second: 1.0e9", "macs_per_second: .inf", "'host.macs_per_second'"),
        ("macs_per_second: 1.0e9", "macs_per_second: 1e-300", "'host.macs_per_second'"),
        ("macs_per_second: 1.0e9", "macs_per_second: 1e999", "'host.macs_per_second'"),
        ("overhead_us: 20.0", "overhead_us: true", "'host.overhead_us'"),
        ("res_depth: 4096", "res_depth: 100000000000000000000", "'buffers.res_depth'"),
        ("act_word_bits: 64", "act_word_bits: 40", "'buffers.act_word_bits'"),
        ("name: ultra96v2", "name: a/b", "'name'"),
        ("name: ultra96v2", "name: '..'", "'name'"),
        ("part: xczu3eg-sbva484-1-i", "part: 'xczu3eg-sbva484-1-i}; exec touch PWNED; set _x {'", "'part'"),
        ("board: Ultra96v2", 'board: "x\\nset y 1"', "'board'"),
    ],
)
def test_config_values_are_strict_finite_and_sensible(old, new, field, tmp_path):
    bad = config_copy(tmp_path, old, new)
    with pytest.raises(ConfigError) as exc:
        load_config(bad)
    msg = str(exc.value)
    assert str(bad) in msg and field in msg and "(top level)" not in msg and "\n" not in msg


def test_numbers_written_the_yaml_1_1_way_still_read(tmp_path):
    cfg = load_config(config_copy(tmp_path, "macs_per_second: 1.0e9", "macs_per_second: 2e9"))
    assert cfg.host.macs_per_second == 2e9


@pytest.mark.parametrize("value", [".inf", ".nan", "-1", "1e999", "yes"])
def test_energy_values_must_be_finite(value, wdir, tmp_path, capsys):
    w = workload_copy(wdir, tmp_path)
    table = tmp_path / "energy.yaml"
    table.write_text(re.sub(r"(?m)^    pj: 120$", f"    pj: {value}", ENERGY.read_text(), count=1))
    assert table.read_text() != ENERGY.read_text()
    y = edit(w / "small_pruned.yaml", "baseline:", f"energy: {table}\nbaseline:")
    run_refused(y, tmp_path, capsys, "'energy'", "dynamic.ddr_read_byte.pj")


@pytest.mark.parametrize(
    ("old", "new", "field", "why"),
    [
        ("name: small_pruned", "name: a/b", "'name'", "pattern"),
        ("model: models/small_pruned.npz", 'model: "models/\\0x.npz"', "'model'", "NUL byte"),
        ("model: models/small_pruned.npz", "model: " + "m/" * 2500 + "x.npz", "'model'", "path of 5005 characters"),
        ("model: models/small_pruned.npz", "model: " + "m" * 300 + ".npz", "'model'", "longer than 255 bytes"),
        ("model: models/small_pruned.npz", "model: true", "'model'", "valid string"),
        ("baseline:", "samples: yes\nbaseline:", "'samples'", "must be a count"),
    ],
)
def test_workload_fields(old, new, field, why, wdir, tmp_path, capsys):
    w = workload_copy(wdir, tmp_path)
    err = run_refused(edit(w / "small_pruned.yaml", old, new), tmp_path, capsys, field, why)
    assert err.count(", got ") <= 1, err  # the offending value is quoted once


@pytest.mark.parametrize("what", ["nul", "long"])
def test_out_paths_that_cannot_be_paths(what, wdir, capsys):
    out = "o\0x" if what == "nul" else "o/" * 2600
    rc, _, err = cli(["run", wdir / "small_pruned.yaml", "--out", out], capsys)
    assert_refused(rc, err, "option '--out'", "NUL byte" if what == "nul" else "characters")


def test_workload_path_with_nul(capsys):
    rc, _, err = cli(["run", "a\0b.yaml"], capsys)
    assert_refused(rc, err, "NUL byte")


# --------------------------------------------------------------------------- synth options


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--input-shape", "1,2"], "--input-shape"),
        (["--input-shape", "3,0,8"], "--input-shape"),
        (["--width", "inf"], "--width"),
        (["--width", "nan"], "--width"),
        (["--kernel-density", "nan"], "--kernel-density"),
        (["--name", "a/b"], "--name"),
        (["--name", "x" * 5000], "--name"),
        (["--name", ".."], "--name"),  # found by fuzzing: wrote workloads named '.._pruned' that cannot load
        (["--name", "-x"], "--name"),
    ],
)
def test_synth_options(args, option, tmp_path, capsys):
    rc, _, err = cli(["synth", "--out", tmp_path / "o", *args], capsys)
    assert_refused(rc, err, option)
    assert not (tmp_path / "o").exists()


def test_synth_leaves_no_model_files_when_a_workload_file_cannot_be_written(tmp_path, capsys):
    out = tmp_path / "o"
    (out / "t_pruned.yaml").mkdir(parents=True)  # a folder where the workload file goes
    args = ["synth", "--out", out, "--name", "t", "--width", "0.125", "--input-shape", "3,8,8", "--samples", "1"]
    rc, _, err = cli(args, capsys)
    assert_refused(rc, err, "t_pruned.yaml", "--out")
    assert sorted(p.name for p in out.rglob("*")) == ["t_pruned.yaml"]


def test_synth_output_appears_whole(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["synth", "--out", out, "--name", "t", "--width", "0.125", "--input-shape", "3,8,8", "--samples", "1"]
    assert cli(args, capsys)[0] == 0
    assert sorted(p.name for p in out.rglob("*")) == [
        "models",
        "t_dense.npz",
        "t_dense.trace.npz",
        "t_dense.yaml",
        "t_pruned.npz",
        "t_pruned.trace.npz",
        "t_pruned.yaml",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


# --------------------------------------------------------------------------- model and trace archives


def _zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _model_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.parametrize(
    "damage",
    [
        "stored method 99",
        "encrypted flag",
        "bzip2",
        "damaged npy header",
        "npy header of 2**40 elements",
        "object array",
        "plain npy named npz",
        "member bigger than the limit",
        "not a zip at all",
        "duplicate member",
    ],
)
def test_model_archive_damage(damage, wdir, tmp_path, capsys, monkeypatch):
    w = workload_copy(wdir, tmp_path)
    model = w / "models" / "small_pruned.npz"
    members = _model_members(model)
    field = "'model'"
    if damage in ("stored method 99", "encrypted flag"):
        raw = bytearray(_zip_bytes(members, zipfile.ZIP_STORED))
        # patch every local and central header: method at +8/+10, flags at +6/+8
        for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
            for m in re.finditer(re.escape(sig), bytes(raw)):
                if damage == "encrypted flag":
                    raw[m.start() + flag_at] |= 1
                else:
                    raw[m.start() + method_at : m.start() + method_at + 2] = (99).to_bytes(2, "little")
        model.write_bytes(bytes(raw))
        why = "encrypted" if damage == "encrypted flag" else "unsupported compression method 99"
    elif damage == "bzip2":
        model.write_bytes(_zip_bytes(members, zipfile.ZIP_BZIP2))
        why = "unsupported compression method 12"
    elif damage == "damaged npy header":
        data = bytearray(members["L0.mult.npy"])
        data[10:30] = b"{'descr': <i4 ((((("
        members["L0.mult.npy"] = bytes(data)
        model.write_bytes(_zip_bytes(members))
        why, field = "damaged array header", "'L0.mult'"
    elif damage == "npy header of 2**40 elements":
        head = members["L0.bias.npy"]
        n = len(np.load(io.BytesIO(head)))
        members["L0.bias.npy"] = head.replace(f"({n},)".encode(), b"(1099511627776,)".ljust(len(f"({n},)"), b" "), 1)
        if members["L0.bias.npy"] == head:  # header padding: rebuild with a wide shape field
            arr = np.zeros(1, np.int64)
            members["L0.bias.npy"] = _npy(arr).replace(b"(1,)", b"(1099511627776,)"[:4], 1)
        model.write_bytes(_zip_bytes(members))
        why, field = "header declares", "'L0.bias'"
    elif damage == "object array":
        members["L0.bias.npy"] = _npy(np.array([1, "x"], dtype=object))
        model.write_bytes(_zip_bytes(members))
        why, field = "only integer and boolean arrays", "'L0.bias'"
    elif damage == "plain npy named npz":
        model.write_bytes(_npy(np.zeros(10, np.int64)))
        why = "not an .npz archive"
    elif damage == "member bigger than the limit":
        monkeypatch.setattr(fmt, "MAX_MEMBER_BYTES", 1000)
        why = "more than the limit of 1000"
    elif damage == "not a zip at all":
        model.write_bytes(b"hello")
        why = "not an .npz archive"
    else:
        raw = _zip_bytes(members)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for n, d in members.items():
                z.writestr(n, d)
            with pytest.warns(UserWarning):
                z.writestr("L0.bias.npy", members["L0.bias.npy"])
        model.write_bytes(buf.getvalue())
        why = "repeated archive member"
        assert raw
    run_refused(w / "small_pruned.yaml", tmp_path, capsys, field, why)


def test_zip_of_a_version_zipfile_does_not_read(wdir, tmp_path, capsys):
    """Found by fuzzing: a central-directory 'version needed' of 6.4 made zipfile raise NotImplementedError."""
    w = workload_copy(wdir, tmp_path)
    model = w / "models" / "small_pruned.npz"
    raw = bytearray(model.read_bytes())
    at = raw.rindex(b"PK\x01\x02")  # the last central-directory entry: 'version needed' at +6
    raw[at + 6 : at + 8] = (64).to_bytes(2, "little")
    model.write_bytes(bytes(raw))
    run_refused(w / "small_pruned.yaml", tmp_path, capsys, "'model'", "not an .npz archive", "zip file version 6.4")


def test_npy_header_claiming_2_to_the_40_elements_allocates_nothing(tmp_path):
    head = _npy(np.zeros(3, np.int64)).replace(b"'shape': (3,)", b"'shape': (1099511627776,)")
    members = {"meta.json.npy": _npy(np.frombuffer(b"{}", np.uint8)), "x.npy": head}
    path = tmp_path / "m.npz"
    path.write_bytes(_zip_bytes(members))
    with pytest.raises(
        FormatError, match=r"field 'x': header declares 8796093022208 bytes of data, the member holds \d+$"
    ):
        fmt.load_model(path)


def test_member_declared_size_is_checked_before_inflating(tmp_path, monkeypatch):
    """A member that would inflate past the limit is refused from its declared size: zlib never runs."""
    path = tmp_path / "bomb.npz"
    path.write_bytes(_zip_bytes({"meta.json.npy": _npy(np.zeros(1 << 16, np.uint8))}))
    monkeypatch.setattr(fmt, "MAX_MEMBER_BYTES", 4096)
    calls = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: calls.append(a) or None)
    with pytest.raises(FormatError, match="declares 65664 bytes, more than the limit of 4096"):
        fmt.load_model(path)
    assert calls == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda a, m: [1, 2, 3], "'meta.json'"),
        (lambda a, m: m.__setitem__("stem", [1]), "'stem'"),
        (lambda a, m: m.__setitem__("layers", {"a": 1}), "'layers'"),
        (lambda a, m: m["layers"].__setitem__(0, "x"), "'layers[0]'"),
        (lambda a, m: m["layers"][0].__setitem__("kernel", "3"), "'layers[0].kernel'"),
        (lambda a, m: m["layers"][0].__setitem__("name", ["x"]), "'layers[0].name'"),
        (lambda a, m: m["layers"][0].__delitem__("stride"), "'layers[0].stride'"),
        (lambda a, m: m.__setitem__("balance", [16]), "'balance'"),
        (lambda a, m: m.__setitem__("balance", "16,8"), "'balance'"),
        (lambda a, m: m.__setitem__("input_shape", [3, 12]), "'input_shape'"),
        (lambda a, m: m.__setitem__("frac_bits", True), "'frac_bits'"),
        (lambda a, m: m.__setitem__("meta", 5), "'meta'"),
        (lambda a, m: m["stem"].__setitem__("input_offset", 2**63), "'stem.input_offset'"),
        (lambda a, m: m["stem"].__setitem__("shift", 63), "'stem.shift'"),
        (lambda a, m: m["stem"].__setitem__("shift", -1), "'stem.shift'"),
        (lambda a, m: m["layers"][1].__setitem__("residual", "false"), "'layers[1].residual'"),
        (lambda a, m: m["layers"][1].__setitem__("shift", 99), "'layers[1].shift'"),
    ],
)
def test_model_metadata_fields(change, field, wdir, tmp_path, capsys):
    w = workload_copy(wdir, tmp_path)
    rewrite_npz(w / "models" / "small_pruned.npz", change)
    err = run_refused(w / "small_pruned.yaml", tmp_path, capsys, "'model'", field)
    assert "malformed metadata" not in err


def test_missing_predictor_threshold_with_predictor_weights_is_refused(wdir, tmp_path, capsys):
    w = workload_copy(wdir, tmp_path)
    model = w / "models" / "small_pruned.npz"
    i = next(i for i, L in enumerate(fmt.load_model(model).layers) if L.predictor is not None)
    rewrite_npz(model, lambda a, m: m["layers"][i].__setitem__("predictor_threshold", None))
    run_refused(w / "small_pruned.yaml", tmp_path, capsys, f"'layers[{i}].predictor_threshold'", "predictor weights")


def _strip_layers(a: dict, m: dict, keep) -> None:
    kept = [i for i in range(len(m["layers"])) if keep(m["layers"][i])]
    for k in [k for k in a if k.startswith("L")]:
        i, rest = k[1:].split(".", 1)
        v = a.pop(k)
        if int(i) in kept:
            a[f"L{kept.index(int(i))}.{rest}"] = v
    m["layers"] = [m["layers"][i] for i in kept]


def test_model_without_a_binary_layer(tmp_path):
    src = tmp_path / "m.npz"
    make_workload(tmp_path / "w")
    shutil.copy(tmp_path / "w" / "models" / "small_pruned.npz", src)
    rewrite_npz(src, lambda a, m: _strip_layers(a, m, lambda L: False))
    with pytest.raises(FormatError, match=r"field 'layers': no binary \(main\) layer"):
        fmt.load_model(src)


def test_model_with_a_stem_of_zero_channels(tmp_path):
    make_workload(tmp_path / "w")
    src = tmp_path / "w" / "models" / "small_pruned.npz"

    def change(a, m):
        a["stem.weight"] = a["stem.weight"][:0]
        a["stem.mult"], a["stem.bias"] = a["stem.mult"][:0], a["stem.bias"][:0]

    rewrite_npz(src, change)
    with pytest.raises(FormatError, match=r"field 'stem.weight': the stem has no output channel"):
        fmt.load_model(src)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda a, m: a.__setitem__("L2.out", a["L2.out"][:-1]), "'L2.out'"),  # too few samples in one member
        (lambda a, m: m["layer_shapes"][2].__setitem__(0, 2), "'layer_shapes[2]'"),
        (lambda a, m: a.__setitem__("stem_out", np.concatenate([a["stem_out"]] * 2, axis=1)), "'stem_out'"),
        (lambda a, m: a.__setitem__("logits", a["logits"][:, :-1]), "'logits'"),
        (lambda a, m: a.__setitem__("labels", a["labels"][:-1]), "'labels'"),
        (lambda a, m: m.__setitem__("n_samples", "3"), "'n_samples'"),
        (lambda a, m: m.__setitem__("layer_masked", m["layer_masked"][:-1]), "'layer_masked'"),
        (lambda a, m: m["layer_masked"].__setitem__(0, "no"), "'layer_masked[0]'"),
    ],
)
def test_trace_fields(change, field, wdir, tmp_path, capsys):
    w = workload_copy(wdir, tmp_path)
    rewrite_npz(w / "models" / "small_pruned.trace.npz", change)
    err = run_refused(w / "small_pruned.yaml", tmp_path, capsys, "'trace'", field)
    assert "elements differ" not in err and "malformed metadata" not in err


def test_trace_with_an_extra_channel_is_exit_2_not_a_mismatch(wdir, tmp_path, capsys):
    """The stem output with one channel too many used to reach the functional check (exit 1,
    '(-1 elements differ)'); it is a trace that does not belong to the model."""
    w = workload_copy(wdir, tmp_path)

    def change(a, m):
        a["stem_out"] = np.concatenate([a["stem_out"], a["stem_out"][:, :1]], axis=1)

    rewrite_npz(w / "models" / "small_pruned.trace.npz", change)
    err = run_refused(w / "small_pruned.yaml", tmp_path, capsys, "'trace'", "'stem_out'", "the model's stem outputs")
    assert "elements differ" not in err


# --------------------------------------------------------------------------- nothing written on failure


def test_run_writes_neither_file_when_summary_cannot_be_written(wdir, tmp_path, capsys):
    out = tmp_path / "res"
    (out / "summary.json").mkdir(parents=True)
    rc, stdout, err = cli(["run", wdir / "small_pruned.yaml", "--out", out], capsys)
    assert_refused(rc, err, "summary.json", "option '--out'")
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"] and stdout == ""


def test_run_results_are_all_or_nothing(wdir, tmp_path, capsys, monkeypatch):
    from archsim import fileio

    real = fileio.atomic_write_text

    def failing(path, text):
        if Path(path).name == "summary.json":
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(fileio, "atomic_write_text", failing)
    out = tmp_path / "deep" / "res"
    rc, _, err = cli(["run", wdir / "small_pruned.yaml", "--out", out], capsys)
    assert_refused(rc, err, "No space left on device")
    assert list(tmp_path.iterdir()) == []  # not even the parent folder it made


def test_rtl_gen_out_is_a_file(tmp_path, capsys):
    from rtl.gen import main as gen_main

    f = tmp_path / "file"
    f.write_text("x")
    assert gen_main(["--out", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "option '--out'" in err and str(f) in err
    assert f.read_text() == "x"


def test_rtl_gen_bad_model_writes_nothing(wdir, tmp_path, capsys):
    from rtl.gen import main as gen_main

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really")
    out = tmp_path / "out"
    assert gen_main(["--out", str(out), "--model", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(bad) in err
    assert not out.exists()
    # a model that reads but does not fit the hardware: also nothing
    small = wdir / "models" / "small_pruned.npz"
    cfg = config_copy(tmp_path, "rows: 16 ", "rows: 8 ")
    assert gen_main(["--config", str(cfg), "--out", str(out), "--model", str(small)]) == 2
    assert "\n" not in capsys.readouterr().err.strip()
    assert not out.exists()


def test_rtl_gen_default_output_stays_in_build_rtl(tmp_path, capsys):
    from rtl.gen import main as gen_main

    for name in ("../../evil", "a/b", ".."):
        cfg = config_copy(tmp_path, "name: ultra96v2", f"name: '{name}'")
        assert gen_main(["--config", str(cfg)]) == 2
        err = capsys.readouterr().err.strip()
        assert "'name'" in err and "\n" not in err
    assert not (ROOT / "evil").exists()


def test_config_tcl_quotes_what_it_pastes(tmp_path):
    """Even a part name that slipped past the pattern check stays one Tcl word (checked with tclsh)."""
    from rtl.board import tcl_word

    tclsh = shutil.which("tclsh")
    evil = ["x}; exec touch PWNED; set _x {", "a b", "$env(HOME)", "[exec id]", 'q"\\', "new\nline", "é"]
    for text in evil:
        word = tcl_word(text)
        assert "\n" not in word
        if tclsh:
            script = f"set v {word}\nputs -nonewline [string length $v]:$v\n"
            p = subprocess.run([tclsh], input=script, capture_output=True, text=True, cwd=tmp_path, timeout=30)
            assert p.returncode == 0 and p.stdout == f"{len(text)}:{text}", (text, p.stdout, p.stderr)
    assert not (tmp_path / "PWNED").exists()


def test_analysis_results_missing_a_column(wdir, tmp_path, capsys):
    from analysis.cli import main as analysis_main

    run = tmp_path / "run"
    assert cli(["run", wdir / "small_pruned.yaml", "--out", run, "--quiet"], capsys)[0] == 0
    with open(run / "layers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(run / "layers.csv", "w", newline="") as f:
        cols = [c for c in rows[0] if c != "layer"]
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    rc = analysis_main(["all", "--results", str(run), "--out", str(tmp_path / "fig")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and str(run / "layers.csv") in err and "column 'layer'" in err
    assert not (tmp_path / "fig").exists()


@pytest.mark.parametrize(
    ("path", "value", "field", "why"),
    [
        (("dense", "fps"), "x", "dense.fps", "expected a number"),
        (("sparse", "latency_us"), None, "sparse.latency_us", "missing"),
        (("equal_area",), "x", "equal_area", "expected a mapping"),
        (("cycle_accounting", "sparse"), {"useful": 1}, "cycle_accounting.sparse.partial", "missing"),
        (("hardware",), 3, "hardware", "expected a mapping"),
        (("ideal_speedup",), float("inf"), "ideal_speedup", "expected a number"),
        (("workload",), 7, "workload", "expected a string"),
        (("layers",), {"s1b1c1": 1}, "layers", "expected a list"),
        (("layers",), None, "layers", "missing"),
    ],
)
def test_analysis_summary_field_of_the_wrong_kind(wdir, tmp_path, capsys, path, value, field, why):
    """A damaged summary.json is refused naming the field, before any figure is drawn: exit 2, one line, and
    --out (here a folder that holds an older figure) is left as it was."""
    from analysis.cli import main as analysis_main

    run = tmp_path / "run"
    assert cli(["run", wdir / "small_pruned.yaml", "--out", run, "--quiet"], capsys)[0] == 0
    summary = json.loads((run / "summary.json").read_text())
    node = summary
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    (run / "summary.json").write_text(json.dumps(summary))
    fig = tmp_path / "fig"
    fig.mkdir()
    (fig / "old.png").write_bytes(b"older figure")
    rc = analysis_main(["all", "--results", str(run), "--out", str(fig)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err, err
    assert f"{run / 'summary.json'}: field '{field}'" in err and why in err, err
    assert sorted(p.name for p in fig.iterdir()) == ["old.png"]


# --------------------------------------------------------------------------- sweeps


def _sweep(tmp: Path, params: str) -> Path:
    path = tmp / "s.yaml"
    path.write_text(
        f"name: s\nhardware: {ULTRA96}\n"
        "synthetic: {width: 0.125, input_shape: [3, 8, 8], samples: 1, seed: 1}\n"
        f"parameters:\n{params}"
    )
    return path


@pytest.mark.parametrize(
    ("params", "field", "why"),
    [
        ("  hardware.clock_mhz: [100, .nan]\n", "'parameters.hardware.clock_mhz[1]'", "finite"),
        ("  hardware.clock_mhz: [.inf]\n", "'parameters.hardware.clock_mhz[0]'", "finite"),
        ("  synthetic.kernel_density: [.nan]\n", "'parameters.synthetic.kernel_density[0]'", "finite"),
        ("  hardware: [1, 2]\n", "'parameters.hardware'", "name a field"),
        ("  synthetic.seed: [true]\n", "'parameters.synthetic.seed[0]'", "an integer"),
        ("  hardware.clock_mhz: &a [1]\n  hardware.axi.read_latency: *a\n", "malformed YAML", "anchors"),
    ],
)
def test_sweep_values(params, field, why, tmp_path, capsys):
    sweep = _sweep(tmp_path, params)
    out = tmp_path / "out"
    rc, _, err = cli(["sweep", sweep, "--out", out, "--quiet"], capsys)
    assert_refused(rc, err, str(sweep), field, why)
    assert not out.exists()


@pytest.mark.parametrize("what", ["points is a file", "results.csv is a folder", "sweep.json is a folder", "no write"])
def test_sweep_out_problems_are_found_before_any_point_runs(what, tmp_path, capsys, monkeypatch):
    sweep = _sweep(tmp_path, "  hardware.clock_mhz: [100]\n")
    out = tmp_path / "out"
    if what == "points is a file":
        out.mkdir()
        (out / "points").write_text("x")
    elif what == "no write":
        out = Path("/proc/self/archsim-out")  # nobody can make files there
    else:
        (out / what.split()[0]).mkdir(parents=True)
    computed = []
    monkeypatch.setattr("archsim.sweep.compute_point", lambda p: computed.append(p))
    rc, _, err = cli(["sweep", sweep, "--out", out, "--quiet"], capsys)
    assert_refused(rc, err, "option '--out'")
    assert computed == []
    if what != "no write":
        assert not (out / "points").is_dir()


def test_unreachable_scheduler_leaves_no_output(tmp_path):
    from archsim.sweep import load_sweep, run_sweep

    sweep = load_sweep(_sweep(tmp_path, "  hardware.clock_mhz: [100]\n"))
    with pytest.raises(ConfigError, match="option '--scheduler': cannot connect"):
        run_sweep(sweep, tmp_path / "o", scheduler="tcp://127.0.0.1:1", progress=False, scheduler_timeout=0.5)
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- code execution on load


class _Touch:
    """Unpickling this creates a file: the proof that a loader ran code."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_checkpoint_cannot_run_code(tmp_path):
    torch = pytest.importorskip("torch")
    from trainer.train import RunError, load_checkpoint

    marker = tmp_path / "PWNED"
    torch.save({"model": {}, "x": _Touch(marker)}, tmp_path / "checkpoint.pt")
    with pytest.raises(RunError, match="unreadable checkpoint"):
        load_checkpoint(tmp_path)
    assert not marker.exists()


def test_cifar_batch_cannot_run_code(tmp_path):
    from trainer.data import load_cifar10

    marker = tmp_path / "PWNED"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / name).write_bytes(pickle.dumps({b"data": _Touch(marker), b"labels": [0]}))
    with pytest.raises(ArchsimError, match="refused global pathlib"):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_cifar_batch_pickled_by_python_2_style_protocol_still_reads(tmp_path):
    from trainer.data import load_cifar10

    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [1, 2]}
        (tmp_path / name).write_bytes(pickle.dumps(d, protocol=2))
    assert load_cifar10(tmp_path).train_x.shape == (10, 3, 32, 32)
