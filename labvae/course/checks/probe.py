"""What a sweep shows: a probe decoder that writes z into its pixels, and the mistakes it exposes."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...grid import TILE
from ...models import ModelConfig

TOL = 1e-4  # relative and absolute: float32 sums of a few thousand terms agree to ~1e-6


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same shape and the same values, up to float32 rounding."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=TOL, atol=TOL))


def kind(obj) -> str:
    """'a numpy array', 'an int', 'a str': what the student handed over, in words."""
    name = "numpy array" if type(obj).__name__ == "ndarray" else type(obj).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def first_match(out: torch.Tensor, variants: list[tuple[torch.Tensor, str]]) -> str | None:
    """The hint of the first known mistake whose result out equals, if any."""
    for value, hint in variants:
        if torch.isfinite(value).all() and close(out, value):
            return hint
    return None


class Probe(nn.Module):
    """A stand-in model whose decoder writes z into the pixels, so a sweep can be read back."""

    def __init__(self, limit: float = 4.0):
        super().__init__()
        self.limit = limit
        self.config = ModelConfig("ae", latent_dim=2, hidden_dim=None)
        self.anchor = nn.Parameter(torch.zeros(()))  # .parameters() and .device work as for a real model
        self.calls = 0  # how often decode ran: a sweep that never calls it draws some other model

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def forward(self, x):
        raise ValueError("expected a batch of 28x28 images; to decode codes z, call model.decode(z)")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 2) -> (B, 1, 28, 28): left half (z1 + limit) / 2limit, right half the same for z2, a bar top-left."""
        if z.ndim != 2 or z.shape[1] != 2:
            raise ValueError(f"decode expects z shaped (B, 2), got {tuple(z.shape)}")
        self.calls += 1
        img = torch.empty(len(z), 1, TILE, TILE)
        scaled = ((z.detach().float().cpu() + self.limit) / (2 * self.limit)).clamp(0, 1)
        img[..., : TILE // 2] = scaled[:, 0].view(-1, 1, 1, 1)
        img[..., TILE // 2 :] = scaled[:, 1].view(-1, 1, 1, 1)
        img[..., 0, :7] = 1.0  # marks each tile's top-left edge, so flipped or transposed tiles show
        return img

    def read(self, image: torch.Tensor, row: int, col: int) -> list[float]:
        """The z a tile of a probe sweep shows."""
        tile = image.reshape(image.shape[-2:])[row * TILE : (row + 1) * TILE, col * TILE : (col + 1) * TILE]
        return [round(tile[14, x].item() * 2 * self.limit - self.limit, 2) for x in (3, 20)]


def _grid_variants(ref: torch.Tensor, n: int) -> list[tuple[torch.Tensor, str]]:
    flip_z2, flip_z1 = ref * torch.tensor([1.0, -1.0]), ref * torch.tensor([-1.0, 1.0])
    column_major = ref.reshape(n, n, 2).transpose(0, 1).reshape(-1, 2)
    return [
        (flip_z2, "z2 is upside down; it grows from bottom to top, so the top row (listed first) has z2 = +limit and z = [-4, 4] comes first"),
        (ref[:, [1, 0]], "the columns are (z2, z1); put z1 in column 0 and z2 in column 1"),
        (column_major, "the grid is transposed; within a row of tiles z1 changes (left to right), so consecutive codes step z1, not z2"),
        (flip_z1, "z1 runs right to left; it grows from left to right, so the top-left code is [-4, 4]"),
        (-ref, "the grid is rotated by 180 degrees; the top-left code is [-4, 4] and the bottom-right [4, -4]"),
        (column_major[:, [1, 0]], "the columns are (z2, z1) and z2 is listed top to bottom; one row per z2 value from +limit down, z1 across"),
    ]


def grid_problem(out: torch.Tensor, ref: torch.Tensor, n: int, limit: float) -> str | None:
    """What is wrong with a list of sweep codes (shape, dtype, range, order), or None when it equals ref."""
    if out.shape in ((n, n, 2), (2, n, n)):
        return f"it returns shape {tuple(out.shape)}; list the codes as ({n * n}, 2), one row (z1, z2) per tile"
    if out.ndim != 2 or out.shape[1] != 2:
        return f"it returns shape {tuple(out.shape)}; expected ({n * n}, 2): one row (z1, z2) per tile"
    spacing = "(torch.linspace(-limit, limit, n), 0.4 apart)"
    if out.shape[0] != n * n:
        side = math.isqrt(out.shape[0])
        per_side = f"{side} values per dimension" if side * side == out.shape[0] else f"{out.shape[0]} codes"
        return f"it gives {per_side}; the sweep has n = {n} values per dimension from -limit to +limit inclusive {spacing}"
    if out.dtype != torch.float32:
        return f"its dtype is {out.dtype}; the decoder's weights are float32, so return float32 (torch.linspace's default)"
    lo, hi = out.detach().min().item(), out.detach().max().item()
    if abs(lo + limit) > TOL or abs(hi - limit) > TOL:
        return f"it covers [{lo:.2f}, {hi:.2f}]; the sweep runs from -limit to +limit inclusive {spacing}"
    if close(out, ref):
        return None
    hint = first_match(out, _grid_variants(ref, n))
    if hint:
        return hint
    k = int((out.detach().double() - ref.double()).abs().amax(1).gt(TOL).nonzero()[0])  # the first wrong code
    got, want = [round(v, 2) for v in out[k].tolist()], [round(v, 2) for v in ref[k].tolist()]
    return (f"code {k} (tile row {k // n}, column {k % n}) is {got}, expected {want}: codes go row by row "
            f"from the top-left [-{limit:g}, {limit:g}], z1 growing left to right and z2 bottom to top")


def _image_variants(ref: torch.Tensor, n: int) -> list[tuple[torch.Tensor, str]]:
    tiles = ref.reshape(n, TILE, n, TILE).permute(0, 2, 1, 3)  # (row, col, y, x)

    def lay(t):
        return t.permute(0, 2, 1, 3).reshape(1, n * TILE, n * TILE)

    return [
        (ref.transpose(-1, -2), "the image is transposed; z1 must grow across and z2 up: use permute(0, 2, 1, 3) "
                                "on the (n, n, 28, 28) tiles, not a transpose of the image"),
        (lay(tiles.transpose(0, 1)), "the tiles are laid out column by column; code k = r*n + c belongs in row r, column c"),
        (tiles.reshape(1, n * TILE, n * TILE), "the tiles are scrambled: a plain reshape interleaves rows of different "
                                                 "tiles; reshape to (n, n, 28, 28), permute(0, 2, 1, 3), then reshape"),
        (ref.flip(-2), "the image is upside down; the first codes (z2 = +limit) belong in the top row, tiles upright"),
        (lay(tiles.flip(0)), "the rows of tiles are in reverse order; the first n codes (z2 = +limit) form the top row"),
        (ref.flip(-1), "the image is flipped left to right; z1 grows from left to right"),
        (lay(tiles.flip(1)), "each row of tiles runs right to left; z1 grows from left to right"),
        (lay(tiles.transpose(-1, -2)), "each tile is transposed; keep the decoder's 28x28 images as they are"),
        (lay(tiles.flip(-1)), "each tile is mirrored left to right (the tiles are in the right places); keep the "
                              "decoder's 28x28 images as they are"),
        (lay(tiles.flip(-2)), "each tile is upside down (the tiles are in the right places); keep the decoder's "
                              "28x28 images as they are"),
        (1 - ref, "the pixel values are inverted (1 - x); keep the decoder's values as they are"),
    ]


def image_problem(image: torch.Tensor, ref: torch.Tensor, n: int, probe: Probe) -> str | None:
    """What is wrong with a probe's sweep image (size, channels, range, orientation), or None when it equals ref."""
    size = n * TILE
    shape = tuple(image.shape)
    if image.ndim == 3 and shape[0] == 3:
        return "the image has 3 channels (make_grid copies gray into RGB); keep one: image[:1]"
    if image.ndim not in (2, 3) or (image.ndim == 3 and shape[0] != 1):
        return f"the image has shape {shape}; expected (1, {size}, {size}) or ({size}, {size})"
    h, w = shape[-2:]
    if (h, w) != (size, size):
        if h > size and w > size:
            return (f"the image is {h}x{w}, not {size}x{size}: there are gaps or borders between tiles; "
                    "lay them edge to edge (make_grid(..., padding=0))")
        return f"the image is {h}x{w}; {n} tiles of 28 pixels a side make {size}x{size}"
    if not image.is_floating_point():
        return f"the image is {image.dtype}; keep the decoder's float pixel values in [0, 1]"
    if image.dtype != torch.float32:
        return f"the image is {image.dtype}; keep the decoder's float32 values (no .half() or .double())"
    lo, hi = image.min().item(), image.max().item()
    if lo < -1e-6 or hi > 1 + 1e-6:
        return (f"pixel values run from {lo:.2f} to {hi:.2f}; keep the decoder's values in [0, 1] "
                "(decode, with its sigmoid; no scaling to 255)")
    image = image.detach().float().cpu().reshape(1, size, size)
    if close(image, ref):
        return None
    hint = first_match(image, _image_variants(ref, n))
    if hint:
        return hint
    if probe.calls == 0:
        return "it never calls the decoder it is given; decode the codes with the decode (or model.decode) passed in"
    tiles = (image - ref).abs().reshape(n, TILE, n, TILE).amax((1, 3))  # (row, col): how far each tile is off
    r, c = (int(i) for i in (tiles > TOL).nonzero()[0])
    got = probe.read(image, r, c)
    want = probe.read(ref, r, c)
    if got == want:
        return (f"the tile in row {r}, column {c} shows the right code {want} but differs from decode(z) "
                "(turned, cropped or changed after decoding); lay the decoded tiles out unchanged")
    return (f"the tile in row {r}, column {c} shows z = {got}, expected {want}: tiles go row by row from z = "
            f"[-{probe.limit:g}, {probe.limit:g}] top-left, z1 growing left to right and z2 bottom to top")


def channel_note(image: torch.Tensor) -> str:
    """A passing image without the channel dimension is right, but not the (1, 28n, 28n) the text asks for: say so."""
    if image.ndim == 2:
        h, w = image.shape
        return f" (yours is ({h}, {w}), without the channel dimension: accepted, though the exercise asks for (1, {h}, {w}))"
    return ""
