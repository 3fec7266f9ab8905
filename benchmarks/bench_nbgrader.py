"""nbgrader's route per student: `nbgrader autograde` over a class, in real mode at full scale, time and disk.

Set up as docs/instructors.md says: a course folder made by `python -m labvae course` (nbgrader_config.py,
source/lab8/, the settings), `nbgrader generate_assignment`, N students who hand in all five released notebooks with
the solutions filled in, the checkpoints warmed once with `python -m labvae grade --warm-only` (reported
apart) and shared read-only through LABVAE_CHECKPOINTS, then `nbgrader autograde lab8` (one student
after another: nbgrader runs no two at once). The partial real data is tiled to 60,000 / 10,000 images
(`bench_notebooks.tiled_copy`), the step count students get.

Reported: seconds per student for autograde and for generate_feedback, disk per student (autograded/STUDENT
and feedback/STUDENT), and what a class of 150 implies. No target: `labvae grade` is the fast route (bench_grade.py); this is what the
nbgrader route costs beside it (the issue measured 113 s per student before the checkpoints were shared).

    python benchmarks/bench_nbgrader.py --n 2 --work /tmp/bench-nbgrader
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from bench_notebooks import tiled_copy  # noqa: E402  beside this script

from common import cpu_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTIAL = ROOT.parent / "shared" / "data" / "fashion-mnist-partial"
sys.path.insert(0, str(ROOT / "tests"))
from test_nbgrader import submission  # noqa: E402  how the test suite fills in a released notebook

CLASS = 150
MARKS = 4.0  # the automatic marks of a correct student (2.2, the fifth, is marked by hand)


def megabytes(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def run(args, cwd, env, progress=None):
    """Run a command; with progress (a regex), print its log lines that match as they come, with the time."""
    t0, lines = time.perf_counter(), []
    with subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
        for line in p.stdout:
            lines.append(line)
            if progress and re.search(progress, line):
                print(f"  {time.perf_counter() - t0:6.1f} s  {line.strip()[-110:]}", flush=True)
    out = "".join(lines)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, args[:4]))} failed:\n{out[-3000:]}")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2, help="students (default 2)")
    p.add_argument("--data", type=Path, default=PARTIAL, help=f"the partial real data (default {PARTIAL})")
    p.add_argument("--work", type=Path, default=None, help="keep the tiled data and warm-up here for the next run")
    args = p.parse_args()
    if not (args.data / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        print(f"no real data at {args.data}; give --data ROOT (holding FashionMNIST/raw/)")
        return 1
    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f} at the start (near 0 = a quiet machine)")
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work or Path(tmp) / "work").resolve()
        if not (work / "data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file():
            tiled_copy(args.data, work / "data")
        env = {**os.environ, "LABVAE_SMOKE": "0", "LABVAE_DATA": str(work / "data"),
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
               "LABVAE_CHECKPOINTS": str(work / "warm" / "results")}
        t0 = time.perf_counter()
        print("warming the checkpoints (grade --warm-only), one line per model ...", flush=True)
        subprocess.run([sys.executable, "-m", "labvae", "grade", "--warm-only", "--work", str(work), "--data",
                        str(work / "data")], cwd=tmp, env=env, check=True)  # its progress lines pass through
        warm = time.perf_counter() - t0
        course = Path(tmp) / "course"
        run([sys.executable, "-m", "labvae", "course", str(course), "--handout", "https://github.com/OWNER/lab8",
             "--data", str(work / "data"), "--notebooks", str(ROOT / "notebooks")], ROOT, env)
        run([sys.executable, "-m", "nbgrader", "generate_assignment", "lab8"], course, env)
        release = course / "release" / "lab8"
        stems = sorted(p.stem for p in release.glob("0*.ipynb"))
        for i in range(args.n):
            folder = course / "submitted" / f"s{i:03d}" / "lab8"
            folder.mkdir(parents=True)
            for stem in stems:
                nbformat.write(submission(stem, "correct", release), folder / f"{stem}.ipynb")
        t0 = time.perf_counter()
        print(f"nbgrader autograde lab8: {args.n} students, one after another ...", flush=True)
        run([sys.executable, "-m", "nbgrader", "autograde", "lab8"], course, env, progress=r"Autograding |submitted at")
        per = (time.perf_counter() - t0) / args.n
        disk = megabytes(course / "autograded") / args.n
        t0 = time.perf_counter()
        print(f"nbgrader generate_feedback lab8: {args.n} students ...", flush=True)
        run([sys.executable, "-m", "nbgrader", "generate_feedback", "lab8"], course, env, progress=r"Converting notebook")
        per_feedback = (time.perf_counter() - t0) / args.n
        feedback = megabytes(course / "feedback") / args.n
        largest = max((f for f in (course / "feedback").rglob("*.html")), key=lambda f: f.stat().st_size)
        largest = f"{largest.name} {largest.stat().st_size / 1e6:.1f} MB"
        run([sys.executable, "-m", "nbgrader", "export"], course, env)
        with open(course / "grades.csv", newline="") as f:
            scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    print(f"\nnbgrader autograde, real mode, full scale, {args.n} students x {len(stems)} notebooks "
          f"({', '.join(stems)}); load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'warm-up s (once: grade --warm-only)':<40}{warm:>10.1f}")
    print(f"{'per student s (autograde)':<40}{per:>10.1f}")
    print(f"{'per student MB (autograded/)':<40}{disk:>10.1f}")
    print(f"{'per student s (generate_feedback)':<40}{per_feedback:>10.1f}")
    print(f"{'per student MB (feedback/)':<40}{feedback:>10.1f}   largest file: {largest}")
    print(f"{f'class of {CLASS}, autograde: hours, GB':<40}{(warm + CLASS * per) / 3600:>10.2f}{CLASS * disk / 1e3:>8.2f}")
    print(f"{f'class of {CLASS}, feedback: hours, GB':<40}{CLASS * per_feedback / 3600:>10.2f}"
          f"{CLASS * feedback / 1e3:>8.2f}")
    wrong = {s: v for s, v in scores.items() if v != MARKS}
    print(f"\n{'FAIL: unexpected scores ' + str(wrong) if wrong else 'scores as expected'} (each student "
          f"{MARKS:g}: every automatic mark, 2.2 not yet marked by hand)")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
