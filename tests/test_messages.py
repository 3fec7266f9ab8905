"""Each message names the cause that is there, in one sentence, without giving the formula away."""

import torch
import torch.nn.functional as F
from answers import solution, verdict
from torchvision.utils import make_grid

from labvae.course import checks
from labvae.course.checks.ae_probe import AEEvidence
from labvae.course.checks.ae_verdict import verdict as ae_verdict
from labvae.grid import TILE

FORMULA = ("-0.5", "exp(0.5", "mu + sigma", "1 + logvar")


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.count("; ") <= 2


def test_a_normalised_make_grid_is_named_rescaled_not_ignoring_z(capsys):
    def sweep(decode, z, n):
        with torch.no_grad():
            return make_grid(decode(z).reshape(n * n, 1, TILE, TILE), nrow=n, padding=0, normalize=True)[:1]

    message = verdict(checks.check_sweep, sweep, capsys).message
    assert "rescaled" in message and "normalize=True" in message and "ignores z" not in message, message


def test_a_square_root_of_logvar_is_named_without_the_formula(capsys):
    def rep(mu, logvar):
        return mu + torch.sqrt(logvar) * torch.randn_like(mu)

    def kl(mu, logvar):
        return -0.5 * (1 + 2 * torch.log(torch.sqrt(logvar)) - mu.pow(2) - logvar.exp()).sum() / len(mu)

    for check, fn in ((checks.check_reparameterize, rep), (checks.check_kl, kl)):
        message = verdict(check, fn, capsys).message
        assert "undefined" in message and not any(f in message for f in FORMULA), message


def test_a_kl_divided_by_784_is_not_called_missing(capsys):
    kl = solution("01_training", "kl_divergence")

    def loss(x_hat, x, mu, logvar):
        b = len(x)
        return F.binary_cross_entropy(x_hat.reshape(b, -1), x.reshape(b, -1), reduction="sum") / b + kl(mu, logvar) / 784

    def no_kl(x_hat, x, mu, logvar):
        b = len(x)
        return F.binary_cross_entropy(x_hat.reshape(b, -1), x.reshape(b, -1), reduction="sum") / b

    assert "divided by 784" in verdict(checks.check_loss, loss, capsys).message
    assert "KL term is missing" in verdict(checks.check_loss, no_kl, capsys).message


def test_a_rounded_grid_is_not_said_to_ignore_limit(capsys):
    grid = solution("02_vae_sweep", "latent_grid")
    message = verdict(checks.check_latent_grid, lambda n=21, limit=4.0: grid(n, limit).mul(100).round().div(100),
                      capsys).message
    assert "ignores" not in message and "expected" in message and one_sentence(message), message


def test_model_decoder_names_the_attribute_not_the_stand_in(capsys):
    def sweep_model(model, n=21, limit=4.0):
        return model.decoder(torch.zeros(n * n, 2))

    message = verdict(checks.check_ae_sweep, sweep_model, capsys).message
    assert "model.decoder" in message and "model.decode(z)" in message and "'Probe'" not in message, message


def test_an_under_trained_ae_is_not_told_to_train_for_the_epochs_it_had():
    from labvae.course.checks.ae_verdict import AEReference, Band

    x = torch.rand(50, 784).round()
    g = torch.Generator().manual_seed(0)
    far = torch.rand(50, 784, generator=g) * 0.5 + 0.25  # a poor reconstruction: SGD, or no zero_grad
    codes, w = torch.randn(128, 2, generator=g), torch.randn(2, 784, generator=g) * 0.5  # a linear AE's
    mix = 0.3 * codes[:64] + 0.7 * codes[64:]
    ev = AEEvidence(code_dim=2, x_hat=far, codes_ab=codes, codes_mix=mix, dec_ab=torch.sigmoid(codes @ w),
                    dec_mix=torch.sigmoid(mix @ w), at_init=False, fits=())
    ref = AEReference(x_test=x, bands=(Band("the lab's settings", 500.0, -0.03, 0.05),), squared=5.0, untrained=2000.0,
                      settings=({"epochs": 10, "batch_size": 256, "lr": 1e-3},))
    message = ae_verdict(ev, ref)[1]
    assert "train it for cfg.epochs epochs" not in message and "zero_grad" in message, message
