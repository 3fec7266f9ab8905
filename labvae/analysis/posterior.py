"""The aggregate posterior: all test images' codes together, against the prior N(0, I)."""

from __future__ import annotations

import math

import torch

from ..models import latent_codes, posterior_std

NEAR = 0.2  # half a sweep step: a prior draw with no test code this close lands where no image is


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def ks_normal(values: torch.Tensor) -> float:
    """Kolmogorov-Smirnov distance of a 1-d sample from N(0, 1): the largest gap between the two CDFs."""
    v = values.sort().values.double()
    n = len(v)
    cdf = normal_cdf(v)
    above = torch.arange(1, n + 1, dtype=torch.float64) / n - cdf
    below = cdf - torch.arange(n, dtype=torch.float64) / n
    return max(above.max().item(), below.max().item())


def gaussian_kl_to_prior(mean: torch.Tensor, cov: torch.Tensor) -> float:
    """KL(N(mean, cov) || N(0, I)) in nats: 0 only when the codes' mean and covariance are the prior's."""
    d = len(mean)
    return 0.5 * (torch.trace(cov) + mean @ mean - d - torch.logdet(cov)).item()


def moments(z: torch.Tensor) -> dict:
    """Mean, covariance and distances from N(0, I) of a cloud of codes (N, d)."""
    z = z.double()
    mean, cov = z.mean(0), torch.cov(z.T)
    return {"mean": mean.tolist(), "cov": cov.tolist(), "var": cov.diagonal().tolist(),
            "kl_gauss": gaussian_kl_to_prior(mean, cov), "ks": [ks_normal(z[:, j]) for j in range(z.shape[1])]}


def sampled_codes(model, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """One z ~ q(z|x) per image for a VAE (mu + sigma eps, eps seeded); an AE's codes as they are. (N, d)"""
    codes = latent_codes(model, x)
    if getattr(getattr(model, "config", None), "kind", None) != "vae":  # own models: codes as they are
        return codes
    eps = torch.randn(codes.shape, generator=torch.Generator().manual_seed(seed))
    return codes + posterior_std(model, x) * eps


def aggregate_posterior(model, x: torch.Tensor, n_prior: int = 2000, seed: int = 0) -> dict:
    """How far the codes of x (mu, and one sampled z each) are from N(0, I), with their moments."""
    mu, z = latent_codes(model, x), sampled_codes(model, x, seed)
    m_mu, m_z = moments(mu), moments(z)
    prior = torch.randn(n_prior, mu.shape[1], generator=torch.Generator().manual_seed(seed + 1))
    nearest = torch.cat([torch.cdist(prior[i : i + 500], mu).min(1).values for i in range(0, n_prior, 500)])
    return {
        "posterior_mu": m_mu, "posterior_z": m_z,
        "kl_gauss": m_z["kl_gauss"],  # of the sampled codes: the distribution a prior draw should match
        "ks_max": max(m_z["ks"]),
        "frac_prior_far": (nearest > NEAR).float().mean().item(),
    }
