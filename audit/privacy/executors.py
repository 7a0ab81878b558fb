"""Where the shadow models train: a local process pool (the default) or one task per shadow on a Ray cluster.

Both executors run the same `shadows.run_job` on the same `ShadowJob`s (same seeds, same cache keys), each with
one torch thread, so their signals files are byte-identical; only the place and the failure handling differ.

local: `workers` spawned processes on this machine (`run_local`); the first failure ends the run.

ray (`run_ray`, needs the optional extra `segaudit[ray]`; Ray is imported only here, only when asked for):
- connects to the cluster at `address` (default $RAY_ADDRESS; Ray's token authentication, when the cluster has
  it, is found as Ray finds it: $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token); with neither, Ray
  starts a private cluster on this machine for the run and stops it after;
- a probe task on every node that has CPUs checks, before anything is scheduled, that the node sees the dataset
  package (same manifest bytes) and can write the shadow cache at the same absolute paths: package and cache
  must lie on a filesystem shared by every node;
- the plan (the list of jobs) goes into the object store once; each task gets a reference and its position;
- each shadow is one task declaring num_cpus=1, num_gpus=1 when the device is CUDA, and `memory_mb`; a task
  whose process or node dies is re-run up to `max_retries` times (a re-run starts with `recover_leftovers`, so
  the killed attempt's staging is removed); an exception inside a task is not retried;
- before training, a task checks that the files it reads hash to what the plan's cache key says (a node with a
  stale copy would otherwise cache a shadow under the wrong key);
- an `InputError` in a task cancels the rest and is raised here, naming the file and the shadow; any other
  failure (retries exhausted, a crash) is collected, the other shadows finish, and `ShadowsFailed` says
  "k of K failed" with their keys. Finished shadows are in the cache, so a rerun trains only the failed ones.

The target's queries (its signals on the pool and on the population) run, with the ray executor, as chunks of
TARGET_CHUNK images (`query_ray`): one task per chunk opens the target once, checks the model and the images
against the driver's sha256, and returns only the chunk's per-image signals, which the driver concatenates in
the original order. Chunks start on batch boundaries and the label-only noise is seeded by the image's position
in the whole list, so the signals are byte-identical to the driver's own `compute_signals`.

`segaudit audit --executor ray` also scores the fairness split this way (`table_ray`): one task per chunk of
TARGET_CHUNK images opens the model once, checks it and the images against the driver's sha256 and returns only
the per-image rows (plain dicts); the driver concatenates them in manifest order and types them as the local
path does, so table.csv is byte-identical. `run_chunks` is the one chunked-task runner both use.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segaudit.core.errors import InputError, PartialFailure

if TYPE_CHECKING:
    from tqdm import tqdm

    from segaudit.audit.privacy.config import PrivacyConfig
    from segaudit.audit.privacy.shadows import ShadowJob
    from segaudit.audit.privacy.signals import Signals

log = logging.getLogger(__name__)
RAY_INSTALL = "pip install -c constraints.txt -e '.[ray]' (the extra segaudit[ray]: ray 2.60.0)"
# images per target-query task (rounded up to a multiple of the batch size): large enough that opening the model
# and Ray's per-task cost (about a second) are small beside the queries, small enough to spread over the nodes
TARGET_CHUNK = 128


def require_ray() -> None:
    """InputError (exit 2) with the install line when Ray is not installed; imports nothing."""
    if importlib.util.find_spec("ray") is None:
        raise InputError(f"--executor ray needs Ray, which is not installed: {RAY_INSTALL}", field="executor")


@dataclass(frozen=True)
class RaySettings:
    """How shadow tasks run on Ray (from PrivacyConfig: executor, ray_address, device, ray_task_memory_mb,
    ray_max_retries, workers)."""

    address: str | None = None
    device: str = "cpu"
    memory_mb: int = 2048
    max_retries: int = 3
    local_cpus: int | None = None  # CPUs of a Ray started here when no cluster address is known

    @classmethod
    def from_config(cls, config: PrivacyConfig) -> RaySettings | None:
        """The Ray settings of `config`, or None for the local executor."""
        if config.executor != "ray":
            return None
        return cls(address=config.ray_address, device=config.device, memory_mb=config.ray_task_memory_mb,
                   max_retries=config.ray_max_retries, local_cpus=config.workers)

    @property
    def num_gpus(self) -> int:
        return 1 if self.device.startswith("cuda") else 0


@dataclass(frozen=True)
class ShadowFailure:
    """A shadow that failed for good: its position in the plan, its cache key and what happened."""

    index: int
    key: str
    error: str


class ShadowsFailed(PartialFailure):
    """Some shadows failed for good (the others are cached): "k of K failed", with their keys."""

    def __init__(self, failures: list[ShadowFailure], total: int, cache: str | Path) -> None:
        self.failures = failures
        self.total = total
        self.cache = Path(cache)
        listed = "; ".join(f"shadow {f.index} (key {f.key}): {f.error}" for f in failures)
        super().__init__(f"{len(failures)} of {total} shadow models failed: {listed}. The {total - len(failures)} "
                         f"others are in the cache {self.cache}; run the same command again to resume (only the "
                         "failed ones train)")


def run_local(missing: list[ShadowJob], workers: int | None, bar: tqdm) -> None:
    """Train and query `missing` in `workers` spawned processes (one torch thread each), or here when one."""
    from segaudit.audit.privacy.shadows import run_job

    workers = max(1, min(len(missing), workers or os.cpu_count() or 1))
    if workers > 1 and len(missing) > 1:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=one_thread) as pool:
            futures = [pool.submit(run_job, job) for job in missing]
            for future in as_completed(futures):
                future.result()
                bar.update()
    else:
        for job in missing:
            run_job(job)
            bar.update()


def one_thread() -> None:
    """One torch thread per shadow process: on a small CPU several one-thread processes beat one many-thread
    process, and the results do not depend on how many run side by side."""
    import torch

    torch.set_num_threads(1)


def run_ray(missing: list[ShadowJob], settings: RaySettings, bar: tqdm) -> None:
    """Train and query `missing` as Ray tasks (see the module docstring); raises InputError or ShadowsFailed."""
    import ray
    from ray.exceptions import RayError, RayTaskError, TaskCancelledError

    missing = [_absolute(job) for job in missing]
    owned = _connect(ray, settings)
    try:
        _check_resources(ray, settings)
        _probe_nodes(ray, missing[0])
        plan = ray.put(missing)  # once, into the object store: tasks get a reference and their position
        task = ray.remote(shadow_task).options(
            num_cpus=1, num_gpus=settings.num_gpus, memory=settings.memory_mb * 2**20,
            max_retries=settings.max_retries, retry_exceptions=False, name="segaudit-shadow")
        pending = {task.remote(plan, position): position for position in range(len(missing))}
        failures: list[ShadowFailure] = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = missing[pending.pop(done[0])]
            try:
                ray.get(done[0])
            except RayTaskError as error:
                cause = getattr(error, "cause", None)
                if isinstance(cause, InputError):
                    for ref in pending:  # not forced: a running task unwinds and removes its staging
                        ray.cancel(ref)
                    raise cause from None
                failures.append(ShadowFailure(job.index, job.key, _describe(cause or error)))
            except (TaskCancelledError, RayError) as error:  # retries exhausted: the process or node died
                failures.append(ShadowFailure(job.index, job.key, _describe(error)))
            bar.update()
        if failures:
            raise ShadowsFailed(sorted(failures, key=lambda f: f.index), len(missing), missing[0].cache)
    finally:
        if owned:
            ray.shutdown()


def shadow_task(plan: list[ShadowJob], position: int) -> str:
    """One shadow on a Ray worker: check the files against the cache key, train unless cached, compute its
    signals; returns the signals file. An InputError names the shadow and the node beside the file."""
    from segaudit.audit.privacy.shadows import _is_trained, run_job

    one_thread()
    job = plan[position]
    try:
        if not job.signals_path.is_file():  # an earlier attempt or another run finished it
            if not _is_trained(job.folder):
                verify_files(job)
            run_job(job)
    except InputError as error:
        raise InputError(f"{error.message} (shadow {job.index}, key {job.key}, node {_node()})", path=error.path,
                         row=error.row, field=error.field) from None
    return str(job.signals_path)


def verify_files(job: ShadowJob) -> None:
    """InputError naming the first training or validation file whose bytes differ from the planned ones."""
    verify_rows(Path(job.package_root), (*job.train_rows, *job.val_rows), job.digests)


def verify_rows(root: Path, rows: tuple[dict[str, str], ...], digests: tuple[tuple[str, ...], ...]) -> None:
    """InputError naming the first image or mask of `rows` whose sha256 is not the planned one in `digests`
    ([id, sha256(image), sha256(mask)] per row): read here, never from the digest cache."""
    from segaudit.models.checkpoint import sha256_file

    for row, planned in zip(rows, digests, strict=False):
        for column, expected in (("image", planned[1]), ("mask", planned[2])):
            path = root / row[column]
            try:
                found = sha256_file(path)
            except OSError as exc:
                raise InputError(f"cannot read {column} of {row['id']!r} here ({exc.strerror or exc}); the package "
                                 "must be on a filesystem every node shares, at the same path", path=path) from None
            if found != expected:
                raise InputError(f"the {column} of {row['id']!r} differs from the one the audit planned with "
                                 f"(sha256 {found[:12]}, planned {expected[:12]}): the package changed during the "
                                 "run, or this node reads another copy", path=path, field=column)


@contextmanager
def ray_session(settings: RaySettings | None) -> Iterator[None]:
    """Connected to the cluster for the block (the target's queries and the shadows share one connection, and a
    Ray started here starts once); nothing with the local executor (`settings` None)."""
    if settings is None:
        yield
        return
    import ray

    owned = _connect(ray, settings)
    try:
        yield
    finally:
        if owned:
            ray.shutdown()


@dataclass(frozen=True)
class QueryChunk:
    """One target-query task: consecutive rows of the list being queried, and what to query them with."""

    model_path: str  # absolute: a checkpoint folder or a .pte, on storage every node shares
    model_sha256: str  # of the model's artifact, as the driver resolved it
    package_root: str  # absolute
    rows: tuple[dict[str, str], ...]  # manifest rows (id, image, mask)
    digests: tuple[tuple[str, ...], ...]  # [id, sha256(image), sha256(mask)] per row
    first: int  # position of rows[0] in the whole list (seeds the label-only augmentations)
    query: dict[str, Any] = field(default_factory=dict)  # compute_signals' map_size, probabilities, label_only,
    # batch_size, seed
    device: str = "cpu"


def query_chunks(model_path: str | Path, model_sha256: str, package_root: str | Path,
                 rows: list[dict[str, str]], digests: list[list[str]], query: dict[str, Any], device: str,
                 chunk: int | None = None) -> list[QueryChunk]:
    """`rows` cut into chunks of `chunk` (default TARGET_CHUNK) images, rounded up to a multiple of the batch size
    so that every batch holds the same images as in one call over all rows."""
    batch = int(query["batch_size"])
    size = max(batch, -(-(chunk or TARGET_CHUNK) // batch) * batch)
    kept = [{k: r[k] for k in ("id", "image", "mask")} for r in rows]
    return [QueryChunk(model_path=str(Path(model_path).absolute()), model_sha256=model_sha256,
                       package_root=str(Path(package_root).absolute()), rows=tuple(kept[start:start + size]),
                       digests=tuple(tuple(d) for d in digests[start:start + size]), first=start, query=dict(query),
                       device=device)
            for start in range(0, len(kept), size)]


def query_ray(groups: list[list[QueryChunk]], settings: RaySettings) -> list[Signals]:
    """Run every chunk of every group as a Ray task (all submitted at once) and return, per group, its chunks'
    signals concatenated in order. An InputError in a task cancels the rest and is raised here; any other
    failure (retries exhausted) is a RuntimeError naming the chunk: the target's signals are all needed."""
    from segaudit.audit.privacy.signals import concat

    results = run_chunks(query_task, groups, settings, name="segaudit-target", what="the target's query")
    return [concat(group) for group in results]


def run_chunks(function: Callable[[Any], Any], groups: list[list[Any]], settings: RaySettings, *, name: str,
               what: str, done: Callable[[int], object] | None = None) -> list[list[Any]]:
    """`function(chunk)` as one Ray task per chunk of every group (all submitted at once; each chunk has `first`
    and `rows`), returning the results per group in chunk order; `done(len(chunk.rows))` as each arrives in that
    order. An InputError in a task cancels the rest and is raised here; any other failure (retries exhausted) is
    a RuntimeError naming `what` and the chunk's images: every chunk is needed."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    with ray_session(settings):
        _check_resources(ray, settings)
        task = ray.remote(function).options(
            num_cpus=1, num_gpus=settings.num_gpus, memory=settings.memory_mb * 2**20,
            max_retries=settings.max_retries, retry_exceptions=False, name=name)
        refs = [[task.remote(chunk) for chunk in chunks] for chunks in groups]
        flat = [(ref, chunk) for group, chunks in zip(refs, groups, strict=True)
                for ref, chunk in zip(group, chunks, strict=True)]
        results: dict[Any, Any] = {}
        for ref, chunk in flat:
            try:
                results[ref] = ray.get(ref)
            except (RayTaskError, RayError) as error:
                cause = getattr(error, "cause", None) if isinstance(error, RayTaskError) else None
                for other, _ in flat:
                    if other not in results and other is not ref:
                        ray.cancel(other)
                if isinstance(cause, InputError):
                    raise cause from None
                raise RuntimeError(f"{what} of images {chunk.first}-{chunk.first + len(chunk.rows) - 1} "
                                   f"failed: {_describe(cause or error)}") from None
            if done is not None:
                done(len(chunk.rows))
        return [[results[ref] for ref in group] for group in refs]


def checked_segmenter(model_path: str, model_sha256: str, device: str = "cpu") -> Any:
    """The model a task was planned with, opened once: an InputError when the file this node reads is not the
    one the driver resolved (it changed during the run, or the node reads another copy)."""
    from segaudit.models.checkpoint import sha256_file
    from segaudit.models.runtime import Segmenter

    segmenter = Segmenter(model_path, device=device)
    found = sha256_file(segmenter.artifact)
    if found != model_sha256:
        raise InputError(f"the model differs from the one the audit resolved (sha256 {found[:12]}, planned "
                         f"{model_sha256[:12]}): it changed during the run, or this node reads another copy",
                         path=segmenter.artifact)
    return segmenter


def query_task(chunk: QueryChunk) -> Signals:
    """One chunk on a Ray worker: check the model and the images against the driver's sha256, open the model
    once, return the chunk's per-image signals (no images, no model leave the task)."""
    from segaudit.audit.privacy.signals import compute_signals
    from segaudit.models.data.package import load_package

    one_thread()
    where = f"target query of images {chunk.first}-{chunk.first + len(chunk.rows) - 1}, node {_node()}"
    try:
        segmenter = checked_segmenter(chunk.model_path, chunk.model_sha256, device=chunk.device)
        segmenter.batch_size = int(chunk.query["batch_size"])
        package = load_package(chunk.package_root)
        verify_rows(package.root, chunk.rows, chunk.digests)
        images = [package.read_image(r) for r in chunk.rows]
        masks = [package.read_mask(r) for r in chunk.rows]
        return compute_signals(segmenter, images, masks, package.spec.ignore_index, first=chunk.first,
                               **chunk.query)
    except InputError as error:
        raise InputError(f"{error.message} ({where})", path=error.path, row=error.row,
                         field=error.field) from None


@dataclass(frozen=True)
class TableChunk:
    """One fairness-table task: consecutive manifest rows of the audited split, and the model to score them with."""

    model_path: str  # absolute: the model as the driver's Segmenter resolved it, on storage every node shares
    model_sha256: str  # of the model's artifact, as the driver resolved it
    package_root: str  # absolute
    indices: tuple[int, ...]  # manifest index of each row (messages count rows from it)
    rows: tuple[dict[str, Any], ...]  # whole manifest records (id, split, files, attributes)
    digests: tuple[tuple[str, ...], ...]  # [id, sha256(image), sha256(mask)] per row
    first: int  # position of rows[0] in the split
    batch_size: int
    unit: str = "image"


def table_chunks(model_path: str | Path, model_sha256: str, package_root: str | Path,
                 records: list[tuple[int, dict[str, Any]]], digests: list[list[str]], batch_size: int,
                 unit: str = "image", chunk: int | None = None) -> list[TableChunk]:
    """(manifest index, record) pairs cut into chunks of `chunk` (default TARGET_CHUNK) images, rounded up to a
    multiple of the batch size so that every batch holds the same images as in one pass over the split."""
    size = max(batch_size, -(-(chunk or TARGET_CHUNK) // batch_size) * batch_size)
    return [TableChunk(model_path=str(Path(model_path).absolute()), model_sha256=model_sha256,
                       package_root=str(Path(package_root).absolute()),
                       indices=tuple(int(i) for i, _ in records[start:start + size]),
                       rows=tuple(r for _, r in records[start:start + size]),
                       digests=tuple(tuple(d) for d in digests[start:start + size]), first=start,
                       batch_size=batch_size, unit=unit)
            for start in range(0, len(records), size)]


def table_ray(segmenter: Any, package: Any, split: str, settings: RaySettings, *, unit: str = "image",
              cache: str | Path | None = None, chunk: int | None = None, progress: bool = False) -> Any:
    """The per-image table of `split` (metrics.table_from_segmenter's), scored as chunked Ray tasks: each task
    opens the model once and returns only its rows' plain dicts; the driver concatenates them in manifest order
    and types them with `normalise_table`, as the local path does, so the table is the same. The images' digests
    go through the digest cache beside the shadow cache `cache`. The tasks run on CPU, as the driver's own
    inference does, whatever `settings.device` (the shadows' device) says: a GPU could change a few pixels."""
    from dataclasses import replace

    from tqdm import tqdm

    from segaudit.audit.metrics import check_segmenter, check_unit, split_rows, table_from_rows
    from segaudit.audit.privacy.digests import cached_digests
    from segaudit.models.checkpoint import sha256_file

    check_unit(package, unit)
    check_segmenter(segmenter, package)
    manifest = split_rows(package, split)
    records = list(zip(manifest.index, manifest.to_dict("records"), strict=True))
    digests = cached_digests(package.root, [{k: r[k] for k in ("id", "image", "mask")} for _, r in records], cache)
    chunks = table_chunks(segmenter.path, sha256_file(segmenter.artifact), package.root, records, digests,
                          segmenter.batch_size, unit=unit, chunk=chunk)
    with tqdm(total=len(records), desc="inference (ray)", unit="img", disable=not progress) as bar:
        (pieces,) = run_chunks(table_task, [chunks], replace(settings, device="cpu"), name="segaudit-table",
                               what="the fairness inference", done=bar.update)
    return table_from_rows(package, [row for piece in pieces for row in piece])


def table_task(chunk: TableChunk) -> list[dict[str, Any]]:
    """One chunk of the fairness split on a Ray worker: check the model and the images against the driver's
    sha256, open the model once, predict and score; returns only the rows (plain dicts), no masks."""
    from segaudit.audit.metrics import predict_records, score_rows
    from segaudit.models.data.package import load_package

    one_thread()
    where = f"fairness inference of images {chunk.first}-{chunk.first + len(chunk.rows) - 1}, node {_node()}"
    try:
        segmenter = checked_segmenter(chunk.model_path, chunk.model_sha256)
        segmenter.batch_size = chunk.batch_size
        package = load_package(chunk.package_root)
        verify_rows(package.root, chunk.rows, chunk.digests)
        records = list(zip(chunk.indices, chunk.rows, strict=True))
        return score_rows(package, predict_records(segmenter, package, records), where="model prediction",
                          unit=chunk.unit)
    except InputError as error:
        raise InputError(f"{error.message} ({where})", path=error.path, row=error.row,
                         field=error.field) from None


def probe_node(package_root: str, manifest_sha256: str, cache: str) -> str:
    """On one node: it sees the package (the same manifest bytes) and can write the cache; returns its address."""
    from segaudit.models.checkpoint import sha256_file
    from segaudit.models.data.writer import MANIFEST_FILE

    node = _node()
    manifest = Path(package_root) / MANIFEST_FILE
    shared = "package and cache must be on a filesystem every node shares, at the same absolute path"
    try:
        found = sha256_file(manifest)
    except OSError as exc:
        raise InputError(f"node {node} cannot read the dataset package ({exc.strerror or exc}); {shared}",
                         path=manifest) from None
    if found != manifest_sha256:
        raise InputError(f"node {node} reads another version of the dataset package (manifest sha256 "
                         f"{found[:12]}, here {manifest_sha256[:12]}); {shared}", path=manifest)
    folder = Path(cache)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{node}-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"node {node} cannot write the shadow cache ({exc.strerror or exc}); {shared}",
                         path=folder, field="cache") from None
    return node


def _connect(ray: Any, settings: RaySettings) -> bool:
    """Connect to the cluster (or start a private one); returns whether this call made the connection."""
    if ray.is_initialized():  # a caller (a `ray job submit` entry point, a test) already connected
        return False
    address = settings.address or os.environ.get("RAY_ADDRESS") or None
    quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address is None:
            ray.init(num_cpus=settings.local_cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except ConnectionError as exc:
        raise InputError(f"cannot connect to the Ray cluster at {address}: {exc}", field="ray_address") from None
    return True


def _check_resources(ray: Any, settings: RaySettings) -> None:
    """InputError when no node could ever run a shadow task (it would wait forever)."""
    resources = ray.cluster_resources()
    if settings.num_gpus and resources.get("GPU", 0) < 1:
        raise InputError(f"--device {settings.device} asks for a GPU per shadow, but the Ray cluster has none "
                         f"({resources.get('CPU', 0):g} CPUs)", field="device")
    if resources.get("CPU", 0) < 1:
        raise InputError("the Ray cluster has no CPU to run shadow tasks on", field="ray_address")


def _probe_nodes(ray: Any, job: ShadowJob) -> None:
    """`probe_node` on every alive node that can run shadows, before any is scheduled."""
    from ray.exceptions import RayTaskError
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from segaudit.models.checkpoint import sha256_file
    from segaudit.models.data.writer import MANIFEST_FILE

    manifest = sha256_file(Path(job.package_root) / MANIFEST_FILE)
    probe = ray.remote(probe_node)
    nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]
    refs = [probe.options(num_cpus=0, max_retries=0, name="segaudit-probe",
                          scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))
            .remote(job.package_root, manifest, job.cache) for node in nodes]
    try:
        log.info("Ray nodes checked: %s", ", ".join(ray.get(refs)))
    except RayTaskError as error:
        if isinstance(getattr(error, "cause", None), InputError):
            raise error.cause from None
        raise


def _absolute(job: ShadowJob) -> ShadowJob:
    """The job with absolute package and cache paths: Ray workers start in other folders, on other nodes."""
    from dataclasses import replace

    return replace(job, package_root=str(Path(job.package_root).absolute()), cache=str(Path(job.cache).absolute()))


def _node() -> str:
    try:
        import ray

        return str(ray.util.get_node_ip_address())
    except Exception:  # only a label for messages
        import socket

        return socket.gethostname()


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}".strip()
