"""The lab's exercises, as the grader and the student edition see them: key, notebook, symbol, marks, check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import (
    check_ae,
    check_ae_sweep,
    check_kl,
    check_latent_grid,
    check_loss,
    check_reparameterize,
    check_sweep,
)
from .checking import NOT_DONE, CheckResult


@dataclass(frozen=True)
class Exercise:
    """One exercise of the lab, as the grader sees it."""

    key: str  # grades.csv and nbgrader grade_id of its answer cell: letters, digits, _ and - (nbgrader's rule)
    title: str
    notebook: str  # stem of the notebook whose kernel defines it
    symbol: str  # the name the student's cell binds in the kernel; "" for markdown answers
    points: float  # the lab's marks; 0 for practice
    check: Callable[[object], CheckResult] | None  # None for manual (markdown) exercises
    manual: bool = False
    function: str = ""  # the function the student writes, named in messages, when symbol is what it returned

    @property
    def name(self) -> str:
        """What messages call the answer: the student's function."""
        return self.function or self.symbol


# The marks, in one place: the notebooks' headers and nbgrader's points (the student edition and nbgrader's
# release stamp them from here, labvae.course.editions.marks), `labvae grade` and the docs. The original
# lab's: the sweep 2, the AE sweep 2, the written comparison 1. A course that weights 2.2 as the lab's
# deliverable changes "2_2-comparison" here, then regenerates the student edition.
MARKS = {"1_1-grid": 1, "1_1-sweep": 1, "2_1-ae": 1, "2_1-ae-sweep": 1, "2_2-comparison": 1}

EXERCISES: tuple[Exercise, ...] = (
    Exercise("0_1-reparameterize", "the reparameterisation trick", "01_training", "reparameterize", 0, check_reparameterize),
    Exercise("0_2-kl", "the closed-form KL", "01_training", "kl_divergence", 0, check_kl),
    Exercise("0_3-loss", "the VAE loss", "01_training", "vae_loss", 0, check_loss),
    Exercise("predict-01", "predict: the KL after training", "01_training", "", 0, None, manual=True),
    Exercise("1_1-grid", "the sweep's codes, top-left first", "02_vae_sweep", "latent_grid", MARKS["1_1-grid"], check_latent_grid),
    Exercise("1_1-sweep", "the 588x588 sweep image", "02_vae_sweep", "sweep_image", MARKS["1_1-sweep"], check_sweep),
    Exercise("predict-02", "predict: the posterior's sigma", "02_vae_sweep", "", 0, None, manual=True),
    # The locked cell `my_ae = checks.attempt(train_ae, x_train, x_test)` binds the model train_ae returned.
    Exercise("2_1-ae", "the lab AE retrained with a 2-d code", "03_ae_sweep", "my_ae", MARKS["2_1-ae"], check_ae,
             function="train_ae"),
    Exercise("2_1-ae-sweep", "the AE's 588x588 sweep", "03_ae_sweep", "sweep_model", MARKS["2_1-ae-sweep"], check_ae_sweep),
    Exercise("predict-03", "predict: the AE's codes in the window", "03_ae_sweep", "", 0, None, manual=True),
    Exercise("predict-04", "predict: prior samples through each decoder", "04_comparison", "", 0, None, manual=True),
    Exercise("2_2-comparison", "the written comparison", "04_comparison", "", MARKS["2_2-comparison"], None, manual=True),
    Exercise("predict-05", "predict: codes in the window and KL as beta grows", "05_beta", "", 0, None,
             manual=True),
)


def exercise(key: str) -> Exercise:
    """The exercise with this key."""
    for ex in EXERCISES:
        if ex.key == key:
            return ex
    raise KeyError(f"no exercise {key!r}; the keys are {', '.join(e.key for e in EXERCISES)}.")


def check_namespace(namespace: dict, notebook: str) -> dict[str, CheckResult]:
    """Run every automatic check of one notebook on a kernel's variables: {key: result}."""
    results = {}
    for ex in EXERCISES:
        if ex.notebook == notebook and not ex.manual:
            if ex.symbol in namespace:
                results[ex.key] = ex.check(namespace[ex.symbol])
            else:
                results[ex.key] = CheckResult(NOT_DONE, f"… {ex.name}: not done yet (the notebook never defined {ex.symbol}).")
    return results
