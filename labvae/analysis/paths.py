"""Interpolation: decode the straight line between two encoded test images, and let the judge score it."""

from __future__ import annotations

import torch

from ..models import as_model, latent_codes
from .judge import rms

STEPS = 10  # points per path, both ends included: nine steps between two images


def path_pairs(y: torch.Tensor, n_within: int = 20, n_across: int = 20, seed: int = 0) -> dict:
    """Index pairs of test images: {'within': [(i, j)] of one class, 'across': [(i, j)] of two classes}."""
    gen = torch.Generator().manual_seed(seed)
    y = y.cpu()
    within, across = [], []
    for _ in range(50 * (n_within + n_across)):  # enough draws to fill both lists on any real label set
        if len(within) >= n_within and len(across) >= n_across:
            break
        i, j = torch.randint(len(y), (2,), generator=gen).tolist()
        if i == j:
            continue
        same = bool(y[i] == y[j])
        if same and len(within) < n_within:
            within.append((i, j))
        elif not same and len(across) < n_across:
            across.append((i, j))
    return {"within": within, "across": across}


def interpolate(model, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = STEPS) -> torch.Tensor:
    """Decode z_a + t (z_b - z_a) for t in [0, 1] (the VAE's mu); (P, 1, 28, 28) x2 -> (P, steps, 1, 28, 28)."""
    model = as_model(model)  # any model exercise 2.1a accepts
    z_a, z_b = latent_codes(model, x_a), latent_codes(model, x_b)  # (P, 2) each
    t = torch.linspace(0, 1, steps).view(1, -1, 1)  # (1, steps, 1)
    z = z_a[:, None] + t * (z_b - z_a)[:, None]  # (P, steps, 2)
    with torch.no_grad():
        x_hat = model.decode(z.reshape(-1, z.shape[-1]).to(model.device)).cpu()
    return x_hat.reshape(len(z_a), steps, *x_hat.shape[1:])


def _nearest_real_rms(x: torch.Tensor, reference: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """RMS pixel distance of each row of x (N, 784) to its nearest reference image (N,)."""
    return torch.cat([rms(x, reference[j : j + chunk]) for j in range(0, len(reference), chunk)], 1).min(1).values


def score_paths(paths: torch.Tensor, judge, ends: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
    """How far each path stays on the data, whether it gets anywhere, whether it switches: (P, T, ...) -> numbers.

    frac_path_garment: share of all path points the judge calls a garment.
    path_far: share of path points farther (RMS) from every real reference image than judge.jump, a
    distance 99% of real images stay within of their nearest real neighbour: absolute, not the judge's view.
    path_reach (with ends, the two real images (P, ...) each): how much of the change between the two
    real images the decoded path makes, RMS(last - first point) / RMS(x_b - x_a), median over paths;
    1 = the path goes all the way, near 0 = it hardly moves.
    path_jump_share: the largest step of a path as a share of all its steps (median over paths);
    1/(T-1) is an even morph, near 1 a switch in one step. Scale-free: a path that hardly moves can
    still be 'even', so it decides nothing alone.
    """
    p, t = paths.shape[:2]
    flat = paths.reshape(p, t, -1).float()
    garment = judge.garments(flat.reshape(p * t, -1)).reshape(p, t)
    far = _nearest_real_rms(flat.reshape(p * t, -1), judge.reference) > judge.jump
    steps = (flat[:, 1:] - flat[:, :-1]).pow(2).mean(-1).sqrt()  # (P, T-1) RMS per step
    share = steps.max(1).values / steps.sum(1).clamp_min(1e-8)
    out = {
        "frac_path_garment": garment.float().mean().item(),
        "frac_paths_all_garment": garment.all(1).float().mean().item(),
        "path_far": far.float().mean().item(),
        "path_jump_share": share.median().item(),
        "path_step_max": steps.max().item(),
        "path_garment_per_path": garment.float().mean(1).tolist(),
    }
    if ends is not None:
        a, b = (e.reshape(p, -1).float() for e in ends)
        moved = (flat[:, -1] - flat[:, 0]).pow(2).mean(-1).sqrt()
        out["path_reach"] = (moved / (b - a).pow(2).mean(-1).sqrt().clamp_min(1e-8)).median().item()
    return out


def path_metrics(model, judge, x_test: torch.Tensor, y_test: torch.Tensor, pairs: dict | None = None,
                 steps: int = STEPS) -> dict:
    """score_paths over within-class and across-class pairs of test images, together and apart."""
    pairs = pairs or path_pairs(y_test)
    out = {}
    every, firsts, lasts = [], [], []
    for kind, ij in pairs.items():
        if not ij:
            continue
        i, j = (torch.tensor(c) for c in zip(*ij))
        paths = interpolate(model, x_test[i], x_test[j], steps)
        every.append(paths)
        firsts.append(x_test[i])
        lasts.append(x_test[j])
        s = score_paths(paths, judge)
        out[f"frac_path_garment_{kind}"] = s["frac_path_garment"]
    if not every:  # fewer than two test images: no path to score, not measurable
        nan = float("nan")
        return {"frac_path_garment": nan, "frac_paths_all_garment": nan, "path_jump_share": nan, "path_step_max": nan,
                "path_far": nan, "path_reach": nan}
    scored = score_paths(torch.cat(every), judge, (torch.cat(firsts), torch.cat(lasts)))
    out.update({k: v for k, v in scored.items() if k != "path_garment_per_path"})
    return out
