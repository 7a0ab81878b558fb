"""Writing outputs so that readers never see half a file or half a folder: stage beside the destination, then
rename. Every command writes through these helpers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from segaudit.core.errors import InputError


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; when the block completes it is flushed to disk (fsync) and
    renamed onto `path` with the usual permissions, when it raises it is removed. A full disk or a kill never
    leaves a truncated `path`: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_file():
        raise InputError("exists and is not a regular file; refusing to replace it", path=path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        set_default_mode(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", path=path) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically (see `atomic_file`)."""
    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"



@contextlib.contextmanager
def staged_folder(destination: Path, tag: str = "tmp") -> Iterator[Path]:
    """A hidden folder beside `destination` to write into; moved onto `destination` when the block completes,
    removed when it raises (Ctrl-C included), so readers never see a half-written folder."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.{tag}-", dir=destination.parent))
    set_default_mode(staging)  # mkdtemp makes it private; the published folder gets the usual permissions
    try:
        yield staging
        replace_folder(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def set_default_mode(path: str | Path) -> None:
    """Give a file or folder made by tempfile (0600 / 0700) the permissions a plain open() or mkdir() would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask)


def replace_folder(new: Path, destination: Path) -> None:
    """Move a finished folder onto `destination`, replacing any old one with two renames."""
    old = None
    if destination.exists():
        old = destination.with_name(f".{destination.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        destination.rename(old)
    new.rename(destination)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
