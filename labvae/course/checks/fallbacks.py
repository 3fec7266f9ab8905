"""What a notebook's later cells use until the student's answer passes: torch's and labvae's own functions.

These are not the lab's model answers (those live with the solutions, outside the package): each is a
library call that does the job, and the checks judge a student's answer against the same calls. A
student who hands one in is named by the guard (labvae.course.checks.guard) and by the copying report.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Normal
from torch.distributions import kl_divergence as _kl
from torchvision.utils import make_grid

from ...grid import TILE, decode_grid, latent_grid

__all__ = ["kl_divergence", "latent_grid", "reparameterize", "sweep_image", "sweep_model", "vae_loss"]


def _posterior(mu: torch.Tensor, logvar: torch.Tensor) -> Normal:
    return Normal(mu, torch.exp(0.5 * logvar))  # logvar is log sigma^2


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """One differentiable draw from N(mu, exp(logvar)): torch.distributions' rsample."""
    return _posterior(mu, logvar).rsample()


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(B, d) KL(N(mu, exp(logvar)) || N(0, 1)) per image and dimension, by torch.distributions."""
    return _kl(_posterior(mu, logvar), Normal(torch.zeros_like(mu), torch.ones_like(mu)))


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The KL in nats per image: torch.distributions' per dimension, summed over dims, mean over the batch."""
    return kl_per_dim(mu, logvar).sum(1).mean()


def bce(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """torch's binary cross-entropy summed over pixels, averaged over the batch (nats per image)."""
    b = len(x)
    return F.binary_cross_entropy(x_hat.reshape(b, -1), x.reshape(b, -1), reduction="sum") / b


def vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """BCE + KL, both per image: the two library terms above."""
    return bce(x_hat, x) + kl_divergence(mu, logvar)


def lay_out(tiles: torch.Tensor, n: int) -> torch.Tensor:
    """(n*n, ...) 28x28 tiles, row by row and edge to edge, as one (1, 28n, 28n) image: torchvision's make_grid."""
    tiles = tiles.detach().cpu().reshape(n * n, 1, TILE, TILE)
    return make_grid(tiles, nrow=n, padding=0)[:1]  # make_grid copies gray into 3 channels: keep one


def sweep_image(decode, z: torch.Tensor, n: int) -> torch.Tensor:
    """decode(z) laid out by make_grid: (1, 28n, 28n)."""
    with torch.no_grad():
        return lay_out(decode(z), n)


def sweep_model(model, n: int = 21, limit: float = 4.0) -> torch.Tensor:
    """labvae's own sweep of a model (labvae.decode_grid)."""
    return decode_grid(model.decode, n=n, limit=limit)
