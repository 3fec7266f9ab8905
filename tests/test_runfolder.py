"""A run folder holds a kernel to its disk quota: a tmpfs cap where the grader is root, a watcher elsewhere."""

from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from labvae.course.grade import runfolder
from labvae.course.grade.runfolder import Quota, held, usage

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_quota(monkeypatch):
    monkeypatch.setattr(runfolder, "QUOTA_BYTES", 4 << 20)
    monkeypatch.setattr(runfolder, "QUOTA_FILES", 50)


def fill(folder, n_files=0, n_bytes=0):
    """Write until the folder refuses; return the errno that stopped it (0 if none did)."""
    try:
        for i in range(n_files):
            (folder / f"f{i}").touch()
        with open(folder / "big", "wb") as f:
            for _ in range(n_bytes >> 20):
                f.write(bytes(1 << 20))
                f.flush()
    except OSError as e:
        return e.errno
    return 0


@root_only
def test_a_mounted_run_folder_refuses_writes_past_the_quota_and_is_kept_on_disk(tmp_path, small_quota):
    folder = tmp_path / "runs" / "bob" / "01"
    with held(folder) as mounted:
        assert mounted and os.path.ismount(folder)
        os.mkfifo(folder / "pipe")  # would hang the copy, were it not removed first
        assert fill(folder, n_files=200) == errno.ENOSPC
        quota = Quota(folder, stop=lambda: None)
        assert quota._look() and "disk quota" in quota.exceeded
    assert not os.path.ismount(folder)
    size, count = usage(folder)
    assert 0 < count <= 50 and not (folder / "pipe").exists()
    assert fill(folder, n_bytes=0) == 0  # on disk again: the grader reads and tidies it freely


@root_only
def test_a_mounted_run_folder_caps_bytes_and_leaves_nothing_mounted(tmp_path, small_quota):
    folder = tmp_path / "01"
    with held(folder, keep=False):
        assert fill(folder, n_bytes=64 << 20) == errno.ENOSPC
    assert not os.path.ismount(folder) and not any(folder.iterdir())  # nothing kept: the caller removes it
    with held(folder):
        (folder / "x.sh").write_text("echo hi")
        (folder / "x.sh").chmod(0o755)
    assert not folder.joinpath("x.sh").stat().st_mode & stat.S_IXUSR


@root_only
def test_a_mount_left_by_a_killed_grader_is_cleared(tmp_path, small_quota):
    folder = tmp_path / "01"
    folder.mkdir()
    assert runfolder._mount(folder) and os.path.ismount(folder)
    (folder / "old").write_text("last run")
    with held(folder):
        assert not (folder / "old").exists()
    assert not os.path.ismount(folder)


def test_without_a_mount_the_watcher_stops_a_writer_past_the_quota(tmp_path, small_quota, monkeypatch):
    monkeypatch.setattr(runfolder, "_mount", lambda folder: False)
    folder, stopped = tmp_path / "01", threading.Event()
    with held(folder) as mounted:
        assert not mounted
        with Quota(folder, stop=stopped.set) as quota:
            fill(folder, n_files=500)
            assert stopped.wait(10)
    assert "disk quota" in quota.exceeded and "50 files" in quota.exceeded


def test_a_folder_within_its_quota_is_left_alone(tmp_path, small_quota):
    folder, stopped = tmp_path / "01", threading.Event()
    with held(folder), Quota(folder, stop=stopped.set) as quota:
        assert fill(folder, n_files=10, n_bytes=1 << 20) == 0
    assert not stopped.is_set() and quota.exceeded == ""


@pytest.mark.parametrize("mount", [True, False])
def test_what_a_class_keeps_is_bounded_per_student_and_per_run_before_any_copy(tmp_path, monkeypatch, mount):
    """Each copy is counted before it is made: past a student's or the run's bound it is not made, and says so."""
    monkeypatch.setattr(runfolder, "KEEP_STUDENT", 5 << 20)
    monkeypatch.setattr(runfolder, "KEEP_TOTAL", 8 << 20)
    monkeypatch.setattr(runfolder, "KEPT", runfolder._Kept())
    if not mount:
        monkeypatch.setattr(runfolder, "_mount", lambda folder: False)

    def run(student, stem, mb):
        folder = tmp_path / "work" / "runs" / student / stem
        with held(folder):
            (folder / "out.bin").write_bytes(os.urandom(mb << 20))
        return folder

    kept = [run("honest", "01", 1), run("hog", "01", 3), run("hog", "02", 3), run("honest2", "01", 1),
            run("late", "01", 4)]  # hog's second is past 5 MB a student; late's is past 8 MB a run
    have = [(f / "out.bin").is_file() for f in kept]
    assert have == [True, True, False, True, False]
    for f in (kept[2], kept[4]):
        assert "was not kept" in (f / runfolder.NOT_KEPT).read_text() and sorted(os.listdir(f)) == [runfolder.NOT_KEPT]
