"""One adapter: anything that computes an autoencoder, as the model every labvae helper takes.

Exercise 2.1a accepts a trained AE in several styles: labvae's own model, a module of the student's
with encode/decode (or encoder/decoder) under any class name, or an (encoder, decoder) pair of
callables. `as_model` turns each into one shape, so the sweeps, the scatters, the sliders and every
later cell take whatever the check accepted.
"""

from __future__ import annotations

import torch
from torch import nn

PIXELS = 28 * 28  # Fashion-MNIST's 28x28 images, flat


def model_parts(obj) -> tuple | None:
    """(encode, decode, the nn.Module that owns them or None) of anything that computes an AE; else None."""
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and all(map(callable, obj)):
        return obj[0], obj[1], None  # (encoder, decoder): a pair that computes the AE
    if isinstance(obj, nn.Module):
        for enc, dec in (("encode", "decode"), ("encoder", "decoder")):
            if callable(getattr(obj, enc, None)) and callable(getattr(obj, dec, None)):
                return getattr(obj, enc), getattr(obj, dec), obj
    return None


class Adapted(nn.Module):
    """An AE given as encode and decode callables, with the interface labvae's own models have."""

    def __init__(self, encode, decode, owner: nn.Module | None = None):
        super().__init__()
        self._encode, self._decode = encode, decode
        # Registered as submodules, so .parameters(), .eval() and .to() reach the answer's weights.
        self.owned = nn.ModuleList([owner] if owner is not None else
                                   [f for f in (encode, decode) if isinstance(f, nn.Module)])
        self._latent_dim: int | None = None

    @property
    def device(self) -> torch.device:
        return next(self.parameters(), torch.empty(0)).device

    @property
    def latent_dim(self) -> int:
        """Width of the code, read once from what encode gives for one blank image."""
        if self._latent_dim is None:
            with torch.no_grad():
                self._latent_dim = int(self.encode(torch.zeros(1, PIXELS)).reshape(1, -1).shape[1])
        return self._latent_dim

    def encode_raw(self, x: torch.Tensor):
        """Whatever the answer's encoder returns for x: flat (B, 784) first, (B, 1, 28, 28) if that fails."""
        x = x.to(self.device)
        try:
            return self._encode(x.reshape(len(x), PIXELS))
        except Exception:
            return self._encode(x.reshape(len(x), 1, 28, 28))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, 28, 28) or (B, 784) -> codes (B, latent_dim); of a (mu, logvar) pair, mu."""
        z = self.encode_raw(x)
        return z[0] if isinstance(z, tuple) else z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> images (B, 1, 28, 28)."""
        return self._decode(z.to(self.device)).reshape(-1, 1, 28, 28)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def speaks_labvae(obj) -> bool:
    """True for a module that already has encode, decode, latent_dim and device (labvae's models do)."""
    return (isinstance(obj, nn.Module) and callable(getattr(obj, "encode", None))
            and callable(getattr(obj, "decode", None)) and isinstance(getattr(obj, "latent_dim", None), int)
            and isinstance(getattr(obj, "device", None), torch.device))


def as_model(obj, name: str = "model") -> nn.Module:
    """obj as a model with encode(x) -> z, decode(z) -> images, latent_dim and device; labvae's unchanged.

    Takes what exercise 2.1a accepts: labvae's models, any nn.Module with encode and decode (or encoder
    and decoder), and an (encoder, decoder) pair. Anything else is a ValueError that says what to give.
    """
    if speaks_labvae(obj):
        return obj
    parts = model_parts(obj)
    if parts is None:
        raise ValueError(f"{name} is a {type(obj).__name__}, not a model: give an nn.Module with encode(x) and "
                         f"decode(z) (or encoder and decoder), or an (encoder, decoder) pair.")
    return Adapted(*parts)
