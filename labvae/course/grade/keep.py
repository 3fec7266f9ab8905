"""Never losing marks already computed: write a result file atomically, and when that fails, keep it elsewhere."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from ..._io import atomic_write


def write_or_keep(path: Path, text: str) -> tuple[Path | None, str]:
    """Write text to path; if that fails, keep it in a fallback file: (where it lies, "" or one line why).

    Where it could be written nowhere, it goes to stdout, so the terminal or its log still holds it."""
    try:
        return atomic_write(path, lambda f: f.write(text.encode())), ""
    except OSError as e:
        why = e.strerror or type(e).__name__
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for folder in dict.fromkeys([tempfile.gettempdir(), os.path.expanduser("~"), os.getcwd()]):
        fallback = Path(folder) / f"labvae-{stamp}-{os.getpid()}-{Path(path).name}"
        try:
            atomic_write(fallback, lambda f: f.write(text.encode()))
        except OSError:
            continue
        return fallback, f"could not write {path} ({why}); what was graded is kept in {fallback} instead."
    sys.stdout.write(text)
    sys.stdout.flush()
    return None, f"could not write {path} ({why}) nor a copy elsewhere; what was graded is printed above."
