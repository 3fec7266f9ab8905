"""The beta family: the lab's VAE with the KL weight varied, and with its posterior sigma fixed."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ._io import atomic_write
from .compare import code_stats
from .config import BETAS, FIXED_SIGMA_NAME, LABELS, beta_model_name
from .grid import decode_grid, show_grid, sweep_tiles
from .models import latent_codes, posterior_std
from .training import evaluate

METRICS = (  # (key, column title, format, what the metric-vs-beta panel calls it)
    ("test_recon", "recon", "{:.1f}", "test reconstruction (nats)"),
    ("test_kl", "KL", "{:.2f}", "test KL, unweighted (nats)"),
    ("frac_codes_inside", "inside", "{:.0%}", "test codes inside [-4, 4]$^2$"),
    ("frac_cells_hit", "cells", "{:.0%}", "sweep cells holding a test code"),
    ("frac_garment", "garments", "{:.0%}", "tiles judged to be garments"),
    ("classes", "classes", "{:d}", "classes judged in the sweep"),
)
TRENDS = ("frac_codes_inside", "test_kl")  # what the prior does as beta grows: both should move one way


def family_names(fixed_sigma: bool = True) -> list[str]:
    """Model names of the family in beta order (beta = 1 is 'vae'), then the fixed-sigma VAE."""
    names = [beta_model_name(b) for b in BETAS]
    return [*names, FIXED_SIGMA_NAME] if fixed_sigma else names


def train_family(cfg, x_train, x_test=None, fixed_sigma: bool = True) -> dict:
    """name -> model for the whole family, each loaded from cfg.out or trained with cfg's settings."""
    return {name: cfg.model(name, x_train, x_test) for name in family_names(fixed_sigma)}


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
        score = judge.score(sweep_tiles(model, n, limit))
        row["frac_garment"], row["classes"] = float(score["frac_garment"]), int(score["classes"])
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


def beta_table(rows: dict) -> str:
    """The beta table as monospace text: one line per model."""
    metrics = [m for m in METRICS if all(m[0] in r for r in rows.values())]
    lines = [f"{'model':22s}{'beta':>6s}{'sigma':>8s}{'median sigma':>14s}" + "".join(f"{m[1]:>10s}" for m in metrics)]
    for name, r in rows.items():
        sigma = "learned" if r["posterior_sigma"] is None else f"{r['posterior_sigma']:g}"
        lines.append(f"{LABELS.get(name, name):22s}{r['beta']:>6g}{sigma:>8s}{r['sigma_median']:>14.2g}"
                     + "".join(f"{fmt.format(r[key]):>10s}" for key, _, fmt, _ in metrics))
    return "\n".join(lines)


def beta_figure(models: dict, rows: dict, x_test, y_test=None, limit: float = 4.0, path=None):
    """Sweeps side by side, test codes with posterior-sigma ellipses, and each metric against beta."""
    import matplotlib.pyplot as plt

    from .compare import plot_codes

    k = len(models)
    fig = plt.figure(figsize=(3.4 * k, 10))
    grid = fig.add_gridspec(3, k, height_ratios=(1, 1, 0.85))
    for col, (name, model) in enumerate(models.items()):
        r, title = rows[name], LABELS.get(name, name)
        ax = show_grid(decode_grid(model.decode, limit=limit), ax=fig.add_subplot(grid[0, col]), limit=limit,
                       title=title)
        ax.images[0].set_interpolation("antialiased")  # shrunk to a panel, nearest-neighbour makes moire
        ax = fig.add_subplot(grid[1, col])
        plot_codes(latent_codes(model, x_test), y_test, ax=ax, limit=limit, prior=True,
                   sigma=posterior_std(model, x_test), max_points=2000)
        ax.set_title(f"{r['frac_codes_inside']:.0%} inside, median $\\sigma$ {r['sigma_median']:.2g}", fontsize=9)
        if col:
            ax.get_legend().remove()  # the window, sweep points and circles are the same in every panel
    metrics = [m for m in METRICS if all(m[0] in r for r in rows.values())]
    sub = grid[2, :].subgridspec(1, len(metrics), wspace=0.35)
    plot_metrics(rows, [fig.add_subplot(sub[0, i]) for i in range(len(metrics))])
    fig.suptitle("The KL weight $\\beta$ in recon + $\\beta$ KL: 0 = no prior, 1 = the lab's VAE, 4 = a strong pull "
                 "to the prior; and the lab's VAE with its posterior $\\sigma$ fixed small", fontsize=13)
    fig.tight_layout()
    if path is not None:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=90))
    return fig


def plot_metrics(rows: dict, axes=None):
    """Each metric of the table against beta, one panel each; the fixed-sigma VAE as a red star."""
    import matplotlib.pyplot as plt

    metrics = [m for m in METRICS if all(m[0] in r for r in rows.values())]
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.4))
    learned = {n: r for n, r in rows.items() if r["posterior_sigma"] is None}
    fixed = {n: r for n, r in rows.items() if r["posterior_sigma"] is not None}
    for i, (ax, (key, _, _, label)) in enumerate(zip(axes, metrics)):
        points = sorted((r["beta"], r[key]) for r in learned.values())
        ax.plot(*zip(*points), "-o", c="tab:blue", label="learned $\\sigma$")
        for name, r in fixed.items():
            ax.plot(r["beta"], r[key], "*", ms=12, c="tab:red", label=LABELS.get(name, name))
        ax.set_xscale("symlog", linthresh=0.1)  # beta = 0 sits on the axis; 0.1 to 4 spread evenly
        ax.set_xticks([b for b, _ in points])
        ax.set_xticklabels([f"{b:g}" for b, _ in points])
        ax.set_xlabel("$\\beta$ (KL weight)")
        ax.set_title(label, fontsize=10)
        if key.startswith("frac"):
            ax.set_ylim(0, 1.05)
        elif key == "classes":
            ax.set_ylim(0, 10.5)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
    return axes


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

    from .compare import load_or_train_classifier
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
