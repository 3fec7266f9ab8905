"""Grading cost per student: `labvae.course.grade` over a class, in real mode at full scale, time and disk.

Measured: a `grade` run over N generated students (default 30), each a folder with the four lab
notebooks, a third each of
  * correct: the solution notebooks;
  * wrong:   the solutions with z2 flipped in latent_grid (02_vae_sweep);
  * blank:   the student edition, unchanged.
Each notebook with checks (01, 02, 03) runs in its own fresh kernel, in the sandbox, --jobs at a time;
04 holds only written answers and is read, not run. Real mode (LABVAE_SMOKE=0) on the partial real
data tiled to 60,000 / 10,000 images (as `bench_notebooks.py --full-scale` tiles it): the step count
students get. The checkpoints the notebooks load are trained once before the first kernel (the warm-up,
reported apart) and shared read-only; each student's own `train_ae` trains in their kernel.

Reported: seconds per student (warm-up excluded), disk per student (what --work keeps of them: their
executed notebooks in WORK/executed/ and their run folders in WORK/runs/, whatever their code wrote;
the shared checkpoints counted once, apart),
and the class of 150 both imply. The marks are checked too: correct 4, wrong 3, blank 0 automatic marks.

Targets, on 2 cores: <= 20 s and <= 5 MB per student. At 20 s a class of 150 is graded in under an
hour unattended, and 5 MB each keeps the whole class's runs under 1 GB.

    python benchmarks/bench_grade.py --n 3                          # real mode, full scale (needs the data)
    python benchmarks/bench_grade.py --n 3 --work /tmp/bench-grade  # keep the warm-up for the next run
    python benchmarks/bench_grade.py --smoke                        # smoke data: a quick check of the grader
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch
from bench_notebooks import tiled_copy  # noqa: E402  beside this script

from labvae.course import grade
from labvae.course.grade.sandbox import available

from common import cpu_model  # noqa: E402

SECONDS, MEGABYTES = 20.0, 5.0  # per student, warm-up excluded, on 2 cores
CLASS = 150
ROOT = Path(__file__).resolve().parents[1]
PARTIAL = ROOT.parent / "shared" / "data" / "fashion-mnist-partial"  # CI's layout: ../shared beside the clone
LAB = ("01_training", "02_vae_sweep", "03_ae_sweep", "04_comparison")
FLIPPED = ("z2 = torch.linspace(limit, -limit, n)", "z2 = torch.linspace(-limit, limit, n)")
EXPECTED = {"correct": 4.0, "wrong": 3.0, "blank": 0.0}  # automatic marks of each kind


def make_submissions(folder: Path, n: int) -> dict[str, str]:
    """n student folders, cycling correct / wrong / blank; returns student -> kind."""
    kinds = {}
    for i in range(n):
        kind = ("correct", "wrong", "blank")[i % 3]
        student = folder / f"s{i:03d}_{kind}"
        student.mkdir(parents=True)
        src = ROOT / "notebooks" / ("student" if kind == "blank" else "")
        for stem in LAB:
            shutil.copy(src / f"{stem}.ipynb", student)
        if kind == "wrong":
            nb = nbformat.read(student / "02_vae_sweep.ipynb", as_version=4)
            for cell in nb.cells:
                cell.source = cell.source.replace(*FLIPPED)
            nbformat.write(nb, student / "02_vae_sweep.ipynb")
        kinds[student.name] = kind
    return kinds


def megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30, help="students to grade (default 30)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="notebooks graded at once (default: the grader's, 2 or 1 on one core)")
    p.add_argument("--data", type=Path, default=None, help=f"the partial real data (default: {PARTIAL}, "
                   "else /work/shared/data/fashion-mnist-partial)")
    p.add_argument("--smoke", action="store_true", help="smoke data and epochs instead of real mode at full scale")
    p.add_argument("--partial", action="store_true", help="the partial real data as it is (8,226 training images), "
                   "not tiled to 60,000: about 7x fewer training steps, for a busy machine")
    p.add_argument("--work", type=Path, default=None, help="keep the tiled data and warm-up here for the next run")
    args = p.parse_args()
    if (why := available()) is not None:
        print(f"no sandbox here ({why}); students' notebooks are graded in one")
        return 1
    data = None
    if not args.smoke:
        data = next((d for d in (args.data, PARTIAL, Path("/work/shared/data/fashion-mnist-partial"))
                     if d is not None and (d / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()), None)
        if data is None:
            print("no real data found; give --data ROOT (holding FashionMNIST/raw/), or run with --smoke")
            return 1
    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.2f} at the start (near 0 = a quiet machine)")
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work or Path(tmp) / "work").resolve()
        shutil.rmtree(work / "runs", ignore_errors=True)
        if args.partial:
            pass
        elif data is not None and not (work / "data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file():
            tiled_copy(data, work / "data")  # 60,000 / 10,000 images: the step count students get
        kinds = make_submissions(Path(tmp) / "submitted", args.n)
        lines = []
        t0 = time.perf_counter()
        grade.grade([Path(tmp) / "submitted"], Path(tmp) / "grades.csv", smoke=args.smoke, jobs=args.jobs, work=work,
                    data=None if data is None else str(data if args.partial else work / "data"),
                    say=lambda line: (print(line, flush=True), lines.append(line)))  # progress as it goes
        total = time.perf_counter() - t0
        load = os.getloadavg()[0]
        with open(Path(tmp) / "grades.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        warm = float(re.search(r"models ready \(([\d.]+) s\)", "\n".join(lines)).group(1))
        disks = [megabytes(d) + megabytes(work / "executed" / d.name) for d in (work / "runs").iterdir()]
        shared = megabytes(work / "warm")
        per_stem = {stem: [float(t) for t in re.findall(rf"^  \S+ {stem}: .*\(([\d.]+) s\)$", "\n".join(lines), re.M)]
                    for stem in LAB}
    marks = {}
    for r in rows:
        marks[r["student"]] = marks.get(r["student"], 0.0) + float(r["points"] or 0)
    wrong = [f"{s} {marks.get(s)}" for s, kind in kinds.items() if marks.get(s) != EXPECTED[kind]]
    per, disk = (total - warm) / args.n, sum(disks) / len(disks)
    scale = "partial data (8,226 / 4,443 images)" if args.partial else "full scale (60,000 / 10,000 images)"
    print(f"\nmode {'smoke' if args.smoke else 'real, ' + scale}, {args.n} students, "
          f"--jobs {args.jobs}, sandboxed; load average {load:.2f} at the end")
    print(f"{'warm-up s (once, shared)':<36}{warm:>10.1f}")
    print(f"{'shared checkpoints MB (once)':<36}{shared:>10.1f}")
    for stem in LAB:
        if per_stem[stem]:
            print(f"{'  ' + stem + ' s (mean)':<36}{sum(per_stem[stem]) / len(per_stem[stem]):>10.1f}")
    print(f"{'per student s (no warm-up)':<36}{per:>10.1f}   target <= {SECONDS:.0f}")
    print(f"{'per student MB (kept with --work)':<36}{disk:>10.1f}   target <= {MEGABYTES:.0f}")
    print(f"{f'class of {CLASS}: hours, GB':<36}{(warm + CLASS * per) / 3600:>10.2f}{(shared + CLASS * disk) / 1e3:>8.2f}")
    if wrong:
        print(f"\nFAIL: unexpected marks: {', '.join(wrong)}")
        return 1
    ok = per <= SECONDS and disk <= MEGABYTES
    print(f"\n{'PASS' if ok else 'FAIL'}: {per:.1f} s (target <= {SECONDS:.0f}) and {disk:.1f} MB (target <= "
          f"{MEGABYTES:.0f}) per student; marks as expected (correct 4, wrong 3, blank 0)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
