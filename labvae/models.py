"""The lab's two models: an MLP VAE and a plain autoencoder, both with a 2-d latent by default."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .adapter import as_model

IMAGE_PIXELS = 28 * 28
MAX_SEED = 2**32 - 1  # numpy's and torch's generators both take every seed up to here


def check_seed(seed) -> int:
    """seed if it is a whole number torch and numpy both accept, else ValueError."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}.")
    return seed


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model; stored in its checkpoint."""

    kind: str  # "vae" or "ae"
    latent_dim: int = 2  # 2 so the latent space can be drawn as a picture
    hidden_dim: int | None = 512  # the lab's width; None = the lab AE's purely linear maps
    seed: int = 0  # weight initialisation, so the same config always starts from the same weights
    # KL weight in the loss recon + beta * KL. 1 is the lab's: recon + KL is exactly the negative
    # ELBO. 0 keeps the noise but drops the prior; larger values pull the codes harder to N(0, I).
    beta: float = 1.0
    # None = the lab's learned posterior sigma. A number fixes sigma for every image and dimension,
    # so the KL term depends on mu only: the prior still places the codes, but the noise is tiny.
    posterior_sigma: float | None = None

    def __post_init__(self):
        if self.kind not in ("vae", "ae"):
            raise ValueError(f"model kind must be 'vae' or 'ae', not {self.kind!r}.")
        if not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, not {self.latent_dim!r}.")
        if self.hidden_dim is not None and (not isinstance(self.hidden_dim, int) or self.hidden_dim < 1):
            raise ValueError(f"hidden_dim must be a positive integer or None, not {self.hidden_dim!r}.")
        if self.kind == "vae" and self.hidden_dim is None:
            raise ValueError("the VAE needs a hidden layer: give hidden_dim a positive integer.")
        if not _is_number(self.beta) or not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta is the KL weight and must be a finite number >= 0, not {self.beta!r}.")
        if self.posterior_sigma is not None and not (
            _is_number(self.posterior_sigma) and math.isfinite(self.posterior_sigma) and self.posterior_sigma > 0
        ):
            raise ValueError(f"posterior_sigma must be a finite number > 0, or None to learn it, not {self.posterior_sigma!r}.")
        if self.kind == "ae" and (self.beta != 1.0 or self.posterior_sigma is not None):
            raise ValueError("beta and posterior_sigma belong to the VAE; an AE has no KL term or posterior.")

    def build(self) -> nn.Module:
        """A freshly initialised model for this config."""
        if self.kind == "ae":
            return Autoencoder(latent_dim=self.latent_dim, hidden_dim=self.hidden_dim, seed=self.seed)
        return VAE(latent_dim=self.latent_dim, hidden_dim=self.hidden_dim, seed=self.seed, beta=self.beta,
                   posterior_sigma=self.posterior_sigma)

    def to_dict(self) -> dict:
        """The fields as a dict; beta and posterior_sigma only when they differ from the lab's.

        Leaving the lab's defaults out keeps the dict of every lab model exactly what it was before
        these options existed, so checkpoints cached under it still match and need no retraining.
        """
        d = asdict(self)
        if d["beta"] == 1.0:
            del d["beta"]
        if d["posterior_sigma"] is None:
            del d["posterior_sigma"]
        return d


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, 28, 28) or (B, 784) -> (B, 784), with a readable error for anything else."""
    if x.ndim < 2 or x[0].numel() != IMAGE_PIXELS:
        raise ValueError(
            f"expected a batch of 28x28 images shaped (B, 1, 28, 28) or (B, 784), got {tuple(x.shape)}."
        )
    return x.reshape(len(x), IMAGE_PIXELS)


def _bce_nats(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """BCE summed over pixels, averaged over the batch; from logits so it never takes log(0)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)


class _LatentModel(nn.Module):
    """Shared decoder side: decode(z) -> images in [0, 1]."""

    config: ModelConfig

    def _init(self, config: ModelConfig, build) -> None:
        self.config = config
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(config.seed)
            build()

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(
                f"decode expects z shaped (B, {self.config.latent_dim}), got {tuple(z.shape)}."
            )
        return self.decoder(z.to(self.device))  # (B, latent) -> (B, 784), on the model's device

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> images (B, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z)).view(-1, 1, 28, 28)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim


class VAE(_LatentModel):
    """MLP VAE: 784 -> hidden -> (mu, logvar); decoder latent -> hidden -> 784 with sigmoid.

    beta weights the KL term (1 = the lab's ELBO); posterior_sigma, when given, fixes sigma.
    """

    def __init__(self, latent_dim: int = 2, hidden_dim: int = 512, seed: int = 0, beta: float = 1.0,
                 posterior_sigma: float | None = None):
        super().__init__()
        config = ModelConfig("vae", latent_dim, hidden_dim, seed, beta, posterior_sigma)  # validates

        def build():
            self.encoder = nn.Sequential(nn.Linear(IMAGE_PIXELS, hidden_dim), nn.ReLU())
            self.to_mu = nn.Linear(hidden_dim, latent_dim)
            # Built even when sigma is fixed (then unused), so every VAE of one seed starts from the
            # same encoder and decoder weights and a comparison varies only what it means to.
            self.to_logvar = nn.Linear(hidden_dim, latent_dim)
            self.decoder = _mlp([latent_dim, hidden_dim, IMAGE_PIXELS])

        self._init(config, build)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 1, 28, 28) -> mu, logvar, each (B, latent_dim)."""
        h = self.encoder(_as_batch(x).to(self.device))  # (B, 784) -> (B, hidden)
        mu = self.to_mu(h)
        sigma = self.config.posterior_sigma
        if sigma is not None:  # the same log sigma^2 for every image: no gradient reaches it
            return mu, torch.full_like(mu, 2 * math.log(sigma))
        return mu, self.to_logvar(h)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps: the noise is an input, so gradients flow to mu and logvar."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """recon (BCE) + beta * KL(q(z|x) || N(0, I)) in nats per image; beta = 1 is the negative ELBO.

        "kl" is reported unweighted, so models trained with different beta can be compared on it.
        """
        x = _as_batch(x).to(self.device)
        mu, logvar = self.encode(x)
        logits = self.decode_logits(self.reparameterize(mu, logvar))
        recon = _bce_nats(logits, x)
        # Closed form for diagonal Gaussians against N(0, I), summed over dims, mean over batch.
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
        return {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}


class Autoencoder(_LatentModel):
    """Plain autoencoder. hidden_dim=None is the lab's: linear 784 -> code, linear code -> 784."""

    def __init__(self, latent_dim: int = 2, hidden_dim: int | None = None, seed: int = 0):
        super().__init__()

        def build():
            widths = [hidden_dim] if hidden_dim else []
            self.encoder = _mlp([IMAGE_PIXELS, *widths, latent_dim])
            self.decoder = _mlp([latent_dim, *widths, IMAGE_PIXELS])

        self._init(ModelConfig("ae", latent_dim, hidden_dim, seed), build)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, 28, 28) -> code (B, latent_dim)."""
        return self.encoder(_as_batch(x).to(self.device))  # (B, 784) -> (B, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction BCE in nats per image; kl is 0 so both models report the same terms."""
        x = _as_batch(x).to(self.device)
        recon = _bce_nats(self.decode_logits(self.encode(x)), x)
        return {"loss": recon, "recon": recon, "kl": torch.zeros((), device=x.device)}


def latent_codes(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Where each image lands in latent space: the VAE's mu, the AE's code. (N, latent_dim), CPU.

    model: anything labvae.models.as_model takes (labvae's models, a module of your own, an (encoder, decoder) pair).
    """
    model = as_model(model)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            code = model.encode(x[i : i + batch_size].to(model.device))
            out.append((code[0] if isinstance(code, tuple) else code).cpu())
    return torch.cat(out) if out else torch.empty(0, model.latent_dim)


def posterior_std(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """The VAE's posterior sigma per image and dimension, exp(logvar / 2): (N, latent_dim), CPU."""
    if getattr(model.config, "kind", None) != "vae":
        raise ValueError("posterior_std needs a VAE: an autoencoder maps each image to one point, with no sigma.")
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            _, logvar = model.encode(x[i : i + batch_size].to(model.device))
            out.append(torch.exp(0.5 * logvar).cpu())
    return torch.cat(out) if out else torch.empty(0, model.config.latent_dim)


# Checkpoints store a model's config dict; its "kind" names the builder that rebuilds it. Kinds
# defined elsewhere (the judge's classifier, in labvae.analysis) register here, so labvae.checkpoints
# can load them without importing the analysis package.
BUILDERS: dict[str, Callable[[dict], nn.Module]] = {
    "vae": lambda config: ModelConfig(**config).build(),
    "ae": lambda config: ModelConfig(**config).build(),
}


def register_kind(kind: str, builder: Callable[[dict], nn.Module]) -> None:
    """Let checkpoints rebuild models of this kind: builder(config dict, "kind" included) -> model."""
    BUILDERS[kind] = builder


def build_model(config: dict) -> nn.Module:
    """A fresh model from a checkpoint's config dict, by its kind."""
    kind = config.get("kind")
    if kind not in BUILDERS:
        hint = "; the judge's 'classifier' loads once labvae.analysis is imported" if kind == "classifier" else ""
        raise ValueError(f"unknown model kind {kind!r} (known: {', '.join(BUILDERS)}){hint}")
    return BUILDERS[kind](dict(config))
