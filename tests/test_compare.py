import pytest
import torch

import labvae
from labvae import compare


@pytest.fixture(scope="module")
def classifier(data):
    x_train, y_train, x_test, y_test = data
    return compare.train_classifier(x_train, y_train, x_test, y_test, epochs=3, device="cpu")


def test_classifier_beats_chance_widely(classifier):
    assert classifier.accuracy > 0.6  # chance is 0.1


def test_classifier_is_deterministic(data):
    x, y, _, _ = data
    a = compare.train_classifier(x[:500], y[:500], epochs=1, device="cpu")
    b = compare.train_classifier(x[:500], y[:500], epochs=1, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_classifier_checkpoint_is_cached(data, tmp_path):
    x_train, y_train, x_test, y_test = data
    a = compare.load_or_train_classifier(tmp_path / "c.pt", x_train[:500], y_train[:500], x_test, y_test, device="cpu")
    mtime = (tmp_path / "c.pt").stat().st_mtime_ns
    b = compare.load_or_train_classifier(tmp_path / "c.pt", x_train[:500], y_train[:500], x_test, y_test, device="cpu")
    assert (tmp_path / "c.pt").stat().st_mtime_ns == mtime and b.accuracy == a.accuracy


def test_code_stats_counts():
    codes = torch.tensor([[0.0, 0.0], [0.1, 0.05], [3.9, -3.9], [10.0, 0.0]])
    s = compare.code_stats(codes, n=21, limit=4.0)
    assert s["frac_codes_inside"] == 0.75
    assert s["frac_cells_hit"] == pytest.approx(2 / 441)  # two codes share the centre cell
    assert s["code_max"] == pytest.approx([10.0, 0.05])


def test_class_stats_on_known_probabilities():
    probs = torch.zeros(4, 10)
    probs[0, 3] = probs[1, 3] = 1.0  # two confident tiles of class 3
    probs[2] = 0.1  # a uniform (maximally ambiguous) tile
    probs[3, 5], probs[3, 6] = 0.6, 0.4
    s = compare.class_stats(probs)
    assert s["frac_confident"] == 0.5 and s["frac_ambiguous"] == 0.25
    assert s["tiles_per_class"]["Dress"] == 2 and s["class_map"][3] == 5
    assert s["classes_present"] == 3  # 3, 0 (argmax of the uniform tile) and 5
    assert 0 < s["mean_entropy"] < torch.log(torch.tensor(10.0)).item()


def test_constant_decoder_has_one_distinct_tile_and_no_change(classifier, data):
    _, _, x_test, y_test = data

    class Constant(labvae.Autoencoder):
        def decode(self, z):
            return torch.full((len(z), 1, 28, 28), 0.5)

    r = compare.compare_model(Constant(), classifier, x_test, y_test)
    assert r["distinct_tiles"] == 1
    assert r["tile_step_mean"] == 0 and r["tile_step_max"] == 0
    assert r["classes_present"] == 1
    assert r["sharpness_tiles"] == pytest.approx(0.0, abs=1e-7)
    assert len(r["maps"]["class_map"]) == 441


def test_two_valued_decoder_counts_two_tiles(classifier, data):
    _, _, x_test, y_test = data

    class Halves(labvae.Autoencoder):  # left half of the sweep black, right half white
        def decode(self, z):
            return (z[:, 0] > 0).float().view(-1, 1, 1, 1).expand(-1, 1, 28, 28)

    r = compare.compare_model(Halves(), classifier, x_test, y_test)
    assert r["distinct_tiles"] == 2
    assert r["tile_step_max"] == pytest.approx(1.0)
    assert max(r["maps"]["continuity_map"]) > 0


def test_metrics_on_trained_vae(trained_vae, classifier, data):
    _, _, x_test, y_test = data
    r = compare.compare_model(trained_vae, classifier, x_test, y_test)
    for key in ("frac_codes_inside", "frac_cells_hit", "frac_confident", "frac_ambiguous"):
        assert 0 <= r[key] <= 1
    assert 1 <= r["classes_present"] <= 10 and 1 <= r["distinct_tiles"] <= 441
    assert r["frac_codes_inside"] > 0.9  # the KL term keeps codes near the origin
    assert r["nearest_real_median"] > 0 and r["sharpness_real"] > 0
    again = compare.compare_model(trained_vae, classifier, x_test, y_test)
    assert again == r  # deterministic


def test_claims_are_judged_from_numbers(trained_vae, classifier, data):
    _, _, x_test, y_test = data
    results = {"VAE": compare.compare_model(trained_vae, classifier, x_test, y_test),
               "AE": compare.compare_model(labvae.Autoencoder(), classifier, x_test, y_test)}
    claims = compare.judge_claims(results, vae="VAE")
    assert len(claims) == 6 and {c["verdict"] for c in claims} <= {"holds", "does not hold", "depends"}
    swapped = compare.judge_claims({"VAE": results["AE"], "AE": results["VAE"]}, vae="VAE")
    assert claims[0]["verdict"] != swapped[0]["verdict"] or claims[2]["verdict"] != swapped[2]["verdict"]
    assert "VAE" in compare.metrics_table(results) and "verdict" in compare.claims_table(claims)


def test_comparison_figure(trained_vae, classifier, data, tmp_path):
    _, _, x_test, y_test = data
    r = compare.compare_model(trained_vae, classifier, x_test, y_test)
    compare.comparison_figure({"VAE": trained_vae}, {"VAE": r}, x_test, y_test, path=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_code_clouds_share_one_axes(trained_vae, data):
    _, _, x_test, _ = data
    codes = {"VAE": labvae.latent_codes(trained_vae, x_test), "AE": labvae.latent_codes(labvae.Autoencoder(), x_test)}
    ax = compare.plot_code_clouds(codes)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["VAE", "AE"] and any("N(0, I)" in t for t in labels)
    assert ax.get_xlim()[0] <= -4 and ax.get_xlim()[1] >= 4
