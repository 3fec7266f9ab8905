"""Atomic file writes: a crash, Ctrl-C or kill never leaves a half-written file in place."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def atomic_write(path, write) -> Path:
    """Call write(file) on a temp file beside path, then rename it over path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    # The writer's pid is in the name, so a later run can tell a dead writer's leftover from a live one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temps(path) -> list[Path]:
    """Delete the `.NAME.*.tmp` files a killed writer of path left beside it; return them."""
    path = Path(path)
    # .NAME.PID.XXXXXXXX.tmp (mkstemp's suffix has no dots); older labvae wrote no PID.
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)\.)?\w+\.tmp")
    removed = []
    for tmp in path.parent.iterdir():
        match = pattern.fullmatch(tmp.name)
        if match is None or (match[1] and _alive(int(match[1]))):
            continue  # not ours, or another process is writing path right now
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass  # gone already, or not ours to delete: the write itself still works
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but belongs to someone else
    return True


def check_writable(folder) -> Path:
    """Create folder if needed and prove a file can be written there, before any long work starts."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OSError(f"{folder} is a file; give a folder for the results.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".labvae-write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OSError(f"cannot write into {folder} ({e.strerror or type(e).__name__}); "
                      "choose another folder with --out, or fix its permissions.") from None
    return folder
