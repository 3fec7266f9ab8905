"""Grading throughput: `labvae.course.grade` over a class of submissions, in smoke mode.

Measured: wall time of a `grade` run over N submissions (default 30), each a student's folder
with the four lab notebooks, a third each of
  * correct: the solution notebooks;
  * wrong:   the solutions with z2 flipped in latent_grid (02_vae_sweep);
  * blank:   the student edition, unchanged.
Each notebook with checks (01, 02, 03) runs in its own fresh kernel, one at a time (--jobs 1);
04 holds only written answers and is read, not run. The models the notebooks load are trained
once before the first kernel (the warm-up), which is reported apart. The marks are checked too:
correct 4, wrong 3, blank 0 (of 4 automatic marks).

Each class is graded twice: unsandboxed (--trust-submissions) and in the sandbox (bubblewrap, the
default), and the seconds per submission of both are reported.

Target: <= 30 s per submission, warm-up excluded, and the sandbox costs at most 20% on top of the
unsandboxed time. Running the four notebooks once in smoke mode (`pytest notebooks`) takes about 18 s on the development machine; each graded submission adds
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
from labvae.course.grade.sandbox import available

from common import cpu_model  # noqa: E402  benchmarks/common.py, beside this script

TARGET = 30.0  # seconds per submission, warm-up excluded
SANDBOX_COST = 0.20  # the sandbox may add at most this much to the time per submission
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


def run(folder: Path, kinds: dict, trust: bool, work: Path, jobs: int) -> dict:
    """One grade run over folder (sandboxed unless trust); seconds per submission and the marks' check."""
    lines = []
    t0 = time.perf_counter()
    grade.grade([folder], work / "grades.csv", smoke=True, jobs=jobs, work=work, trust=trust, say=lines.append)
    total = time.perf_counter() - t0
    with open(work / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    warm = float(re.search(r"models ready \(([\d.]+) s\)", "\n".join(lines)).group(1))
    marks = {}
    for r in rows:
        marks[r["student"]] = marks.get(r["student"], 0.0) + float(r["points"] or 0)
    per_stem = {stem: [float(t) for t in re.findall(rf"^  \S+ {stem}: .*\(([\d.]+) s\)$", "\n".join(lines), re.M)]
                for stem in LAB}
    return {"warm": warm, "total": total, "per": (total - warm) / len(kinds), "per_stem": per_stem,
            "wrong": [f"{s} {marks.get(s)}" for s, kind in kinds.items() if marks.get(s) != EXPECTED[kind]]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30, help="submissions to grade (default 30)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    args = p.parse_args()
    why = available()
    if why is not None:
        print(f"no sandbox here ({why}); nothing to compare")
        return 1

    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.2f} (near 0 = a quiet machine)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kinds = make_submissions(tmp / "submitted", args.n)
        # Unsandboxed first: it also trains the models into work/warm, which the sandboxed run then loads.
        got = {mode: run(tmp / "submitted", kinds, mode == "unsandboxed", tmp / "work", args.jobs)
               for mode in ("unsandboxed", "sandboxed")}
    print(f"\n{'submissions':<34}{args.n:>12}")
    print(f"{'jobs':<34}{args.jobs:>12}")
    print(f"{'':<34}{'unsandboxed':>12}{'sandboxed':>12}")
    for label, key in (("warm-up s (models once)", "warm"), ("total s", "total"), ("per submission s (no warm-up)", "per")):
        print(f"{label:<34}" + "".join(f"{got[m][key]:>12.1f}" for m in got))
    for stem in LAB:
        if all(got[m]["per_stem"][stem] for m in got):
            print(f"{'  ' + stem + ' s (mean)':<34}"
                  + "".join(f"{sum(t) / len(t):>12.1f}" for t in (got[m]["per_stem"][stem] for m in got)))
    wrong = [w for m in got for w in got[m]["wrong"]]
    if wrong:
        print(f"\nFAIL: unexpected marks: {', '.join(wrong)}")
        return 1
    cost = got["sandboxed"]["per"] / got["unsandboxed"]["per"] - 1
    ok = got["sandboxed"]["per"] <= TARGET and cost <= SANDBOX_COST
    print(f"\n{'PASS' if ok else 'FAIL'}: {got['sandboxed']['per']:.1f} s per submission of 4 notebooks in the sandbox "
          f"(target <= {TARGET:.0f} s), {got['unsandboxed']['per']:.1f} s without: the sandbox costs {cost:+.0%} "
          f"(target <= {SANDBOX_COST:+.0%}); marks as expected (correct 4, wrong 3, blank 0)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
