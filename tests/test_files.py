"""Atomic writes, locks and the cleaning of dead writers' temporaries (utils.files)."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from utils import files
from utils.errors import UsageError


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("old")
    with files.atomic_write(target, "w") as handle:
        handle.write("new")
        assert target.read_text() == "old"  # readers see the old file until the very end
    assert target.read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.txt"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), files.atomic_write(target, "w") as handle:  # noqa: PT012 (the writer block is what raises)
        handle.write("half")
        raise RuntimeError("writer crashed")
    assert target.read_text() == "old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.txt"]


def _write_forever(path):
    with files.atomic_write(path, "wb") as handle:
        handle.write(b"x" * 1000)
        handle.flush()
        time.sleep(60)


def test_temporaries_of_killed_writers_are_cleaned_on_the_next_write(tmp_path):
    target = tmp_path / "db.npz"
    writer = multiprocessing.get_context("fork").Process(target=_write_forever, args=(target,))
    writer.start()
    deadline = time.time() + 10
    while not list(tmp_path.glob(".db.npz.*.tmp")) and time.time() < deadline:
        time.sleep(0.05)
    orphans = list(tmp_path.glob(".db.npz.*.tmp"))
    assert len(orphans) == 1
    # a live writer's temporary is never touched
    assert files.clean_stale_temporaries(target) == [] and orphans[0].exists()
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    files.write_text(target, "fresh")
    assert not orphans[0].exists() and target.read_text() == "fresh"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["db.npz"]


def test_unrelated_files_that_look_similar_are_left_alone(tmp_path):
    target = tmp_path / "db.npz"
    keep = [tmp_path / ".db.npz.notapid.tmp", tmp_path / ".other.npz.999999.ab.tmp", tmp_path / "db.npz.tmp"]
    for path in keep:
        path.write_text("keep me")
    files.write_text(target, "x")
    assert all(path.exists() for path in keep)


def _increment(path, times):
    for _ in range(times):
        with files.locked(path):
            value = int(path.read_text()) if path.exists() else 0
            time.sleep(0.001)
            files.write_text(path, str(value + 1))


def test_the_lock_serialises_read_change_write_across_processes(tmp_path):
    counter = tmp_path / "counter.txt"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_increment, args=(counter, 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert int(counter.read_text()) == 100


_TRY_LOCK = """
import sys, filelock
try:
    filelock.FileLock(sys.argv[1]).acquire(timeout=0)
    print("free")
except filelock.Timeout:
    print("held")
"""


def _try_lock_elsewhere(path) -> str:
    """What another process sees when it tries filelock's lock on ``path``'s lock file at once."""
    done = subprocess.run(
        [sys.executable, "-c", _TRY_LOCK, str(files.lock_path(path))], capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip() or done.stderr


def test_the_lock_is_the_os_lock_filelock_takes_so_other_processes_see_it(tmp_path):
    """The lock is filelock's (flock / LockFileEx): held inside the block, free after it."""
    data = tmp_path / "faces.npz"
    with files.locked(data):
        inside = _try_lock_elsewhere(data)
    with files.locked(data, shared=True):  # a reader's lock keeps writers out too
        inside_shared = _try_lock_elsewhere(data)
    assert (inside, inside_shared, _try_lock_elsewhere(data)) == ("held", "held", "free")


def test_a_lock_whose_holder_was_killed_is_free(tmp_path):
    """The OS drops the lock with its holder: a kill -9 inside the block never leaves it locked."""
    data = tmp_path / "faces.npz"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom utils import files\nwith files.locked(sys.argv[1]):\n"
            "    print('locked', flush=True)\n    time.sleep(60)",
            str(data),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert holder.stdout.readline().strip() == "locked"
    assert _try_lock_elsewhere(data) == "held"
    holder.kill()
    holder.wait(timeout=30)
    assert _try_lock_elsewhere(data) == "free"


def test_process_liveness_comes_from_psutil(tmp_path):
    """A finished child counts as dead, this process as alive (no signal is sent to either)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert files._pid_alive(os.getpid()) is True
    assert files._pid_alive(child.pid) is False


def test_check_writable_refuses_inputs_folders_and_unwritable_places(tmp_path):
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"jpeg")
    with pytest.raises(UsageError, match="also an input"):
        files.check_writable(tmp_path / "." / "photo.jpg", inputs=[source])
    with pytest.raises(UsageError, match="is a folder"):
        files.check_writable(tmp_path, what="--output")
    with pytest.raises(UsageError, match="is a file"):
        files.check_writable(source / "out.png")
    locked_folder = tmp_path / "read_only"
    locked_folder.mkdir()
    locked_folder.chmod(0o500)
    try:
        if os.access(locked_folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(UsageError, match="not writable"):
            files.check_writable(locked_folder / "out.png")
    finally:
        locked_folder.chmod(0o700)
    assert files.check_writable(tmp_path / "new" / "out.png") == tmp_path / "new" / "out.png"
