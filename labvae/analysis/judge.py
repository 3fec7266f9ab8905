"""The judge: what a sweep tile shows, calibrated on real images first; the report's claims and their verdicts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data import CLASSES
from ..grid import TILE

CONFIDENT = 0.9  # max class probability at or above this: the classifier is sure what the garment is
AMBIGUOUS = 0.5  # below this: no class wins even half the probability
DISTINCT_RMS = 0.1  # tiles closer than this (RMS pixel difference, pixels in [0, 1]) count as one image
# A class counts as shown only with this many confident garment tiles: 5 of 441 is about a 2x2 patch,
# so one or two stray tiles on a boundary between two regions do not add a class.
MIN_TILES = 5
NEAR_QUANTILE = 0.99  # the near-data radius admits 99% of held-out real images: 1% of real garments are odd
FAINT_QUANTILE = 0.01  # a tile with less contrast than 99% of real images is a ghost or a flat patch
GREY = (0.2, 0.8)  # mid-grey pixels: neither background nor garment body; blur makes edges into these
# A tile greyer than 98% of real images is a grey blob (the mean image, the lab AE's speckled blobs on
# little data); 0.98, not 0.99: the mean training image sits at real images' 99th percentile.
GREY_QUANTILE = 0.98
SPECKLE = 0.1  # the controls' speckle: Gaussian pixel noise of this std, visible by eye on a 28x28 tile
PASSES = {"not a garment": lambda f: f <= 0.05, "mostly garments": lambda f: f >= 0.9}  # a control's test
NOT_A_GARMENT = -1  # the label of a tile the judge refuses to name


def _flat(x) -> torch.Tensor:
    """(B, 1, 28, 28) or (B, 784) in [0, 1] -> (B, 784) float, with one readable error otherwise."""
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x[0].numel() != TILE * TILE:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"the judge scores 28x28 images shaped (B, 1, 28, 28) or (B, 784), got {shape}.")
    return x.detach().reshape(len(x), -1).float().cpu()


def _shape(x: torch.Tensor) -> torch.Tensor:
    """Each image centred and scaled to unit length, so a dot product is a correlation (B, 784)."""
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Mean gradient magnitude per image (B,): blur lowers it, noise raises it."""
    img = images.reshape(len(images), TILE, TILE)
    gx = img[:, :, 1:] - img[:, :, :-1]
    gy = img[:, 1:, :] - img[:, :-1, :]
    return (gx[:, :-1, :] ** 2 + gy[:, :, :-1] ** 2).sqrt().mean((1, 2))


def grey_share(images: torch.Tensor) -> torch.Tensor:
    """Share of mid-grey pixels per image (B,)."""
    return ((images > GREY[0]) & (images < GREY[1])).float().mean(1)


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B, 784) images with std sigma pixels (edges replicated) -> (B, 784)."""
    k = torch.arange(-4, 5, dtype=torch.float32)
    g = torch.exp(-k**2 / (2 * sigma**2))
    g = g / g.sum()
    x = torch.nn.functional.pad(images.reshape(-1, 1, TILE, TILE), (4, 4, 4, 4), mode="replicate")
    x = torch.nn.functional.conv2d(torch.nn.functional.conv2d(x, g.view(1, 1, 1, 9)), g.view(1, 1, 9, 1))
    return x.reshape(len(images), -1)


def rms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise RMS pixel distance between rows of a (A, 784) and b (B, 784) -> (A, B)."""
    return torch.cdist(a, b) / a.shape[1] ** 0.5


def distinct(x: torch.Tensor, threshold: float = DISTINCT_RMS) -> int:
    """How many images remain when each one closer than threshold to an image already kept is merged."""
    pairwise = rms(x, x)
    kept: list[int] = []  # greedy in order: an image is new if it is >= threshold from all kept so far
    for i in range(len(x)):
        if not kept or pairwise[i, kept].min() >= threshold:
            kept.append(i)
    return len(kept)


def spread(values, fmt: str = "{:.3f}") -> str:
    """One value, or 'mean (min..max)' of several; NaN (not measurable) as 'n/a'."""
    values = [v for v in values if v is not None and v == v]
    if not values:
        return "n/a"
    if len(values) == 1 or min(values) == max(values):
        return fmt.format(values[0])
    return f"{fmt.format(sum(values) / len(values))} ({fmt.format(min(values))}..{fmt.format(max(values))})"


@dataclass
class Judge:
    """Names what a tile shows, or says 'not a garment'; every threshold comes from real images."""

    classifier: torch.nn.Module
    reference: torch.Tensor  # (R, 784) real images the tiles are compared with
    radius: float  # correlation distance to the nearest reference image that still counts as near
    min_contrast: float  # pixel std below which a tile is flat or a ghost
    jump: float  # RMS step between neighbour tiles that no pair of similar real images makes
    real_spread: float  # median RMS of real images from their mean image
    holdout: torch.Tensor  # (H, 784) real images used neither as reference nor for thresholds
    holdout_labels: torch.Tensor | None = None  # classes of the held-out images, for the class means
    max_grey: float = 1.0  # mid-grey share above which a tile is a grey blob (calibrate sets it)

    def __post_init__(self):
        self._unit = _shape(self.reference)
        self._sharp = sharpness(self.reference)
        self._grey = grey_share(self.reference)

    def nearest(self, x: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
        """Correlation distance (1 - r) to the most similar reference image, and its index; (B,) each."""
        sims = [_shape(x) @ self._unit[i : i + chunk].T for i in range(0, len(self._unit), chunk)]
        best, idx = torch.cat(sims, 1).max(1)  # (B, R) -> (B,)
        return 1 - best, idx

    def _garment(self, x: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        """Near a real image in shape, with a real image's contrast, and no greyer than real images (B,)."""
        return (dist <= self.radius) & (x.std(1) >= self.min_contrast) & (grey_share(x) <= self.max_grey)

    def garments(self, tiles) -> torch.Tensor:
        """True where the judge calls a tile a garment (B,)."""
        x = _flat(tiles)
        return self._garment(x, self.nearest(x)[0])

    def score(self, tiles) -> dict:
        """What the tiles show: garment share, classes, ambiguity, relative sharpness, variation."""
        x = _flat(tiles)
        dist, idx = self.nearest(x)
        garment = self._garment(x, dist)
        probs = self.classifier.probs(x)
        top, label = probs.max(1)
        sure = garment & (top >= CONFIDENT)
        per_class = torch.bincount(label[sure], minlength=len(CLASSES))
        share = per_class[per_class > 0].float() / max(int(sure.sum()), 1)
        g = x[garment]
        enough = len(g) >= MIN_TILES  # relative measures over fewer garment tiles are noise
        nan = float("nan")
        return {
            "frac_garment": garment.float().mean().item(),
            "frac_not_garment": 1 - garment.float().mean().item(),
            "classes": int((per_class >= MIN_TILES).sum()),
            "effective_classes": math.exp(-(share * share.log()).sum().item()) if sure.any() else 0.0,
            "frac_confident": sure.float().mean().item(),
            "frac_unsure": (top[garment] < AMBIGUOUS).float().mean().item() if enough else nan,
            "frac_distinct_garments": distinct(g) / len(x),
            "garment_spread": (g - g.mean(0)).pow(2).mean(1).sqrt().median().item() / self.real_spread
            if enough else nan,
            # Each garment tile against its most similar real image: 1.0 = as sharp as real data.
            "sharpness_rel": (sharpness(g) / self._sharp[idx[garment]].clamp_min(1e-6)).median().item()
            if enough else nan,
            "grey_rel": (grey_share(g) - self._grey[idx[garment]]).median().item() if enough else nan,
            "tiles_per_class": dict(zip(CLASSES, per_class.tolist())),
            "labels": torch.where(garment, label, NOT_A_GARMENT).tolist(),
            "confidence": top.tolist(),
            "distance": dist.tolist(),
        }

    def transitions(self, tiles, n: int) -> dict:
        """Steps between neighbouring tiles of an n x n sweep: how many jump, how many leave the data."""
        x = _flat(tiles)
        if len(x) != n * n:
            raise ValueError(f"transitions need the n*n = {n * n} tiles of the sweep, got {len(x)}.")
        grid = x.reshape(n, n, -1)
        garment = self.garments(x).reshape(n, n)
        steps = torch.cat([(grid[:, 1:] - grid[:, :-1]).pow(2).mean(-1).sqrt().flatten(),
                           (grid[1:] - grid[:-1]).pow(2).mean(-1).sqrt().flatten()])
        off = torch.cat([(~garment[:, 1:] | ~garment[:, :-1]).flatten(), (~garment[1:] | ~garment[:-1]).flatten()])
        return {"frac_jumps": (steps > self.jump).float().mean().item(),
                "frac_off_data_steps": off.float().mean().item(),
                "step_rms_max": steps.max().item() if len(steps) else 0.0}

    def calibration_report(self, x_extra=None) -> list[dict]:
        """The judge on inputs whose answer we know: noise, grey, blobs, speckle, blur, real images."""
        gen = torch.Generator().manual_seed(0)
        real = self.holdout[:441]  # one sweep's worth
        mean = self.reference.mean(0, keepdim=True).expand(200, -1)
        rows = [("uniform noise", torch.rand(200, TILE * TILE, generator=gen), "not a garment"),
                ("uniform noise, dim (x 0.3)", 0.3 * torch.rand(200, TILE * TILE, generator=gen), "not a garment")]
        rows += [(f"flat grey {v:.2f}", torch.full((1, TILE * TILE), v), "not a garment")
                 for v in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)]
        rows += [("mean training image", mean[:1], "not a garment"),
                 (f"mean image + speckle (std {SPECKLE})",
                  (mean + SPECKLE * torch.randn(mean.shape, generator=gen)).clamp(0, 1), "not a garment")]
        if self.holdout_labels is not None:
            means = torch.stack([self.holdout[self.holdout_labels == c].mean(0) for c in range(len(CLASSES))
                                 if (self.holdout_labels == c).any()])
            rows.append(("class means (held-out images)", means, "(reported as measured)"))
        rows += [(f"held-out + speckle (std {SPECKLE})",
                  (real + SPECKLE * torch.randn(real.shape, generator=gen)).clamp(0, 1), "(reported as measured)"),
                 ("held-out, blurred (std 1 px)", blur(real, 1.0), "mostly garments"),
                 ("held-out, blurred (std 2 px)", blur(real, 2.0), "(reported as measured)"),
                 ("held-out real images", real, "mostly garments")]
        if x_extra is not None:
            rows.append(("test images", _flat(x_extra), "mostly garments"))
        out = []
        for name, x, expect in rows:
            s = self.score(x)
            test = PASSES.get(expect)
            out.append({"input": name, "n": len(x), "expected": expect, "frac_garment": s["frac_garment"],
                        "frac_confident": s["frac_confident"], "classes": s["classes"],
                        "as_expected": None if test is None else bool(test(s["frac_garment"])),
                        "classifier_alone_confident": (self.classifier.probs(x).max(1).values >= CONFIDENT)
                        .float().mean().item()})
        return out


def calibrate(classifier, x_real, y_real=None, *, n_holdout: int = 500, n_fit: int = 1000,
              max_reference: int = 20000, seed: int = 0) -> Judge:
    """Fit the judge's thresholds on real images: a shuffled split into reference, threshold-fit and held-out.

    n_holdout=500 reads a share of garments to about +-2%; n_fit=1000 leaves 10 images beyond each 99th
    percentile, so the thresholds do not hang on one odd image; max_reference=20000 keeps one sweep's
    score under a second while still holding a near neighbour for nearly every real image.
    """
    x = _flat(x_real)
    if len(x) < 50:
        raise ValueError(f"calibrating the judge needs at least 50 real images, got {len(x)}.")
    # A repeated image (data tiled to a larger size) would sit in the reference and the held-out set at
    # once and shrink every threshold: keep each distinct image once.
    _, inverse = torch.unique((x * 255).round().to(torch.uint8), dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(x)).scatter_reduce(0, inverse, torch.arange(len(x)), "amin")
    keep = first.sort().values
    x, y_real = x[keep], None if y_real is None else y_real[keep]
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_holdout, n_fit = min(n_holdout, len(x) // 5), min(n_fit, len(x) // 5)  # small data: a fifth each
    hold, fit, ref = perm[:n_holdout], perm[n_holdout : n_holdout + n_fit], perm[n_holdout + n_fit :]
    ref = ref[:max_reference]  # enough real images to find a near one; bounds the cost of each score
    judge = Judge(classifier, x[ref], radius=0.0, min_contrast=0.0, jump=0.0, real_spread=1.0,
                  holdout=x[hold], holdout_labels=None if y_real is None else y_real.cpu()[hold])
    dist, _ = judge.nearest(x[fit])
    judge.radius = dist.quantile(NEAR_QUANTILE).item()
    judge.min_contrast = x[fit].std(1).quantile(FAINT_QUANTILE).item()
    judge.max_grey = grey_share(x[fit]).quantile(GREY_QUANTILE).item()
    # A step larger than 99% of the gaps between a real image and its nearest real neighbour (in RMS)
    # changes the image more than any two similar real garments differ: a jump, not a transition.
    gaps = torch.cat([rms(x[fit][i : i + 512], x[ref]).min(1).values for i in range(0, len(fit), 512)])
    judge.jump = gaps.quantile(NEAR_QUANTILE).item()
    judge.real_spread = (x[ref] - x[ref].mean(0)).pow(2).mean(1).sqrt().median().item()
    return judge


def calibration_table(rows: list[dict]) -> str:
    """The calibration report as monospace text."""

    def classes(r):  # too few inputs for every class to reach MIN_TILES: the count says nothing
        return str(r["classes"]) if r["n"] >= len(CLASSES) * MIN_TILES else "-"

    def ok(r):
        return {True: "yes", False: "NO", None: ""}[r.get("as_expected")]

    lines = [f"{'input':33s}{'n':>5s}{'garment':>9s}{'confident garment':>19s}{'classes':>9s}"
             f"{'classifier alone: p>=0.9':>26s}   {'expected':24s}as expected"]
    for r in rows:
        lines.append(f"{r['input']:33s}{r['n']:5d}{r['frac_garment']:9.0%}{r['frac_confident']:19.0%}"
                     f"{classes(r):>9s}{r['classifier_alone_confident']:26.0%}   {r['expected']:24s}{ok(r)}")
    return "\n".join(lines)
