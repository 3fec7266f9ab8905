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
import sys
import labvae
from labvae.config import MODELS
cfg = labvae.lab_config(progress=False)
x_train, y_train, x_test, y_test = cfg.load_data()
for name in MODELS:
    cfg.model(name, x_train, x_test)
if "nbgrader" in sys.argv[1:]:
    from labvae.analysis import beta, load_or_train_classifier
    load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test)
    beta.train_family(cfg, x_train, x_test)
"""


def warm_up(warm: Path, env: dict, nbgrader: bool = False) -> None:
    """Train (or load) the checkpoints the notebooks load, in warm/, before any student's kernel."""
    warm.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in env.items() if k != "OMP_NUM_THREADS"}  # it runs alone: every core (or yours)
    r = subprocess.run([sys.executable, "-c", WARMUP, *["nbgrader"][:nbgrader]], cwd=warm,
                       env={**trusted_env(env), "LABVAE_CACHE": str(warm / "cache")},
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        last = re.sub(r"^[\w.]+(Error|Exception): ", "", last)  # the sentence, not the exception's class
        raise GradeError(f"could not prepare the models the notebooks load: {last}")


def warm_only(args: argparse.Namespace) -> int:
    """`grade --warm-only --work DIR`: warm DIR/warm/results for nbgrader (which runs 04 and 05 too); grade nothing."""
    if args.work is None or args.submissions:
        print("labvae: error: --warm-only takes --work DIR and no submissions.", file=sys.stderr)
        return 2
    work, t0 = Path(args.work).resolve(), time.perf_counter()
    try:
        warm_up(work / "warm", kernel_env(work, args.smoke, args.data), nbgrader=True)
    except GradeError as e:
        print(f"labvae: error: {e}", file=sys.stderr)
        return 1
    print(f"models ready under {work / 'warm'} ({time.perf_counter() - t0:.1f} s)")
    return 0
