"""Time the five notebooks as a student first runs them: real mode, fp32, nothing cached.

Measured: each notebook executed top to bottom in a fresh kernel (nbclient), in a temporary folder
whose results/ starts empty, so every model is trained. LABVAE_SMOKE=0, LABVAE_PRECISION=fp32 (Colab's
CPUs lack native bf16), the data from --data, else ../shared/data/fashion-mnist-partial when it is
there, else $LABVAE_DATA. Every cell's time comes from nbclient's timestamps; a cell belongs to a
notebook's optional part when it lies under a heading "## Optional ..." (until the next "## " heading);
the instructors' appendix (06_appendix) counts as optional as a whole.

Scaled to the full 60,000 training and 10,000 test images: a model's training seconds (its History)
are attributed to the cell that wrote its checkpoint (the last cell started before the file's
modification time) and scaled by the training samples it would see
at full size (epochs x images; the converged AE's fixed number of Adam steps stays the same); the
rest of a cell's time is scaled by 10,000 / the test images, or by 60,000 / the training images in a
cell that also trained the classifier or the student's own AE (their seconds are not recorded). Kernel start-up and imports
scale too, so the scaled figure is an upper bound. --full-scale instead tiles the data to 60,000 and
10,000 images (the images repeat: the time depends on how many there are) and measures directly.
Wall time depends on what else the machine runs, so run it on an otherwise idle machine: the load
average at the start and after each notebook is printed, and a start above half the cores is flagged. The
kernel's CPU seconds (user + system, psutil) are printed beside each wall figure and scaled the same
way (a cell that trained something by the training ratio); with both threads busy they run to about
twice the wall time, so they are a check on the wall figure, not the target.
Target: the core path (all five without their optional parts) computes for at most 300 s.

    python benchmarks/bench_notebooks.py --threads 2
"""

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
import numpy as np
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import labvae  # noqa: E402
from labvae.checkpoints import read_checkpoint  # noqa: E402

from common import cpu_model  # noqa: E402  (benchmarks/common.py, beside this script)

FULL_TRAIN, FULL_TEST = 60_000, 10_000
TARGET_S = 300
SHARED = ROOT.parent / "shared" / "data" / "fashion-mnist-partial"


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def tiled_copy(root: Path, out: Path) -> Path:
    """The data repeated to the full 60,000 / 10,000 images, as IDX files under out/FashionMNIST/raw/."""
    raw = out / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, train, n in (("train", True, FULL_TRAIN), ("t10k", False, FULL_TEST)):
        x, y = labvae.load_fashion_mnist(root, train=train, download=False)
        reps = -(-n // len(x))
        images = (x.numpy()[:, 0] * 255).round().astype(np.uint8)
        for name, array in ((f"{prefix}-images-idx3-ubyte", np.tile(images, (reps, 1, 1))[:n]),
                            (f"{prefix}-labels-idx1-ubyte", np.tile(y.numpy().astype(np.uint8), reps)[:n])):
            magic = 0x803 if array.ndim == 3 else 0x801
            (raw / name).write_bytes(struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes())
    return out


def sections(nb, appendix: bool = False) -> list[bool]:
    """For each cell: does it lie in an optional part (under '## Optional ...', or anywhere in the appendix)?"""
    if appendix:  # the instructors' appendix is no part of the students' core path
        return [True] * len(nb.cells)
    optional, out = False, []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            optional = cell.source.startswith("## Optional")
        out.append(optional)
    return out


def checkpoints(results: Path) -> dict:
    """Every checkpoint under results/: {path: (mtime, training seconds or None, epochs)}."""
    out = {}
    for path in results.rglob("*.pt"):
        payload = read_checkpoint(path)
        history = payload.get("history") or {}
        seconds = sum(history["seconds"]) if history.get("seconds") else None
        out[path] = (path.stat().st_mtime, seconds, len(history.get("train", [])))
    return out


def owners(nb, written: dict) -> dict:
    """checkpoint path -> index of the one cell that wrote it: the last cell started before its mtime."""
    starts = [(_stamp(c.metadata["execution"]["iopub.execute_input"]), i) for i, c in enumerate(nb.cells)
              if c.cell_type == "code" and "iopub.execute_input" in c.metadata.get("execution", {})]
    out = {}
    for path, (mtime, _, _) in written.items():
        before = [i for start, i in starts if start <= mtime + 0.01]  # 10 ms: the two clocks' rounding
        if before:
            out[path] = before[-1]
    return out


def execute(nb, folder: Path, timeout: int) -> dict:
    """Run nb in a fresh kernel in folder; return {cell index: the kernel's CPU seconds for that cell}."""
    cpu: dict[int, float] = {}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(folder)}})

    def kernel_cpu() -> float:
        proc = psutil.Process(client.km.provisioner.pid)
        times = [proc.cpu_times()] + [c.cpu_times() for c in proc.children(recursive=True)]
        return sum(t.user + t.system for t in times)

    def start(cell, cell_index):
        cpu[cell_index] = -kernel_cpu()

    def done(cell, cell_index, execute_reply):
        cpu[cell_index] += kernel_cpu()

    client.on_cell_execute, client.on_cell_executed = start, done
    client.execute()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="folder holding FashionMNIST/raw/ (default: ../shared/... else $LABVAE_DATA)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per kernel (default: 2, Colab's cores)")
    parser.add_argument("--full-scale", action="store_true", help="tile the data to 60,000 / 10,000 images first")
    parser.add_argument("--keep", type=Path, help="save the executed notebooks here, to read them")
    parser.add_argument("--skip-optional", action="store_true", help="leave the optional parts out (not run)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell at most (default: 3600)")
    args = parser.parse_args()
    data = Path(args.data or (SHARED if SHARED.is_dir() else os.environ.get("LABVAE_DATA", "")))
    if not (data / "FashionMNIST" / "raw").is_dir():
        sys.exit(f"bench_notebooks: no FashionMNIST/raw/ under {data!s}; give --data ROOT.")
    work = Path(tempfile.mkdtemp(prefix="bench-notebooks-"))
    if args.full_scale:
        data = tiled_copy(data, work / "data")
    x_train, _ = labvae.load_fashion_mnist(data, train=True, download=False)
    x_test, _ = labvae.load_fashion_mnist(data, train=False, download=False)
    n_train, n_test = len(x_train), len(x_test)
    train_scale, test_scale = FULL_TRAIN / n_train, FULL_TEST / n_test
    cfg = labvae.LabConfig(data=data)
    env = {"LABVAE_SMOKE": "0", "LABVAE_DATA": str(data), "LABVAE_PRECISION": "fp32", "LABVAE_CACHE": str(work),
           "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    os.environ.update(env)  # the kernels inherit it
    start_load = os.getloadavg()[0]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load average {start_load:.1f} at start; "
          f"{args.threads} threads per kernel; fp32")
    print(f"data: {data} ({n_train} train, {n_test} test images); scale to 60k: training x{train_scale:.2f}, "
          f"the rest x{test_scale:.2f}" + (" (full scale: no scaling)" if args.full_scale else ""))
    totals = {"core": [0.0, 0.0, 0.0, 0.0], "optional": [0.0, 0.0, 0.0, 0.0]}  # wall, wall 60k, cpu, cpu 60k
    rows = []
    for src in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(src, as_version=4)
        appendix = "appendix" in src.stem
        if args.skip_optional:  # nothing after an optional part depends on it: the summary is prose
            if appendix:
                continue
            nb.cells = [c for c, optional in zip(nb.cells, sections(nb)) if not optional]
        before = checkpoints(work / "results") if (work / "results").exists() else {}
        t0 = time.perf_counter()
        cpu = execute(nb, work, args.timeout)
        wall = time.perf_counter() - t0
        after = {p: v for p, v in checkpoints(work / "results").items() if p not in before}
        per = {"core": [0.0, 0.0, 0.0, 0.0], "optional": [0.0, 0.0, 0.0, 0.0]}
        owner = owners(nb, after)
        for index, (cell, optional) in enumerate(zip(nb.cells, sections(nb, appendix))):
            stamps = cell.metadata.get("execution", {})
            if cell.cell_type != "code" or "iopub.execute_input" not in stamps:
                continue
            start, end = _stamp(stamps["iopub.execute_input"]), _stamp(stamps["shell.execute_reply"])
            seconds, trained, scaled, classifier = end - start, 0.0, 0.0, False
            for path, (_, train_s, epochs) in after.items():
                if owner.get(path) == index:
                    if train_s is None:
                        classifier = True
                        continue
                    full_epochs = epochs if epochs == cfg.epochs else cfg.converged_epochs(FULL_TRAIN)
                    trained += train_s
                    scaled += train_s * full_epochs * FULL_TRAIN / (epochs * n_train)
            classifier = classifier or "attempt(train_ae" in cell.source  # the student's AE: no checkpoint
            rest = max(seconds - trained, 0.0)
            scaled += rest * (train_scale if classifier else test_scale)
            cell_cpu = cpu.get(index, 0.0)
            cpu_scaled = cell_cpu * (train_scale if classifier or trained else test_scale)
            if args.full_scale:
                scaled, cpu_scaled = seconds, cell_cpu
            part = "optional" if optional else "core"
            for i, v in enumerate((seconds, scaled, cell_cpu, cpu_scaled)):
                per[part][i] += v
        for part in per:
            totals[part] = [a + b for a, b in zip(totals[part], per[part])]
        rows.append((src.stem, per, wall))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, args.keep / src.name)
        c, o = per["core"], per["optional"]
        print(f"{src.stem:16s} core: wall {c[0]:7.1f} s, at 60k {c[1]:7.1f} s; CPU {c[2]:7.1f} s, at 60k {c[3]:7.1f} s | "
              f"optional: wall {o[0]:6.1f} s, at 60k {o[1]:7.1f} s; CPU {o[2]:6.1f} s, at 60k {o[3]:7.1f} s "
              f"(kernel wall {wall:.1f} s; load average now {os.getloadavg()[0]:.1f})")
    c, o = totals["core"], totals["optional"]
    optional = "not run (--skip-optional)" if args.skip_optional else (
        f"wall {o[0]:.1f} s, at 60k {o[1]:.1f} s; CPU {o[2]:.1f} s, at 60k {o[3]:.1f} s")
    print(f"core path: wall {c[0]:.1f} s, at 60k {c[1]:.1f} s; CPU {c[2]:.1f} s, at 60k {c[3]:.1f} s. "
          f"Optional parts: {optional}")
    busy = start_load > (os.cpu_count() or 2) / 2  # more than half the cores already at work
    print(f"target: core path at 60k <= {TARGET_S} s of wall time: {c[1]:.0f} s, {'PASS' if c[1] <= TARGET_S else 'FAIL'}"
          + (f" (load average {start_load:.1f} at the start: other work may have inflated this figure)" if busy else ""))
    print(json.dumps({"core_60k": {"wall_s": round(c[1], 1), "cpu_s": round(c[3], 1)},
                      "optional_60k": {"wall_s": round(o[1], 1), "cpu_s": round(o[3], 1)},
                      "per_notebook": {n: {k: [round(v, 1) for v in p[k]] for k in p} for n, p, _ in rows}}))


if __name__ == "__main__":
    main()
