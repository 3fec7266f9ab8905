"""The KL weight beta, the fixed posterior sigma, and the beta family's table, figure and JSON."""

import json
import math

import pytest
import torch

import labvae
from labvae import analysis
from labvae.analysis import beta as family
from labvae.analysis.judge import calibrate
from labvae.checkpoints import CHECKPOINT_FORMAT


def terms_with_noise(model, x, seed=0):
    torch.manual_seed(seed)  # the same reparameterisation noise for every model
    return model.loss(x)


def test_beta_weights_the_kl_term():
    x = torch.rand(16, 1, 28, 28)
    t0, t1, t2 = (terms_with_noise(labvae.VAE(beta=b), x) for b in (0.0, 1.0, 2.0))
    # Same seed, same weights, same noise: recon and the (unweighted) KL agree across beta.
    assert torch.equal(t0["recon"], t1["recon"]) and torch.equal(t0["kl"], t2["kl"])
    assert t1["kl"] > 0
    assert torch.equal(t0["loss"], t0["recon"])  # beta = 0: the prior is gone, the noise stays
    assert torch.equal(t1["loss"], t1["recon"] + t1["kl"])  # beta = 1: exactly the lab's negative ELBO
    assert torch.allclose(t2["loss"], t2["recon"] + 2 * t2["kl"])


def test_beta_zero_still_samples_noise():
    vae = labvae.VAE(beta=0.0)
    x = torch.rand(8, 1, 28, 28)
    assert not torch.equal(terms_with_noise(vae, x, 0)["recon"], terms_with_noise(vae, x, 1)["recon"])


def test_beta_does_not_change_the_initial_weights():
    a, b, c = labvae.VAE(), labvae.VAE(beta=4.0), labvae.VAE(posterior_sigma=0.01)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q) and torch.equal(p, r)


def test_lab_configs_keep_their_dict():
    # Checkpoint cache keys are built from to_dict: the lab's models must keep exactly the old keys.
    assert labvae.VAE().config.to_dict() == {"kind": "vae", "latent_dim": 2, "hidden_dim": 512, "seed": 0}
    assert labvae.MODELS["ae"].to_dict() == {"kind": "ae", "latent_dim": 2, "hidden_dim": None, "seed": 0}
    assert labvae.VAE(beta=0.5).config.to_dict()["beta"] == 0.5
    assert labvae.VAE(posterior_sigma=0.1).config.to_dict()["posterior_sigma"] == 0.1


def test_fixed_sigma_makes_kl_depend_on_mu_only():
    sigma = 0.05
    vae = labvae.VAE(posterior_sigma=sigma)
    x = torch.rand(8, 1, 28, 28)
    mu, logvar = vae.encode(x)
    assert torch.allclose(logvar, torch.full_like(mu, 2 * math.log(sigma)))
    constant = 0.5 * (sigma**2 - 1 - 2 * math.log(sigma)) * mu.shape[1]  # per image, from sigma alone
    expected = 0.5 * mu.pow(2).sum(1).mean() + constant
    assert torch.allclose(terms_with_noise(vae, x)["kl"], expected, rtol=1e-5)
    before = terms_with_noise(vae, x)
    with torch.no_grad():
        vae.to_logvar.weight.normal_()  # unused when sigma is fixed: the loss must not move
        vae.to_logvar.bias.fill_(3.0)
    after = terms_with_noise(vae, x)
    assert all(torch.equal(before[k], after[k]) for k in ("loss", "recon", "kl"))


def test_fixed_sigma_trains_without_touching_logvar(data):
    vae = labvae.VAE(posterior_sigma=0.01)
    before = vae.to_logvar.weight.clone()
    labvae.fit(vae, data[0][:512], epochs=1, progress=False, device="cpu")
    assert torch.equal(vae.to_logvar.weight, before)
    assert torch.allclose(labvae.posterior_std(vae, data[2][:50]), torch.full((50, 2), 0.01))


def test_posterior_std(trained_vae, data):
    x = data[2][:64]
    sigma = labvae.posterior_std(trained_vae, x)
    _, logvar = trained_vae.encode(x)
    assert sigma.shape == (64, 2) and (sigma > 0).all()
    assert torch.allclose(sigma, torch.exp(0.5 * logvar.detach()))
    with pytest.raises(ValueError, match="needs a VAE"):
        labvae.posterior_std(labvae.Autoencoder(), x)


@pytest.mark.parametrize("kwargs, message", [
    ({"beta": -1.0}, "finite number >= 0"), ({"beta": float("nan")}, "finite number >= 0"),
    ({"beta": float("inf")}, "finite number >= 0"), ({"beta": "1"}, "finite number >= 0"),
    ({"posterior_sigma": 0.0}, "finite number > 0"), ({"posterior_sigma": -0.1}, "finite number > 0"),
    ({"posterior_sigma": float("nan")}, "finite number > 0"),
])
def test_bad_beta_or_sigma(kwargs, message):
    with pytest.raises(ValueError, match=message):
        labvae.VAE(**kwargs)


def test_an_ae_has_no_beta():
    with pytest.raises(ValueError, match="belong to the VAE"):
        labvae.ModelConfig("ae", hidden_dim=None, beta=2.0)


def test_old_checkpoints_load(tmp_path, trained_vae):
    # A checkpoint written before beta existed: its config has no beta or posterior_sigma key.
    path = tmp_path / "old.pt"
    torch.save({"format": CHECKPOINT_FORMAT,
                "config": {"kind": "vae", "latent_dim": 2, "hidden_dim": 512, "seed": 0},
                "state_dict": trained_vae.state_dict(), "history": None, "meta": {}}, path)
    model = labvae.load_checkpoint(path)
    assert model.config.beta == 1.0 and model.config.posterior_sigma is None
    z = torch.randn(4, 2)
    assert torch.equal(model.decode(z), trained_vae.decode(z))


def test_beta_survives_a_checkpoint(tmp_path):
    vae = labvae.VAE(beta=0.5, posterior_sigma=0.2, seed=3)
    labvae.save_checkpoint(vae, tmp_path / "b.pt")
    back = labvae.load_checkpoint(tmp_path / "b.pt")
    assert back.config == vae.config


# ---------------------------------------------------------------------------------------------
# The family


@pytest.fixture(scope="module")
def family_run(synthetic_root, data, tmp_path_factory):
    """The whole family, 1 epoch on the small synthetic data, measured and judged."""
    out = tmp_path_factory.mktemp("beta")
    cfg = labvae.LabConfig(data=synthetic_root, epochs=1, out=out, progress=False, device="cpu")
    x_train, y_train, x_test, y_test = data
    models = family.train_family(cfg, x_train, x_test)
    clf = analysis.train_classifier(x_train, y_train, x_test, y_test, epochs=2, device="cpu")
    judge = calibrate(clf, x_train, y_train)
    return cfg, models, family.family_metrics(models, x_test, judge)


def test_family_has_every_beta_and_the_fixed_sigma_model(family_run, data):
    cfg, models, rows = family_run
    assert list(models) == ["vae-beta0", "vae-beta0.1", "vae-beta0.5", "vae", "vae-beta2", "vae-beta4",
                            "vae-sigma0.01"]
    assert [rows[n]["beta"] for n in models] == [0, 0.1, 0.5, 1, 2, 4, 1]
    assert rows["vae-sigma0.01"]["posterior_sigma"] == 0.01 and rows["vae"]["posterior_sigma"] is None
    # beta = 1 is the lab's VAE: its checkpoint is vae.pt, shared with `sweep` and the notebooks.
    assert (cfg.out / "vae.pt").is_file() and not (cfg.out / "vae-beta1.pt").exists()
    z = torch.randn(5, 2)
    assert torch.equal(cfg.model("vae", data[0], data[2]).decode(z), models["vae"].decode(z))  # loaded, not retrained


def test_core_betas_load_the_family_models_and_train_nothing_else(family_run, data):
    cfg, models, _ = family_run
    core = family.train_family(cfg, data[0], data[2], fixed_sigma=False, betas=labvae.config.CORE_BETAS)
    assert list(core) == ["vae-beta0", "vae", "vae-beta4"]  # notebook 5's core lesson, in beta order
    z = torch.randn(5, 2)
    assert all(torch.equal(core[n].decode(z), models[n].decode(z)) for n in core)  # the same checkpoints


def test_change_reads_two_rows_as_printed():
    before, after = {"kl": 6.43, "inside": 0.998}, {"kl": 3.92, "inside": 0.9998}
    assert family.change(before, after, "kl", "{:.2f} nats") == "falls from 6.43 nats to 3.92 nats"
    assert family.change(after, before, "kl") == "rises from 3.92 to 6.43"
    assert family.change(before, after, "inside", "{:.0%}") == "stays at 100%"  # not "rises from 100% to 100%"


def test_a_beta_outside_the_family_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match=r"beta 3 is not in the family; choose from 0, 0\.1, 0\.5, 1, 2, 4\."):
        family.family_names(betas=(0.0, 3.0))


def test_family_rows_are_finite_numbers(family_run):
    _, _, rows = family_run
    for row in rows.values():
        for key in ("test_recon", "test_kl", "frac_codes_inside", "frac_cells_hit", "frac_garment", "sigma_median"):
            assert isinstance(row[key], float) and math.isfinite(row[key]), key
        assert 0 <= row["frac_codes_inside"] <= 1 and 0 <= row["frac_garment"] <= 1
        assert isinstance(row["classes"], int) and 0 <= row["classes"] <= 10
    assert rows["vae-beta0"]["test_kl"] > rows["vae-beta4"]["test_kl"]  # the prior's pull, even after 1 epoch


def test_metrics_are_repeatable(family_run, data):
    _, models, rows = family_run
    again = family.model_metrics(models["vae-beta2"], data[2])
    for key in ("test_recon", "test_kl", "frac_codes_inside"):
        assert again[key] == rows["vae-beta2"][key]


def test_table_names_every_model(family_run):
    _, _, rows = family_run
    table = family.beta_table(rows)
    assert len(table.splitlines()) == 1 + len(rows)
    for word in ("β=0", "β=0.1", "σ fixed 0.01", "median sigma", "recon", "KL", "inside", "cells", "garments",
                 "classes"):
        assert word in table


def test_figure_and_strict_json(family_run, data, tmp_path):
    _, models, rows = family_run
    fig = family.beta_figure(models, rows, data[2], data[3], path=tmp_path / "beta.png")
    assert (tmp_path / "beta.png").stat().st_size > 10_000
    assert len(fig.axes) >= 2 * len(models) + 5
    result = family.to_json(rows, {"epochs": 1})
    family.write_json(tmp_path / "beta.json", result)
    back = json.loads((tmp_path / "beta.json").read_text(), parse_constant=pytest.fail)
    assert set(back) == {"settings", "models", "trends"} and set(back["models"]) == set(rows)
    with pytest.raises(ValueError):
        family.write_json(tmp_path / "bad.json", {"x": float("nan")})
    assert not (tmp_path / "bad.json").exists()


def test_trend():
    def rows(values, key="k"):
        out = {f"m{i}": {"beta": b, "posterior_sigma": None, key: v} for i, (b, v) in enumerate(values)}
        out["fixed"] = {"beta": 1.0, "posterior_sigma": 0.01, key: 99.0}  # not on the beta axis
        return out

    assert family.trend(rows([(0, 0.3), (1, 0.9), (4, 1.0), (2, 0.95)]), "k") == "rises"
    assert family.trend(rows([(0, 30.0), (1, 6.0), (4, 4.0)]), "k") == "falls"
    assert family.trend(rows([(0, 0.5), (1, 0.6), (4, 0.3)]), "k") == "not monotone"
    assert family.trend(rows([(0, 1.0), (1, 1.0), (4, 1.0)]), "k") == "flat"


def test_plot_codes_draws_sigma_ellipses():
    from matplotlib.collections import EllipseCollection

    codes, sigma, y = torch.randn(300, 2), torch.rand(300, 2), torch.randint(0, 10, (300,))
    ax = analysis.plot_codes(codes, y, sigma=sigma, max_ellipses=40)
    ellipses = [c for c in ax.collections if isinstance(c, EllipseCollection)]
    assert len(ellipses) == 1 and len(ellipses[0].get_offsets()) == 40
    assert not [c for c in analysis.plot_codes(codes, y).collections if isinstance(c, EllipseCollection)]
    with pytest.raises(ValueError, match="one \\(sigma1, sigma2\\) per code"):
        analysis.plot_codes(codes, y, sigma=sigma[:10])
