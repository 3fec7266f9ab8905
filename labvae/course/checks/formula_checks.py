"""The checks of notebook 01's formulas (practice): reparameterize, the KL and the VAE loss, as collect + verdict."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...grid import TILE
from .checking import Check, _call, _diagnose, _tensor, _wrong, need, returned
from .fallbacks import bce, kl_divergence, kl_per_dim
from .probe import close as _close

N, SIGMA = 20000, 0.5  # draws per dimension (the spread is measured to ~1%), and the first test's sigma


def _same_dtype(out: torch.Tensor, what: str, fix: str) -> None:
    if out.dtype != torch.float32:
        _wrong(f"{what} is {out.dtype}, not float32 like the inputs; {fix} (the model's weights are float32)")


def _grad(grad, want: torch.Tensor, name: str, formula: str) -> None:
    """Stop unless the gradient that reached an input is want: cut and wrong gradients both show."""
    if not isinstance(grad, torch.Tensor) or not grad.abs().max() > 0:
        _wrong(f"no gradient reaches {name}: something detaches it (.detach(), .item(), numpy, torch.normal, "
               f"a new tensor); keep every step a torch operation of {name}")
    if not _close(grad, want):
        _wrong(f"the gradient that reaches {name} is wrong ({formula}); write it as one torch expression of the inputs")


def _backward(out, upstream, *inputs) -> list:
    """The gradients out sends back to each input (None where none arrives); the student's graph may fail."""
    try:
        if isinstance(out, torch.Tensor) and out.grad_fn is not None:
            (out * upstream).sum().backward()
    except Exception:
        pass  # a broken graph: no gradient, which the verdict names
    return [returned(t.grad) for t in inputs]


# ---------------------------------------------------------------------------------------------
# reparameterize


def _rep_inputs():
    mu = torch.tensor([3.0, -2.0]).repeat(N, 1).requires_grad_()  # (N, 2), far from 0 so a missing mu shows
    return mu, torch.full((N, 2), math.log(SIGMA**2), requires_grad=True)


def _rep_rows(seed: int):
    """Varied rows: each image and dimension its own mu and sigma, and an upstream gradient per element."""
    g = torch.Generator().manual_seed(seed + 2)
    mu = (2 * torch.randn(N, 2, generator=g)).requires_grad_()
    logvar = (4 * torch.rand(N, 2, generator=g) - 3).requires_grad_()  # sigma from 0.22 to 1.65
    return mu, logvar, torch.randn(N, 2, generator=g)


def _collect_rep(fn, seed: int, data: dict) -> None:
    mu, logvar = _rep_inputs()
    z = _call("reparameterize", fn, mu, logvar, seed=seed)
    data["z"], data["z_graph"] = returned(z), getattr(z, "grad_fn", None) is not None
    data["twice"] = [returned(z) for z in _call("reparameterize", lambda m, lv: (fn(m, lv), fn(m, lv)),
                                                   mu, logvar, seed=seed)]
    mu, logvar, w = _rep_rows(seed)
    z = _call("reparameterize", fn, mu, logvar, seed=seed)
    data["rows"], data["rows_grads"] = returned(z), _backward(z, w, mu, logvar)


def _verdict_rep(data: dict, seed: int) -> str:
    """fn(mu, logvar) -> z: mu + exp(logvar / 2) * eps, fresh eps ~ N(0, I) per element, differentiable."""
    mu, logvar = (t.detach() for t in _rep_inputs())
    z = _tensor(need(data, "z"))
    if z.is_floating_point() and not torch.isfinite(z).all():
        _wrong("z holds NaN or inf: logvar is log sigma^2, often negative, and an operation your code applies to "
               "it is undefined there; sigma must come out positive for every logvar")
    if z.shape != mu.shape:
        _wrong(f"z has shape {tuple(z.shape)}, expected {tuple(mu.shape)} like mu: one sample per image and dimension")
    _same_dtype(z, "z", "draw the noise with torch.randn_like(mu), which keeps mu's dtype")
    noise = z - mu  # (N, 2) = sigma * eps when right
    if noise.abs().max() < 1e-6:
        _wrong("z equals mu, so there is no noise; add sigma * eps with eps = torch.randn_like(mu)")
    if z.mean(0).abs().max() < 0.2:
        _wrong("z is centred on 0, not on mu: mu is missing; z = mu + sigma * eps")
    if need(data, "z_graph") is not True:
        _wrong("z is cut off from the graph, so no gradient reaches mu and logvar; write mu + sigma * eps "
               "(torch.normal and .detach() break the graph)")
    if noise.std(0).max() < 1e-6:
        _wrong("every image gets the same eps; draw one per element with torch.randn_like(mu), not torch.randn(2)")
    if torch.allclose(noise[:, 0], noise[:, 1], atol=1e-5):
        _wrong("both latent dimensions get the same eps; draw one per element with torch.randn_like(mu)")
    mean = (noise / SIGMA).mean().item()
    if abs(mean) > 0.1:
        _wrong(f"the noise is not centred on 0 (mean eps = {mean:.2f}); eps must be standard normal: torch.randn_like, not torch.rand_like")
    spread = noise.std(0).mean().item()
    for value, hint in [(SIGMA**2, "sigma is exp(0.5 * logvar): exp(logvar) is the variance sigma^2"),
                        (1.0, "eps is not scaled: multiply it by sigma = exp(0.5 * logvar)"),
                        (abs(math.log(SIGMA**2)), "multiply eps by sigma = exp(0.5 * logvar), not by logvar itself"),
                        (1 / SIGMA, "the exponent's sign is wrong: sigma = exp(+0.5 * logvar)")]:
        if abs(spread / value - 1) < 0.05:
            _wrong(f"the spread of z around mu is {spread:.2f} where sigma = {SIGMA}; {hint}")
    if abs(spread / SIGMA - 1) > 0.05:
        _wrong(f"the spread of z around mu is {spread:.2f} where sigma = exp(0.5 * logvar) = {SIGMA}; z = mu + sigma * eps")
    first, second = need(data, "twice")
    if _close(_tensor(first), _tensor(second)):
        _wrong("it returns the same z on every call; do not reseed inside it, draw fresh noise each time")
    _verdict_rows(data, seed)
    return "z = mu + sigma * eps per element, fresh standard normal noise, and the right gradients reach mu and logvar"


def _verdict_rows(data: dict, seed: int) -> None:
    mu, logvar, w = _rep_rows(seed)
    m, sigma = mu.detach(), torch.exp(0.5 * logvar.detach())
    zd = _tensor(need(data, "rows"))
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
    grad_mu, grad_logvar = need(data, "rows_grads")
    _grad(grad_mu, w, "mu", "dz/dmu is 1 for every element")
    _grad(grad_logvar, 0.5 * (zd - m) * w, "logvar", "dz/dlogvar = 0.5 * sigma * eps")


check_reparameterize = Check("reparameterize", _collect_rep, _verdict_rep, "check_reparameterize")


# ---------------------------------------------------------------------------------------------
# the KL


def _kl_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    b, d = 7, 2  # 7 images so "summed over the batch" and "averaged over dims" give distinct numbers
    mu = (1.5 * torch.randn(b, d, generator=g)).requires_grad_()
    logvar = torch.randn(b, d, generator=g).requires_grad_()  # both signs, so log/exp mix-ups show
    return mu, logvar


def _scalar_out(out, data: dict, *inputs) -> None:
    """Keep out, whether it is differentiable, and the gradients its backward sends to inputs."""
    data["out"], data["graph"] = returned(out), getattr(out, "grad_fn", None) is not None
    one = isinstance(out, torch.Tensor) and out.numel() == 1
    data["grads"] = _backward(out.reshape(()) if one else None, 1.0, *inputs)


def _collect_kl(fn, seed: int, data: dict) -> None:
    mu, logvar = _kl_inputs(seed)
    _scalar_out(_call("kl_divergence", fn, mu, logvar, seed=seed), data, mu, logvar)


def _verdict_kl(data: dict, seed: int) -> str:
    """fn(mu, logvar) -> scalar: the closed-form KL, summed over latent dims, averaged over the batch."""
    mu, lv = (t.detach() for t in _kl_inputs(seed))
    b, d = mu.shape
    per_dim = kl_per_dim(mu, lv)  # (b, d), torch.distributions
    ref = per_dim.sum(1).mean()
    out = _tensor(need(data, "out"), "a scalar tensor")
    if out.shape == (b,) and _close(out, per_dim.sum(1)):
        _wrong(f"it returns one KL per image, shape ({b},); average them over the batch for nats per image")
    if out.shape == (b, d):
        _wrong(f"it returns a ({b}, {d}) table; sum over the latent dimensions and average over the batch")
    if out.numel() != 1:
        _wrong(f"it returns shape {tuple(out.shape)}; return one number, the KL per image averaged over the batch")
    out = out.reshape(())
    if not torch.isfinite(out):
        _wrong(f"it returns {out.item()}: logvar is log sigma^2, often negative, and an operation your code applies "
               "to it is undefined there (a log or a square root of logvar?)")

    def closed(log_s2, s2, m2=None):
        return -0.5 * (1 + log_s2 - (mu.pow(2) if m2 is None else m2) - s2).sum() / b

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
        (closed(lv, lv.exp(), m2=mu), "mu must be squared: -0.5 * sum(1 + logvar - mu^2 - exp(logvar))"),
    ])
    if out.item() < 0:
        _wrong(f"it gives {out.item():.4f} nats, but a KL is never negative (the closed form gives {ref.item():.4f}); "
               "check the signs in -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) / batch size")
    if not _close(out, ref):
        _wrong(f"it gives {out.item():.4f} nats where the closed form gives {ref.item():.4f}; "
               "check each term of -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) / batch size")
    if need(data, "graph") is not True:
        _wrong("the value is right but not differentiable; keep it a torch expression of mu and logvar")
    _kl_grads(need(data, "grads"), mu, lv)
    return ("matches torch.distributions.kl_divergence, summed over dimensions and averaged over the batch, "
            "with the right gradients")


def _kl_grads(grads, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    b = len(mu)
    _grad(grads[-2], mu / b, "mu", "d KL / d mu = mu / batch size")
    _grad(grads[-1], -0.5 * (1 - logvar.exp()) / b, "logvar", "d KL / d logvar = -0.5 * (1 - exp(logvar)) / batch size")


check_kl = Check("kl_divergence", _collect_kl, _verdict_kl, "check_kl")


# ---------------------------------------------------------------------------------------------
# the VAE loss


def _loss_inputs(seed: int):
    g = torch.Generator().manual_seed(seed + 1)
    b = 6
    x = torch.rand(b, 1, TILE, TILE, generator=g)  # grayscale targets, like Fashion-MNIST
    x_hat = torch.sigmoid(torch.randn(b, 1, TILE, TILE, generator=g)).requires_grad_()
    mu, logvar = _kl_inputs(seed)
    return x_hat, x, mu[:b].detach().requires_grad_(), logvar[:b].detach().requires_grad_()


def _collect_loss(fn, seed: int, data: dict) -> None:
    x_hat, x, mu, logvar = _loss_inputs(seed)
    _scalar_out(_call("vae_loss", fn, x_hat, x, mu, logvar, seed=seed), data, x_hat, mu, logvar)


def _verdict_loss(data: dict, seed: int) -> str:
    """fn(x_hat, x, mu, logvar) -> scalar: BCE summed over pixels + KL, both averaged over the batch."""
    x_hat, x, mu, logvar = (t.detach() for t in _loss_inputs(seed))
    b = len(x)
    bce_ = bce(x_hat, x)  # torch's BCE, summed over pixels, per image
    kl = kl_divergence(mu, logvar)  # torch.distributions' KL, per image
    ref = bce_ + kl
    out = _tensor(need(data, "out"), "a scalar tensor")
    if out.shape == (b,):
        _wrong(f"it returns one loss per image, shape ({b},); average over the batch for nats per image")
    if out.numel() != 1:
        _wrong(f"it returns shape {tuple(out.shape)}; return one number, the loss per image averaged over the batch")
    out = out.reshape(())
    _same_dtype(out, "the loss", "keep it a torch expression of the inputs (no float64 constants or .double())")
    xh, x2 = x_hat.reshape(b, -1), x.reshape(b, -1)
    px = TILE * TILE
    if _close(out, bce_) or _close(out, bce_ + kl / px):  # both within tolerance of each other: the nearer names it
        if (out - bce_ - kl / px).abs() < (out - bce_).abs():
            _wrong("the KL is divided by 784 (as if per pixel); the KL is already per image: add it whole")
        _wrong("the KL term is missing; the loss is reconstruction + KL")
    _diagnose(out, [
        (bce_ / px + kl, "the BCE is averaged over pixels (or divided by 784); sum it over the 784 pixels (reduction='sum'), then average over the batch"),
        (bce_ * b / px + kl, "the BCE is averaged over pixels (or divided by 784); sum it over the 784 pixels (reduction='sum'), then average over the batch"),
        (bce_, "the KL term is missing; the loss is reconstruction + KL"),
        (b * (bce_ + kl), "summed over the batch; divide by the batch size so the loss is nats per image"),
        (b * bce_ + kl, "the BCE is summed over the batch while the KL is averaged; divide the BCE by len(x) too"),
        (bce_ + b * kl, "the KL is summed over the batch while the BCE is averaged; average the KL over the batch too"),
        (bce_ - kl, "the KL is subtracted; the loss is reconstruction + KL"),
        (F.binary_cross_entropy(x2, xh, reduction="sum") / b + kl,
         "binary_cross_entropy's arguments are swapped; it is F.binary_cross_entropy(x_hat, x): prediction first, target second"),
        (F.binary_cross_entropy_with_logits(xh, x2, reduction="sum") / b + kl,
         "x_hat is already a probability (after the sigmoid); use F.binary_cross_entropy, not the _with_logits version"),
        ((xh - x2).pow(2).sum() / b + kl, "it uses squared error; the lab's reconstruction term is binary cross-entropy, summed over pixels"),
    ])
    if not _close(out, ref):
        _wrong(f"it gives {out.item():.2f} nats where BCE (summed over pixels) + KL, averaged over the batch, "
               f"gives {ref.item():.2f}; check each term and each reduction")
    if need(data, "graph") is not True:
        _wrong("the value is right but not differentiable; keep it a torch expression (no .item())")
    grads = need(data, "grads")
    _grad(grads[0], (x_hat - x) / (x_hat * (1 - x_hat)) / b, "x_hat",
          "d BCE / d x_hat = (x_hat - x) / (x_hat (1 - x_hat)) / batch size")
    _kl_grads(grads, mu, logvar)
    return "BCE summed over pixels plus the KL, averaged over the batch, with the right gradients"


check_loss = Check("vae_loss", _collect_loss, _verdict_loss, "check_loss")
