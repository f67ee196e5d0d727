"""Image sets for `archsim run --images`: a dataset's test images or a user's own file.

* `fashion-mnist:test` (or `fashion-mnist:train`): the idx files of the Debian package
  dataset-fashion-mnist, 28x28 images zero-padded to the model's input size (2 pixels on each
  side for 32x32, as the trainer does). Read with gzip and numpy; nothing is downloaded.
* `PATH.npz`: `images` (uint8 [N, C, H, W], or [N, H, W] for one channel) and `labels`
  (integers [N] in [0, classes)), documented in docs/formats.md section 5.

Every problem is an ArchsimError naming the file and the field.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsim.errors import ArchsimError
from archsim.format import _read_members as read_npz_members

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_SPLITS = {"test": "t10k", "train": "train"}
FASHION_SIZE = 28
IDX_MAX_BYTES = 256 << 20  # inflated idx file (Fashion-MNIST's largest is 47 MB)


class ImagesError(ArchsimError):
    """An image set is missing or malformed."""


@dataclass(frozen=True, eq=False)
class ImageSet:
    source: str  # as given on the command line
    files: tuple[str, ...]  # the files read
    images: np.ndarray  # uint8 [N, C, H, W], the model's input shape
    labels: np.ndarray  # int64 [N]

    def __len__(self) -> int:
        return len(self.labels)


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """A gzip-compressed idx file of unsigned bytes with `ndim` dimensions."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read(IDX_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ImagesError(
            f"{path}: not found (Fashion-MNIST comes from the Debian package {FASHION_PACKAGE}: "
            f"apt-get install {FASHION_PACKAGE})"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise ImagesError(f"{path}: not a readable gzip idx file ({exc})") from None
    if len(data) > IDX_MAX_BYTES:
        raise ImagesError(f"{path}: field 'data': inflates to more than {IDX_MAX_BYTES} bytes")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ImagesError(f"{path}: field 'header': {len(data)} bytes, an idx header needs {head}")
    magic = int.from_bytes(data[:4], "big")
    if magic != 0x800 + ndim:
        raise ImagesError(
            f"{path}: field 'magic': expected {0x800 + ndim:#x} (unsigned bytes, {ndim}-D), got {magic:#x}"
        )
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=head)
    if body.size != int(np.prod(dims)):
        raise ImagesError(f"{path}: field 'data': {body.size} bytes, the header says {dims}")
    return body.reshape(dims)


def _fit(images: np.ndarray, shape: tuple[int, int, int], where: str) -> np.ndarray:
    """28x28 single-channel images centred in the model's input by zero padding."""
    c, h, w = shape
    dh, dw = h - FASHION_SIZE, w - FASHION_SIZE
    if c != 1 or dh < 0 or dw < 0 or dh % 2 or dw % 2:
        raise ImagesError(
            f"{where}: images are 1x{FASHION_SIZE}x{FASHION_SIZE}; the model expects {c}x{h}x{w} "
            "(one channel, at least as large, an even margin)"
        )
    return np.pad(images, ((0, 0), (dh // 2, dh // 2), (dw // 2, dw // 2)))[:, None]


def load_fashion_mnist(split: str, shape: tuple[int, int, int], n_classes: int, root: Path | None = None) -> ImageSet:
    d = FASHION_DIR if root is None else root
    if not d.is_dir():
        raise ImagesError(
            f"{d}: Fashion-MNIST folder not found (install the Debian package {FASHION_PACKAGE}: "
            f"apt-get install {FASHION_PACKAGE})"
        )
    stem = FASHION_SPLITS[split]
    ipath, lpath = d / f"{stem}-images-idx3-ubyte.gz", d / f"{stem}-labels-idx1-ubyte.gz"
    images, labels = read_idx(ipath, 3), read_idx(lpath, 1)
    if images.shape[1:] != (FASHION_SIZE, FASHION_SIZE):
        raise ImagesError(f"{ipath}: field 'dims': images are {images.shape[1:]}, expected 28x28")
    if len(labels) != len(images):
        raise ImagesError(f"{lpath}: field 'dims': {len(labels)} labels for {len(images)} images in {ipath}")
    _check_labels(labels, n_classes, f"{lpath}: field 'labels'")
    return ImageSet(
        f"fashion-mnist:{split}", (str(ipath), str(lpath)), _fit(images, shape, str(ipath)), labels.astype(np.int64)
    )


def _check_labels(labels: np.ndarray, n_classes: int, where: str) -> None:
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        bad = int(np.flatnonzero((labels < 0) | (labels >= n_classes))[0])
        raise ImagesError(f"{where}: label {int(labels[bad])} at index {bad} is outside [0, {n_classes})")


def load_npz(path: Path, shape: tuple[int, int, int], n_classes: int) -> ImageSet:
    # The model files' hardened reader: sizes checked before inflating, integer and boolean arrays only.
    arrays = read_npz_members(path, "image set")
    for key in ("images", "labels"):
        if key not in arrays:
            raise ImagesError(f"{path}: field '{key}': missing (found {sorted(arrays) or 'no arrays'})")
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != np.uint8:
        raise ImagesError(f"{path}: field 'images': dtype {images.dtype}, expected uint8 pixels")
    if images.ndim == 3 and shape[0] == 1:
        images = images[:, None]
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape):
        raise ImagesError(
            f"{path}: field 'images': shape {images.shape}, the model expects [N, {', '.join(map(str, shape))}]"
        )
    if len(images) == 0:
        raise ImagesError(f"{path}: field 'images': no image")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ImagesError(f"{path}: field 'labels': expected a 1-D integer array, got {labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise ImagesError(f"{path}: field 'labels': {len(labels)} labels for {len(images)} images")
    _check_labels(labels, n_classes, f"{path}: field 'labels'")
    return ImageSet(str(path), (str(path),), np.ascontiguousarray(images), labels.astype(np.int64))


def load_images(spec: str, shape: tuple[int, int, int], n_classes: int) -> ImageSet:
    """The image set named by `--images SPEC` for a model of input `shape` and `n_classes` outputs."""
    name, _, split = spec.partition(":")
    if name == "fashion-mnist":
        split = split or "test"
        if split not in FASHION_SPLITS:
            raise ImagesError(f"option '--images': unknown split {split!r} of fashion-mnist, expected test or train")
        return load_fashion_mnist(split, shape, n_classes)
    if spec.endswith(".npz"):
        return load_npz(Path(spec), shape, n_classes)
    raise ImagesError(f"option '--images': {spec!r} is neither fashion-mnist:test, fashion-mnist:train nor a .npz file")
