"""Atomic file writes: an interrupted run never leaves a half-written result."""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; rename it over `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            os.fchmod(handle.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; use the usual permissions
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (created if missing) for the block: processes that share
    a cache folder (parallel test workers, two verify-rtl runs) build each entry once, one at a time.
    The OS releases the lock when the holder dies, so a killed build never leaves the folder locked."""
    import fcntl  # POSIX only: imported here so that archsim itself still imports where it is missing

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def unwritable_target(folder: Path, names: list[str]) -> str | None:
    """Why `folder/name` cannot be written for some name (a folder in the way, a file for the
    folder, a name the OS refuses), or None: checked before any work, so a failure costs nothing."""
    for p in (folder, *folder.parents):
        try:
            if p.exists():
                if not p.is_dir():
                    return f"{p} exists and is not a folder"
                break
        except OSError as exc:  # e.g. a name too long
            return f"{p}: {exc.strerror}"
    for name in names:
        target = folder / name
        try:
            if target.is_dir():
                return f"{target} is a folder"
        except OSError as exc:
            return f"{target}: {exc.strerror}"
    return None


@contextlib.contextmanager
def staged_output(folder: str | Path) -> Iterator[Path]:
    """A temporary folder beside `folder` to write into. On success its files move into `folder`
    (files whose bytes did not change are left alone); on failure it is removed, with any parent
    folder this call created, so `folder` is as it was. A new `folder` appears at once, whole."""
    folder = Path(folder)
    created = [p for p in reversed(folder.parents) if not p.exists()]
    stage: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        yield stage
        _move_tree(stage, folder)
    except BaseException:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        for p in reversed(created):  # innermost first; only if still empty
            with contextlib.suppress(OSError):
                p.rmdir()
        raise
    if stage.exists():
        shutil.rmtree(stage, ignore_errors=True)


def _move_tree(src: Path, dst: Path) -> None:
    files = sorted(p for p in src.rglob("*") if p.is_file())
    for f in files:  # everything checked before the first file moves
        rel = f.relative_to(src)
        for parent in [dst, *(dst / q for q in reversed(rel.parents) if str(q) != ".")]:
            if parent.exists() and not parent.is_dir():
                raise NotADirectoryError(f"{parent} exists and is not a folder")
        if (dst / rel).is_dir():
            raise IsADirectoryError(f"{dst / rel} is a folder")
    if not dst.exists():
        for d in [src, *(p for p in src.rglob("*") if p.is_dir())]:
            os.chmod(d, 0o777 & ~_umask())
        os.rename(src, dst)
        return
    for f in files:
        target = dst / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.stat().st_size == f.stat().st_size and filecmp.cmp(f, target, shallow=False):
            continue  # unchanged: keep its time stamp (build tools rebuild on a newer file)
        os.replace(f, target)


def atomic_write_files(folder: str | Path, files: dict[str, str]) -> list[Path]:
    """Write several files into `folder`: all of them or, on failure, none."""
    folder = Path(folder)
    why = unwritable_target(folder, list(files))
    if why:
        raise NotADirectoryError(why)
    with staged_output(folder) as stage:
        for name, text in files.items():
            atomic_write_text(stage / name, text)
    return [folder / name for name in files]
