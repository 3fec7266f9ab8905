"""Self-checks for the lab's exercises: each prints one line (pass, not done yet, or what is wrong and a hint)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from ..grid import TILE
from . import reference
from .ae_check import as_ae, check_ae
from .checking import (
    CheckResult,
    Unfinished,
    _call,
    _check,
    _diagnose,
    _tensor,
    _wrong,
    attempt,
    mark,
    use,
)
from .probe import Probe, channel_note, grid_problem, image_problem
from .probe import close as _close

__all__ = ["CheckResult", "Unfinished", "as_ae", "attempt", "check_ae", "check_ae_sweep", "check_kl", "check_latent_grid",
           "check_loss", "check_reparameterize", "check_sweep", "mark", "use"]


# ---------------------------------------------------------------------------------------------
# 01: the VAE's formulas (practice).


@_check("reparameterize")
def check_reparameterize(fn) -> str:
    """fn(mu, logvar) -> z: mu + exp(logvar / 2) * eps, fresh eps ~ N(0, I) per element, differentiable."""
    n, sigma = 20000, 0.5
    mu = torch.tensor([3.0, -2.0]).repeat(n, 1).requires_grad_()  # (n, 2), far from 0 so a missing mu shows
    logvar = torch.full((n, 2), math.log(sigma**2), requires_grad=True)
    z = _tensor(_call("reparameterize", fn, mu, logvar))
    if z.shape != mu.shape:
        _wrong(f"z has shape {tuple(z.shape)}, expected {tuple(mu.shape)} like mu: one sample per image and dimension")
    _same_dtype(z, "z", "draw the noise with torch.randn_like(mu), which keeps mu's dtype")
    noise = (z - mu).detach()  # (n, 2) = sigma * eps when right
    if noise.abs().max() < 1e-6:
        _wrong("z equals mu, so there is no noise; add sigma * eps with eps = torch.randn_like(mu)")
    if z.detach().mean(0).abs().max() < 0.2:
        _wrong("z is centred on 0, not on mu: mu is missing; z = mu + sigma * eps")
    if z.grad_fn is None:
        _wrong("z is cut off from the graph, so no gradient reaches mu and logvar; write mu + sigma * eps "
               "(torch.normal and .detach() break the graph)")
    if noise.std(0).max() < 1e-6:
        _wrong("every image gets the same eps; draw one per element with torch.randn_like(mu), not torch.randn(2)")
    if torch.allclose(noise[:, 0], noise[:, 1], atol=1e-5):
        _wrong("both latent dimensions get the same eps; draw one per element with torch.randn_like(mu)")
    mean = (noise / sigma).mean().item()
    if abs(mean) > 0.1:
        _wrong(f"the noise is not centred on 0 (mean eps = {mean:.2f}); eps must be standard normal: torch.randn_like, not torch.rand_like")
    spread = noise.std(0).mean().item()
    for value, hint in [(sigma**2, "sigma is exp(0.5 * logvar): exp(logvar) is the variance sigma^2"),
                        (1.0, "eps is not scaled: multiply it by sigma = exp(0.5 * logvar)"),
                        (abs(math.log(sigma**2)), "multiply eps by sigma = exp(0.5 * logvar), not by logvar itself"),
                        (1 / sigma, "the exponent's sign is wrong: sigma = exp(+0.5 * logvar)")]:
        if abs(spread / value - 1) < 0.05:
            _wrong(f"the spread of z around mu is {spread:.2f} where sigma = {sigma}; {hint}")
    if abs(spread / sigma - 1) > 0.05:
        _wrong(f"the spread of z around mu is {spread:.2f} where sigma = exp(0.5 * logvar) = {sigma}; z = mu + sigma * eps")
    first, second = _call("reparameterize", lambda m, lv: (fn(m, lv), fn(m, lv)), mu, logvar)
    if _close(first, second):
        _wrong("it returns the same z on every call; do not reseed inside it, draw fresh noise each time")
    _per_row(fn)
    return "z = mu + sigma * eps per element, fresh standard normal noise, and the right gradients reach mu and logvar"


def _same_dtype(out: torch.Tensor, what: str, fix: str) -> None:
    if out.dtype != torch.float32:
        _wrong(f"{what} is {out.dtype}, not float32 like the inputs; {fix} (the model's weights are float32)")


def _grad(t: torch.Tensor, want: torch.Tensor, name: str, formula: str) -> None:
    """Stop unless the gradient that reached the input t is want: cut and wrong gradients both show."""
    if t.grad is None or not t.grad.abs().max() > 0:
        _wrong(f"no gradient reaches {name}: something detaches it (.detach(), .item(), numpy, torch.normal, "
               f"a new tensor); keep every step a torch operation of {name}")
    if not _close(t.grad, want):
        _wrong(f"the gradient that reaches {name} is wrong ({formula}); write it as one torch expression of the inputs")


def _per_row(fn) -> None:
    """Varied rows: each image and dimension must get its own sigma and mu, and the right gradients."""
    g = torch.Generator().manual_seed(2)
    n = 20000
    mu = (2 * torch.randn(n, 2, generator=g)).requires_grad_()
    logvar = (4 * torch.rand(n, 2, generator=g) - 3).requires_grad_()  # sigma from 0.22 to 1.65
    z = _tensor(_call("reparameterize", fn, mu, logvar))
    sigma, m, zd = torch.exp(0.5 * logvar.detach()), mu.detach(), z.detach()
    halves = [(d, sigma[:, d] < sigma[:, d].median()) for d in (0, 1)]

    def standard(scale, centre=m) -> bool:  # (z - mu) / scale is N(0, 1) among small and large sigmas
        r = (zd - centre) / scale
        return all(abs(r[h, d].std() - 1) < 0.05 and abs(r[h, d].mean()) < 0.05 for d, low in halves for h in (low, ~low))

    if not standard(sigma):
        if standard(sigma, m.mean(0)):
            _wrong("every image gets the same mu (averaged over the batch?); z = mu + sigma * eps, element by element")
        for scale, hint in [(sigma.mean(0), "every image gets the same sigma (averaged over the batch?)"),
                            (sigma[:, :1], "both dimensions get dimension 0's sigma"),
                            (sigma[:, 1:], "both dimensions get dimension 1's sigma"),
                            (sigma.mean(1, keepdim=True), "sigma is averaged over the dimensions")]:
            if standard(scale):
                _wrong(f"{hint}; each image and dimension has its own sigma = exp(0.5 * logvar[i, j]): "
                       "compute it element by element, no mean or indexing")
        _wrong("with a different mu and logvar for each image, z - mu is not sigma * eps for standard normal eps; "
               "use mu and logvar element by element: z = mu + exp(0.5 * logvar) * torch.randn_like(mu)")
    w = torch.randn(n, 2, generator=g)  # a random upstream gradient, so every element's gradient is tested
    (z * w).sum().backward()
    _grad(mu, w, "mu", "dz/dmu is 1 for every element")
    _grad(logvar, 0.5 * (zd - m) * w, "logvar", "dz/dlogvar = 0.5 * sigma * eps")


def _kl_inputs():
    g = torch.Generator().manual_seed(0)
    b, d = 7, 2  # 7 images so "summed over the batch" and "averaged over dims" give distinct numbers
    mu = (1.5 * torch.randn(b, d, generator=g)).requires_grad_()
    logvar = torch.randn(b, d, generator=g).requires_grad_()  # both signs, so log/exp mix-ups show
    return mu, logvar


@_check("kl_divergence")
def check_kl(fn) -> str:
    """fn(mu, logvar) -> scalar: the closed-form KL, summed over latent dims, averaged over the batch."""
    mu, logvar = _kl_inputs()
    b, d = mu.shape
    per_dim = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).detach()  # (b, d)
    ref = per_dim.sum(1).mean()
    out = _tensor(_call("kl_divergence", fn, mu, logvar), "a scalar tensor")
    if out.shape == (b,) and _close(out, per_dim.sum(1)):
        _wrong(f"it returns one KL per image, shape ({b},); average them over the batch for nats per image")
    if out.shape == (b, d):
        _wrong(f"it returns a ({b}, {d}) table; sum over the latent dimensions and average over the batch")
    if out.numel() != 1:
        _wrong(f"it returns shape {tuple(out.shape)}; return one number, the KL per image averaged over the batch")
    out = out.reshape(())
    if not torch.isfinite(out):
        _wrong(f"it returns {out.item()}; logvar is already log sigma^2, so exp(logvar) is the variance (no log of logvar)")
    mu_, lv = mu.detach(), logvar.detach()

    def closed(log_s2, s2, m2=None):
        return -0.5 * (1 + log_s2 - (mu_.pow(2) if m2 is None else m2) - s2).sum() / b

    _same_dtype(out, "the KL", "keep it a torch expression of mu and logvar (no float64 constants or .double())")
    _diagnose(out, [
        (-ref, "wrong sign; a KL is never negative: -0.5 * sum(1 + logvar - mu^2 - exp(logvar))"),
        (-2 * ref, "the factor -0.5 in front is missing, so it comes out negative, and a KL is never negative: "
                   "-0.5 * sum(1 + logvar - mu^2 - exp(logvar))"),
        (ref * b, "summed over the batch; average over it instead (divide by len(mu)) so it is nats per image"),
        (ref / d, "averaged over the latent dimensions; sum over them (dim=1), then average over the batch"),
        (ref * b / d, "summed over the wrong axis; sum over the latent dimensions (dim=1) and average over the batch (dim=0)"),
        (ref + d / 2, "the 1 is missing: -0.5 * sum(1 + logvar - mu^2 - exp(logvar))"),
        (2 * ref, "the factor -0.5 in front is missing (or only its sign is there)"),
        (closed(torch.log(lv**2), lv**2), "it treats logvar as sigma; logvar is log sigma^2, so sigma^2 = exp(logvar)"),
        (closed(lv, lv), "it uses logvar as the variance; the variance is sigma^2 = exp(logvar)"),
        (closed(lv, torch.exp(0.5 * lv)), "it uses sigma = exp(0.5 * logvar) where the variance sigma^2 = exp(logvar) belongs"),
        (closed(lv, lv.exp(), m2=mu_), "mu must be squared: -0.5 * sum(1 + logvar - mu^2 - exp(logvar))"),
    ])
    if out.item() < 0:
        _wrong(f"it gives {out.item():.4f} nats, but a KL is never negative (the closed form gives {ref.item():.4f}); "
               "check the signs in -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) / batch size")
    if not _close(out, ref):
        _wrong(f"it gives {out.item():.4f} nats where the closed form gives {ref.item():.4f}; "
               "check each term of -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) / batch size")
    if out.grad_fn is None:
        _wrong("the value is right but not differentiable; keep it a torch expression of mu and logvar")
    out.backward()
    _kl_grads(mu, logvar)
    return ("matches torch.distributions.kl_divergence, summed over dimensions and averaged over the batch, "
            "with the right gradients")


def _kl_grads(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    b = len(mu)
    _grad(mu, mu.detach() / b, "mu", "d KL / d mu = mu / batch size")
    _grad(logvar, -0.5 * (1 - logvar.detach().exp()) / b, "logvar", "d KL / d logvar = -0.5 * (1 - exp(logvar)) / batch size")


@_check("vae_loss")
def check_loss(fn) -> str:
    """fn(x_hat, x, mu, logvar) -> scalar: BCE summed over pixels + KL, both averaged over the batch."""
    g = torch.Generator().manual_seed(1)
    b = 6
    x = torch.rand(b, 1, TILE, TILE, generator=g)  # grayscale targets, like Fashion-MNIST
    x_hat = torch.sigmoid(torch.randn(b, 1, TILE, TILE, generator=g)).requires_grad_()
    mu, logvar = _kl_inputs()
    mu, logvar = mu[:b].detach().requires_grad_(), logvar[:b].detach().requires_grad_()
    ref = reference.vae_loss(x_hat, x, mu, logvar).detach()
    out = _tensor(_call("vae_loss", fn, x_hat, x, mu, logvar), "a scalar tensor")
    if out.shape == (b,):
        _wrong(f"it returns one loss per image, shape ({b},); average over the batch for nats per image")
    if out.numel() != 1:
        _wrong(f"it returns shape {tuple(out.shape)}; return one number, the loss per image averaged over the batch")
    out = out.reshape(())
    _same_dtype(out, "the loss", "keep it a torch expression of the inputs (no float64 constants or .double())")
    xh, x2 = x_hat.detach().reshape(b, -1), x.reshape(b, -1)
    bce = F.binary_cross_entropy(xh, x2, reduction="sum").detach() / b
    kl = reference.kl_divergence(mu, logvar).detach()
    px = TILE * TILE
    _diagnose(out, [
        (bce / px + kl, "the BCE is averaged over pixels (or divided by 784); sum it over the 784 pixels (reduction='sum'), then average over the batch"),
        (bce * b / px + kl, "the BCE is averaged over pixels (or divided by 784); sum it over the 784 pixels (reduction='sum'), then average over the batch"),
        (bce, "the KL term is missing; the loss is reconstruction + KL"),
        (b * (bce + kl), "summed over the batch; divide by the batch size so the loss is nats per image"),
        (b * bce + kl, "the BCE is summed over the batch while the KL is averaged; divide the BCE by len(x) too"),
        (bce + b * kl, "the KL is summed over the batch while the BCE is averaged; average the KL over the batch too"),
        (bce - kl, "the KL is subtracted; the loss is reconstruction + KL"),
        (F.binary_cross_entropy(x2, xh, reduction="sum") / b + kl,
         "binary_cross_entropy's arguments are swapped; it is F.binary_cross_entropy(x_hat, x): prediction first, target second"),
        (F.binary_cross_entropy_with_logits(xh, x2, reduction="sum") / b + kl,
         "x_hat is already a probability (after the sigmoid); use F.binary_cross_entropy, not the _with_logits version"),
        ((xh - x2).pow(2).sum() / b + kl, "it uses squared error; the lab's reconstruction term is binary cross-entropy, summed over pixels"),
    ])
    if not _close(out, ref):
        _wrong(f"it gives {out.item():.2f} nats where BCE (summed over pixels) + KL, averaged over the batch, "
               f"gives {ref.item():.2f}; check each term and each reduction")
    if out.grad_fn is None:
        _wrong("the value is right but not differentiable; keep it a torch expression (no .item())")
    out.backward()
    xh = x_hat.detach()
    _grad(x_hat, (xh - x) / (xh * (1 - xh)) / b, "x_hat", "d BCE / d x_hat = (x_hat - x) / (x_hat (1 - x_hat)) / batch size")
    _kl_grads(mu, logvar)
    return "BCE summed over pixels plus the KL, averaged over the batch, with the right gradients"


# ---------------------------------------------------------------------------------------------
# 02: the sweep (exercise 1.1).


@_check("latent_grid")
def check_latent_grid(fn) -> str:
    """fn(n, limit) -> (n*n, 2) codes (z1, z2), row by row from the top-left z = [-limit, limit]."""
    n, limit = 21, 4.0
    out = _tensor(_call("latent_grid", fn, n, limit), "an (n*n, 2) tensor")
    problem = grid_problem(out, reference.latent_grid(n, limit), n, limit)
    if problem:
        _wrong(problem)
    for n, limit in ((5, 2.0), (3, 1.0), (8, 3.5)):  # other arguments: the content must follow them
        small = _tensor(_call("latent_grid", fn, n, limit))
        if not _close(small, reference.latent_grid(n, limit)):
            what = "limit" if small.shape == (n * n, 2) else "n"
            _wrong(f"it ignores {what}: latent_grid({n}, {limit}) should give {n * n} codes from -{limit} to {limit}")
    return "441 codes, z = [-4, 4] first and [4, -4] last, z1 across and z2 up"


def _check_image(image, ref: torch.Tensor, n: int, probe: Probe) -> None:
    """Stop with what is wrong with a sweep image of the probe, if anything."""
    size = n * TILE
    problem = image_problem(_tensor(image, f"a (1, {size}, {size}) tensor"), ref, n, probe)
    if problem:
        _wrong(problem)


@_check("sweep_image")
def check_sweep(fn) -> str:
    """fn(decode, z, n) -> (1, 28n, 28n): the n*n codes z decoded and laid out row by row, edge to edge."""
    n, probe = 21, Probe()
    z = reference.latent_grid(n, 4.0)
    ref = reference.sweep_image(probe.decode, z, n)
    probe.calls = 0
    image = _call("sweep_image", fn, probe.decode, z, n)
    _check_image(image, ref, n, probe)
    g = torch.Generator().manual_seed(3)
    codes = 8 * torch.rand(25, 2, generator=g) - 4  # any 25 codes, not a grid: the image must show these
    probe.calls = 0
    small = _tensor(_call("sweep_image", fn, probe.decode, codes, 5))
    if small.shape[-1] != 5 * TILE:
        _wrong("it ignores n: sweep_image(decode, z, 5) with 25 codes should give a 140x140 image")
    if not _close(small.reshape(1, 5 * TILE, 5 * TILE), reference.sweep_image(probe.decode, codes, 5)):
        if probe.calls == 0:
            _wrong("it never calls the decode it is given; decode the codes with decode(z), whatever decoder is passed")
        _wrong("it ignores z: sweep_image(decode, z, 5) must decode the 25 codes it is given, not a grid of its own")
    return ("a 588x588 image, z = [-4, 4] top-left and [4, -4] bottom-right, tiles edge to edge, for any decode, z and n"
            + channel_note(image))


# ---------------------------------------------------------------------------------------------
# 03: the autoencoder retrained with a 2-d code (exercise 2.1).

@_check("sweep_model")
def check_ae_sweep(fn) -> str:
    """fn(model, n=21, limit=4.0) -> (1, 28n, 28n): the lab's sweep of any model with a 2-d code."""
    n, probe = 21, Probe()
    ref = reference.sweep_model(probe, n, 4.0)
    probe.calls = 0
    first = _call("sweep_model", fn, probe)
    _check_image(first, ref, n, probe)
    for n, limit in ((5, 2.0), (3, 1.0)):  # other arguments: the content must follow them
        probe.calls = 0
        image = _tensor(_call("sweep_model", fn, probe, n, limit))
        if image.shape[-1] != n * TILE:
            _wrong(f"it ignores n: sweep_model(model, {n}, {limit}) should give a {n * TILE}x{n * TILE} image")
        if not _close(image.reshape(1, n * TILE, n * TILE), reference.sweep_model(probe, n, limit)):
            if probe.calls == 0:
                _wrong("it never calls the decode of the model it is given; use model.decode, not a global model")
            _wrong(f"it ignores limit: sweep_model(model, {n}, {limit}) should sweep from -{limit} to {limit}")
    return ("the 21x21 sweep over [-4, 4]^2 as one 588x588 image, z = [-4, 4] top-left, for any model, n and limit"
            + channel_note(first))
