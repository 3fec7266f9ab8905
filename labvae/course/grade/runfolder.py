"""A kernel's run folder: made fresh, held to a disk quota while the kernel runs, made inert after it.

Everything in a run folder was written by a student's code, so after the kernel has died the grader
clears every execute, set-uid and set-gid bit, removes FIFOs and sockets, and hands the files back to
itself. The executed notebooks an instructor opens live elsewhere (WORK/executed/), written by the
grader alone, so no file a kernel wrote sits beside them for Python or Jupyter to pick up.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path

# 512 MiB: the warmed checkpoints the grader copies in take a few MB, the lab's figures less; a student
# who fills the disk stops here, not when the grader's disk is full.
QUOTA_BYTES = 512 << 20
QUOTA_FILES = 5000  # files and folders: the lab writes a handful; 20,000 is an attack on the disk
POLL = 0.2  # s between two looks at a run folder: a burst past the quota lasts at most this long


def fresh(folder: Path) -> None:
    """Make folder an empty real folder, whatever was there (a file, a link, an old run)."""
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


class Quota:
    """Watch a run folder while its kernel runs; past QUOTA_BYTES or QUOTA_FILES, call stop() once."""

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

    def _watch(self) -> None:
        while not self._done.wait(POLL):
            size, count = usage(self.folder, stop_files=self.max_files)
            if size > self.max_bytes or count > self.max_files:
                self.exceeded = (f"its run folder went past the disk quota ({self.max_bytes >> 20} MB and "
                                 f"{self.max_files} files; it held {size >> 20} MB in {count} files)")
                self.stop()
                return


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
