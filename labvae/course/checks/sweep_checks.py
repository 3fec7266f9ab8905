"""The checks of the sweep exercises (1.1 in notebook 02, 2.1b in 03), as collect + verdict, with the probe decoder."""

from __future__ import annotations

import random

import torch

from ...grid import TILE, decode_grid, latent_grid
from .checking import Check, _call, _tensor, _wrong, need, returned
from .fallbacks import lay_out
from .probe import Probe, channel_note, grid_problem, image_problem
from .probe import close as _close

N, LIMIT = 21, 4.0  # the lab's sweep
# Every (n, limit) the seed's draw can pick (_other_args): the notebook's check and the grader both try all
# of them, so a function that passes one passes the other (torch.arange's float step gives n + 1 values
# for 54 of these 448 pairs: one seed in eight drew one).
FAMILY = tuple((n, k / 10) for n in range(2, 10) for k in range(5, 61))


def _other_args(seed: int, fixed) -> list[tuple[int, float]]:
    """The (n, limit) the content must follow: fixed ones, and one drawn from the seed."""
    rng = random.Random(seed)
    return [*fixed, (rng.randint(2, 9), round(rng.uniform(0.5, 6.0), 1))]


# ---------------------------------------------------------------------------------------------
# 02: the sweep's codes (exercise 1.1a)


def _grid_args(seed: int):
    return _other_args(seed, ((5, 2.0), (3, 1.0), (8, 3.5)))


def _collect_grid(fn, seed: int, data: dict) -> None:
    data["out"] = returned(_call("latent_grid", fn, N, LIMIT, seed=seed))
    for i, (n, limit) in enumerate(_grid_args(seed)):
        data[f"more{i}"] = returned(_call("latent_grid", fn, n, limit, seed=seed))
    data["family"] = [returned(z) for z in _call("latent_grid", lambda: [fn(n, lim) for n, lim in FAMILY], seed=seed)]


def _grid_follows(small, n: int, limit: float) -> None:
    """Stop with what latent_grid(n, limit) got wrong, if anything: an argument ignored, or the grid's own fault."""
    ref = latent_grid(n, limit)
    if _close(small, ref):
        return
    if small.shape[:1] == (N * N,) and n != N:
        _wrong(f"it ignores n: latent_grid({n}, {limit}) should give {n * n} codes from -{limit} to {limit}")
    if _close(small, latent_grid(n, LIMIT)) and limit != LIMIT:
        _wrong(f"it ignores limit: latent_grid({n}, {limit}) should give {n * n} codes from -{limit} to {limit}")
    problem = grid_problem(small, ref, n, limit)
    _wrong(f"for latent_grid({n}, {limit}) {problem}" if problem else f"latent_grid({n}, {limit}) is wrong")


def _verdict_grid(data: dict, seed: int) -> str:
    """fn(n, limit) -> (n*n, 2) codes (z1, z2), row by row from the top-left z = [-limit, limit]."""
    out = _tensor(need(data, "out"), "an (n*n, 2) tensor")
    problem = grid_problem(out, latent_grid(N, LIMIT), N, LIMIT)  # labvae's own grid: the library draws it
    if problem:
        _wrong(problem)
    for i, (n, limit) in enumerate(_grid_args(seed)):  # other arguments: the content must follow them
        _grid_follows(_tensor(need(data, f"more{i}")), n, limit)
    family = need(data, "family")
    if not isinstance(family, (list, tuple)) or len(family) != len(FAMILY):
        raise ValueError("family is not what the check records")
    for small, (n, limit) in zip(family, FAMILY):  # every pair a seed can draw, in the notebook and the grader
        _grid_follows(_tensor(small), n, limit)
    return "441 codes, z = [-4, 4] first and [4, -4] last, z1 across and z2 up"


check_latent_grid = Check("latent_grid", _collect_grid, _verdict_grid, "check_latent_grid")


# ---------------------------------------------------------------------------------------------
# 02: the sweep image (exercise 1.1b)


def _codes(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 3)
    return 8 * torch.rand(25, 2, generator=g) - 4  # any 25 codes, not a grid: the image must show these


def _probe(calls) -> Probe:
    """A probe as the kernel's was after the call: how often its decode ran decides one hint."""
    probe = Probe()
    probe.calls = int(calls) if isinstance(calls, (int, float)) else 0
    return probe


def _expected(codes: torch.Tensor, n: int) -> torch.Tensor:
    return lay_out(Probe().decode(codes), n)  # (1, 28n, 28n): the probe's tiles laid out by torchvision


def _check_image(image, ref: torch.Tensor, n: int, probe: Probe) -> None:
    """Stop with what is wrong with a sweep image of the probe, if anything."""
    size = n * TILE
    problem = image_problem(_tensor(image, f"a (1, {size}, {size}) tensor"), ref, n, probe)
    if problem:
        _wrong(problem)


def _rescaled(image: torch.Tensor) -> torch.Tensor:
    """image stretched to [0, 1], as make_grid(normalize=True) does: equal for images that differ by scale and shift."""
    image = image.detach().double()
    return (image - image.min()) / (image.max() - image.min()).clamp_min(1e-12)


def _collect_sweep(fn, seed: int, data: dict) -> None:
    probe = Probe()
    data["image"] = returned(_call("sweep_image", fn, probe.decode, latent_grid(N, LIMIT), N, seed=seed))
    data["calls"], probe.calls = probe.calls, 0
    data["small"] = returned(_call("sweep_image", fn, probe.decode, _codes(seed), 5, seed=seed))
    data["small_calls"] = probe.calls


def _verdict_sweep(data: dict, seed: int) -> str:
    """fn(decode, z, n) -> (1, 28n, 28n): the n*n codes z decoded and laid out row by row, edge to edge."""
    _check_image(need(data, "image"), _expected(latent_grid(N, LIMIT), N), N, _probe(need(data, "calls")))
    small = _tensor(need(data, "small"))
    if small.shape[-1] != 5 * TILE:
        _wrong("it ignores n: sweep_image(decode, z, 5) with 25 codes should give a 140x140 image")
    if small.numel() != (5 * TILE) ** 2 or not _close(small.reshape(1, 5 * TILE, 5 * TILE), _expected(_codes(seed), 5)):
        if _probe(need(data, "small_calls")).calls == 0:
            _wrong("it never calls the decode it is given; decode the codes with decode(z), whatever decoder is passed")
        want = _expected(_codes(seed), 5)
        if small.numel() == want.numel() and _close(_rescaled(small.reshape(want.shape)), _rescaled(want)):
            _wrong("its pixel values are rescaled (make_grid's normalize=True stretches them to [0, 1]); keep the "
                   "decoder's values as they are")
        _wrong("it ignores z: sweep_image(decode, z, 5) must decode the 25 codes it is given, not a grid of its own")
    return ("a 588x588 image, z = [-4, 4] top-left and [4, -4] bottom-right, tiles edge to edge, for any decode, z and n"
            + channel_note(_tensor(need(data, "image"))))


check_sweep = Check("sweep_image", _collect_sweep, _verdict_sweep, "check_sweep")


# ---------------------------------------------------------------------------------------------
# 03: the sweep of any model (exercise 2.1b)


def _model_args(seed: int):
    return _other_args(seed, ((5, 2.0), (3, 1.0)))


def _collect_model(fn, seed: int, data: dict) -> None:
    probe = Probe()
    data["image"], data["calls"] = returned(_call("sweep_model", fn, probe, seed=seed)), probe.calls
    for i, (n, limit) in enumerate(_model_args(seed)):
        probe.calls = 0
        data[f"more{i}"] = returned(_call("sweep_model", fn, probe, n, limit, seed=seed))
        data[f"calls{i}"] = probe.calls
    wide = Probe(limit=max(lim for _, lim in FAMILY))  # reads every code of the family back unclamped
    data["family"] = _call("sweep_model", lambda: [_read_codes(fn(wide, n, lim), n, wide) for n, lim in FAMILY],
                           seed=seed)


def _read_codes(image, n: int, probe: Probe):
    """The (n*n, 2) codes a probe sweep shows, tile by tile; for an image of another size, its shape."""
    if not isinstance(image, torch.Tensor) or image.numel() != (n * TILE) ** 2:
        return list(image.shape) if isinstance(image, torch.Tensor) else [-1]
    tiles = image.detach().float().cpu().reshape(n, TILE, n, TILE)[:, 14, :, :][..., [3, 20]]  # (row, col, 2)
    return (tiles.reshape(n * n, 2) * 2 * probe.limit - probe.limit).clone()


def _model_follows(codes, n: int, limit: float) -> None:
    """Stop with what sweep_model(model, n, limit) got wrong in the codes its tiles show, if anything."""
    if not isinstance(codes, torch.Tensor) or codes.shape != (n * n, 2):
        _wrong(f"it ignores n: sweep_model(model, {n}, {limit}) should give a {n * TILE}x{n * TILE} image")
    ref = latent_grid(n, limit)
    if torch.allclose(codes.double(), ref.double(), atol=1e-3):
        return
    if torch.allclose(codes.double(), latent_grid(n, LIMIT).double(), atol=1e-3):
        _wrong(f"it ignores limit: sweep_model(model, {n}, {limit}) should sweep from -{limit} to {limit}")
    k = int((codes.double() - ref.double()).abs().amax(1).gt(1e-3).nonzero()[0])
    got, want = [round(v, 2) for v in codes[k].tolist()], [round(v, 2) for v in ref[k].tolist()]
    _wrong(f"sweep_model(model, {n}, {limit}): the tile in row {k // n}, column {k % n} shows z = {got}, expected "
           f"{want}: n values from -limit to +limit inclusive, z1 across and z2 up")


def _verdict_model(data: dict, seed: int) -> str:
    """fn(model, n=21, limit=4.0) -> (1, 28n, 28n): the lab's sweep of any model with a 2-d code."""
    _check_image(need(data, "image"), decode_grid(Probe().decode, N, LIMIT), N, _probe(need(data, "calls")))
    for i, (n, limit) in enumerate(_model_args(seed)):  # other arguments: the content must follow them
        image = _tensor(need(data, f"more{i}"))
        if image.shape[-1] != n * TILE:
            _wrong(f"it ignores n: sweep_model(model, {n}, {limit}) should give a {n * TILE}x{n * TILE} image")
        if image.numel() != (n * TILE) ** 2 or not _close(image.reshape(1, n * TILE, n * TILE),
                                                          decode_grid(Probe().decode, n, limit)):
            if _probe(need(data, f"calls{i}")).calls == 0:
                _wrong("it never calls the decode of the model it is given; use model.decode, not a global model")
            if limit != LIMIT and _close(image.reshape(1, n * TILE, n * TILE), decode_grid(Probe().decode, n, LIMIT)):
                _wrong(f"it ignores limit: sweep_model(model, {n}, {limit}) should sweep from -{limit} to {limit}")
            _check_image(image.reshape(1, n * TILE, n * TILE), decode_grid(Probe().decode, n, limit), n,
                         _probe(need(data, f"calls{i}")))
            _wrong(f"sweep_model(model, {n}, {limit}) differs from the sweep of its model")
    family = need(data, "family")
    if not isinstance(family, (list, tuple)) or len(family) != len(FAMILY):
        raise ValueError("family is not what the check records")
    for codes, (n, limit) in zip(family, FAMILY):  # every pair a seed can draw, in the notebook and the grader
        _model_follows(codes, n, limit)
    return ("the 21x21 sweep over [-4, 4]^2 as one 588x588 image, z = [-4, 4] top-left, for any model, n and limit"
            + channel_note(_tensor(need(data, "image"))))


check_ae_sweep = Check("sweep_model", _collect_model, _verdict_model, "check_ae_sweep")
