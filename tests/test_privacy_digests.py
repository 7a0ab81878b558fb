"""Image digests cached by path, size and mtime; shadows' loss maps memory-mapped from their signals files.

- a second digest pass over the same files reads none of them; a file whose mtime (or size) changed is read
  again, and only that one; the cache lives beside the shadow cache, never inside it; a file modified within
  RACY_SECONDS is hashed but not remembered; a corrupt cache file is ignored;
- `Signals.load` maps the loss maps from the .npz instead of reading them, and the loss-map attack gives the
  same scores on mapped maps as on maps in memory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from segaudit.audit.privacy import digests
from segaudit.audit.privacy.attacks import AttackData, run_attack
from segaudit.audit.privacy.config import PrivacyConfig
from segaudit.audit.privacy.shadows import file_digests, plan_shadows
from segaudit.audit.privacy.signals import Signals
from segaudit.models.checkpoint import sha256_file

OLD = time.time_ns() - 3600 * 10**9  # an hour ago: outside the racy window


def _files(root: Path, n: int = 4) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        for column in ("image", "mask"):
            path = root / f"{column}s" / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{column} {i}".encode())
            os.utime(path, ns=(OLD, OLD))
        rows.append({"id": f"p{i}", "image": f"images/{i}.png", "mask": f"masks/{i}.png"})
    return rows


@pytest.fixture
def reads(monkeypatch) -> list[Path]:
    """Every file the digest cache hashes (read), in order."""
    seen: list[Path] = []

    def counting(path: str | Path) -> str:
        seen.append(Path(path))
        return sha256_file(path)

    monkeypatch.setattr(digests, "sha256_file", counting)
    return seen


def test_a_second_pass_reads_no_file_and_a_touched_one_is_hashed_again(tmp_path: Path, reads: list[Path]) -> None:
    rows = _files(tmp_path / "package")
    cache = tmp_path / "shadows"
    first = file_digests(tmp_path / "package", rows, cache)
    assert len(reads) == 8 and first == [[r["id"], sha256_file(tmp_path / "package" / r["image"]),
                                          sha256_file(tmp_path / "package" / r["mask"])] for r in rows]
    assert digests.digests_file(cache) == tmp_path / "shadows.digests.json" and not cache.exists()
    reads.clear()
    assert file_digests(tmp_path / "package", rows, cache) == first and reads == []
    # same size, new mtime: hashed again (only that file); then new bytes of the same size: a new digest
    touched = tmp_path / "package" / rows[2]["image"]
    os.utime(touched, ns=(OLD + 10**9, OLD + 10**9))
    assert file_digests(tmp_path / "package", rows, cache) == first and reads == [touched.absolute()]
    reads.clear()
    touched.write_bytes(b"IMAGE 2")
    os.utime(touched, ns=(OLD + 2 * 10**9, OLD + 2 * 10**9))
    changed = file_digests(tmp_path / "package", rows, cache)
    assert reads == [touched.absolute()] and changed[2][1] == sha256_file(touched) != first[2][1]
    assert changed[:2] == first[:2] and changed[3] == first[3] and changed[2][2] == first[2][2]


def test_racy_files_and_a_corrupt_cache_are_hashed_every_time(tmp_path: Path, reads: list[Path]) -> None:
    rows = _files(tmp_path / "package", n=1)
    fresh = tmp_path / "package" / rows[0]["image"]
    os.utime(fresh)  # just now: within RACY_SECONDS, so not remembered
    cache = tmp_path / "shadows"
    file_digests(tmp_path / "package", rows, cache)
    reads.clear()
    file_digests(tmp_path / "package", rows, cache)
    assert reads == [fresh.absolute()]
    digests.digests_file(cache).write_text("{not json")
    reads.clear()
    assert file_digests(tmp_path / "package", rows, cache)[0][2] == sha256_file(tmp_path / "package" / rows[0]["mask"])
    assert len(reads) == 2
    reads.clear()
    file_digests(tmp_path / "package", rows, None)  # no shadow cache: no digest cache either
    assert len(reads) == 2


def test_loss_maps_are_memory_mapped_and_the_loss_map_attack_is_unchanged(tmp_path: Path) -> None:
    k, p, m = 4, 24, 8
    rng = np.random.default_rng(0)
    inclusion = plan_shadows(p, k, 0)

    def signals(included: np.ndarray) -> Signals:
        loss = rng.uniform(0.1, 2.0, (p, 2))
        maps = rng.uniform(0.5, 1.5, (p, 2, m, m)) * np.where(included, 0.5, 1.0)[:, None, None, None]
        return Signals(conf=-np.log(loss), loss=loss, maps=maps.astype(np.float32),
                       label_iou=rng.uniform(0, 1, (p, 8)))

    shadows = [signals(inclusion[j]) for j in range(k)]
    loaded = []
    for j, shadow in enumerate(shadows):
        shadow.save(tmp_path / f"{j}.npz")
        loaded.append(Signals.load(tmp_path / f"{j}.npz"))
    for shadow, again in zip(shadows, loaded, strict=True):
        assert _mapped(again.maps) and not again.maps.flags.writeable
        for name in ("conf", "loss", "maps", "label_iou"):
            assert getattr(again, name).tobytes() == getattr(shadow, name).tobytes()
            assert getattr(again, name).dtype == getattr(shadow, name).dtype
        assert _mapped(again.take(slice(0, p // 2)).maps) and not _mapped(again.loss)  # a slice stays mapped
    target = signals(np.arange(p) < p // 2)
    config = PrivacyConfig(cnn_epochs=3)
    scores = [run_attack("loss-map-cnn", AttackData(target=target, shadows=source, inclusion=inclusion, seed=1),
                         config).scores for source in (shadows, loaded)]
    assert scores[0].tobytes() == scores[1].tobytes()


def _mapped(array: np.ndarray) -> bool:
    """Whether `array` is a view of a memory map (its data not read into memory)."""
    base = array.base
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    return isinstance(base, np.memmap)
