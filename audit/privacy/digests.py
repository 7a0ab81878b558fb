"""The sha256 of the package's images and masks, cached by (absolute path, size, mtime_ns).

Every audit keys its shadows by the sha256 of the files they train and are queried on; hashing thousands of
images on every run costs more than the rest of a cached rerun. The cache is one JSON file beside the shadow
cache folder CACHE (CACHE.digests.json, never inside it: the shadow cache holds shadows only), mapping an
absolute path to [size, mtime_ns, sha256]. A file whose size or modification time changed is hashed again.

A file modified less than RACY_SECONDS before it was hashed is hashed but not remembered: on a filesystem with
coarse timestamps a second write within the same tick would keep size and mtime and be missed (git's "racy"
entries). The cache is an optimisation only: an unreadable or corrupt file is ignored and rebuilt, a failed
write is logged, and tasks on other nodes check the bytes themselves (executors.verify_rows).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from segaudit.models.checkpoint import sha256_file

log = logging.getLogger(__name__)
DIGESTS_VERSION = 1
RACY_SECONDS = 2.0


def digests_file(cache: str | Path) -> Path:
    """Where the digests of audits with shadow cache `cache` are kept: beside it (hidden when it is)."""
    cache = Path(cache).absolute()
    return cache.parent / f"{cache.name}.digests.json"


class DigestCache:
    """sha256 of files by (absolute path, size, mtime_ns); `save` writes the entries learnt since `load`."""

    def __init__(self, path: Path | None, entries: dict[str, list] | None = None) -> None:
        self.path = path
        self.entries: dict[str, list] = entries or {}
        self.changed = False

    @classmethod
    def load(cls, path: Path | None) -> DigestCache:
        """The cache at `path` (empty when absent, unreadable or of another version; None: not kept)."""
        if path is None or not path.is_file():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["entries"] if data.get("v") == DIGESTS_VERSION else {}
            if not isinstance(entries, dict):
                entries = {}
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            log.debug("ignoring the unreadable digest cache %s", path)
            entries = {}
        return cls(path, entries)

    def sha256(self, path: str | Path) -> str:
        """The file's sha256: from the cache when its size and mtime_ns are the remembered ones, else read."""
        path = Path(path).absolute()
        stat = path.stat()
        key = str(path)
        entry = self.entries.get(key)
        if isinstance(entry, list) and len(entry) == 3 and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            return str(entry[2])
        found = sha256_file(path)
        if time.time_ns() - stat.st_mtime_ns >= RACY_SECONDS * 1e9:
            self.entries[key] = [stat.st_size, stat.st_mtime_ns, found]
            self.changed = True
        return found

    def save(self) -> None:
        """Write the cache when it learnt something (atomically; a failure is logged, never raised)."""
        if self.path is None or not self.changed:
            return
        from segaudit.core.atomic import atomic_file

        try:
            with atomic_file(self.path) as tmp:
                tmp.write_text(json.dumps({"v": DIGESTS_VERSION, "entries": self.entries}), encoding="utf-8")
            self.changed = False
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written costs time only
            log.warning("could not write the image digest cache %s: %s", self.path, exc)


def cached_digests(root: Path, rows: list[dict[str, str]], cache: str | Path | None) -> list[list[str]]:
    """[id, sha256(image), sha256(mask)] per row, through the digest cache of shadow cache `cache` (None: no
    cache, every file read)."""
    store = DigestCache.load(digests_file(cache) if cache is not None else None)
    try:
        return [[r["id"], store.sha256(Path(root) / r["image"]), store.sha256(Path(root) / r["mask"])] for r in rows]
    finally:
        store.save()


__all__ = ["DigestCache", "cached_digests", "digests_file"]
