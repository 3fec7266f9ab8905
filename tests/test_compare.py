import math

import pytest
import torch

import labvae
from labvae import analysis


def test_classifier_beats_chance_widely(classifier):
    assert classifier.accuracy > 0.6  # chance is 0.1


def test_classifier_is_deterministic(data):
    x, y, _, _ = data
    a = analysis.train_classifier(x[:500], y[:500], epochs=1, device="cpu")
    b = analysis.train_classifier(x[:500], y[:500], epochs=1, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_classifier_checkpoint_is_cached(data, tmp_path):
    x_train, y_train, x_test, y_test = data
    a = analysis.load_or_train_classifier(tmp_path / "c.pt", x_train[:500], y_train[:500], x_test, y_test, device="cpu")
    mtime = (tmp_path / "c.pt").stat().st_mtime_ns
    b = analysis.load_or_train_classifier(tmp_path / "c.pt", x_train[:500], y_train[:500], x_test, y_test, device="cpu")
    assert (tmp_path / "c.pt").stat().st_mtime_ns == mtime and b.accuracy == a.accuracy


def test_code_stats_counts():
    codes = torch.tensor([[0.0, 0.0], [0.1, 0.05], [3.9, -3.9], [10.0, 0.0]])
    s = analysis.code_stats(codes, n=21, limit=4.0)
    assert s["frac_codes_inside"] == 0.75
    assert s["frac_cells_hit"] == pytest.approx(2 / 441)  # two codes share the centre cell
    assert s["code_max"] == pytest.approx([10.0, 0.05])


def test_constant_decoder_has_one_distinct_tile_and_no_garment(judge, data):
    _, _, x_test, y_test = data

    class Constant(labvae.Autoencoder):
        def decode(self, z):
            return torch.full((len(z), 1, 28, 28), 0.5)

    r = analysis.compare_model(Constant(), judge, x_test, y_test)
    assert r["distinct_tiles"] == 1
    assert r["tile_step_mean"] == 0 and r["tile_step_max"] == 0
    assert r["frac_garment"] == 0 and r["classes"] == 0 and r["frac_off_data_steps"] == 1
    assert math.isnan(r["sharpness_rel"])  # no garment tiles: not measurable, never a number for grey
    assert set(r["maps"]["labels"]) == {-1} and len(r["maps"]["labels"]) == 441


def test_two_valued_decoder_counts_two_tiles(judge, data):
    _, _, x_test, y_test = data

    class Halves(labvae.Autoencoder):  # left half of the sweep black, right half white
        def decode(self, z):
            return (z[:, 0] > 0).float().view(-1, 1, 1, 1).expand(-1, 1, 28, 28)

    r = analysis.compare_model(Halves(), judge, x_test, y_test)
    assert r["distinct_tiles"] == 2
    assert r["tile_step_max"] == pytest.approx(1.0)
    assert r["frac_jumps"] == pytest.approx(21 / 840)  # one black-to-white step in each of 21 rows
    assert max(r["maps"]["continuity_map"]) > 0


def test_metrics_on_trained_vae(trained_vae, judge, data):
    _, _, x_test, y_test = data
    r = analysis.compare_model(trained_vae, judge, x_test, y_test)
    for key in ("frac_codes_inside", "frac_cells_hit", "frac_confident", "frac_garment", "frac_jumps",
                "frac_off_data_steps", "frac_distinct_garments"):
        assert 0 <= r[key] <= 1
    assert 0 <= r["classes"] <= 10 and 1 <= r["distinct_tiles"] <= 441
    assert r["frac_codes_inside"] > 0.9  # the KL term keeps codes near the origin
    assert r["frac_garment"] > 0.2  # even after 3 epochs a good part of the sweep looks like real images
    assert r["test_loss"] == trained_vae.history.test[-1]["loss"]
    again = analysis.compare_model(trained_vae, judge, x_test, y_test)
    assert again == r  # deterministic


def test_metrics_table_shows_the_spread_over_seeds():
    runs = {"VAE": [{"classes": 4, "frac_garment": 0.8}, {"classes": 6, "frac_garment": 0.9},
                    {"classes": 5, "frac_garment": 0.85}],
            "AE": [{"classes": 1, "frac_garment": float("nan")}] * 3}
    table = analysis.metrics_table(runs)
    assert "5 (4..6)" in table and "85% (80%..90%)" in table and "n/a" in table and "3 seeds" in table


def test_weight_scale_is_one_before_training_and_moves_after(trained_vae):
    assert all(v == pytest.approx(1.0) for v in analysis.weight_scale(labvae.Autoencoder()).values())
    assert any(abs(v - 1) > 0.05 for v in analysis.weight_scale(trained_vae).values())


def test_still_improving_is_the_last_relative_fall():
    h = labvae.History(train=[{"loss": 100.0}, {"loss": 90.0}, {"loss": 89.1}])
    assert analysis.still_improving(h) == pytest.approx(0.01)
    assert analysis.still_improving(h, last=2) == pytest.approx((100 - 89.1) / 100 / 2)
    assert math.isnan(analysis.still_improving(labvae.History(train=[{"loss": 1.0}])))


def test_comparison_figure(trained_vae, judge, data, tmp_path):
    _, _, x_test, y_test = data
    r = analysis.compare_model(trained_vae, judge, x_test, y_test)
    analysis.comparison_figure({"VAE": trained_vae}, {"VAE": r}, x_test, y_test, path=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_code_clouds_share_one_axes(trained_vae, data):
    _, _, x_test, _ = data
    codes = {"VAE": labvae.latent_codes(trained_vae, x_test), "AE": labvae.latent_codes(labvae.Autoencoder(), x_test)}
    ax = analysis.plot_code_clouds(codes)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["VAE", "AE"] and any("N(0, I)" in t for t in labels)
    assert ax.get_xlim()[0] <= -4 and ax.get_xlim()[1] >= 4
