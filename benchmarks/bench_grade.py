"""Grading throughput: `labvae.course.grade` over a class of submissions, in smoke mode.

Measured: wall time of one `grade` run over N submissions (default 30), each a student's folder
with the four lab notebooks, a third each of
  * correct: the solution notebooks;
  * wrong:   the solutions with z2 flipped in latent_grid (02_vae_sweep);
  * blank:   the student edition, unchanged.
Each notebook with checks (01, 02, 03) runs in its own fresh kernel, one at a time (--jobs 1);
04 holds only written answers and is read, not run. The models the notebooks load are trained
once before the first kernel (the warm-up), which is reported apart. The marks are checked too:
correct 4, wrong 3, blank 0 (of 4 automatic marks).

Target: <= 30 s per submission, warm-up excluded. Running the four notebooks once in smoke mode
(`pytest notebooks`) takes about 18 s on the development machine; each graded submission adds
three kernel starts with imports (about 2 s each) and the checks, so 30 s leaves some margin.
At that rate a class of 200 is graded in under two hours on one laptop, unattended.

    python benchmarks/bench_grade.py            # 30 submissions
    python benchmarks/bench_grade.py --n 3      # a quick run
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

from labvae.course import grade

from common import cpu_model  # noqa: E402  benchmarks/common.py, beside this script

TARGET = 30.0  # seconds per submission, warm-up excluded
ROOT = Path(__file__).resolve().parents[1]
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30, help="submissions to grade (default 30)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    args = p.parse_args()

    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.2f} (near 0 = a quiet machine)")
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kinds = make_submissions(tmp / "submitted", args.n)
        t0 = time.perf_counter()
        grade.grade([tmp / "submitted"], tmp / "grades.csv", smoke=True, jobs=args.jobs, say=lines.append)
        total = time.perf_counter() - t0
        with open(tmp / "grades.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    warm = float(re.search(r"models ready \(([\d.]+) s\)", "\n".join(lines)).group(1))

    marks = {}
    for r in rows:
        marks[r["student"]] = marks.get(r["student"], 0.0) + float(r["points"] or 0)
    wrong_marks = [s for s, kind in kinds.items() if marks.get(s) != EXPECTED[kind]]
    per = (total - warm) / args.n
    print(f"\n{'submissions':<34}{args.n:>10}")
    print(f"{'jobs':<34}{args.jobs:>10}")
    print(f"{'warm-up (models trained once) s':<34}{warm:>10.1f}")
    print(f"{'total s':<34}{total:>10.1f}")
    print(f"{'per submission s (no warm-up)':<34}{per:>10.1f}")
    for stem in LAB:
        times = [float(t) for t in re.findall(rf"^  \S+ {stem}: .*\(([\d.]+) s\)$", "\n".join(lines), re.M)]
        if times:
            print(f"{'  ' + stem + ' s (mean)':<34}{sum(times) / len(times):>10.1f}")
    if wrong_marks:
        print(f"\nFAIL: unexpected marks for {', '.join(wrong_marks)}: "
              + ", ".join(f"{s} {marks.get(s)}" for s in wrong_marks))
        return 1
    ok = per <= TARGET
    print(f"\n{'PASS' if ok else 'FAIL'}: {per:.1f} s per submission of 4 notebooks, smoke mode "
          f"(target <= {TARGET:.0f} s); marks as expected (correct 4, wrong 3, blank 0)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
