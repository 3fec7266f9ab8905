"""Every plot of the comparison: codes, per-tile maps, the side-by-side figure, paths, posteriors, the beta family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._io import atomic_write
from ..config import LABELS
from ..data import CLASSES
from ..grid import decode_grid, latent_grid, show_grid, show_images, sweep_extent, z_axes
from ..models import latent_codes, posterior_std
from .judge import AMBIGUOUS, MIN_TILES, NOT_A_GARMENT
from .paths import STEPS, interpolate
from .posterior import moments, sampled_codes


def plot_codes(codes: torch.Tensor, y=None, ax=None, limit: float = 4.0, n: int = 21,
               prior: bool = False, title: str | None = None, max_points: int = 5000,
               sigma: torch.Tensor | None = None, max_ellipses: int = 150):
    """Encoded images coloured by class, with the swept window and its sweep points drawn.

    sigma: the VAE's posterior std per code (N, 2), e.g. models.posterior_std; draws the 1-sigma
    ellipse of the first max_ellipses codes (the region the decoder saw around each code in training).
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import EllipseCollection

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    if sigma is not None and (sigma.shape[1:] != (2,) or len(sigma) != len(codes)):
        raise ValueError(f"sigma must hold one (sigma1, sigma2) per code, shape ({len(codes)}, 2); got {tuple(sigma.shape)}.")
    codes = codes[:max_points]
    colours = None if y is None else y[:max_points].numpy()
    sc = ax.scatter(codes[:, 0], codes[:, 1], c=colours, cmap="tab10", vmin=-0.5, vmax=9.5, s=3, alpha=0.6)
    if sigma is not None:
        k = min(max_ellipses, len(codes))  # a subsample: thousands of ellipses would hide the codes
        ax.add_collection(EllipseCollection(
            2 * sigma[:k, 0].numpy(), 2 * sigma[:k, 1].numpy(), np.zeros(k), units="xy",
            offsets=codes[:k].numpy(), offset_transform=ax.transData, facecolors="none",
            edgecolors="0.2", linewidths=0.6, alpha=0.7))
        ax.plot([], [], "o", mfc="none", c="0.2", label=f"posterior 1$\\sigma$ ({k} codes)")  # legend entry
    _window(ax, codes, limit, n, prior, title)
    if y is not None:
        cbar = ax.figure.colorbar(sc, ax=ax, ticks=range(10), fraction=0.046, pad=0.04)
        cbar.ax.set_yticklabels(CLASSES, fontsize=7)
        cbar.solids.set_alpha(1)
    return ax


def plot_code_clouds(codes: dict, ax=None, limit: float = 4.0, n: int = 21, title: str | None = None,
                     max_points: int = 3000):
    """Several models' codes on one set of axes (one colour per model), with window and prior."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7))
    for (name, c), colour in zip(codes.items(), ("tab:blue", "tab:orange", "tab:green", "tab:purple")):
        ax.scatter(c[:max_points, 0], c[:max_points, 1], s=3, alpha=0.35, c=colour, label=name)
    _window(ax, torch.cat(list(codes.values())), limit, n, prior=True, title=title)
    for handle in ax.get_legend().legend_handles[: len(codes)]:
        handle.set_alpha(1)
    return ax


def _window(ax, codes: torch.Tensor, limit: float, n: int, prior: bool, title: str | None) -> None:
    """Sweep points, the swept window, optionally N(0, I) circles; equal axes that show the codes."""
    from matplotlib.patches import Circle, Rectangle

    z = latent_grid(n, limit)
    ax.scatter(z[:, 0], z[:, 1], s=2, c="k", marker=".", alpha=0.5, label=f"{n}x{n} sweep points")
    ax.add_patch(Rectangle((-limit, -limit), 2 * limit, 2 * limit, fill=False, ec="k", lw=1.5,
                           label=f"swept window [-{limit:g}, {limit:g}]$^2$"))
    if prior:
        for k in (1, 2, 3):
            ax.add_patch(Circle((0, 0), k, fill=False, ec="crimson", ls="--", lw=1,
                                label="N(0, I): 1, 2, 3 $\\sigma$" if k == 1 else None))
    # Every code on the axes (the extremes too: a clipped scatter hides the codes that miss the window).
    pad = 0.03 * (codes.max() - codes.min()).item() if len(codes) else 0.0
    lo = min(codes.min().item() - pad if len(codes) else 0.0, -limit * 1.1)
    hi = max(codes.max().item() + pad if len(codes) else 0.0, limit * 1.1)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title)


def plot_map(values, ax=None, limit: float = 4.0, kind: str = "class", title: str | None = None,
             vmax: float | None = None):
    """A per-tile map over the sweep: 'class' (colour = judged class, white = not a garment) or a heat map."""
    import matplotlib.pyplot as plt

    values = np.asarray(values, dtype=float)
    n = int(round(len(values) ** 0.5))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    extent = sweep_extent(n, limit)
    if kind == "class":
        shown = np.ma.masked_equal(values.reshape(n, n), NOT_A_GARMENT)  # masked tiles stay white
        im = ax.imshow(shown, cmap="tab10", vmin=-0.5, vmax=9.5, extent=extent, interpolation="nearest")
        cbar = ax.figure.colorbar(im, ax=ax, ticks=range(10), fraction=0.046, pad=0.04)
        cbar.ax.set_yticklabels(CLASSES, fontsize=7)
    else:
        im = ax.imshow(values.reshape(n, n), cmap="magma", extent=extent, interpolation="nearest",
                       vmin=0, vmax=vmax)  # pass one vmax to compare several maps on one scale
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return z_axes(ax, limit, title)


def plot_unsure(labels, confidence, ax, limit: float = 4.0) -> None:
    """Over a class map: x where a garment tile's class is unsure (max p < AMBIGUOUS)."""
    labels, conf = np.asarray(labels).reshape(-1), np.asarray(confidence).reshape(-1)
    n = int(round(len(conf) ** 0.5))
    z = latent_grid(n, limit).numpy()
    unsure = (labels != NOT_A_GARMENT) & (conf < AMBIGUOUS)
    ax.scatter(z[unsure, 0], z[unsure, 1], marker="x", c="k", s=10, lw=0.8, label=f"garment, max p < {AMBIGUOUS}")
    if unsure.any():
        ax.legend(loc="upper right", fontsize=7)


def comparison_figure(models: dict, results: dict, x_test, y_test, limit: float = 4.0, path=None):
    """One row per model: sweep, class map, latent scatter. Saved to path when given."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(models), 3, figsize=(16, 5.2 * len(models)), squeeze=False)
    for row, (name, model) in zip(axes, models.items()):
        r = results[name]
        show_grid(decode_grid(model.decode, n=r["n"], limit=limit), ax=row[0], limit=limit, title=f"{name}: sweep")
        plot_map(r["maps"]["labels"], ax=row[1], limit=limit,
                 title=f"{name}: what the judge sees (white = not a garment)\n{r['frac_garment']:.0%} garments, "
                       f"{r['classes']} classes with >= {MIN_TILES} confident tiles")
        plot_unsure(r["maps"]["labels"], r["maps"]["confidence"], row[1], limit)
        plot_codes(latent_codes(model, x_test), y_test, ax=row[2], limit=limit, n=r["n"],
                   prior=getattr(getattr(model, "config", None), "kind", None) == "vae",
                   title=f"{name}: test codes, {r['frac_codes_inside']:.0%} inside the window")
    fig.tight_layout()
    if path is not None:  # atomically: a kill mid-write leaves the previous figure in place
        fmt = Path(path).suffix.lstrip(".").lower() or "png"
        atomic_write(path, lambda f: fig.savefig(f, dpi=80, format=fmt))
    return fig


# ---------------------------------------------------------------------------------------------
# The beta family (labvae.analysis.beta)

BETA_METRICS = (  # (key, column title, format, what the metric-vs-beta panel calls it)
    ("test_recon", "recon", "{:.1f}", "test reconstruction (nats)"),
    ("test_kl", "KL", "{:.2f}", "test KL, unweighted (nats)"),
    ("frac_codes_inside", "inside", "{:.0%}", "test codes inside [-4, 4]$^2$"),
    ("frac_cells_hit", "cells", "{:.0%}", "sweep cells holding a test code"),
    ("frac_garment", "garments", "{:.0%}", "tiles judged to be garments"),
    ("classes", "classes", "{:d}", "classes judged in the sweep"),
    ("frac_large_steps", "seams", "{:.1%}", "neighbour steps > 0.15 (seams)"),
)


def beta_figure(models: dict, rows: dict, x_test, y_test=None, limit: float = 4.0, path=None):
    """Sweeps side by side, test codes with posterior-sigma ellipses, and each metric against beta."""
    import matplotlib.pyplot as plt

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
    metrics = [m for m in BETA_METRICS if all(m[0] in r for r in rows.values())]
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

    metrics = [m for m in BETA_METRICS if all(m[0] in r for r in rows.values())]
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
        # One short label per panel (a long one overlaps its neighbour's); the axis's scale said once.
        ax.set_xlabel("$\\beta$ (linear below 0.1, log above)" if i == 0 else "$\\beta$", fontsize=9)
        ax.set_ylabel(label, fontsize=9)
        ax.set_title(label, fontsize=10)
        if key.startswith("frac"):
            ax.set_ylim(0, 1.05)
        elif key == "classes":
            ax.set_ylim(0, 10.5)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
    return axes


# ---------------------------------------------------------------------------------------------
# Interpolation paths and the aggregate posterior (labvae.analysis.paths, labvae.analysis.posterior)


def plot_paths(models: dict, x_test, y_test, pairs: list, judge=None, steps: int = STEPS, path=None):
    """One row per pair and model: the decoded straight line between two test images' codes."""
    import matplotlib.pyplot as plt

    rows = [(p, name) for p in pairs for name in models]
    fig, axes = plt.subplots(max(len(rows), 1), 1, figsize=(0.75 * (steps + 2), 0.95 * max(len(rows), 1)),
                             squeeze=False)
    if not rows:  # fewer than two test images: nothing to interpolate between
        axes[0, 0].text(0.5, 0.5, "no pair of test images to interpolate between", ha="center", va="center")
        axes[0, 0].set_axis_off()
    for ax, ((i, j), name) in zip(axes[:, 0], rows):
        line = interpolate(models[name], x_test[i : i + 1], x_test[j : j + 1], steps)[0]  # (steps, 1, 28, 28)
        ends = torch.stack([x_test[i], x_test[j]])  # the real images, at both ends of the row
        show_images(torch.cat([ends[:1], line, ends[1:]]), nrow=steps + 2, ax=ax)
        flat = line.reshape(steps, -1)
        reach = (flat[-1] - flat[0]).pow(2).mean().sqrt() / (x_test[j] - x_test[i]).pow(2).mean().sqrt().clamp_min(1e-8)
        said = f": gets {reach.item():.0%} of the way"
        if judge is not None:
            said += f"; {int(judge.garments(line).sum())}/{steps} judged garments"
        ax.set_title(f"{name}, {CLASSES[int(y_test[i])]} -> {CLASSES[int(y_test[j])]}{said}", fontsize=8, loc="left")
    fig.suptitle("Straight lines between two test images' codes (first and last tile: the real images)", fontsize=10)
    fig.tight_layout()
    if path is not None:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=80))
    return fig


def plot_posterior(models: dict, x_test, path=None):
    """Per model, each code dimension's marginal (mu, and one sampled z per image) against N(0, 1)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(models), 2, figsize=(10, 2.6 * len(models)), squeeze=False)
    grid = np.linspace(-6, 6, 241)
    prior = np.exp(-grid**2 / 2) / np.sqrt(2 * np.pi)
    for row, (name, model) in zip(axes, models.items()):
        mu, z = latent_codes(model, x_test), sampled_codes(model, x_test)
        m = moments(z)
        for d, ax in enumerate(row):
            bins = np.linspace(-6, 6, 61)
            vae = getattr(getattr(model, "config", None), "kind", None) == "vae"
            if vae:  # an AE has no sample: its code is all there is
                ax.hist(z[:, d].clamp(-6, 6).numpy(), bins=bins, density=True, alpha=0.45, label="z (one sample each)")
            ax.hist(mu[:, d].clamp(-6, 6).numpy(), bins=bins, density=True, histtype="step", lw=1.2,
                    label="$\\mu$" if vae else "code")
            ax.plot(grid, prior, "k--", lw=1, label="N(0, 1)")
            ax.set_title(f"{name}, $z_{d + 1}$: mean {m['mean'][d]:+.2f}, variance {m['var'][d]:.2f}, "
                         f"KS {m['ks'][d]:.2f}", fontsize=9)
            ax.set_xlim(-6, 6)
            ax.set_xlabel(f"$z_{d + 1}$")
            ax.set_ylabel("density")
        row[0].legend(fontsize=7)
    fig.suptitle("The aggregate posterior: every test image's code against the prior N(0, 1) "
                 "(values beyond ±6 drawn at the edge)", fontsize=10)
    fig.tight_layout()
    if path is not None:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=80))
    return fig
