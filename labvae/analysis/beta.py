"""The beta family: the lab's VAE with the KL weight varied, and with its posterior sigma fixed."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._io import atomic_write
from ..config import BETAS, FIXED_SIGMA_NAME, LABELS, beta_model_name
from ..grid import sweep_tiles
from ..models import latent_codes, posterior_std
from ..training import evaluate
from .figures import BETA_METRICS as METRICS
from .figures import beta_figure
from .metrics import code_stats, large_steps

TRENDS = ("frac_codes_inside", "test_kl")  # what the prior does as beta grows: both should move one way


def family_names(fixed_sigma: bool = True, betas=BETAS) -> list[str]:
    """Model names of the family in beta order (beta = 1 is 'vae'), then the fixed-sigma VAE."""
    unknown = sorted(set(betas) - set(BETAS))
    if unknown:
        raise ValueError(f"beta {unknown[0]:g} is not in the family; choose from {', '.join(f'{b:g}' for b in BETAS)}.")
    names = [beta_model_name(b) for b in sorted(betas)]
    return [*names, FIXED_SIGMA_NAME] if fixed_sigma else names


def train_family(cfg, x_train, x_test=None, fixed_sigma: bool = True, betas=BETAS) -> dict:
    """name -> model for the family (or the given betas), each loaded from cfg.out or trained with cfg's settings."""
    return {name: cfg.model(name, x_train, x_test) for name in family_names(fixed_sigma, betas)}


def model_metrics(model, x_test, judge=None, n: int = 21, limit: float = 4.0, seed: int = 0) -> dict:
    """One row of the beta table: loss terms, where the codes lie, posterior sigma, judged quality."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # evaluate draws one posterior sample per image: the same on every run
        terms = evaluate(model, x_test)
    codes = latent_codes(model, x_test)
    stats = code_stats(codes, n, limit)
    config = model.config
    row = {
        "beta": config.beta, "posterior_sigma": config.posterior_sigma,
        "test_recon": terms["recon"], "test_kl": terms["kl"], "test_loss": terms["loss"],
        "frac_codes_inside": stats["frac_codes_inside"], "frac_cells_hit": stats["frac_cells_hit"],
        "code_std": stats["code_std"],
        "sigma_median": posterior_std(model, x_test).median().item(),
    }
    if judge is not None:
        tiles = sweep_tiles(model, n, limit)
        score = judge.score(tiles)
        row["frac_garment"], row["classes"] = float(score["frac_garment"]), int(score["classes"])
        row["frac_large_steps"] = large_steps(tiles, n)
    return row


def family_metrics(models: dict, x_test, judge=None, n: int = 21, limit: float = 4.0, seed: int = 0) -> dict:
    """name -> model_metrics row, for every model of the family."""
    return {name: model_metrics(m, x_test, judge, n, limit, seed) for name, m in models.items()}


def trend(rows: dict, key: str) -> str:
    """How key moves as beta grows over the learned-sigma models: 'rises', 'falls', 'flat' or 'not monotone'."""
    points = sorted((r["beta"], r[key]) for r in rows.values() if r["posterior_sigma"] is None)
    steps = [b[1] - a[1] for a, b in zip(points, points[1:])]
    if all(d == 0 for d in steps):
        return "flat"
    if all(d >= 0 for d in steps):
        return "rises"
    if all(d <= 0 for d in steps):
        return "falls"
    return "not monotone"


def change(before: dict, after: dict, key: str, fmt: str = "{:.2f}") -> str:
    """'rises from a to b', 'falls from a to b' or 'stays at a' for one column of two rows, as printed."""
    a, b = fmt.format(before[key]), fmt.format(after[key])
    if a == b:  # equal as printed: a difference below the last digit shown is not a change
        return f"stays at {a}"
    return f"{'rises' if after[key] > before[key] else 'falls'} from {a} to {b}"


def beta_table(rows: dict) -> str:
    """The beta table as monospace text: one line per model."""
    metrics = [m for m in METRICS if all(m[0] in r for r in rows.values())]
    lines = [f"{'model':22s}{'beta':>6s}{'sigma':>8s}{'median sigma':>14s}" + "".join(f"{m[1]:>10s}" for m in metrics)]
    for name, r in rows.items():
        sigma = "learned" if r["posterior_sigma"] is None else f"{r['posterior_sigma']:g}"
        lines.append(f"{LABELS.get(name, name):22s}{r['beta']:>6g}{sigma:>8s}{r['sigma_median']:>14.2g}"
                     + "".join(f"{fmt.format(r[key]):>10s}" for key, _, fmt, _ in metrics))
    return "\n".join(lines)


def to_json(rows: dict, settings: dict) -> dict:
    """The beta results as plain JSON types: settings, one row per model, and the trends."""
    return {"settings": settings, "models": rows, "trends": {key: trend(rows, key) for key in TRENDS}}


def write_json(path, obj: dict) -> Path:
    """Strict JSON (NaN or infinity raise instead of writing invalid JSON), written atomically."""
    text = json.dumps(obj, indent=2, allow_nan=False)
    return atomic_write(path, lambda f: f.write(text.encode()))


def run(cfg, say=print) -> dict:
    """Train (or load) the family, judge it, write beta.png and beta.json into cfg.out; return the JSON."""
    import matplotlib.pyplot as plt

    from .classifier import load_or_train_classifier
    from .judge import calibrate

    x_train, y_train, x_test, y_test = cfg.load_data()
    say(f"data: {cfg.data_folder()} ({len(x_train)} train, {len(x_test)} test images)")
    models = train_family(cfg, x_train, x_test)
    classifier = load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test,
                                          seed=cfg.seed, device=cfg.device)
    judge = calibrate(classifier, x_train, y_train, seed=cfg.seed)  # thresholds from real images
    rows = family_metrics(models, x_test, judge, seed=cfg.seed)
    plt.close(beta_figure(models, rows, x_test, y_test, path=cfg.out / "beta.png"))  # written; free it
    settings = {"data": str(cfg.data_folder()), "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                "lr": cfg.lr, "seed": cfg.seed, "classifier_test_accuracy": classifier.accuracy,
                "precision": {name: m.history.precision for name, m in models.items()}}
    result = to_json(rows, settings)
    write_json(cfg.out / "beta.json", result)
    say(f"wrote {cfg.out / 'beta.png'} and {cfg.out / 'beta.json'}")
    return result
