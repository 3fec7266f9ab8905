"""The check of exercise 2.1a: the lab's linear AE with a 2-d code, trained like the lab's reference."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .checking import _check, _crashed, _wrong
from .probe import kind as _kind

TOLERANCE = 0.005  # test BCE 0.5% off the reference: another data order moves it 0.1%, one epoch less 1.5%
_CACHE: dict = {}  # the lab's data and reference AE, loaded once per process: fast when graded in bulk


def _lab():
    """(config, x_train, x_test, the lab AE trained with the lab's settings): the check's yardstick."""
    if not _CACHE:
        from ..config import lab_config

        cfg = lab_config(progress=False)  # no progress bar: a graded cell must not write to stderr
        x_train, _, x_test, _ = cfg.load_data()
        _CACHE.update(cfg=cfg, x_train=x_train, x_test=x_test, ref=cfg.model("ae", x_train, x_test))
    return _CACHE["cfg"], _CACHE["x_train"], _CACHE["x_test"], _CACHE["ref"]


def _bce(model: nn.Module, x: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """BCE (nats) and squared error per image, summed over pixels, and the decoded images."""
    device = next(model.parameters()).device
    with torch.no_grad():
        x_hat = model.decode(model.encode(x.to(device))).reshape(len(x), -1).float().cpu()
    flat = x.reshape(len(x), -1)
    bce = F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), flat, reduction="sum").item() / len(x)
    return bce, (x_hat - flat).pow(2).sum().item() / len(x), x_hat


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().float().cpu().flatten() for p in model.parameters()])


def _untrained(model: nn.Module) -> nn.Module:
    """The model's own initial weights when it knows them (labvae models do), else a fresh init."""
    from ..models import ModelConfig

    config = getattr(model, "config", None)
    if isinstance(config, ModelConfig):
        return config.build()
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for m in fresh.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return fresh


def _settings(model, cfg) -> str | None:
    """What the recorded labvae.fit calls did differently from the lab's settings, or None."""
    fits = model.__dict__.get("_labvae_fits", [])
    if not fits:
        return None
    if len(fits) > 1:
        return f"labvae.fit trained it {len(fits)} times; train it once, with the lab's settings"
    got = fits[0]
    if got["data"] != "the training images":
        return f"it was trained on {got['data']}; train on x_train (the test images only measure it)"
    for key, want in (("epochs", cfg.epochs), ("batch_size", cfg.batch_size), ("lr", cfg.lr)):
        if got[key] != want:
            return f"it was trained with {key}={got[key]:g}; the lab's setting is {key}={want:g} (cfg.{key})"
    return None


@_check("my_ae")
def check_ae(model) -> str:
    """model: the lab's linear AE with a 2-d code, trained like the lab's reference (same loss, settings, data)."""
    if model is None:
        _wrong("it is None; train_ae must return the trained model")
    if type(model).__name__ == "History":
        _wrong("it is a History: labvae.fit returns the training history; return the model itself")
    if not isinstance(model, nn.Module) or not hasattr(model, "encode") or not hasattr(model, "decode"):
        _wrong(f"it is {_kind(model)}; build the lab's AE as labvae.Autoencoder(latent_dim=2), "
               "which has encode and decode")
    cfg, _, x, ref = _lab()
    if any(p.dtype != torch.float32 for p in model.parameters()):
        dtypes = sorted({str(p.dtype) for p in model.parameters()})
        _wrong(f"its weights are {', '.join(dtypes)}; keep them float32 (no .half() or .double()), like the data")
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            code = model.encode(x[:8].to(device))
    except Exception as e:
        raise _crashed(e, "encode") from None
    if isinstance(code, tuple):
        _wrong("this is a VAE (encode returns mu and logvar); the exercise retrains the plain autoencoder, "
               "labvae.Autoencoder(latent_dim=2)")
    if code.ndim != 2 or code.shape[1] != 2:
        _wrong(f"its code has shape {tuple(code.shape[1:])} per image; the exercise retrains the AE with a 2-d code (latent_dim=2)")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 2:
        _wrong(f"it has {len(linears)} linear layers; the lab's AE is linear 784 -> 2 -> 784 "
               "(labvae.Autoencoder(latent_dim=2), hidden_dim=None)")
    was_training = model.training
    model.eval()
    try:
        trained, squared, x_hat = _bce(model, x)
        untrained, _, _ = _bce(_untrained(model), x)
        lab, lab_squared, _ = _bce(ref, x)
    except Exception as e:
        raise _crashed(e, "decode") from None
    finally:
        model.train(was_training)
    lo, hi = x_hat.min().item(), x_hat.max().item()
    if lo < 0 or hi > 1:
        _wrong(f"its decoder's outputs run from {lo:.2f} to {hi:.2f}, outside [0, 1]: the lab AE's decoder ends "
               "with a sigmoid (labvae.Autoencoder has it; keep it)")
    same = all(torch.equal(a.detach().cpu(), b.detach().cpu()) for a, b in zip(model.parameters(), _untrained(model).parameters()))
    if same:
        _wrong(f"it is untrained: its weights are still the initial ones ({trained:.0f} nats per test image); "
               "train it with labvae.fit(model, x_train, x_test, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr)")
    if "loss" in model.__dict__ or getattr(type(model).loss, "__module__", "") != "labvae.models":
        _wrong("it was trained with its own loss, not the lab AE's (binary cross-entropy summed over pixels); "
               "keep labvae.Autoencoder's loss")
    if problem := _settings(model, cfg):
        _wrong(problem)
    if not model.__dict__.get("_labvae_fits"):  # trained outside checks.attempt's view: it must be the lab's model
        start = _flat(_untrained(ref))
        moved = (_flat(model) - _flat(ref)).norm().item() / max((_flat(ref) - start).norm().item(), 1e-12)
        if moved > 0.01:
            if abs(trained / lab - 1) > TOLERANCE and trained > lab and squared < lab_squared:
                _wrong(f"it fits squared error better ({squared:.1f} against {lab_squared:.1f}) and BCE worse "
                       f"({trained:.1f} against {lab:.1f} nats) than the lab AE: it was trained with MSE; the lab's loss is BCE")
            _wrong(f"it was not trained by labvae.fit with the lab's settings: its weights are {moved:.0%} of the lab AE's "
                   f"training away from the lab AE's, and its test loss is {trained:.1f} nats against {lab:.1f}; "
                   "train it with labvae.fit(model, x_train, x_test, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr)")
    return f"a linear AE with a 2-d code trained like the lab's: {trained:.1f} nats per test image (the lab's: {lab:.1f})"
