"""The writing kernel: what a killed run leaves beside an output is cleaned up, or put back, by the next write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from segaudit.app.cli.main import main
from segaudit.core.atomic import recover_leftovers, staged_folder, write_atomic
from tests.test_fairness_cli import write_table


def dead_pid() -> int:
    """The process id of a process that has exited (not reused within a test's lifetime in practice)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_leftovers_of_dead_processes_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = dead_pid()
    (tmp_path / f".x.json.tmp-{dead}-abc").write_text("half")
    (tmp_path / f".x.json.staging-{dead}-abc").mkdir()
    (tmp_path / f".x.json.tmp-{os.getpid()}-abc").write_text("mine, still being written")
    (tmp_path / ".x.json.notes").write_text("not a leftover: no kind and process id")
    (tmp_path / f".y.json.tmp-{dead}-abc").write_text("another output's")
    write_atomic(tmp_path / "x.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".x.json.tmp-{os.getpid()}-abc", ".x.json.notes", f".y.json.tmp-{dead}-abc", "x.json"])


def test_a_kill_between_the_two_renames_gives_the_old_output_back(tmp_path: Path) -> None:
    old = tmp_path / f".out.old-{dead_pid()}-"
    old.mkdir()
    (old / "audit.json").write_text("the previous audit")
    assert recover_leftovers(tmp_path / "out") == [old]
    assert (tmp_path / "out" / "audit.json").read_text() == "the previous audit" and not old.exists()


def test_an_old_copy_is_dropped_when_the_new_output_arrived(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "audit.json").write_text("new")
    old = tmp_path / f".out.old-{dead_pid()}-"
    old.mkdir()
    recover_leftovers(tmp_path / "out")
    assert not old.exists() and (tmp_path / "out" / "audit.json").read_text() == "new"


def test_a_sigkilled_writer_is_cleaned_up_by_the_next_command(tmp_path: Path, capsys) -> None:
    out = tmp_path / "fairness"
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal\nfrom pathlib import Path\nfrom segaudit.core.atomic import staged_folder\n"
        f"with staged_folder(Path({str(out)!r}), tag='tmp') as staging:\n"
        "    (staging / 'fairness.json').write_text('{')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")], capture_output=True)
    assert killed.returncode == -9
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == [".fairness.tmp"]
    assert main(["fairness", "--table", str(write_table(tmp_path / "t.csv")), "--bootstrap", "200",
                 "--no-plots", "--out", str(out)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fairness", "t.csv"]


def test_staging_is_removed_when_the_block_raises(tmp_path: Path) -> None:
    try:
        with staged_folder(tmp_path / "out") as staging:
            (staging / "a").write_text("x")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert list(tmp_path.iterdir()) == []


def test_sigterm_unwinds_like_ctrl_c_leaving_the_previous_output_and_no_staging(tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "people"
    segaudit = [sys.executable, "-m", "segaudit", "data", "synth", "--out", str(out), "--size", "64",
                "--workers", "1"]
    assert subprocess.run([*segaudit, "--n", "6"], capture_output=True).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    running = subprocess.Popen([*segaudit, "--n", "5000", "--overwrite"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".people.tmp-*/images/*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    running.send_signal(signal.SIGTERM)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 143, err
    assert "terminated; nothing half-written was kept" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people"]  # the staging went with it
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_forked_child_still_ends_on_sigterm_as_usual() -> None:
    """Pool workers forked while the command runs inherit its SIGTERM handler: they must end as SIGTERM ends a
    process, not unwind (Pool.terminate signals them while they may hold a lock their siblings share)."""
    import multiprocessing
    import signal
    import time

    from segaudit.app.cli.main import _sigterm_unwinds

    with _sigterm_unwinds():
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(30,))
        child.start()
        time.sleep(0.3)
        child.terminate()
        child.join(10)
    assert child.exitcode == -signal.SIGTERM
