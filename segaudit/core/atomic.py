"""Writing outputs so that readers never see half a file or half a folder: stage beside the destination, then
rename. Every command writes through these helpers.

Staged files and folders are named `.NAME.KIND-PID-…` beside NAME (KIND: tmp, staging, old). A run killed with
SIGKILL cannot clean up after itself, so every write first looks for leftovers of NAME whose process is gone:
staging is removed, and an `old` copy (the kill fell between the two renames of a folder replacement) is put
back when NAME is missing, removed when NAME is there.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
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
    make_folder(path.parent)
    if path.exists() and not path.is_file():
        raise InputError("exists and is not a regular file; refusing to replace it", path=path)
    recover_leftovers(path)
    handle, name = tempfile.mkstemp(prefix=staging_prefix(path, "tmp"), dir=path.parent)
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
    make_folder(destination.parent)
    recover_leftovers(destination)
    try:
        staging = Path(tempfile.mkdtemp(prefix=staging_prefix(destination, tag), dir=destination.parent))
    except OSError as exc:
        raise InputError(f"cannot write here: {exc.strerror or exc}", path=destination) from None
    set_default_mode(staging)  # mkdtemp makes it private; the published folder gets the usual permissions
    try:
        yield staging
        replace_folder(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def make_folder(folder: Path) -> None:
    """`mkdir -p folder`, its failures (a file in the way, a name too long, no permission) as input errors."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError("cannot make this folder: a file is in the way (here or above)", path=folder) from None
    except OSError as exc:
        raise InputError(f"cannot make this folder: {exc.strerror or exc}", path=folder) from None


def set_default_mode(path: str | Path) -> None:
    """Give a file or folder made by tempfile (0600 / 0700) the permissions a plain open() or mkdir() would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask)


def replace_folder(new: Path, destination: Path) -> None:
    """Move a finished folder onto `destination`, replacing any old one with two renames."""
    old = None
    if destination.exists():
        old = destination.with_name(f".{destination.name}.old-{os.getpid()}-")
        if old.exists():
            shutil.rmtree(old)
        destination.rename(old)
    new.rename(destination)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def staging_prefix(destination: Path, kind: str) -> str:
    """The name prefix of this process's staging for `destination` (what `recover_leftovers` recognises)."""
    return f".{destination.name}.{kind}-{os.getpid()}-"


_LEFTOVER = re.compile(r"(tmp|staging|old)-(\d+)-")


def recover_leftovers(destination: Path) -> list[Path]:
    """Remove (or, for an `old` copy whose replacement never arrived, restore) what killed runs left beside
    `destination`; returns what was handled. Staging of a live process, this one included, is left alone."""
    destination = Path(destination)
    prefix = f".{destination.name}."
    handled = []
    for leftover in sorted(destination.parent.glob(f"{glob.escape(prefix)}*")):
        match = _LEFTOVER.match(leftover.name[len(prefix):])
        if match is None or _alive(int(match.group(2))):
            continue
        if match.group(1) == "old" and not destination.exists() and leftover.is_dir():
            leftover.rename(destination)  # the kill fell between the two renames: the previous output returns
        elif leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        handled.append(leftover)
    return handled


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def link_or_copy(source: Path, destination: Path) -> None:
    """Hard-link `source` to `destination` (a copy across file systems; nothing when it is already there): how
    the privacy audit builds the throwaway training packages of its shadows and canary runs without copying
    every image."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists():
        return
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
