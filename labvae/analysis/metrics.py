"""What the comparison measures on one model: where its codes lie, how its sweep changes, how varied it is."""

from __future__ import annotations

import torch

from ..grid import latent_grid, sweep_tiles
from ..models import latent_codes
from ..training import evaluate
from .judge import DISTINCT_RMS, distinct, rms
from .paths import path_metrics
from .posterior import aggregate_posterior

# Each takes plain tensors and returns a dict of plain numbers and lists.

# A seam: neighbouring sweep tiles whose RMS pixel change exceeds this (pixels in [0, 1]). At full scale
# (seed 0): 5.0% of steps for the VAE with sigma fixed at 0.01, 1.0% for the lab VAE, 0% for both AEs;
# the mean absolute change stays under 0.15 for every one of them, so it could not tell them apart.
LARGE_STEP = 0.15


def large_steps(tiles: torch.Tensor, n: int) -> float:
    """Share of the sweep's neighbour steps (left/right and up/down) whose RMS pixel change is > LARGE_STEP."""
    grid = tiles.reshape(n, n, -1)  # (row, col, 784)
    steps = torch.cat([(grid[:, 1:] - grid[:, :-1]).pow(2).mean(-1).sqrt().flatten(),
                       (grid[1:] - grid[:-1]).pow(2).mean(-1).sqrt().flatten()])
    return (steps > LARGE_STEP).float().mean().item() if len(steps) else 0.0


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
        "frac_large_steps": large_steps(tiles, n),
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


def holes(labels: list[int], codes: torch.Tensor, n: int, limit: float) -> dict:
    """Garment share of the sweep's tiles in cells that hold a test code, and in cells that hold none.

    'Holes' are the cells no image's code reaches: if the sweep leaves the data there, the second share
    is below the first. NaN where a kind of cell does not occur (every cell hit, or none).
    """
    inside = (codes.abs() <= limit).all(dim=1)
    hit = torch.zeros(n * n, dtype=torch.bool)
    hit[_cell_index(codes[inside], n, limit)] = True
    garment = torch.tensor(labels) >= 0  # the judge's label map: -1 = not a garment
    nan = float("nan")
    return {"garment_in_code_cells": garment[hit].float().mean().item() if hit.any() else nan,
            "garment_in_empty_cells": garment[~hit].float().mean().item() if (~hit).any() else nan,
            "cells_empty": int((~hit).sum())}


MAP_KEYS = ("labels", "confidence", "distance", "continuity_map", "nearest_real_map")


SE_BATCH = 200  # images per batch mean: enough batches (50 on 10,000 images) for their spread to be read


def _loss_and_se(model, x, seed: int) -> tuple[float, float]:
    """Mean loss over x (nats per image) and its standard error, from the spread of batch means.

    Repeated images (data tiled to a larger size) are not new evidence: the error counts distinct ones.
    """
    with torch.random.fork_rng():  # the VAE's loss draws one z per image: the same draws on every call
        torch.manual_seed(seed)
        means = torch.tensor([evaluate(model, x[i : i + SE_BATCH])["loss"] for i in range(0, len(x), SE_BATCH)])
    sizes = torch.tensor([len(x[i : i + SE_BATCH]) for i in range(0, len(x), SE_BATCH)], dtype=torch.float64)
    mean = (means.double() * sizes).sum().item() / len(x)
    if len(means) < 2:
        return mean, float("nan")
    distinct_images = len(torch.unique((x.reshape(len(x), -1) * 255).round().to(torch.uint8), dim=0))
    per_image_var = means.double().var().item() * SE_BATCH  # a batch mean's variance is sigma^2 / batch
    return mean, (per_image_var / distinct_images) ** 0.5


def fit_gap(model, x_train, x_test, seed: int = 0) -> dict:
    """Loss on the training and on the test images with the final weights (nats per image); gap > 0: test worse.

    fit_gap_se: the gap's standard error from the two mean losses' (a gap within a few of them is noise).
    """
    (train, se_train), (test, se_test) = _loss_and_se(model, x_train, seed), _loss_and_se(model, x_test, seed)
    se = (se_train**2 + se_test**2) ** 0.5
    return {"train_loss_final": train, "test_loss_final": test, "fit_gap": test - train, "fit_gap_se": se,
            "fit_gap_rel": (test - train) / abs(train), "fit_gap_rel_se": se / abs(train)}


def compare_model(model, judge, x_test, y_test=None, n: int = 21, limit: float = 4.0, x_train=None) -> dict:
    """Every comparison metric for one model, as a plain dict (per-tile maps under 'maps').

    judge: a calibrated labvae.analysis.judge.Judge; it decides which tiles are garments and what they show.
    y_test adds interpolation paths within and across classes; x_train adds the train/test loss gap.
    """
    tiles = sweep_tiles(model, n, limit)
    codes = latent_codes(model, x_test)
    scored = judge.score(tiles)
    out = {**code_stats(codes, n, limit), **scored, **holes(scored["labels"], codes, n, limit),
           **judge.transitions(tiles, n),
           **continuity(tiles, n, codes, x_test), **diversity(tiles, x_test), **aggregate_posterior(model, x_test)}
    if y_test is not None:
        out.update(path_metrics(model, judge, x_test, y_test))
    if x_train is not None:
        out.update(fit_gap(model, x_train, x_test))
    out["maps"] = {k: out.pop(k) for k in MAP_KEYS}
    out["n"], out["limit"] = n, limit
    history = getattr(model, "history", None)
    if history is not None and history.test:
        out["test_loss"] = history.test[-1]["loss"]
    return out


def compare_seeds(models: dict, judge, x_test, y_test=None, x_train=None) -> dict:
    """compare_model for each model trained with each seed: {name: [metrics per seed]}."""
    return {name: [compare_model(m, judge, x_test, y_test, x_train=x_train) for m in per_seed]
            for name, per_seed in models.items()}


def weight_scale(model) -> dict:
    """Each decoder weight matrix's norm against the same matrix at initialisation (1.0 = same size)."""
    initial = model.config.build().decoder.state_dict()  # same seed, so the very weights it started from
    return {k: (v.norm() / initial[k].norm()).item() for k, v in model.decoder.state_dict().items()
            if k.endswith("weight")}


def weight_change(model) -> dict:
    """How far each decoder weight matrix moved from its initialisation: ||W - W0|| / ||W0|| and cos(W, W0)."""
    initial = model.config.build().decoder.state_dict()
    out = {}
    for k, w in model.decoder.state_dict().items():
        if k.endswith("weight"):
            w0 = initial[k]
            out[k] = {"moved": ((w - w0).norm() / w0.norm()).item(),
                      "cosine": torch.nn.functional.cosine_similarity(w.flatten(), w0.flatten(), dim=0).item()}
    return out


def still_improving(history, last: int = 1) -> float:
    """Relative fall of the training loss over the last `last` epochs (0.01 = still 1% better per epoch)."""
    loss = [e["loss"] for e in history.train]
    if len(loss) <= last:
        return float("nan")
    return (loss[-1 - last] - loss[-1]) / abs(loss[-1 - last]) / last
