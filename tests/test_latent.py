"""Interpolation paths, the aggregate posterior and the train/test gap, on small synthetic tensors and models."""

import math

import pytest
import torch

import labvae
from labvae import analysis
from labvae.analysis import posterior


class Line(labvae.Autoencoder):
    """Codes are (mean pixel, 0); decode(z) is a flat image of brightness sigmoid(z1): a known latent line."""

    def encode(self, x):
        m = x.reshape(len(x), -1).mean(1)
        return torch.stack([m, torch.zeros_like(m)], 1)

    def decode(self, z):
        return torch.sigmoid(z[:, :1]).view(-1, 1, 1, 1).expand(-1, 1, 28, 28)


class Everything:
    """A stand-in judge: every image is a garment, or none is."""

    def __init__(self, verdict=True):
        self.verdict = verdict
        self.reference = torch.linspace(0, 1, 11).view(-1, 1).expand(11, 784)  # flat images, every tenth level
        self.jump = 0.06  # farther than this from every reference image: far from the data

    def garments(self, x):
        return torch.full((len(x),), self.verdict)


def test_interpolate_runs_from_one_code_to_the_other():
    x = torch.stack([torch.full((1, 28, 28), 0.0), torch.full((1, 28, 28), 1.0)])
    paths = analysis.interpolate(Line(), x[:1], x[1:], steps=5)  # codes 0 -> 1
    assert paths.shape == (1, 5, 1, 28, 28)
    brightness = paths[0, :, 0, 0, 0]
    assert torch.allclose(brightness, torch.sigmoid(torch.linspace(0, 1, 5)))


def test_an_even_morph_and_a_switch_score_apart():
    t = torch.linspace(0, 1, 10)
    morph = t.view(1, 10, 1).expand(1, 10, 784)  # brightness 0 -> 1 in nine equal steps
    switch = (t > 0.5).float().view(1, 10, 1).expand(1, 10, 784)  # all the change in one step
    assert analysis.score_paths(morph, Everything())["path_jump_share"] == pytest.approx(1 / 9)
    s = analysis.score_paths(switch, Everything(False))
    assert s["path_jump_share"] == pytest.approx(1.0) and s["frac_path_garment"] == 0
    assert s["path_step_max"] == pytest.approx(1.0)


def test_a_path_that_never_moves_reaches_nothing():
    """The scale-free step share calls a still path even; the reach says it never gets to the second image."""
    a, b = torch.full((3, 784), 0.1), torch.full((3, 784), 0.9)
    still = torch.full((3, 10, 784), 0.5) + 1e-3 * torch.linspace(0, 1, 10).view(1, 10, 1)  # creeps, evenly
    s = analysis.score_paths(still, Everything(), (a, b))
    assert s["path_reach"] < 0.01 and s["path_jump_share"] == pytest.approx(1 / 9, abs=0.01)
    full = torch.linspace(0.1, 0.9, 10).view(1, 10, 1).expand(3, 10, 784)
    assert analysis.score_paths(full, Everything(), (a, b))["path_reach"] == pytest.approx(1.0)


def test_path_points_far_from_every_real_image_are_counted():
    near = torch.full((2, 10, 784), 0.3)  # on a reference level
    speckle = (0.35 + 0.2 * torch.randn(2, 10, 784, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert analysis.score_paths(near, Everything())["path_far"] == 0
    assert analysis.score_paths(speckle, Everything())["path_far"] == 1


def test_holes_compare_garments_in_cells_with_and_without_codes():
    from labvae.analysis.metrics import holes
    n, limit = 3, 1.0
    codes = torch.tensor([[-1.0, 1.0], [0.0, 0.0], [5.0, 5.0]])  # top-left cell, the centre, one outside
    labels = [2, -1, -1, -1, 4, -1, -1, -1, 7]  # garments in the two hit cells and one corner
    h = holes(labels, codes, n, limit)
    assert h["garment_in_code_cells"] == 1.0 and h["garment_in_empty_cells"] == pytest.approx(1 / 7)
    assert h["cells_empty"] == 7
    every = torch.tensor([[x, y] for y in (1.0, 0.0, -1.0) for x in (-1.0, 0.0, 1.0)])
    assert math.isnan(holes(labels, every, n, limit)["garment_in_empty_cells"])  # no holes: not measurable


def test_path_pairs_are_within_and_across_classes():
    y = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    pairs = analysis.path_pairs(y, n_within=3, n_across=4)
    assert len(pairs["within"]) == 3 and len(pairs["across"]) == 4
    assert all(y[i] == y[j] and i != j for i, j in pairs["within"])
    assert all(y[i] != y[j] for i, j in pairs["across"])
    assert analysis.path_pairs(y, 3, 4) == pairs  # the same pairs on every call


def test_path_metrics_on_the_known_line():
    x = torch.rand(20, 1, 28, 28)
    y = torch.arange(20) % 2
    r = analysis.path_metrics(Line(), Everything(), x, y, analysis.path_pairs(y, 4, 4))
    assert r["frac_path_garment"] == 1 and r["frac_path_garment_within"] == 1 and r["frac_path_garment_across"] == 1
    assert r["path_jump_share"] == pytest.approx(1 / 9, abs=0.01)  # sigmoid is nearly linear near 0.5


def test_no_pairs_are_not_measurable():
    r = analysis.path_metrics(Line(), Everything(), torch.rand(1, 1, 28, 28), torch.tensor([3]))
    assert math.isnan(r["frac_path_garment"]) and math.isnan(r["path_jump_share"]) and math.isnan(r["path_reach"])


def test_ks_and_gaussian_kl_are_zero_only_for_the_prior():
    z = torch.randn(20000, 2, generator=torch.Generator().manual_seed(0))
    m = analysis.moments(z)
    assert m["kl_gauss"] < 0.01 and max(m["ks"]) < 0.02
    wide = analysis.moments(torch.cat([3 * z[:, :1], z[:, 1:] + 1], 1))
    # KL of N((0, 1), diag(9, 1)) from N(0, I): 0.5 * (9 - 1 - ln 9) + 0.5 * 1
    assert wide["kl_gauss"] == pytest.approx(0.5 * (8 - math.log(9)) + 0.5, rel=0.05)
    assert wide["ks"][1] == pytest.approx(0.383, abs=0.02)  # shifted by one sigma: Phi(0.5) - Phi(-0.5)
    band = torch.stack([z[:, 0], z[:, 0]], 1)  # N(0, 1) marginals, but all codes on one line
    assert max(analysis.moments(band)["ks"]) < 0.02 and analysis.moments(band)["kl_gauss"] > 2


def test_aggregate_posterior_of_a_vae_samples_z_and_an_ae_does_not(trained_vae, data):
    _, _, x_test, _ = data
    vae = analysis.aggregate_posterior(trained_vae, x_test)
    assert vae["posterior_mu"]["var"] != vae["posterior_z"]["var"]  # sampled z adds sigma^2
    assert 0 <= vae["frac_prior_far"] <= 1 and vae["kl_gauss"] >= 0
    ae = labvae.Autoencoder()
    assert torch.equal(analysis.sampled_codes(ae, x_test), labvae.latent_codes(ae, x_test))
    assert analysis.aggregate_posterior(trained_vae, x_test) == vae  # seeded: the same numbers every call


def test_prior_far_counts_draws_away_from_every_code():
    class Corner(Line):  # every code at (5, 5): no prior draw comes near it
        def encode(self, x):
            return torch.full((len(x), 2), 5.0)

    assert analysis.aggregate_posterior(Corner(), torch.rand(50, 1, 28, 28))["frac_prior_far"] == 1.0
    assert posterior.NEAR == pytest.approx(0.2)


def test_fit_gap_is_test_minus_train_with_the_final_weights(trained_vae, data):
    x_train, _, x_test, _ = data
    g = analysis.fit_gap(trained_vae, x_train, x_test)
    assert g["fit_gap"] == pytest.approx(g["test_loss_final"] - g["train_loss_final"])
    assert g["fit_gap_rel"] == pytest.approx(g["fit_gap"] / g["train_loss_final"])
    assert analysis.fit_gap(trained_vae, x_train, x_test) == g  # the VAE's sampled z is seeded
    same = analysis.fit_gap(trained_vae, x_test, x_test)
    assert same["fit_gap"] == pytest.approx(0, abs=1e-4)


def test_weight_change_is_zero_before_training_and_moves_after(trained_vae):
    before = analysis.weight_change(labvae.Autoencoder())
    assert all(v["moved"] == 0 and v["cosine"] == pytest.approx(1) for v in before.values())
    after = analysis.weight_change(trained_vae)
    assert any(v["moved"] > 0.05 for v in after.values())


def test_path_and_posterior_figures(trained_vae, judge, data, tmp_path):
    _, _, x_test, y_test = data
    models = {"VAE": trained_vae, "AE": labvae.Autoencoder()}
    pairs = analysis.path_pairs(y_test, 1, 1)
    analysis.plot_paths(models, x_test, y_test, pairs["within"] + pairs["across"], judge, path=tmp_path / "p.png")
    analysis.plot_posterior(models, x_test, path=tmp_path / "q.png")
    assert (tmp_path / "p.png").stat().st_size > 5_000 and (tmp_path / "q.png").stat().st_size > 5_000


def test_compare_model_has_paths_posterior_and_gap(trained_vae, judge, data):
    x_train, _, x_test, y_test = data
    r = analysis.compare_model(trained_vae, judge, x_test, y_test, x_train=x_train)
    for key in ("frac_path_garment", "path_jump_share", "kl_gauss", "ks_max", "fit_gap", "frac_prior_far"):
        assert key in r and r[key] == r[key]
    assert "fit_gap" not in analysis.compare_model(trained_vae, judge, x_test)  # no x_train: no gap
