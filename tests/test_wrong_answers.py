"""Wrong answers that used to pass: cut gradients, per-row mistakes, dtypes, ignored arguments, shortcuts, bad AEs, hints."""

import types

import pytest
import torch
import torch.nn.functional as F
from answers import assert_flags, solution, verdict

import labvae
from labvae.course import checks
from labvae.course.checks import fallbacks
from labvae.grid import TILE


def sigma(logvar):
    return torch.exp(0.5 * logvar)


def rep(mu, logvar):
    return mu + sigma(logvar) * torch.randn_like(mu)


def kl_terms(mu, logvar):
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


def kl(mu, logvar):
    return kl_terms(mu, logvar).sum() / len(mu)


def bce(x_hat, x):
    return F.binary_cross_entropy(x_hat, x, reduction="sum") / len(x)


# --- gradients: every input's, with the values it should have ------------------------------

CUT = {
    "mu detached": (checks.check_reparameterize, lambda mu, lv: mu.detach() + sigma(lv) * torch.randn_like(mu),
                    "no gradient reaches mu"),
    "sigma detached": (checks.check_reparameterize, lambda mu, lv: mu + sigma(lv).detach() * torch.randn_like(mu),
                       "no gradient reaches logvar"),
    "logvar detached": (checks.check_reparameterize, lambda mu, lv: mu + sigma(lv.detach()) * torch.randn_like(mu),
                        "no gradient reaches logvar"),
    "mu's gradient doubled": (checks.check_reparameterize, lambda mu, lv: rep(mu, lv) + mu - mu.detach(),
                              "the gradient that reaches mu is wrong"),
    "KL, mu detached": (checks.check_kl, lambda mu, lv: kl_terms(mu.detach(), lv).sum() / len(mu), "no gradient reaches mu"),
    "KL, logvar detached": (checks.check_kl, lambda mu, lv: kl_terms(mu, lv.detach()).sum() / len(mu),
                            "no gradient reaches logvar"),
    "KL, logvar's gradient off": (checks.check_kl, lambda mu, lv: (kl_terms(mu, lv).sum() + lv.sum() - lv.sum().detach()) / len(mu),
                                  "the gradient that reaches logvar is wrong"),
    "loss, x_hat detached": (checks.check_loss, lambda xh, x, mu, lv: bce(xh.detach(), x) + kl(mu, lv),
                             "no gradient reaches x_hat"),
    "loss, KL detached": (checks.check_loss, lambda xh, x, mu, lv: bce(xh, x) + kl_terms(mu, lv).sum().detach() / len(mu),
                          "no gradient reaches mu"),
}


@pytest.mark.parametrize("name", CUT)
def test_cut_or_wrong_gradients_are_named(name, capsys):
    check, fn, hint = CUT[name]
    assert_flags(check, fn, hint, capsys)


# --- varied rows: per-image mistakes --------------------------------------------------------

PER_ROW = {
    "sigma averaged over the batch": (lambda mu, lv: mu + sigma(lv).mean(0) * torch.randn_like(mu), "averaged over the batch"),
    "dimension 0's sigma for both": (lambda mu, lv: mu + sigma(lv[:, :1]) * torch.randn_like(mu), "dimension 0's sigma"),
    "sigma averaged over dims": (lambda mu, lv: mu + sigma(lv).mean(1, keepdim=True) * torch.randn_like(mu),
                                 "averaged over the dimensions"),
    "mu averaged over the batch": (lambda mu, lv: mu.mean(0) + sigma(lv) * torch.randn_like(mu), "the same mu"),
    "first row's sigma for all": (lambda mu, lv: mu + sigma(lv[:1]) * torch.randn_like(mu), "z - mu is not sigma * eps"),
}


@pytest.mark.parametrize("name", PER_ROW)
def test_per_row_mistakes_are_named(name, capsys):
    fn, hint = PER_ROW[name]
    assert_flags(checks.check_reparameterize, fn, hint, capsys)


# --- dtypes that would crash three cells later ----------------------------------------------

own_grid = solution("02_vae_sweep", "latent_grid")
own_sweep = solution("02_vae_sweep", "sweep_image")
own_sweep_model = solution("03_ae_sweep", "sweep_model")

DTYPES = {
    "float64 noise": (checks.check_reparameterize, lambda mu, lv: mu + sigma(lv) * torch.randn(mu.shape, dtype=torch.float64),
                      "z is torch.float64"),
    "float16 z": (checks.check_reparameterize, lambda mu, lv: rep(mu, lv).half(), "z is torch.float16"),
    "float64 KL": (checks.check_kl, lambda mu, lv: kl_terms(mu, lv).double().sum() / len(mu), "the KL is torch.float64"),
    "float64 loss": (checks.check_loss, lambda xh, x, mu, lv: (bce(xh, x) + kl(mu, lv)).double(),
                     "the loss is torch.float64"),
    "float64 codes": (checks.check_latent_grid, lambda n=21, limit=4.0: own_grid(n, limit).double(), "float32"),
    "float16 sweep": (checks.check_sweep, lambda decode, z, n: own_sweep(decode, z, n).half(), "the image is torch.float16"),
    "float64 AE sweep": (checks.check_ae_sweep, lambda model, n=21, limit=4.0: own_sweep_model(model, n, limit).double(),
                         "the image is torch.float64"),
}


@pytest.mark.parametrize("name", DTYPES)
def test_wrong_dtypes_are_named(name, capsys):
    check, fn, hint = DTYPES[name]
    assert_flags(check, fn, hint, capsys)


# --- functions that ignore their arguments --------------------------------------------------

VAE = labvae.VAE()  # a global model an answer might draw instead of the one it is given

IGNORES = {
    "grid ignores n unless 5": (checks.check_latent_grid, lambda n=21, limit=4.0: own_grid(n if n in (5, 21) else 21, limit),
                                "it ignores n"),
    "grid ignores limit unless 2": (checks.check_latent_grid, lambda n=21, limit=4.0: own_grid(n, limit if limit == 2.0 else 4.0),
                                    "it ignores limit"),
    "sweep ignores z": (checks.check_sweep, lambda decode, z, n: own_sweep(decode, own_grid(n, 4.0), n), "it ignores z"),
    "sweep ignores decode": (checks.check_sweep, lambda decode, z, n: own_sweep(VAE.decode, z, n), "never calls the decode"),
    "sweep ignores n": (checks.check_sweep, lambda decode, z, n: own_sweep(decode, own_grid(21, 4.0), 21), "it ignores n"),
    "model sweep ignores limit": (checks.check_ae_sweep, lambda model, n=21, limit=4.0: own_sweep_model(model, n, 4.0),
                                  "it ignores limit"),
    "model sweep ignores n": (checks.check_ae_sweep, lambda model, n=21, limit=4.0: own_sweep_model(model, 21, limit),
                              "it ignores n"),
    "model sweep ignores model": (checks.check_ae_sweep, lambda model, n=21, limit=4.0: own_sweep_model(VAE, n, limit),
                                  "never calls the decode"),
}


@pytest.mark.parametrize("name", IGNORES)
def test_ignored_arguments_are_named(name, capsys):
    check, fn, hint = IGNORES[name]
    assert_flags(check, fn, hint, capsys)


# --- answers that hand the work to labvae's own solution ------------------------------------

from labvae.grid import latent_grid as lg  # noqa: E402 (an early-bound import a student might write)


def helper(n, limit):
    return fallbacks.latent_grid(n, limit)


_IMPL = [labvae.latent_grid]  # labvae's solution kept in a list, out of sight of a reading of names


def from_a_list(n=21, limit=4.0):
    return _IMPL[0](n, limit)


rebuilt = types.FunctionType(labvae.grid.latent_grid.__code__, labvae.grid.__dict__, "latent_grid")  # its code, a new function


SHORTCUTS = {
    "latent_grid is labvae's": (checks.check_latent_grid, labvae.latent_grid, "labvae's own labvae.latent_grid"),
    "calls labvae.latent_grid": (checks.check_latent_grid, lambda n=21, limit=4.0: labvae.latent_grid(n, limit), "labvae's own"),
    "early-bound import": (checks.check_latent_grid, lambda n=21, limit=4.0: lg(n, limit).clone(), "labvae's own"),
    "through a helper": (checks.check_latent_grid, lambda n=21, limit=4.0: helper(n, limit), "labvae's own"),
    "found by getattr at run time": (checks.check_latent_grid, lambda n=21, limit=4.0: getattr(labvae, "latent" + "_grid")(n, limit),
                                     "labvae's own"),
    "sweep via decode_grid": (checks.check_sweep, lambda decode, z, n: labvae.decode_grid(decode, n=n, limit=z.max().item()),
                              "labvae's own labvae.decode_grid"),
    "sweep via the fallback": (checks.check_sweep, lambda decode, z, n: fallbacks.sweep_image(decode, z, n), "fallbacks.sweep_image"),
    "model sweep via the fallback": (checks.check_ae_sweep, lambda model, n=21, limit=4.0: fallbacks.sweep_model(model, n, limit),
                                  "fallbacks.sweep_model"),
    "model sweep via sweep_tiles": (checks.check_ae_sweep,
                                    lambda model, n=21, limit=4.0: labvae.grid.sweep_tiles(model, n, limit), "labvae.sweep_tiles"),
    "KL via the fallback": (checks.check_kl, lambda mu, lv: fallbacks.kl_divergence(mu, lv) + 0, "fallbacks.kl_divergence"),
    "reparameterize via the VAE": (checks.check_reparameterize, lambda mu, lv: VAE.reparameterize(mu, lv), "VAE.reparameterize"),
    "kept in a list": (checks.check_latent_grid, from_a_list, "labvae's own labvae.latent_grid"),
    "rebuilt from its code": (checks.check_latent_grid, rebuilt, "labvae's own labvae.latent_grid"),
    "rebuilt, behind a lambda": (checks.check_latent_grid, lambda n=21, limit=4.0: rebuilt(n, limit), "labvae's own"),
}


@pytest.mark.parametrize("name", SHORTCUTS)
def test_shortcuts_to_labvae_are_named(name, capsys):
    check, fn, hint = SHORTCUTS[name]
    assert "write the code yourself" in assert_flags(check, fn, hint, capsys).message


def test_shortcuts_leave_labvae_intact(capsys):
    checks.check_latent_grid(lambda n=21, limit=4.0: getattr(labvae, "latent" + "_grid")(n, limit))
    assert labvae.latent_grid is labvae.grid.latent_grid is fallbacks.latent_grid
    assert labvae.latent_grid(3, 1.0).shape == (9, 2)  # switched back on after the check


# --- the retrained AE (correct styles and wrong kinds: test_ae_check) --------------------------


def test_ae_that_loads_labvaes_model_is_a_shortcut(capsys):
    def loads(x_train, x_test):
        return labvae.lab_config(progress=False).model("ae", x_train, x_test)

    x_train, _, x_test, _ = labvae.lab_config(progress=False).load_data()
    assert_flags(checks.check_ae, checks.attempt(loads, x_train, x_test), "labvae's own cfg.model", capsys)


# --- hints that name the cause, and never contradict themselves -----------------------------


def probe_tiles(decode, z, n):
    with torch.no_grad():
        return decode(z).reshape(n, n, TILE, TILE)


def lay(tiles, n):
    return tiles.permute(0, 2, 1, 3).reshape(1, n * TILE, n * TILE)


def one_code_wrong(n=21, limit=4.0):
    z = own_grid(n, limit).clone()
    z[30] = z[31]
    return z


def one_tile_changed(decode, z, n):
    image = own_sweep(decode, z, n).clone()
    image[0, 28 * 3 + 5, 28 * 4 + 5] = 0.5 if image[0, 28 * 3 + 5, 28 * 4 + 5] != 0.5 else 0.25
    return image


HINTS = {
    "one code out of place": (checks.check_latent_grid, one_code_wrong, "code 30 (tile row 1, column 9)"),
    "mirrored tiles": (checks.check_sweep, lambda d, z, n: lay(probe_tiles(d, z, n).flip(-1), n), "each tile is mirrored"),
    "upside-down tiles": (checks.check_sweep, lambda d, z, n: lay(probe_tiles(d, z, n).flip(-2), n), "each tile is upside down"),
    "inverted pixels": (checks.check_sweep, lambda d, z, n: 1 - own_sweep(d, z, n), "inverted (1 - x)"),
    "one tile changed": (checks.check_sweep, one_tile_changed, "row 3, column 4 shows the right code"),
    "KL missing -0.5": (checks.check_kl, lambda mu, lv: (1 + lv - mu.pow(2) - lv.exp()).sum() / len(mu), "a KL is never negative"),
    "KL minus a constant": (checks.check_kl, lambda mu, lv: kl_terms(mu, lv).sum() / len(mu) - 50, "a KL is never negative"),
    "KL wrong sign": (checks.check_kl, lambda mu, lv: -kl_terms(mu, lv).sum() / len(mu), "a KL is never negative"),
}


@pytest.mark.parametrize("name", HINTS)
def test_hints_name_the_cause(name, capsys):
    check, fn, hint = HINTS[name]
    result = assert_flags(check, fn, hint, capsys)
    assert "not from [-4" not in result.message and "expected [-4, 4] and [4, -4]" not in result.message


def test_solutions_in_the_notebooks_pass(capsys):
    for check, fn in ((checks.check_reparameterize, solution("01_training", "reparameterize")),
                      (checks.check_kl, solution("01_training", "kl_divergence")),
                      (checks.check_loss, solution("01_training", "vae_loss")),
                      (checks.check_latent_grid, own_grid), (checks.check_sweep, own_sweep),
                      (checks.check_ae_sweep, own_sweep_model)):
        assert verdict(check, fn, capsys).passed
