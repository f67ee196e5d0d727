"""`archsim run --images`: the batched functional model, the per-image results, bad input, the figures."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

import archsim.batched
import archsim.images
import archsim.testset
from analysis.cli import main as analysis_main
from analysis.testset import density_data, latency_data, load_testset
from archsim.batched import BatchedModel
from archsim.cli import main
from archsim.contract import schedule
from archsim.format import load_model
from archsim.functional import run_model
from archsim.images import FASHION_DIR, load_images
from archsim.workload import load_workload
from tests.synth_helpers import ROOT, make_workload_with_set

N_IMAGES = 24


@pytest.fixture(scope="module")
def wdir(tmp_path_factory) -> Path:
    return make_workload_with_set(tmp_path_factory.mktemp("wl"), N_IMAGES, seed=5)


@pytest.fixture(scope="module")
def run_dir(wdir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("res")
    argv = ["run", wdir / "small_pruned.yaml", "--images", wdir / "set.npz", "--baseline-accuracy", "--jobs", "1"]
    assert main([str(a) for a in [*argv, "--out", out, "--quiet"]]) == 0
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_cli(argv: list, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# --------------------------------------------------------------------------- batched model


@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_batched_model_equals_the_functional_model(wdir, mode):
    wl = load_workload(wdir / "small_pruned.yaml")
    x = load_images(str(wdir / "set.npz"), wl.model.input_shape, 10).images
    for model in (wl.model, wl.baseline):
        ref = run_model(model, x, mode)
        got = BatchedModel(model, mode, block_bytes=4096).run(x, keep_maps=True)  # small blocks: several per layer
        assert np.array_equal(got.logits, ref.logits)
        assert np.array_equal(got.stem_out, ref.stem_out)
        for a, b in zip(got.layer_out, ref.layer_out, strict=True):
            assert np.array_equal(a, b)
        for a, b in zip(got.masks, ref.masks, strict=True):
            assert (a is None and b is None) or np.array_equal(a, b)
        assert np.array_equal(got.predictions, np.argmax(ref.logits, axis=1))


def test_batched_model_equals_the_functional_model_on_the_shipped_models():
    wl = load_workload(ROOT / "workloads/resnet18_pruned.yaml")
    x = wl.trace.inputs
    for model, mode in ((wl.model, "sparse"), (wl.baseline, "dense")):
        ref = run_model(model, x, mode)
        got = BatchedModel(model, mode).run(x, keep_maps=True)
        assert np.array_equal(got.logits, ref.logits)
        assert all(np.array_equal(a, b) for a, b in zip(got.layer_out, ref.layer_out, strict=True))


# --------------------------------------------------------------------------- results


def test_per_image_results_are_the_contract_on_the_functional_masks(wdir, run_dir):
    wl = load_workload(wdir / "small_pruned.yaml")
    summary = json.loads((run_dir / "summary.json").read_text())
    table = rows(run_dir / "images.csv")
    assert summary["kind"] == "archsim-testset" and summary["images"]["count"] == N_IMAGES == len(table)
    x = load_images(str(wdir / "set.npz"), wl.model.input_shape, 10)
    ref = run_model(wl.model, x.images)
    base = run_model(wl.baseline, x.images, "dense")
    cycles = []
    for j, r in enumerate(table):
        active = [np.flatnonzero(ref.masks[i][j]) if p.mask_enabled else None for i, p in enumerate(wl.program.layers)]
        c = schedule(wl.program, wl.config, active).done
        cycles.append(c)
        assert int(r["index"]) == j and int(r["label"]) == x.labels[j]
        assert int(r["prediction"]) == int(np.argmax(ref.logits[j]))
        assert int(r["baseline_prediction"]) == int(np.argmax(base.logits[j]))
        assert int(r["cycles"]) == c
        assert int(r["correct"]) == (r["prediction"] == r["label"])
    cycles = np.array(cycles)
    cyc = summary["cycles"]
    assert cyc["mean"] == pytest.approx(cycles.mean())
    assert (cyc["min"], cyc["max"]) == (cycles.min(), cycles.max())
    # Nearest rank: p50 of 24 values is the 12th smallest, p99 the largest.
    assert cyc["p50"] == np.sort(cycles)[11] and cyc["p99"] == cycles.max()
    dense = schedule(wl.baseline_program, wl.config, [None] * len(wl.baseline_program.layers)).done
    assert cyc["dense"] == dense
    assert summary["speedup"]["at_mean"] == pytest.approx(dense / cycles.mean())
    assert summary["speedup"]["at_p99"] == pytest.approx(dense / cyc["p99"])
    acc = summary["accuracy"]
    assert acc["model"] == pytest.approx(np.mean(np.argmax(ref.logits, 1) == x.labels))
    assert acc["baseline"] == pytest.approx(np.mean(np.argmax(base.logits, 1) == x.labels))
    slow = summary["slowest"]
    assert [s["cycles"] for s in slow] == sorted(cycles, reverse=True)[: len(slow)]
    assert all(cycles[s["index"]] == s["cycles"] for s in slow)
    for L in summary["layers"]:
        i = next(p.index for p in wl.program.layers if p.name == L["layer"])
        if L["masked"]:
            frac = np.array([m.sum() for m in ref.masks[i]]) / L["positions"]
            assert L["density_mean"] == pytest.approx(frac.mean())
            assert L["density_std"] == pytest.approx(frac.std())
            assert [int(r[f"active.{L['layer']}"]) for r in table] == [int(m.sum()) for m in ref.masks[i]]
    assert summary["functional_check"] == "pass"
    assert all(c["status"] == "pass" for c in summary["checks"])


def test_workers_give_the_same_files_as_one_process(wdir, run_dir, tmp_path):
    out = tmp_path / "two"
    argv = ["run", wdir / "small_pruned.yaml", "--images", wdir / "set.npz", "--baseline-accuracy", "--jobs", "2"]
    assert main([str(a) for a in [*argv, "--out", out, "--quiet"]]) == 0
    assert (out / "images.csv").read_bytes() == (run_dir / "images.csv").read_bytes()
    one, two = (json.loads((d / "summary.json").read_text()) for d in (run_dir, out))
    for s in (one, two):
        s.pop("run")
    assert one == two


def test_samples_takes_the_first_images(wdir, tmp_path, capsys):
    rc, out, _ = run_cli(
        [
            "run",
            wdir / "small_pruned.yaml",
            "--images",
            wdir / "set.npz",
            "--samples",
            5,
            "--jobs",
            1,
            "--out",
            tmp_path,
        ],
        capsys,
    )
    assert rc == 0
    assert "images    5 from" in out and "checks            PASS" in out
    assert [r["index"] for r in rows(tmp_path / "images.csv")] == ["0", "1", "2", "3", "4"]


def test_a_wrong_batched_model_fails_the_checks(wdir, tmp_path, capsys, monkeypatch):
    """The checks can fail: a batched model that drifts by one logit is caught (exit 1)."""
    real = archsim.batched.BatchedModel.run

    def drifting(self, images, keep_maps=False):
        run = real(self, images, keep_maps)
        run.logits[:, 0] += 1
        return run

    monkeypatch.setattr(archsim.batched.BatchedModel, "run", drifting)
    rc, out, _ = run_cli(
        ["run", wdir / "small_pruned.yaml", "--images", wdir / "set.npz", "--jobs", 1, "--out", tmp_path], capsys
    )
    assert rc == 1
    assert "FAIL  trace: batched functional model" in out
    assert json.loads((tmp_path / "summary.json").read_text())["functional_check"] == "fail"


def test_a_wrong_batched_contract_fails_the_checks(wdir, tmp_path, capsys, monkeypatch):
    """The batched contract is checked against the SimPy model: one cycle too many in a layer is caught."""
    real = archsim.testset.schedule_batch

    def late(*args, **kwargs):
        t = real(*args, **kwargs)
        t.layer_cycles[:, -1] += 1
        t.done += 1
        return t

    monkeypatch.setattr(archsim.testset, "schedule_batch", late)
    rc, out, _ = run_cli(
        ["run", wdir / "small_pruned.yaml", "--images", wdir / "set.npz", "--jobs", 1, "--out", tmp_path], capsys
    )
    assert rc == 1
    assert "FAIL  trace: contract = batched contract = SimPy fast model" in out
    assert "FAIL  set sample: SimPy fast model = recorded cycles" in out


# --------------------------------------------------------------------------- bad input


def _junk(path: Path) -> Path:
    path.write_bytes(b"not a zip")
    return path


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.npz", "missing.npz: image set file not found"),
        (lambda d: _junk(d / "junk.npz"), "not a readable image set file"),
        (lambda d: _npz(d / "a.npz", labels=np.zeros(2, int)), "field 'images': missing"),
        (lambda d: _npz(d / "b.npz", images=np.zeros((2, 3, 12, 12), np.uint8)), "field 'labels': missing"),
        (
            lambda d: _npz(d / "c.npz", images=np.zeros((2, 3, 12, 12), np.float32), labels=np.zeros(2, int)),
            "field 'images': array of type",
        ),
        (
            lambda d: _npz(d / "d.npz", images=np.zeros((2, 3, 12, 12), np.int64), labels=np.zeros(2, int)),
            "field 'images': dtype int64, expected uint8",
        ),
        (
            lambda d: _npz(d / "e.npz", images=np.zeros((2, 3, 8, 8), np.uint8), labels=np.zeros(2, int)),
            "field 'images': shape (2, 3, 8, 8)",
        ),
        (
            lambda d: _npz(d / "f.npz", images=np.zeros((2, 3, 12, 12), np.uint8), labels=np.array([0, 10])),
            "label 10 at index 1 is outside [0, 10)",
        ),
        (
            lambda d: _npz(d / "g.npz", images=np.zeros((2, 3, 12, 12), np.uint8), labels=np.zeros(3, int)),
            "3 labels for 2 images",
        ),
        (
            lambda d: _npz(d / "h.npz", images=np.zeros((2, 3, 12, 12), np.uint8), labels=np.array([0.5, 1.0])),
            "field 'labels': array of type",
        ),
        (
            lambda d: _npz(d / "h2.npz", images=np.zeros((2, 3, 12, 12), np.uint8), labels=np.zeros((2, 1), int)),
            "field 'labels': expected a 1-D integer array",
        ),
        (
            lambda d: _npz(d / "i.npz", images=np.zeros((0, 3, 12, 12), np.uint8), labels=np.zeros(0, int)),
            "field 'images': no image",
        ),
        (
            lambda d: _npz(d / "j.npz", images=np.array([None, 1], dtype=object), labels=np.zeros(2, int)),
            "field 'images': array of type",
        ),
        (lambda d: d / "set.txt", "'--images'"),
    ],
)
def test_bad_image_files_are_one_line_and_write_nothing(wdir, tmp_path, capsys, make, message):
    path = make(tmp_path)
    out = tmp_path / "out"
    rc, stdout, err = run_cli(["run", wdir / "small_pruned.yaml", "--images", path, "--out", out], capsys)
    assert rc == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and stdout == ""


def test_missing_fashion_mnist_names_the_path_and_the_package(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(archsim.images, "FASHION_DIR", tmp_path / "nowhere")
    rc, _, err = run_cli(["run", ROOT / "workloads/resnet18_pruned.yaml", "--images", "fashion-mnist:test"], capsys)
    assert rc == 2
    assert str(tmp_path / "nowhere") in err and "dataset-fashion-mnist" in err and err.count("\n") == 1


def test_corrupt_fashion_mnist_files(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(archsim.images, "FASHION_DIR", tmp_path)
    wl = ROOT / "workloads/resnet18_pruned.yaml"
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write((0x801).to_bytes(4, "big") + bytes(12))  # the labels' magic number
    rc, _, err = run_cli(["run", wl, "--images", "fashion-mnist:test"], capsys)
    assert rc == 2 and "t10k-images-idx3-ubyte.gz: field 'magic'" in err
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write((0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28)) + bytes(100))
    rc, _, err = run_cli(["run", wl, "--images", "fashion-mnist:test"], capsys)
    assert rc == 2 and "field 'data': 100 bytes" in err
    rc, _, err = run_cli(["run", wl, "--images", "fashion-mnist:valid"], capsys)
    assert rc == 2 and "unknown split 'valid'" in err


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Fashion-MNIST (Debian package dataset-fashion-mnist) missing")
def test_fashion_mnist_needs_a_one_channel_model(wdir, capsys):
    rc, _, err = run_cli(["run", wdir / "small_pruned.yaml", "--images", "fashion-mnist:test"], capsys)
    assert rc == 2 and "images are 1x28x28; the model expects 3x12x12" in err and err.count("\n") == 1


def test_image_options_need_images(capsys):
    rc, _, err = run_cli(["run", ROOT / "workloads/resnet18_pruned.yaml", "--baseline-accuracy"], capsys)
    assert rc == 2 and "need '--images'" in err


# --------------------------------------------------------------------------- figures


def test_figures_draw_the_results_files(run_dir, tmp_path, capsys):
    out = tmp_path / "figs"
    assert analysis_main(["all", "--results", str(run_dir), "--out", str(out)]) == 0
    for stem in ("latency_small_pruned", "density_small_pruned"):
        for ext in ("png", "svg"):
            assert (out / f"{stem}.{ext}").stat().st_size > 10_000
    ts = load_testset(run_dir)
    table = rows(run_dir / "images.csv")
    summary = json.loads((run_dir / "summary.json").read_text())
    lat = latency_data(ts)
    assert lat["cycles"].tolist() == [float(r["cycles"]) for r in table]
    assert lat["dense"] == summary["cycles"]["dense"] and lat["p99"] == summary["cycles"]["p99"]
    assert lat["ideal"] == pytest.approx(
        summary["cycles"]["dense"] * summary["work"]["mean"] / summary["work"]["dense"]
    )
    den = density_data(ts)
    masked = [L for L in summary["layers"] if L["masked"]]
    assert den["layers"] == [L["layer"] for L in masked]
    for d, L in zip(den["density"], masked, strict=True):
        assert d.mean() == pytest.approx(L["density_mean"])
        assert d.tolist() == [int(r[f"active.{L['layer']}"]) / L["positions"] for r in table]


def test_a_truncated_table_is_refused(run_dir, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "summary.json").write_text((run_dir / "summary.json").read_text())
    (bad / "images.csv").write_text("\n".join((run_dir / "images.csv").read_text().splitlines()[:5]) + "\n")
    assert analysis_main(["all", "--results", str(bad), "--out", str(tmp_path / "f")]) == 2
    assert "4 rows, the summary counts 24 images" in capsys.readouterr().err


# --------------------------------------------------------------------------- the shipped model vs the trainer


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Fashion-MNIST (Debian package dataset-fashion-mnist) missing")
def test_predictions_equal_the_trainers_integer_mode_image_by_image():
    """CI cross-check on 200 test images: the simulator's batched model and trainer/intmode.py give the
    same logits (so the same predictions), image by image, for the shipped pruned and dense models."""
    torch = pytest.importorskip("torch")
    from trainer.intmode import IntModel

    torch.set_num_threads(1)
    models = ROOT / "workloads/models"
    for tag, mode in (("pruned", "sparse"), ("dense", "dense")):
        model = load_model(models / f"resnet18_{tag}.npz")
        x = load_images("fashion-mnist:test", model.input_shape, 10).images[:200]
        ours = BatchedModel(model, mode).run(x)
        theirs = IntModel(model).run(torch.from_numpy(x)).logits.numpy()
        assert np.array_equal(ours.logits, theirs), tag
        assert np.array_equal(ours.predictions, theirs.argmax(axis=1))
