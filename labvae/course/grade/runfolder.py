"""A kernel's run folder: made fresh, held to a disk quota while the kernel runs, made inert after it.

Where the grader is root, the run folder is a tmpfs of its own while the kernel runs, mounted with the
quota as its size and inode count: the kernel's writes fail (ENOSPC) at the quota however fast they
come, and what it wrote is copied to disk once it has ended. Elsewhere a watcher walks the folder
every POLL seconds and stops the kernel past the quota, so a fast writer may overshoot for that long.

Everything in a run folder was written by a student's code, so after the kernel has died the grader
clears every execute, set-uid and set-gid bit, removes FIFOs and sockets, and hands the files back to
itself. The executed notebooks an instructor opens live elsewhere (WORK/executed/), written by the
grader alone, so no file a kernel wrote sits beside them for Python or Jupyter to pick up.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

# 512 MiB: the warmed checkpoints the grader copies in take a few MB, the lab's figures less; a student
# who fills the disk stops here, not when the grader's disk is full.
QUOTA_BYTES = 512 << 20
QUOTA_FILES = 5000  # files and folders: the lab writes a handful; 20,000 is an attack on the disk
POLL = 0.2  # s between two looks at a run folder: a burst past the quota lasts at most this long
# What a class may keep of its run folders in --work, checked before each copy: the lab writes a few MB
# per notebook, so 64 MB per student and 2 GB per run keep every honest folder; the 1 GB reserve keeps
# the disk free for what must be written after (executed notebooks, grades.csv), whoever came first.
KEEP_STUDENT = 64 << 20
KEEP_TOTAL = 2 << 30
KEEP_RESERVE = 1 << 30
NOT_KEPT = "labvae-not-kept.txt"  # left in a run folder that was not kept, saying why


class _Kept:
    """Bytes of run folders kept so far, per student folder and per --work folder (one grade run's)."""

    def __init__(self):
        self.lock, self.by = threading.Lock(), {}

    def room(self, folder: Path, size: int) -> str:
        """Count size against folder's student and run if both have room (and the disk keeps its reserve); else why not."""
        student, work = str(folder.parent), str(folder.parent.parent.parent)  # WORK/runs/STUDENT/NOTEBOOK
        with self.lock:
            try:
                free = shutil.disk_usage(folder.parent).free
            except OSError:
                free = 0
            mine, ours = self.by.get(student, 0) + size, self.by.get(work, 0) + size
            if mine > KEEP_STUDENT or ours > KEEP_TOTAL or free - size < KEEP_RESERVE:
                return (f"its run folder ({size >> 20} MB) was not kept: past what a class may keep ({KEEP_STUDENT >> 20} "
                        f"MB a student, {KEEP_TOTAL >> 30} GB a run, {KEEP_RESERVE >> 30} GB of disk left free); "
                        "its marks stand")
            self.by[student], self.by[work] = mine, ours
            return ""


KEPT = _Kept()


def fresh(folder: Path) -> None:
    """Make folder an empty real folder, whatever was there (a file, a link, an old run)."""
    if os.path.ismount(folder):  # left mounted by a grader that was killed mid-run
        _unmount(folder)
    for p in (folder.parent, folder):
        if p.is_symlink() or (p.exists() and not p.is_dir()):
            p.unlink()
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def usage(folder: Path, stop_files: int | None = None) -> tuple[int, int]:
    """(bytes, entries) under folder, from lstat alone: nothing is opened and no link is followed."""
    size, count, todo = 0, 0, [str(folder)]
    while todo:
        try:
            it = os.scandir(todo.pop())
        except OSError:
            continue  # gone, or not a folder any more: the kernel may be changing it as we look
        with it:
            for entry in it:
                count += 1
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                size += st.st_blocks * 512 if stat.S_ISREG(st.st_mode) else 0  # blocks: a sparse file costs what it holds
                if stat.S_ISDIR(st.st_mode):
                    todo.append(entry.path)
                if stop_files is not None and count > stop_files:
                    return size, count
    return size, count


@contextmanager
def held(folder: Path, keep: bool = True):
    """A fresh run folder for one kernel, capped by a tmpfs where the grader may mount one (yields whether
    it did); on leaving, its files are made inert and, if keep, copied to the same path on disk."""
    fresh(folder)
    mounted = os.geteuid() == 0 and _mount(folder)
    try:
        yield mounted
    finally:
        why = KEPT.room(folder, usage(folder)[0]) if keep else ""  # before any copy
        if mounted:
            kept = folder.with_name(folder.name + ".kept")
            try:
                if keep and not why:
                    make_inert(folder)  # no FIFO left for the copy to hang on
                    fresh(kept)
                    shutil.copytree(folder, kept, symlinks=True, dirs_exist_ok=True)
            except OSError:
                pass  # the grader's disk is full: the marks stand without the student's files
            finally:
                _unmount(folder)
            if keep and kept.is_dir():
                folder.rmdir()
                kept.rename(folder)
        elif why:  # written to disk as it ran (no tmpfs here): removed, past the bound
            fresh(folder)
        if why:
            (folder / NOT_KEPT).write_text(why + "\n")


def _mount(folder: Path) -> bool:
    # nr_inodes counts the folder itself; noexec, nosuid, nodev: nothing written there runs
    opts = f"size={QUOTA_BYTES},nr_inodes={QUOTA_FILES + 1},mode=0755,noexec,nosuid,nodev"
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "labvae-run", str(folder)],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False  # no mount(8) or not allowed here (a container): the watcher alone holds the quota


def _unmount(folder: Path) -> None:
    # lazy: a process of the killed sandbox still dying there cannot keep the mount, nor fail the grader
    subprocess.run(["umount", "--lazy", str(folder)], capture_output=True, timeout=30)


class Quota:
    """Watch a run folder while its kernel runs; past QUOTA_BYTES or QUOTA_FILES, call stop() once.

    On a tmpfs mounted by held() the kernel cannot pass the quota; reaching it (statvfs: no block or
    inode left) stops the kernel all the same, so the mark says why the student's writes failed."""

    def __init__(self, folder: Path, stop, max_bytes: int | None = None, max_files: int | None = None):
        self.folder, self.stop = folder, stop
        self.max_bytes = QUOTA_BYTES if max_bytes is None else max_bytes  # read at call time: tests lower them
        self.max_files = QUOTA_FILES if max_files is None else max_files
        self.exceeded = ""  # non-empty: what went past the quota
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="labvae-quota")

    def __enter__(self) -> Quota:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        if not self.exceeded:
            self._look()  # a kernel that filled the folder and ended before the next look

    def _watch(self) -> None:
        while not self._done.wait(POLL) and not self._look():
            pass

    def _look(self) -> bool:
        """Whether the folder is past (or, on its own tmpfs, at) the quota; if so, say so and stop()."""
        if os.path.ismount(self.folder):
            try:
                st = os.statvfs(self.folder)  # one call, however many files: cheap enough to poll
            except OSError:
                return False
            full = st.f_bfree == 0 or st.f_ffree == 0
            size, count = (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree - 1
        else:
            size, count = usage(self.folder, stop_files=self.max_files)
            full = size > self.max_bytes or count > self.max_files
        if full:
            self.exceeded = (f"its run folder reached the disk quota ({self.max_bytes >> 20} MB and "
                             f"{self.max_files} files; it held {size >> 20} MB in {count} files)")
            self.stop()
        return full


def make_inert(folder: Path) -> None:
    """After the kernel: no execute/set-uid bits, no FIFOs or sockets, every file owned by the grader."""
    uid, gid = os.geteuid(), os.getegid()
    for top, dirs, files in os.walk(folder):  # os.walk follows no linked folder
        for name in dirs + files:
            p = os.path.join(top, name)
            try:
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    os.lchown(p, uid, gid)
                elif stat.S_ISDIR(st.st_mode):
                    os.chown(p, uid, gid)
                    os.chmod(p, 0o755)
                elif stat.S_ISREG(st.st_mode):
                    os.chown(p, uid, gid)
                    os.chmod(p, 0o644)
                else:  # a FIFO or socket would hang or talk to whatever opens it later
                    os.unlink(p)
            except OSError:
                pass  # the grader's own tidying: a file it cannot change is still no one's to run
    try:
        os.chown(folder, uid, gid)
        os.chmod(folder, 0o755)
    except OSError:
        pass
