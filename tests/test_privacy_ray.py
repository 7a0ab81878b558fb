"""Shadow models as Ray tasks (`--executor ray`), on one machine: a local Ray head on loopback started by this
module (`ray start --head --block`) and stopped by its process id; the two-node test simulates its cluster with
`ray.cluster_utils.Cluster`.

- the local pool and Ray give byte-identical signals files and privacy outputs (tiny SINet audit, K = 4, 32 px),
  the target's queries running as chunked Ray tasks too; a second Ray run trains nothing; chunked target queries
  (label-only augmentations included) are byte-identical to one call in the driver; the fairness table of
  `segaudit audit --executor ray`, scored in chunked Ray tasks, equals the driver's (table.csv byte-identical);
- a shadow task killed once is re-run and the audit completes with no staging left; with no retries the kill is a
  failure for good, reported as "1 of 4 failed" with its key, and a rerun trains only that one;
- an InputError inside a task (a node that cannot write the cache; a file that changed after planning) ends the
  command with exit 2, naming the place; without Ray installed, exit 2 with the install line;
- on a simulated two-node cluster, the node running a shadow is removed mid-run and the audit still completes.
Skipped when Ray (the optional extra segaudit[ray]) is not installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from segaudit.app.cli.main import main
from segaudit.audit.privacy import PrivacyConfig
from segaudit.audit.privacy.audit import plan_audit, plan_shadows_for
from segaudit.audit.privacy.executors import RaySettings, ShadowsFailed
from segaudit.audit.privacy.shadows import ShadowJob, run_shadows
from segaudit.audit.privacy.target import read_recipe, read_trained
from segaudit.core.errors import InputError
from segaudit.models.data.package import load_package
from segaudit.models.data.synth import synthesize
from segaudit.models.train import TrainConfig, train

pytestmark = [pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed "
                                                                                   "(the extra segaudit[ray])"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")]

SHADOWS = 4
RECIPE = {"model": "sinet", "size": 32, "epochs": 3, "batch_size": 8, "lr": 5e-3, "early_stop_patience": 1000}
# the shadow-using attacks only (no label-only: 8 more queries per image), few resamples, no leave-one-out
SETTINGS = {"shadow_models": SHADOWS, "attacks": ("rmia", "rmia-online", "lira-online"), "bootstrap": 100,
            "min_group": 4, "leave_one_out": False, "seed": 3}
SHADOW_TASK_TITLES = ("ray::segaudit-shadow", "ray::shadow_task")


@dataclasses.dataclass(frozen=True)
class Head:
    address: str
    pid: int  # of `ray start --block`: every Ray process of this head descends from it


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    """One Ray head on 127.0.0.1 with 2 CPUs and token authentication, for this module; stopped by its pid."""
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    port = _free_port()
    token = secrets.token_hex(16)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_TMPDIR": str(temp)}  # nothing in the machine's shared /tmp/ray
    log = open(temp / "head.log", "w")  # noqa: SIM115 - held open for the head's lifetime
    head = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
                             "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    saved = {name: os.environ.get(name) for name in env}
    # the driver (this process) authenticates with the same token; Ray reads these when it is imported, which is
    # why this module imports it only inside the tests
    assert "ray" not in sys.modules, "Ray was imported before the head's token was set"
    os.environ.update(env)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (temp / "head.log").read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Ray head did not start:\n{(temp / 'head.log').read_text()}")
            time.sleep(0.2)
        yield Head(f"127.0.0.1:{port}", head.pid)
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops its processes on SIGTERM
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        log.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 members, 4 population, 10 non-members at 64 px (SINet trains at 32)."""
    return synthesize(tmp_path_factory.mktemp("ray") / "people", n=24, seed=0, size=64,
                      split_fractions=(10 / 24, 4 / 24, 10 / 24), workers=1)


@pytest.fixture(scope="module")
def target(people: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("target") / "run"
    train(people, run, TrainConfig(**RECIPE))
    return run


@pytest.fixture(scope="module")
def local(people: Path, target: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the audit with the local pool (2 processes); returns its folder (cache/, out/)."""
    root = tmp_path_factory.mktemp("local")
    assert _privacy_cli(target, people, root, "--executor", "local", "--workers", "2") == 0
    return root


def test_ray_gives_byte_identical_results_and_a_rerun_trains_nothing(ray_head: Head, people: Path, target: Path,
                                                                      local: Path, tmp_path: Path,
                                                                      monkeypatch) -> None:
    from segaudit.audit.privacy import audit, executors

    # the target's queries as Ray tasks too: chunks of 16 (one batch) make the 20 pool images 2 tasks
    monkeypatch.setattr(executors, "TARGET_CHUNK", 16)
    chunked: list[list[int]] = []

    def spy(groups: list[list[executors.QueryChunk]], settings: RaySettings) -> list:
        chunked.extend([len(c.rows) for c in chunks] for chunks in groups)
        return executors.query_ray(groups, settings)

    monkeypatch.setattr(audit, "query_ray", spy)
    assert _privacy_cli(target, people, tmp_path, "--executor", "ray", "--ray-address", ray_head.address) == 0
    assert chunked == [[16, 4], [4]]  # pool, population
    assert _signal_files(tmp_path / "cache") == _signal_files(local / "cache")
    assert len(_signal_files(local / "cache")) == SHADOWS
    for name in ("privacy.json", "scores.csv", "comparison.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (local / "out" / name).read_bytes(), name
    from segaudit.audit.privacy import run_privacy_audit

    config = PrivacyConfig(**SETTINGS, cache_dir=tmp_path / "cache", executor="ray", ray_address=ray_head.address)
    again = run_privacy_audit(target, people, config)
    assert again.shadows["trained_now"] == 0 and again.shadows["from_cache"] == SHADOWS
    assert _leftovers(tmp_path / "cache") == []


def test_target_queries_in_chunks_are_byte_identical_to_one_call(ray_head: Head, people: Path,
                                                                  target: Path) -> None:
    """Label-only augmentations too (their noise is seeded by the image's position in the whole list): chunks of
    6 images (3 batches of 2) over the 20 pool images, against the driver's `compute_signals`."""
    from segaudit.audit.privacy.executors import query_chunks, query_ray
    from segaudit.audit.privacy.shadows import file_digests
    from segaudit.audit.privacy.signals import compute_signals
    from segaudit.audit.privacy.target import resolve_target

    package = load_package(people)
    rows = plan_audit(package, PrivacyConfig(**SETTINGS)).pool.to_dict("records")
    resolved, segmenter = resolve_target(target)
    query = {"map_size": 8, "probabilities": True, "label_only": True, "batch_size": 2, "seed": 5}
    segmenter.batch_size = 2
    expected = compute_signals(segmenter, [package.read_image(r) for r in rows],
                               [package.read_mask(r) for r in rows], package.spec.ignore_index, **query)
    chunks = query_chunks(resolved.model_path, resolved.sha256, package.root, rows, file_digests(package.root, rows),
                          query, "cpu", chunk=5)
    assert [c.first for c in chunks] == [0, 6, 12, 18]  # 5 rounded up to 3 batches of 2
    (found,) = query_ray([chunks], RaySettings(address=ray_head.address))
    for name in ("conf", "loss", "maps", "label_iou"):
        assert getattr(found, name).tobytes() == getattr(expected, name).tobytes(), name
    # a node reading another model is refused, naming the chunk
    stale = [dataclasses.replace(c, model_sha256="0" * 64) for c in chunks[:1]]
    with pytest.raises(InputError, match=r"model differs .*target query of images 0-5"):
        query_ray([stale], RaySettings(address=ray_head.address))


def test_the_fairness_table_in_chunks_is_identical_to_the_local_one(ray_head: Head, people: Path, target: Path,
                                                                    tmp_path: Path) -> None:
    """`segaudit audit --executor ray` scores the fairness split as chunked Ray tasks (executors.table_ray): over
    all 24 images in chunks of 6 (3 batches of 2), the table equals the driver's `table_from_segmenter`, and its
    table.csv is the same bytes; a node reading another model is refused, naming the chunk."""
    import pandas as pd

    from segaudit.app.audit_config import AuditConfig
    from segaudit.app.full_audit import _ray_settings, _table
    from segaudit.audit.metrics import table_from_segmenter, write_table
    from segaudit.audit.privacy import executors
    from segaudit.models.runtime import Segmenter

    package = load_package(people)
    segmenter = Segmenter(target, batch_size=2)
    expected = table_from_segmenter(segmenter, package, "all")
    settings = RaySettings(address=ray_head.address)
    seen: list[list[int]] = []
    real = executors.table_chunks

    def spy(*args: object, **kwargs: object) -> list[executors.TableChunk]:
        chunks = real(*args, **{**kwargs, "chunk": 5})
        seen.append([c.first for c in chunks])
        return chunks

    executors.table_chunks = spy  # type: ignore[assignment]
    try:
        found = executors.table_ray(segmenter, package, "all", settings, cache=tmp_path / "cache")
        # the whole audit's wiring: the privacy settings' executor sends the fairness inference to Ray too
        config = AuditConfig(split="test", privacy=PrivacyConfig(executor="ray", ray_address=ray_head.address,
                                                                 cache_dir=tmp_path / "cache"))
        wired = _table(segmenter, package, config, _ray_settings(config), progress=False)
    finally:
        executors.table_chunks = real  # type: ignore[assignment]
    assert seen == [[0, 6, 12, 18], [0, 6]]  # 5 rounded up to 3 batches of 2; the test split has 10 images
    pd.testing.assert_frame_equal(found, expected)
    pd.testing.assert_frame_equal(wired, table_from_segmenter(segmenter, package, "test"))
    assert write_table(found, tmp_path / "ray.csv").read_bytes() == \
        write_table(expected, tmp_path / "local.csv").read_bytes()
    # a node reading another model is refused, naming the chunk
    chunks = real(segmenter.path, "0" * 64, package.root, [(0, package.manifest.iloc[0].to_dict())],
                  [["x", "", ""]], 2)
    with pytest.raises(InputError, match=r"model differs .*fairness inference of images 0-0"):
        executors.run_chunks(executors.table_task, [chunks], settings, name="segaudit-table", what="inference")


def test_a_killed_task_is_retried_and_failures_are_reported_then_resumed(ray_head: Head, people: Path,
                                                                         target: Path, local: Path,
                                                                         tmp_path: Path) -> None:
    jobs, inclusion = _plan(people, target, tmp_path / "cache")
    # no retries: the killed shadow fails for good, the other three finish and stay in the cache
    with _kill_one_shadow_task(ray_head.pid) as killed, pytest.raises(ShadowsFailed) as failed:
        run_shadows(jobs, inclusion, None, ray=RaySettings(address=ray_head.address, max_retries=0))
    assert killed, "no shadow task was seen running"
    assert failed.value.total == SHADOWS and len(failed.value.failures) == 1
    key = failed.value.failures[0].key
    assert f"1 of {SHADOWS} shadow models failed" in str(failed.value) and key in str(failed.value)
    assert len(_signal_files(tmp_path / "cache")) == SHADOWS - 1
    # the rerun resumes: only the failed shadow trains, and it is killed once more and re-run by Ray
    with _kill_one_shadow_task(ray_head.pid) as killed:
        shadows = run_shadows(jobs, inclusion, None, ray=RaySettings(address=ray_head.address, max_retries=2))
    assert killed and shadows.trained == 1
    assert _signal_files(tmp_path / "cache") == _signal_files(local / "cache")
    assert _leftovers(tmp_path / "cache") == []


def test_an_input_error_in_a_task_is_exit_2_naming_the_place(ray_head: Head, people: Path, target: Path,
                                                             tmp_path: Path, capsys) -> None:
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("")
    code = main(["privacy", "--model", str(target), "--data", str(people), "--cache", str(not_a_folder),
                 *_options(), "--executor", "ray", "--ray-address", ray_head.address, "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2, error
    message = error.strip().splitlines()[-1]
    assert message.startswith(f"segaudit: error: {not_a_folder}: field 'cache': node "), message
    assert "cannot write the shadow cache" in message
    assert not (tmp_path / "out").exists()
    # a file that changed after the plan: the task checks the bytes against the cache key before training
    copy = shutil.copytree(people, tmp_path / "people")
    jobs, inclusion = _plan(copy, target, tmp_path / "cache")
    changed = copy / jobs[0].val_rows[0]["image"]  # the population: every shadow's validation images
    changed.write_bytes(changed.read_bytes() + b"\0")
    with pytest.raises(InputError, match="differs from the one the audit planned") as raised:
        run_shadows(jobs, inclusion, None, ray=RaySettings(address=ray_head.address))
    assert str(changed) in str(raised.value) and "(shadow " in str(raised.value)
    assert _signal_files(tmp_path / "cache") == {} and _leftovers(tmp_path / "cache") == []


def test_without_ray_the_executor_is_exit_2_with_the_install_line(people: Path, target: Path, tmp_path: Path,
                                                                  monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what find_spec sees when Ray is not installed
    code = main(["privacy", "--model", str(target), "--data", str(people), "--executor", "ray",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "pip install" in capsys.readouterr().err


def test_a_two_node_cluster_loses_a_node_mid_run_and_completes(people: Path, target: Path, local: Path,
                                                               tmp_path: Path, monkeypatch) -> None:
    import ray
    from ray.cluster_utils import Cluster

    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", temp)  # the cluster's files there, not in the machine's shared /tmp/ray
    cluster = None
    try:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        doomed = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        raylet = doomed.all_processes["raylet"][0].process.pid
        jobs, inclusion = _plan(people, target, tmp_path / "cache")

        def remove(pid: int) -> None:
            cluster.remove_node(doomed)

        with _kill_one_shadow_task(under=raylet, kill=remove) as removed:
            shadows = run_shadows(jobs, inclusion, None, ray=RaySettings(address=cluster.address))
        assert removed, "no shadow task was seen running on the removed node"
        assert shadows.trained == SHADOWS
        assert _signal_files(tmp_path / "cache") == _signal_files(local / "cache")
        assert _leftovers(tmp_path / "cache") == []
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _options() -> list[str]:
    return ["--shadow-models", str(SHADOWS), "--attacks", ",".join(SETTINGS["attacks"]), "--bootstrap",
            str(SETTINGS["bootstrap"]), "--min-group", str(SETTINGS["min_group"]), "--no-leave-one-out",
            "--seed", str(SETTINGS["seed"]), "--no-plots"]


def _privacy_cli(target: Path, people: Path, root: Path, *executor: str) -> int:
    return main(["privacy", "--model", str(target), "--data", str(people), "--cache", str(root / "cache"),
                 *_options(), *executor, "--out", str(root / "out")])


def _plan(people: Path, target: Path, cache: Path) -> tuple[list[ShadowJob], object]:
    config = PrivacyConfig(**SETTINGS, cache_dir=cache)
    package = load_package(people)
    recipe = target / "config.json"
    jobs, inclusion, _ = plan_shadows_for(package, plan_audit(package, config), config, read_recipe(recipe),
                                          read_trained(recipe))
    return jobs, inclusion


def _signal_files(cache: Path) -> dict[str, bytes]:
    """{key/signals file: its bytes} of every finished shadow."""
    return {f"{p.parent.name}/{p.name}": p.read_bytes() for p in sorted(cache.glob("*/signals-*.npz"))}


def _leftovers(cache: Path) -> list[str]:
    """Staging (hidden .NAME.tmp-PID-... entries) anywhere in the cache."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob(".*") if ".tmp-" in p.name or ".probe" in p.name) \
        if cache.exists() else []


class _Killer:
    """A thread that waits for a running shadow task descending from process `under` and kills it once (only
    this module's Ray processes, never another Ray on the machine)."""

    def __init__(self, under: int, kill: Callable[[int], None]) -> None:
        self.under, self.kill, self.done, self.stop = under, kill, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set() and not self.done:
            for pid in _shadow_tasks(self.under):
                time.sleep(0.5)  # mid-way: after the task started
                if pid in _shadow_tasks(self.under):
                    self.kill(pid)
                    self.done.append(pid)
                    return
            time.sleep(0.1)


class _kill_one_shadow_task:  # noqa: N801 - used as a context manager, like a function
    def __init__(self, under: int,
                 kill: Callable[[int], None] = lambda pid: os.kill(pid, signal.SIGKILL)) -> None:
        self.killer = _Killer(under, kill)

    def __enter__(self) -> list[int]:
        self.killer.thread.start()
        return self.killer.done

    def __exit__(self, *exc: object) -> None:
        self.killer.stop.set()
        self.killer.thread.join(timeout=30)


def _shadow_tasks(under: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(SHADOW_TASK_TITLES) and _descends(int(entry.name), under):
            found.append(int(entry.name))
    return found


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


