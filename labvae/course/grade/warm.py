"""The checkpoints the graded notebooks load, trained once before any student's kernel starts."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from .runner import kernel_env, trusted_env
from .submissions import GradeError

# Trains (or loads) the checkpoints the lab notebooks load, once, before any student's kernel starts,
# so that no student's time limit pays for training and all students' notebooks load the same models.
# `labvae grade` runs 01-03, which load the three models; nbgrader's autograde runs 04 and 05 as well,
# which load the classifier and the beta family (every beta, and the VAE with sigma fixed): the argument
# "nbgrader" trains those too (`labvae grade --warm-only`), else every student's 05 would train them.
WARMUP = """\
import sys, time
import labvae
from labvae.config import MODELS
t0 = time.perf_counter()
def done(what):
    print(f"  {what} ready ({time.perf_counter() - t0:.0f} s)", flush=True)
cfg = labvae.lab_config(progress=False)
x_train, y_train, x_test, y_test = cfg.load_data()
for name in MODELS:
    cfg.model(name, x_train, x_test)
    done(name)
if "nbgrader" in sys.argv[1:]:
    from labvae.analysis import beta, load_or_train_classifier
    load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test)
    done("classifier")
    beta.train_family(cfg, x_train, x_test)
    done("beta family")
print("CHECKPOINTS", cfg.out.resolve(), flush=True)
"""


def warm_up(warm: Path, env: dict, nbgrader: bool = False, say=print) -> Path:
    """Train (or load) the checkpoints the notebooks load, in warm/, before any student's kernel; their folder.

    One line per model as it is ready (a full-scale warm-up takes minutes)."""
    import tempfile

    warm.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in env.items() if k != "OMP_NUM_THREADS"}  # it runs alone: every core (or yours)
    where = None
    with tempfile.TemporaryFile("w+") as err:  # stderr: progress bars and the last line of a failure
        proc = subprocess.Popen([sys.executable, "-c", WARMUP, *["nbgrader"][:nbgrader]], cwd=warm,
                                env={**trusted_env(env), "LABVAE_CACHE": str(warm / "cache")},
                                stdout=subprocess.PIPE, stderr=err, text=True)
        for line in proc.stdout:
            if line.startswith("CHECKPOINTS "):
                where = Path(line[len("CHECKPOINTS "):].strip())
            elif line.startswith("  ") and line.rstrip().endswith(" s)"):
                say(line.rstrip())
        proc.wait()
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0 or where is None:
        last = (stderr.strip().splitlines() or ["(no message)"])[-1]
        last = re.sub(r"^[\w.]+(Error|Exception): ", "", last)  # the sentence, not the exception's class
        raise GradeError(f"could not prepare the models the notebooks load: {last}")
    return where


def private_copy(warm: Path, run_dir: Path) -> None:
    """Copy warm/ but its checkpoints (shared read-only instead) into a run folder, writable by its kernel.

    The warm folder may be read-only (shared by a class): copytree keeps each folder's mode, and a kernel
    could then not write its own results beside the copy (every 02 and 03 recorded a PermissionError)."""
    import os
    import shutil
    import stat

    shutil.copytree(warm, run_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.pt"))
    for top, dirs, files in os.walk(run_dir):
        for name in [*dirs, *files]:
            path = os.path.join(top, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode):
                os.chmod(path, stat.S_IMODE(mode) | stat.S_IWUSR)


def warm_only(args: argparse.Namespace) -> int:
    """`grade --warm-only --work DIR`: warm DIR/warm/results for nbgrader (which runs 04 and 05 too); grade nothing."""
    if args.work is None or args.submissions:
        print("labvae: error: --warm-only takes --work DIR and no submissions.", file=sys.stderr)
        return 2
    work, t0 = Path(args.work).resolve(), time.perf_counter()
    print(f"training (or loading) the checkpoints every lab notebook loads, into {work / 'warm'} ...", flush=True)
    try:
        where = warm_up(work / "warm", kernel_env(work, args.smoke, args.data), nbgrader=True,
                        say=lambda line: print(line, flush=True))
    except GradeError as e:
        print(f"labvae: error: {e}", file=sys.stderr)
        return 1
    print(f"models ready ({time.perf_counter() - t0:.1f} s): the checkpoints are in {where}\n"
          f"  share them read-only (chmod -R a-w {work / 'warm'}); nbgrader's kernels load them with "
          f"LABVAE_CHECKPOINTS={where}\n  (in a course folder, its nbgrader_config.py sets that for you)")
    return 0
