"""The systematic sweep: an n x n grid of z vectors decoded into one image."""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from ._io import atomic_write
from .adapter import as_model

TILE = 28  # Fashion-MNIST images are 28x28, so 21 tiles make 588 px


def _check_sweep(n, limit) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a whole number of tiles per side, at least 1 (got {n!r}).")
    if not isinstance(limit, numbers.Real) or isinstance(limit, bool) or not 0 < limit < math.inf:
        raise ValueError(f"limit must be a positive finite number: the sweep covers [-limit, limit] (got {limit!r}).")


def latent_grid(n: int = 21, limit: float = 4.0) -> torch.Tensor:
    """(n*n, 2) z vectors, row-major: z1 grows left->right, z2 grows bottom->top.

    Element 0 is (-limit, +limit), the top-left tile; the last is (+limit, -limit), bottom-right.
    A 1-tile sweep is the window's centre, z = (0, 0).
    """
    _check_sweep(n, limit)
    if n == 1:
        return torch.zeros(1, 2)  # linspace would give the corner (-limit, +limit), not the centre
    z1 = torch.linspace(-limit, limit, n)  # columns, left -> right
    z2 = torch.linspace(limit, -limit, n)  # rows, top -> bottom, so z2 decreases downwards
    rows, cols = torch.meshgrid(z2, z1, indexing="ij")  # each (n, n)
    return torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=1)  # (n*n, 2) as (z1, z2)


def decode_grid(decoder, n: int = 21, limit: float = 4.0) -> torch.Tensor:
    """Decode the n x n sweep in one batched pass; (1, n*28, n*28) in [0, 1], CPU, tagged .sweep_limit."""
    z = latent_grid(n, limit)
    owner = getattr(decoder, "__self__", decoder)  # a bound model.decode -> the model
    try:  # labvae's models and as_model's know their width; a bare function is taken at its word
        latent_dim = getattr(owner, "latent_dim", 2)
    except Exception:
        latent_dim = 2
    if isinstance(latent_dim, int) and latent_dim != 2:
        raise ValueError(f"a sweep grid needs a 2-d latent space; this model has latent_dim={latent_dim}.")
    params = getattr(owner, "parameters", None)
    device = next(params()).device if callable(params) else torch.device("cpu")
    try:
        with torch.no_grad():
            tiles = decoder(z.to(device))
    except (RuntimeError, ValueError) as e:
        raise ValueError(
            f"the decoder failed on a ({n * n}, 2) batch of z vectors; it must map (B, 2) to "
            f"(B, 1, 28, 28) or (B, 784) images ({str(e).splitlines()[0]})."
        ) from None
    if (not isinstance(tiles, torch.Tensor) or tiles.ndim == 0 or tiles.shape[0] != n * n
            or tiles[0].numel() != TILE * TILE):
        shape = tuple(tiles.shape) if isinstance(tiles, torch.Tensor) else type(tiles).__name__
        raise ValueError(
            f"the decoder returned {shape} for {n * n} z vectors; expected ({n * n}, 1, 28, 28) or ({n * n}, 784)."
        )
    tiles = tiles.detach().float().cpu().reshape(n * n, 1, TILE, TILE)
    if not torch.isfinite(tiles).all():  # clamp would quietly turn NaN into black tiles
        raise ValueError(
            "the decoder returned NaN or inf pixels for the sweep; the model's weights are broken "
            "(training diverged?): train it again, with a lower learning rate."
        )
    # padding=0 so the image is exactly n*28 px a side; make_grid gives 3 channels, keep one.
    image = make_grid(tiles, nrow=n, padding=0)[:1].clamp(0, 1)
    image.sweep_limit = float(limit)  # so show_grid labels the axes with the window actually decoded
    return image


def sweep_tiles(model, n: int = 21, limit: float = 4.0) -> torch.Tensor:
    """The n x n sweep as (n*n, 784) tiles in row-major order (top-left first), for measuring; any as_model model."""
    decode = model.decode if callable(getattr(model, "decode", None)) else as_model(model).decode  # a pair, too
    grid = decode_grid(decode, n=n, limit=limit)  # (1, n*28, n*28)
    return grid[0].reshape(n, TILE, n, TILE).permute(0, 2, 1, 3).reshape(n * n, -1)  # (row, col, y, x)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(1, H, W) or (H, W) floats in [0, 1] -> (H, W) uint8."""
    if not isinstance(image, torch.Tensor) or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[0] != 1):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"expected a grayscale image shaped (1, H, W) or (H, W), got {shape}.")
    if not torch.isfinite(image).all():
        raise ValueError("the image holds NaN or inf pixels; refusing to draw or save it as black "
                         "(the model that made it is broken: train it again).")
    return image.detach().cpu().reshape(image.shape[-2:]).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()


def save_grid(image: torch.Tensor, path) -> Path:
    """Save as an 8-bit grayscale PNG of exactly the image's size (written atomically)."""
    pixels = Image.fromarray(to_uint8(image))  # (H, W) uint8 -> 8-bit grayscale ("L")
    return atomic_write(path, lambda f: pixels.save(f, format="PNG"))


def sweep_extent(n: int, limit: float) -> tuple[float, float, float, float]:
    """imshow extent that puts each tile's centre at its z value."""
    half = limit / (n - 1) if n > 1 else 0.0  # half a tile, in z units; one tile spans the window
    return (-limit - half, limit + half, -limit - half, limit + half)


def show_grid(image: torch.Tensor, ax=None, limit: float | None = None, title: str | None = None):
    """Draw a sweep with axes in z units (z1 across, z2 up); limit defaults to the one decode_grid tagged."""
    import matplotlib.pyplot as plt

    tagged = getattr(image, "sweep_limit", None)
    if limit is None and tagged is None:
        raise ValueError("show_grid cannot tell which z window this image covers; pass limit=, "
                         "the value given to decode_grid (the lab's is 4).")
    if limit is not None and tagged is not None and limit != tagged:
        raise ValueError(f"this sweep was decoded with limit={tagged:g} but show_grid got limit={limit:g}; "
                         "leave limit out, or decode the sweep with that limit.")
    limit = tagged if limit is None else limit
    pixels = to_uint8(image)
    if pixels.shape[0] != pixels.shape[1] or pixels.shape[0] % TILE:
        raise ValueError(f"a sweep image is n*28 pixels square, got {pixels.shape[1]}x{pixels.shape[0]}.")
    n = pixels.shape[0] // TILE
    _check_sweep(n, limit)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, extent=sweep_extent(n, limit),
              interpolation="nearest")  # origin="upper": row 0 (z2 = +limit) at the top
    return z_axes(ax, limit, title)


def z_axes(ax, limit: float, title: str | None = None):
    """Label a sweep-shaped plot in z units: z1 across, z2 up, ticks at whole numbers."""
    if limit <= 10:
        ticks = np.arange(-np.floor(limit), np.floor(limit) + 1)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
    else:  # a tick per unit would be hundreds of labels: let matplotlib pick whole numbers
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def show_images(x: torch.Tensor, nrow: int = 8, ax=None, title: str | None = None):
    """A batch of images (B, 1, 28, 28) as one tiled picture, with a 2 px gap between tiles."""
    import matplotlib.pyplot as plt

    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1:] != (1, TILE, TILE):
        raise ValueError(f"show_images expects images shaped (B, 1, 28, 28), got {tuple(getattr(x, 'shape', ()))}.")
    tiled = make_grid(x.detach().cpu().float(), nrow=nrow, padding=2, pad_value=1.0)[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(nrow * 0.9, tiled.shape[0] / tiled.shape[1] * nrow * 0.9))
    ax.imshow(tiled.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
