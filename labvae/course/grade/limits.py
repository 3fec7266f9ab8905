"""Reading an untrusted notebook under caps: a regular file, opened without blocking, measured before it is parsed.

A notebook is JSON a student controls: 61 MB of `{}` is 21 million objects (10 GB in nbformat), a FIFO
never ends, 900,000 cells take minutes to validate. So the grader opens only regular files, reads at
most MAX_BYTES against the notebook's deadline, and counts brackets (an upper bound on JSON objects
and lists, those in text included) before json parses a byte; nbformat's slow schema validation is
replaced by the few checks the grader relies on.
"""

from __future__ import annotations

import json
import os
import stat
import time

MAX_BYTES = 32 << 20  # a lab notebook with its figures is a few MB; the grader keeps 20 MB of new output
MAX_BRACKETS = 200_000  # `{` and `[`: a lab notebook has a few thousand; 200k parse in well under a second
MAX_DEPTH = 100  # nesting of a notebook's JSON: nbformat's own is 5 deep, widget state a few more
MAX_CELLS = 5000  # the lab notebooks have under 100 cells
CHUNK = 1 << 20


class Unreadable(ValueError):
    """The file is not a notebook the grader will read; str(e) says why, for the marker."""


def read_bytes(path, deadline: float) -> bytes:
    """The file's bytes: a regular file only (opened non-blocking, no link followed), at most MAX_BYTES, by deadline."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise Unreadable(f"it cannot be opened ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable("it is not a regular file (a FIFO, device or socket named like a notebook)")
        if st.st_size > MAX_BYTES:
            raise Unreadable(f"it is over {MAX_BYTES >> 20} MB; clear its outputs and hand it in again")
        chunks, total = [], 0
        while chunk := os.read(fd, CHUNK):
            total += len(chunk)
            if total > MAX_BYTES:
                raise Unreadable(f"it grew past {MAX_BYTES >> 20} MB while it was read")
            if time.monotonic() > deadline:
                raise Unreadable("reading it took past the notebook's time limit")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse(data: bytes) -> dict:
    """The notebook's JSON, after its brackets are counted; Unreadable when over a cap or not a notebook."""
    brackets = data.count(b"{") + data.count(b"[")
    if brackets > MAX_BRACKETS:
        raise Unreadable(f"it holds over {MAX_BRACKETS:,} JSON objects and lists, far past a lab notebook; "
                         "clear its outputs and hand it in again")
    try:
        nb = json.loads(data)
    except RecursionError:
        raise Unreadable(f"its JSON is nested past {MAX_DEPTH} levels") from None
    except ValueError as e:
        raise Unreadable(f"it is not valid JSON ({str(e)[:80]})") from None
    if depth(nb) > MAX_DEPTH:
        raise Unreadable(f"its JSON is nested past {MAX_DEPTH} levels")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise Unreadable("it is JSON but not a notebook (no list of cells)")
    if nb.get("nbformat") != 4:
        raise Unreadable(f"it is in notebook format {nb.get('nbformat')!r}, not 4; save it from a current Jupyter")
    if len(nb["cells"]) > MAX_CELLS:
        raise Unreadable(f"it has {len(nb['cells']):,} cells, past the {MAX_CELLS:,} the grader reads")
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise Unreadable(f"its cell {i + 1} is not a notebook cell")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise Unreadable(f"its cell {i + 1} has no text as its source")
        cell["source"] = source
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        if cell["cell_type"] == "code":
            cell["outputs"] = cell["outputs"] if isinstance(cell.get("outputs"), list) else []
            cell.setdefault("execution_count", None)
    if not isinstance(nb.get("metadata"), dict):
        nb["metadata"] = {}
    return nb


def depth(value) -> int:
    """How deeply value's lists and dicts nest, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        todo.extend((x, d + 1) for x in v if isinstance(x, dict | list))
    return deepest


def read_notebook(path, deadline: float):
    """An untrusted notebook as a NotebookNode, read and checked under the caps above, by deadline."""
    import nbformat

    nb = parse(read_bytes(path, deadline))
    if time.monotonic() > deadline:
        raise Unreadable("reading it took past the notebook's time limit")
    return nbformat.from_dict(nb)


def dumps(nb) -> str:
    """A notebook as nbformat writes it (one-space indent), without its slow schema validation."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
