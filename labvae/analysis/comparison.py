"""The lab's comparison end to end, as `python -m labvae sweep` runs it: seeds, judge, metrics, verdicts."""

from __future__ import annotations

from ..config import LABELS, SEEDS, SWEEP_MODELS
from .claims import judge_claims, metrics_table, verdict_table
from .classifier import load_or_train_classifier
from .figures import comparison_figure, plot_paths, plot_posterior
from .judge import calibrate, calibration_table
from .metrics import compare_seeds
from .paths import path_pairs


def compare_lab(cfg, x_train, y_train, x_test, y_test, metrics, say) -> None:
    """Measured comparison over SEEDS into metrics (per model, judge, claims); writes comparison.png,
    interpolation.png and posterior.png."""
    seeds = [cfg.seed + i for i in range(len(SEEDS))]  # the run's seed and the next ones
    models = {name: [cfg.with_seed(s).model(name, x_train, x_test) for s in seeds] for name in SWEEP_MODELS}
    clf = load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test,
                                           seed=cfg.seed, device=cfg.device)
    # The judge is calibrated on training images before it scores any sweep; test images are its check.
    referee = calibrate(clf, x_train, y_train)
    calibration = referee.calibration_report(x_test)
    results = compare_seeds(models, referee, x_test, y_test, x_train)  # {name: [metrics per seed]}
    for name, runs in results.items():
        per_seed = [{"seed": s, **{k: v for k, v in r.items() if k != "maps"}} for s, r in zip(seeds, runs)]
        metrics[name]["comparison"] = per_seed[0]
        metrics[name]["comparison_by_seed"] = per_seed
    metrics["classifier"] = {"test_accuracy": clf.accuracy}
    metrics["judge"] = {"radius": referee.radius, "min_contrast": referee.min_contrast, "jump": referee.jump,
                        "calibration": calibration}
    labelled = {LABELS[n]: r for n, r in results.items()}
    first = {LABELS[n]: m[0] for n, m in models.items()}
    comparison_figure(first, {k: r[0] for k, r in labelled.items()}, x_test, y_test, path=cfg.out / "comparison.png")
    shown = path_pairs(y_test, n_within=2, n_across=2)  # the first pairs of those scored
    plot_paths(first, x_test, y_test, shown["within"] + shown["across"], referee, path=cfg.out / "interpolation.png")
    plot_posterior(first, x_test, path=cfg.out / "posterior.png")
    claims = judge_claims(labelled, vae=LABELS["vae"])
    metrics["claims"] = {"seeds": seeds, "verdicts": claims}
    say(calibration_table(calibration))
    say(metrics_table(labelled))
    say(verdict_table(claims))
    say(f"classifier test accuracy {clf.accuracy:.1%}; wrote comparison.png, interpolation.png and posterior.png "
        f"in {cfg.out}")
