"""Measured comparison of latent spaces: where codes live, what the sweep shows, how smooth it is.

What a tile shows is decided by labvae.judge (calibrated on real images); the claims live there too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import CLASSES
from .grid import TILE, decode_grid, latent_grid, show_grid, sweep_extent, sweep_tiles, z_axes
from .judge import AMBIGUOUS, DISTINCT_RMS, MIN_TILES, NOT_A_GARMENT, distinct, rms, spread
from .models import latent_codes
from .training import load_checkpoint, pick_device, save_checkpoint

# ---------------------------------------------------------------------------------------------
# A small classifier that labels sweep tiles.


@dataclass(frozen=True)
class ClassifierConfig:
    hidden_dim: int = 256  # one hidden layer: enough for ~85% on Fashion-MNIST, trains in seconds
    seed: int = 0

    def build(self) -> Classifier:
        return Classifier(self.hidden_dim, self.seed)

    def to_dict(self) -> dict:
        return {"kind": "classifier", **asdict(self)}


class Classifier(nn.Module):
    """MLP 784 -> hidden -> 10 class logits."""

    def __init__(self, hidden_dim: int = 256, seed: int = 0):
        super().__init__()
        self.config = ClassifierConfig(hidden_dim, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = nn.Sequential(nn.Linear(TILE * TILE, hidden_dim), nn.ReLU(),
                                     nn.Linear(hidden_dim, len(CLASSES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(len(x), -1))  # (B, 1, 28, 28) -> (B, 10)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, 10) on the CPU."""
        return F.softmax(self(x.to(self.device)), dim=1).cpu()


def train_classifier(x, y, x_test=None, y_test=None, *, epochs: int = 8, batch_size: int = 256,
                     lr: float = 1e-3, seed: int = 0, device="auto") -> Classifier:
    """Train the classifier with Adam and cross-entropy; its test accuracy goes in .accuracy."""
    dev = pick_device(device)
    model = ClassifierConfig(seed=seed).build().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = x.reshape(len(x), -1).to(dev), y.to(dev)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=order).to(dev)
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    model.accuracy = accuracy(model, x_test, y_test) if x_test is not None else None
    return model


def accuracy(model: Classifier, x, y) -> float:
    return (model.probs(x).argmax(1) == y.cpu()).float().mean().item()


def load_or_train_classifier(path, x_train, y_train, x_test, y_test, *, seed: int = 0, device="auto"):
    """Load the cached classifier if it saw the same data, else train (seconds) and save it."""
    from .training import fingerprint

    key = {"data": fingerprint(x_train, y_train), "seed": seed}
    path = Path(path)
    if path.is_file():
        try:
            model = load_checkpoint(path, kind="classifier", device=device)
            if model.meta.get("key") == key:
                model.accuracy = model.meta.get("accuracy")
                return model
        except RuntimeError:
            pass  # unreadable or foreign: train a new one and replace it atomically
    model = train_classifier(x_train, y_train, x_test, y_test, seed=seed, device=device)
    save_checkpoint(model, path, key=key, accuracy=model.accuracy)
    return model


# ---------------------------------------------------------------------------------------------
# Metrics. Each takes plain tensors and returns a dict of plain numbers and lists.


def code_stats(codes: torch.Tensor, n: int = 21, limit: float = 4.0) -> dict:
    """Where encoded images land relative to the swept window [-limit, limit]^2."""
    inside = (codes.abs() <= limit).all(dim=1)
    cells = _cell_index(codes[inside], n, limit)
    q = torch.quantile(codes, torch.tensor([0.01, 0.5, 0.99]), dim=0)  # (3, 2)
    return {
        "frac_codes_inside": inside.float().mean().item(),
        "frac_cells_hit": len(torch.unique(cells)) / (n * n),
        "code_min": codes.min(0).values.tolist(),
        "code_max": codes.max(0).values.tolist(),
        "code_q01": q[0].tolist(), "code_median": q[1].tolist(), "code_q99": q[2].tolist(),
        "code_std": codes.std(0).tolist(),
    }


def _cell_index(codes: torch.Tensor, n: int, limit: float) -> torch.Tensor:
    """The sweep tile nearest to each code (row-major index, row 0 = top = z2 = +limit)."""
    col = torch.round((codes[:, 0] + limit) / (2 * limit) * (n - 1)).long().clamp(0, n - 1)
    row = torch.round((limit - codes[:, 1]) / (2 * limit) * (n - 1)).long().clamp(0, n - 1)
    return row * n + col


def continuity(tiles: torch.Tensor, n: int, codes: torch.Tensor, x: torch.Tensor) -> dict:
    """Pixel change between neighbouring tiles, against the change between latent neighbours in data."""
    grid = tiles.reshape(n, n, -1)
    across = (grid[:, 1:] - grid[:, :-1]).abs().mean(-1)  # (n, n-1): left/right neighbours
    down = (grid[1:] - grid[:-1]).abs().mean(-1)  # (n-1, n): up/down neighbours
    heat, count = torch.zeros(n, n), torch.zeros(n, n)  # mean change to each tile's neighbours
    for d, sl in ((across, (slice(None), slice(None, -1))), (across, (slice(None), slice(1, None))),
                  (down, (slice(None, -1), slice(None))), (down, (slice(1, None), slice(None)))):
        heat[sl] += d
        count[sl] += 1
    steps = torch.cat([across.flatten(), down.flatten()])
    # Reference: each test image against the test image whose code is nearest to its own.
    flat = x.reshape(len(x), -1)
    nearest = _nearest_other(codes)
    data_change = (flat - flat[nearest]).abs().mean(1)
    return {
        "tile_step_mean": steps.mean().item(),
        "tile_step_max": steps.max().item(),
        "data_neighbour_change_mean": data_change.mean().item(),
        "data_neighbour_code_dist_median": (codes - codes[nearest]).norm(dim=1).median().item(),
        "sweep_step_z": 2 * latent_grid(n).abs().max().item() / max(n - 1, 1),
        "continuity_map": (heat / count.clamp_min(1)).flatten().tolist(),
    }


def _nearest_other(codes: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Index of each code's nearest other code."""
    out = []
    for i in range(0, len(codes), chunk):
        d = torch.cdist(codes[i : i + chunk], codes)
        d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        out.append(d.argmin(1))
    return torch.cat(out)


def diversity(tiles: torch.Tensor, x: torch.Tensor, threshold: float = DISTINCT_RMS) -> dict:
    """Distinct tiles (noise included) and each tile's RMS distance to the closest real image."""
    flat = x.reshape(len(x), -1)
    nearest_real = torch.cat([rms(tiles, flat[j : j + 4096]) for j in range(0, len(flat), 4096)], 1).min(1).values
    real_nn = rms(flat[:441], flat)  # real images' own distance to their nearest other real image
    real_nn[torch.arange(len(real_nn)), torch.arange(len(real_nn))] = float("inf")
    return {
        "distinct_tiles": distinct(tiles, threshold),
        "nearest_real_median": nearest_real.median().item(),
        "real_to_real_median": real_nn.min(1).values.median().item(),
        "nearest_real_map": nearest_real.tolist(),
    }


MAP_KEYS = ("labels", "confidence", "distance", "continuity_map", "nearest_real_map")


def compare_model(model, judge, x_test, y_test=None, n: int = 21, limit: float = 4.0) -> dict:
    """Every comparison metric for one model, as a plain dict (per-tile maps under 'maps').

    judge: a calibrated labvae.judge.Judge; it decides which tiles are garments and what they show.
    """
    tiles = sweep_tiles(model, n, limit)
    codes = latent_codes(model, x_test)
    out = {**code_stats(codes, n, limit), **judge.score(tiles), **judge.transitions(tiles, n),
           **continuity(tiles, n, codes, x_test), **diversity(tiles, x_test)}
    out["maps"] = {k: out.pop(k) for k in MAP_KEYS}
    out["n"], out["limit"] = n, limit
    history = getattr(model, "history", None)
    if history is not None and history.test:
        out["test_loss"] = history.test[-1]["loss"]
    return out


def compare_seeds(models: dict, judge, x_test, y_test=None) -> dict:
    """compare_model for each model trained with each seed: {name: [metrics per seed]}."""
    return {name: [compare_model(m, judge, x_test, y_test) for m in per_seed] for name, per_seed in models.items()}


def weight_scale(model) -> dict:
    """Each decoder weight matrix's norm against the same matrix at initialisation (1.0 = not moved)."""
    initial = model.config.build().decoder.state_dict()  # same seed, so the very weights it started from
    return {k: (v.norm() / initial[k].norm()).item() for k, v in model.decoder.state_dict().items()
            if k.endswith("weight")}


def still_improving(history, last: int = 1) -> float:
    """Relative fall of the training loss over the last `last` epochs (0.01 = still 1% better per epoch)."""
    loss = [e["loss"] for e in history.train]
    if len(loss) <= last:
        return float("nan")
    return (loss[-1 - last] - loss[-1]) / abs(loss[-1 - last]) / last


# ---------------------------------------------------------------------------------------------
# Plots


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
    lo = torch.minimum(codes.quantile(0.005, dim=0), torch.tensor(-limit * 1.1)).min().item()
    hi = torch.maximum(codes.quantile(0.995, dim=0), torch.tensor(limit * 1.1)).max().item()
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
                   prior=model.config.kind == "vae",
                   title=f"{name}: test codes, {r['frac_codes_inside']:.0%} inside the window")
    fig.tight_layout()
    if path is not None:  # atomically: a kill mid-write leaves the previous figure in place
        from ._io import atomic_write

        fmt = Path(path).suffix.lstrip(".").lower() or "png"
        atomic_write(path, lambda f: fig.savefig(f, dpi=80, format=fmt))
    return fig


# ---------------------------------------------------------------------------------------------
# The numbers side by side, with their spread over seeds.

TABLE_ROWS = (  # (key, label, format)
    ("test_loss", "test loss (nats per image)", "{:.1f}"),
    ("frac_codes_inside", "test codes inside [-4, 4]^2", "{:.0%}"),
    ("frac_cells_hit", "sweep cells holding a test code", "{:.0%}"),
    ("frac_garment", "tiles judged garments", "{:.0%}"),
    ("classes", f"classes, >= {MIN_TILES} confident tiles", "{:.0f}"),
    ("effective_classes", "effective number of classes", "{:.1f}"),
    ("frac_confident", "confident garment tiles", "{:.0%}"),
    ("frac_unsure", "garment tiles, max p < 0.5", "{:.0%}"),
    ("frac_distinct_garments", f"distinct garment tiles (RMS >= {DISTINCT_RMS})", "{:.0%}"),
    ("garment_spread", "spread of garment tiles / real", "{:.2f}"),
    ("sharpness_rel", "sharpness / nearest real image", "{:.2f}"),
    ("grey_rel", "mid-grey share - nearest real's", "{:+.2f}"),
    ("frac_jumps", "neighbour steps that jump", "{:.0%}"),
    ("frac_off_data_steps", "neighbour steps off the data", "{:.0%}"),
    ("tile_step_max", "max pixel change, neighbour tiles", "{:.3f}"),
    ("distinct_tiles", f"distinct tiles, noise too (RMS >= {DISTINCT_RMS})", "{:.0f}"),
    ("nearest_real_median", "tile -> nearest real image (RMS)", "{:.3f}"),
)


def metrics_table(results: dict, rows=TABLE_ROWS) -> str:
    """Models side by side; results[name] is one metrics dict or a list of them (one per seed)."""
    names = list(results)
    runs = {k: r if isinstance(r, list) else [r] for k, r in results.items()}
    width = max(24, *(len(n) + 2 for n in names))
    lines = [f"{'':42s}" + "".join(f"{n:>{width}s}" for n in names)]
    for key, label, fmt in rows:
        if all(key not in r for rs in runs.values() for r in rs):
            continue
        cells = [spread([r.get(key) for r in runs[n]], fmt) for n in names]
        lines.append(f"{label:42s}" + "".join(f"{c:>{width}s}" for c in cells))
    seeds = max(len(rs) for rs in runs.values())
    if seeds > 1:
        lines.append(f"(mean over {seeds} seeds, min..max in brackets)")
    return "\n".join(lines)
