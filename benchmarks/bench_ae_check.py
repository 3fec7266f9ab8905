"""The spread check_ae's tolerance comes from: the lab AE's test BCE over every correct way to train it.

For each scale (smoke: synthetic data and LABVAE_SMOKE's settings; partial: the real partial data;
full: the partial data tiled to 60,000 / 10,000 images, as bench_notebooks.py --full-scale does;
smoke-lab: smoke data with the lab's settings typed in; fixture: the tests' real-mode stand-in),
the lab AE (linear 784 -> 2 -> 784, sigmoid) is trained every correct way a student might:
labvae.fit (seeds 0-9, and precision fp32 as well as auto for 0-2), and an own loop over an own nn.Module (seeds 0-2,
with and without shuffling, BCE summed over pixels and averaged over the batch or averaged over
pixels too). Each run's test BCE (nats per image, summed over pixels) is reported relative to the
reference check_ae uses (labvae.fit, seed 0, the config's settings). Then the wrong kinds the check
names, for the margin between them and the band: untrained, 1 epoch, MSE, trained on the test images,
a hidden layer.

    python benchmarks/bench_ae_check.py                       # every scale (minutes on 2 cores)
    LABVAE_DATA=/work/shared/data/fashion-mnist-partial python benchmarks/bench_ae_check.py  # data elsewhere
    python benchmarks/bench_ae_check.py --scales smoke partial
    python benchmarks/bench_ae_check.py --scales full --quick  # fewer runs (the note's full-scale figures)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench_notebooks import SHARED, tiled_copy  # noqa: E402  (beside this script)

import labvae  # noqa: E402
from labvae.config import SMOKE_EPOCHS, SMOKE_SIZES, LabConfig  # noqa: E402
from labvae.course.checks.ae_verdict import FIXTURE_SIZES  # noqa: E402

SEEDS = 10  # labvae.fit's seeds 0-9 (weights and order); own loops and fp32 runs on seeds 0-2


class LinearAE(nn.Module):
    """A student's own lab AE: linear 784 -> 2, linear 2 -> 784, sigmoid."""

    def __init__(self, hidden: int | None = None):
        super().__init__()
        if hidden:
            self.enc = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2))
            self.dec = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 784))
        else:
            self.enc, self.dec = nn.Linear(784, 2), nn.Linear(2, 784)

    def encode(self, x):
        return self.enc(x.reshape(len(x), -1))

    def decode(self, z):
        return torch.sigmoid(self.dec(z))

    def forward(self, x):
        return self.decode(self.encode(x))


def own_loop(x, epochs, batch_size, lr, seed, shuffle=True, loss="sum", hidden=None):
    """The lab's loop written by hand: Adam, batches of batch_size, BCE (or MSE)."""
    torch.manual_seed(seed)
    model = LinearAE(hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = x.reshape(len(x), -1)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g) if shuffle else torch.arange(len(x))
        for idx in order.split(batch_size):
            xb = x[idx]
            x_hat = model(xb)
            if loss == "sum":
                value = F.binary_cross_entropy(x_hat, xb, reduction="sum") / len(xb)
            elif loss == "mean":
                value = F.binary_cross_entropy(x_hat, xb)
            else:
                value = (x_hat - xb).pow(2).sum(1).mean()
            opt.zero_grad()
            value.backward()
            opt.step()
    return model.eval()


def bce(model, x) -> float:
    """BCE in nats per image, summed over pixels, as check_ae measures it."""
    x = x.reshape(len(x), -1)
    with torch.no_grad():
        x_hat = model.decode(model.encode(x)).reshape(len(x), -1).clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(x_hat, x, reduction="sum").item() / len(x)


def measures(model, x_train, x_test) -> tuple[float, float]:
    """(test BCE, test BCE minus BCE on as many training images): the check's quality and its gap."""
    test = bce(model, x_test)
    return test, test - bce(model, x_train[: len(x_test)])


def scale_data(scale: str, tmp: Path):
    if scale in ("smoke", "smoke-lab"):  # smoke mode's data, at its own settings or the lab's typed in
        cfg = LabConfig(data="synthetic", epochs=SMOKE_EPOCHS if scale == "smoke" else 10,
                        synthetic_sizes=SMOKE_SIZES, progress=False, out=tmp / scale)
    elif scale == "fixture":  # the tests' real-mode fixture: synthetic garments at a second size
        cfg = LabConfig(data="synthetic", synthetic_sizes=FIXTURE_SIZES, progress=False, out=tmp / scale)
    else:
        shared = Path(os.environ.get("LABVAE_DATA") or SHARED)  # the partial real data
        data = shared if scale == "partial" else tiled_copy(shared, tmp / "tiled")
        cfg = LabConfig(data=data, progress=False, out=tmp / scale)
    x_train, _, x_test, _ = cfg.load_data()
    return cfg, x_train, x_test


def run(scale: str, tmp: Path, quick: bool = False) -> dict:
    cfg, x_train, x_test = scale_data(scale, tmp)
    e, b, lr = cfg.epochs, cfg.batch_size, cfg.lr
    rows = {}

    def fit(name, x=x_train, seed=0, **kw):
        model = labvae.Autoencoder(latent_dim=2, seed=seed)
        labvae.fit(model, x, x_test, **{"epochs": e, "batch_size": b, "lr": lr, "seed": seed, "progress": False, **kw})
        rows[name] = measures(model, x_train, x_test)

    for seed in range(5 if quick else SEEDS):
        fit(f"fit seed {seed}", seed=seed)
        if seed > (0 if quick else 2):
            continue
        fit(f"fit seed {seed} fp32", seed=seed, precision="fp32")
        for shuffle in (True, False):
            for loss in ("sum", "mean"):
                name = f"loop seed {seed} {'shuffle' if shuffle else 'in order'} BCE {loss}"
                rows[name] = measures(own_loop(x_train, e, b, lr, seed, shuffle, loss), x_train, x_test)
    correct = dict(rows)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        rows["untrained"] = measures(LinearAE(), x_train, x_test)
    fit("1 epoch", epochs=1)
    fit("trained on the test images", x=x_test)
    if not quick:
        fit(f"{e - 1} epochs", epochs=e - 1)
        rows["MSE own loop"] = measures(own_loop(x_train, e, b, lr, 0, loss="mse"), x_train, x_test)
        rows["hidden layer 512"] = measures(own_loop(x_train, e, b, lr, 0, hidden=512), x_train, x_test)
    ref = rows["fit seed 0"][0]
    worst = max(v / ref - 1 for v, _ in correct.values())
    best = min(v / ref - 1 for v, _ in correct.values())
    gaps = [g for _, g in correct.values()]
    rel = torch.tensor([v / ref - 1 for v, _ in correct.values()])
    mean, std = rel.mean().item(), rel.std().item()
    print(f"\n== {scale}: {len(x_train)} train, {len(x_test)} test images; epochs={e}, batch_size={b}, lr={lr:g}")
    for name, (v, gap) in rows.items():
        print(f"  {name:38s} {v:8.2f} nats  {v / ref - 1:+7.2%}  gap {gap:+6.2f}"
              + ("" if name in correct else "   (not a correct run)"))
    print(f"  correct runs: {best:+.2%} to {worst:+.2%} of the reference (fit seed 0), mean {mean:+.2%}, "
          f"std {std:.2%}, mean -/+ 4 std {mean - 4 * std:+.2%} / {mean + 4 * std:+.2%}; "
          f"gap (test - train BCE) {min(gaps):+.2f} to {max(gaps):+.2f} nats")
    return {"scale": scale, "reference": ref, "correct_min": best, "correct_max": worst, "mean": mean, "std": std,
            "gap_min": min(gaps), "gap_max": max(gaps), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=["smoke", "smoke-lab", "fixture", "partial", "full"],
                        choices=["smoke", "smoke-lab", "fixture", "partial", "full"])
    parser.add_argument("--quick", action="store_true",
                        help="fit seeds 0-4, own loops on seed 0 only, only the cheap wrong kinds")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))  # a shared machine: one core
    with tempfile.TemporaryDirectory() as tmp:
        out = [run(s, Path(tmp), args.quick) for s in args.scales]
    print(json.dumps([{k: v for k, v in r.items() if k != "rows"} for r in out]))


if __name__ == "__main__":
    main()
