"""The exchange folders: files arrive in ``inbox``, are moved (never edited) to ``archive``
once loaded, or to ``quarantine`` with a reason file when they fail. A file's SHA-256
identifies it, so a second delivery of the same bytes is recognised."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from renkei.settings import paths


@contextlib.contextmanager
def atomic_output(path: Path, buffering: int = -1) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` whole or not at all: written under a hidden
    ``.part`` name in the same folder (a watcher globbing the real name ignores it), synced,
    then renamed over ``path`` (atomic within one file system). On an error the part file is
    removed and nothing appears."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb", buffering=buffering) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_of(path: Path, block: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    return target


def quarantine(path: Path, interface: str, reason: str) -> Path:
    """Move a bad file aside with a ``.reason.txt`` beside it (the reason holds no values)."""
    target = _move(path, paths().quarantine(interface))
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def archive(path: Path, interface: str, sha256: str | None = None) -> Path:
    """Move a loaded file to the archive.

    A second delivery of identical bytes is recognised by its hash and dropped, so the
    archive holds each distinct file once; a corrected file of the same name is kept beside
    the earlier one under a time-stamped name. ``sha256`` is the file's hash when the caller
    already has it (staging computes it), saving a second read of a large file.
    """
    existing = paths().archive(interface) / path.name
    if existing.exists() and sha256_of(existing) == (sha256 or sha256_of(path)):
        path.unlink()
        return existing
    return _move(path, paths().archive(interface))
