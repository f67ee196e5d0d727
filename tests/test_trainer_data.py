"""Datasets and seeded augmentation."""

import gzip
import pickle

import numpy as np
import pytest
import torch

from archsim.errors import ArchsimError
from trainer.cli import main as trainer_main
from trainer.data import FASHION_DIR, augment, load_cifar10, load_dataset, load_digits, load_fashion_mnist


def test_augment_is_a_seeded_crop_and_flip():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.uint8).reshape(2, 3, 6, 6)
    a = augment(x, torch.Generator().manual_seed(5), pad=2)
    b = augment(x, torch.Generator().manual_seed(5), pad=2)
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for j in range(2):  # every output is some crop of the padded image, possibly mirrored
        crops = [padded[j, :, oy : oy + 6, ox : ox + 6] for oy in range(5) for ox in range(5)]
        assert any(torch.equal(a[j], c) or torch.equal(a[j], c.flip(-1)) for c in crops)
    many = augment(x.repeat(32, 1, 1, 1), torch.Generator().manual_seed(0), pad=2)
    assert len({bytes(m.numpy()) for m in many}) > 10
    no_flip = augment(x, torch.Generator().manual_seed(5), pad=0, flip=False)
    assert torch.equal(no_flip, x)


def test_digits_are_32x32_and_split():
    ds = load_digits()
    assert ds.train_x.shape == (1497, 1, 32, 32) and ds.test_x.shape == (300, 1, 32, 32)
    assert ds.train_x.dtype == torch.uint8 and int(ds.train_x.max()) == 255
    assert not ds.flip
    assert torch.equal(load_digits().test_y, ds.test_y)  # seeded split


@pytest.mark.skipif(not FASHION_DIR.exists(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_is_padded_to_32():
    ds = load_fashion_mnist()
    assert ds.train_x.shape == (60000, 1, 32, 32) and ds.test_x.shape == (10000, 1, 32, 32)
    assert int(ds.train_x[:, :, :2].max()) == 0 and int(ds.train_x[:, :, :, 30:].max()) == 0
    sub = load_dataset("fashion-mnist", train_subset=100, seed=3)
    assert sub.train_x.shape[0] == 100 and sub.test_x.shape[0] == 10000


def test_cifar_missing_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ArchsimError, match="data_batch_1: CIFAR-10 batch not found"):
        load_cifar10(tmp_path)
    with pytest.raises(ArchsimError, match="--data-dir: required"):
        load_cifar10(None)


def test_cifar_batches_are_read(tmp_path):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": list(range(4))}
        (tmp_path / name).write_bytes(pickle.dumps(d))
    ds = load_cifar10(tmp_path)
    assert ds.train_x.shape == (20, 3, 32, 32) and ds.test_y.tolist() == [0, 1, 2, 3] and ds.c_img == 3


def test_corrupt_idx_file_names_the_file(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01junk"))
    with pytest.raises(ArchsimError, match=r"train-images-idx3-ubyte\.gz: field 'magic'"):
        load_fashion_mnist(tmp_path)


def test_train_cli_missing_cifar_is_one_line(tmp_path, capsys):
    rc = trainer_main(
        [
            "train",
            "--run-dir",
            str(tmp_path / "r"),
            "--dataset",
            "cifar10",
            "--data-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "CIFAR-10 batch not found" in err
    assert not (tmp_path / "r").exists()


def test_bad_hardware_or_argument_writes_nothing(tmp_path, capsys):
    run = tmp_path / "r"
    assert (
        trainer_main(["train", "--run-dir", str(run), "--dataset", "digits", "--hardware", str(tmp_path / "none.yaml")])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.yaml" in err
    assert not run.exists()  # a typo does not pin the run directory to a configuration
    with pytest.raises(SystemExit) as exc:
        trainer_main(["train", "--run-dir", str(run), "--kernel-density", "0.5,2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--kernel-density" in err
