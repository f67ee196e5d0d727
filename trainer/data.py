"""Datasets as uint8 tensors [N, C, 32, 32] plus labels, and seeded augmentation.

* fashion-mnist: the Debian package's idx files (or --data-dir), 28x28 zero-padded to 32x32.
* cifar10: the python-pickle batches from --data-dir (never downloaded).
* digits: scikit-learn's bundled 8x8 digits, values 0..16 scaled to 0..255, upsampled 3x
  (nearest) to 24x24 and zero-padded to 32x32; a seeded 1497/300 train/test split.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from archsim.errors import ArchsimError

DATASETS = ("fashion-mnist", "cifar10", "digits")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist


class DataError(ArchsimError):
    """A dataset is missing or malformed."""


@dataclass(frozen=True)
class Dataset:
    name: str
    train_x: Tensor  # uint8 [N, C, 32, 32]
    train_y: Tensor  # int64 [N]
    test_x: Tensor
    test_y: Tensor
    n_classes: int
    flip: bool  # horizontal flips are a valid augmentation for this data

    @property
    def c_img(self) -> int:
        return int(self.train_x.shape[1])

    def input_stats(self) -> tuple[int, float]:
        """(integer offset, scale) that normalise the training pixels: (p - offset) / scale."""
        x = self.train_x.double()
        return round(float(x.mean())), max(float(x.std()), 1.0)


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(
            f"{path}: Fashion-MNIST file not found (install the Debian package dataset-fashion-mnist or pass --data-dir)"
        ) from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable gzip idx file ({exc})") from None
    magic = int.from_bytes(data[:4], "big")
    if magic != 0x800 + ndim:
        raise DataError(f"{path}: field 'magic': expected {0x800 + ndim:#x}, got {magic:#x}")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: field 'data': {body.size} bytes, header says {dims}")
    return body.reshape(dims)


def load_fashion_mnist(data_dir: Path | None = None) -> Dataset:
    d = data_dir or FASHION_DIR

    def images(name: str) -> Tensor:
        x = _read_idx(d / f"{name}-images-idx3-ubyte.gz", 3)
        return torch.from_numpy(np.pad(x, ((0, 0), (2, 2), (2, 2)))[:, None].copy())

    def labels(name: str) -> Tensor:
        return torch.from_numpy(_read_idx(d / f"{name}-labels-idx1-ubyte.gz", 1).astype(np.int64))

    return Dataset("fashion-mnist", images("train"), labels("train"), images("t10k"), labels("t10k"), 10, True)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR-10 python batch holds (dicts, lists, bytes, numbers and numpy
    arrays): any other global is refused, so a crafted file cannot run code."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),  # bytes pickled with protocol 2 by Python 3
        }
    )

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module[:60]}.{name[:60]} (not part of a CIFAR-10 batch)")
        return super().find_class(module, name)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        raise DataError(
            f"{path}: CIFAR-10 batch not found (pass --data-dir with the python-pickle batches 'data_batch_1..5', 'test_batch'; nothing is downloaded)"
        )
    try:
        with open(path, "rb") as f:
            d = _BatchUnpickler(f, encoding="bytes").load()
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(d[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError, IndexError, AttributeError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    return x, y


def load_cifar10(data_dir: Path | None) -> Dataset:
    if data_dir is None:
        raise DataError("--data-dir: required for cifar10 (the directory holding the python-pickle batches)")
    d = data_dir / "cifar-10-batches-py" if (data_dir / "cifar-10-batches-py").is_dir() else data_dir
    parts = [_cifar_batch(d / f"data_batch_{i}") for i in range(1, 6)]
    tx, ty = _cifar_batch(d / "test_batch")
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return Dataset("cifar10", x, y, torch.from_numpy(tx), torch.from_numpy(ty), 10, True)


def load_digits(seed: int = 0) -> Dataset:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    img = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    img = img.repeat(3, axis=1).repeat(3, axis=2)
    img = np.pad(img, ((0, 0), (4, 4), (4, 4)))[:, None]
    order = np.random.default_rng(seed).permutation(len(img))
    x, y = torch.from_numpy(img[order].copy()), torch.from_numpy(d.target[order].astype(np.int64))
    return Dataset("digits", x[300:], y[300:], x[:300], y[:300], 10, False)


def load_dataset(name: str, data_dir: Path | None = None, train_subset: int = 0, seed: int = 0) -> Dataset:
    if name == "fashion-mnist":
        ds = load_fashion_mnist(data_dir)
    elif name == "cifar10":
        ds = load_cifar10(data_dir)
    elif name == "digits":
        ds = load_digits(seed)
    else:
        raise DataError(f"--dataset: unknown dataset {name!r}, expected one of {DATASETS}")
    if train_subset:
        # A seeded subset, for quick runs; the test set stays whole.
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(ds.train_y), generator=g)[:train_subset]
        ds = Dataset(ds.name, ds.train_x[idx], ds.train_y[idx], ds.test_x, ds.test_y, ds.n_classes, ds.flip)
    return ds


def augment(x: Tensor, generator: torch.Generator, pad: int = 4, flip: bool = True) -> Tensor:
    """Random crop after zero padding, and random horizontal flip, drawn from `generator`."""
    n, _c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).tolist()
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=generator).tolist()
    do = (torch.rand(n, generator=generator) < 0.5).tolist() if flip else [False] * n
    # A plain loop of slices: multi-index gathers over uint8 crashed torch 2.13's CPU kernels
    # with two threads (double free); slicing is as fast at these batch sizes.
    out = torch.empty_like(x)
    for j in range(n):
        crop = padded[j, :, oy[j] : oy[j] + h, ox[j] : ox[j] + w]
        out[j] = crop.flip(-1) if do[j] else crop
    return out
