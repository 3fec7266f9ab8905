import json

import pytest
import torch

import labvae
from labvae import analysis
from labvae.analysis import claims as C
from labvae.analysis import judge as J

NAN = float("nan")


# ---------------------------------------------------------------------------------------------
# The judge on inputs whose answer we know.


def test_noise_is_not_a_garment(judge):
    gen = torch.Generator().manual_seed(1)
    for x in (torch.rand(300, 784, generator=gen), 0.3 * torch.rand(300, 1, 28, 28, generator=gen)):
        s = judge.score(x)
        assert s["frac_garment"] == 0 and s["classes"] == 0 and set(s["labels"]) == {J.NOT_A_GARMENT}


@pytest.mark.parametrize("level", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_flat_grey_is_not_a_garment(judge, level):
    s = judge.score(torch.full((4, 1, 28, 28), level))
    assert s["frac_garment"] == 0 and s["labels"] == [J.NOT_A_GARMENT] * 4


def test_noise_is_never_a_confident_class(judge):
    """Whatever the bare classifier says about noise or grey, the judge names no class for it."""
    x = torch.cat([torch.rand(200, 784, generator=torch.Generator().manual_seed(2)), torch.full((5, 784), 0.5)])
    s = judge.score(x)
    assert s["frac_confident"] == 0 and sum(s["tiles_per_class"].values()) == 0
    assert all(0 <= r["classifier_alone_confident"] <= 1 for r in judge.calibration_report())


def test_real_images_are_mostly_garments(judge, data):
    _, _, x_test, _ = data
    assert judge.score(x_test)["frac_garment"] > 0.9


def test_calibration_report_rows(judge, data):
    _, _, x_test, _ = data
    rows = {r["input"]: r for r in judge.calibration_report(x_test)}
    for name, r in rows.items():
        if name.startswith(("uniform noise", "flat grey")):
            assert r["frac_garment"] == 0, name
    assert rows["held-out real images"]["frac_garment"] > 0.9 and rows["test images"]["frac_garment"] > 0.9
    assert rows["class means (held-out images)"]["n"] == 10
    table = J.calibration_table(list(rows.values()))
    assert "flat grey 0.50" in table and "not a garment" in table


def test_thresholds_come_from_the_real_images(classifier, data):
    x_train, y_train, _, _ = data
    a = J.calibrate(classifier, x_train, y_train)
    b = J.calibrate(classifier, x_train * 0.5, y_train)  # fainter real data: fainter is normal
    assert b.min_contrast == pytest.approx(a.min_contrast * 0.5, rel=1e-4)
    assert a.radius > 0 and a.jump > 0 and len(a.holdout) == 400  # a fifth of 2000, kept out of both


def test_a_class_counts_only_with_enough_confident_tiles(judge, data):
    _, _, x_test, _ = data
    probs = judge.classifier.probs(x_test)
    sure = (probs.max(1).values >= J.CONFIDENT) & judge.garments(x_test)
    one = x_test[sure.nonzero()[0, 0]]  # a real image the judge names confidently
    assert judge.score(one.expand(J.MIN_TILES - 1, 1, 28, 28))["classes"] == 0
    assert judge.score(one.expand(J.MIN_TILES, 1, 28, 28))["classes"] == 1


def test_bad_input_is_one_sentence(judge, classifier):
    with pytest.raises(ValueError, match="28x28"):
        judge.score(torch.rand(3, 10))
    with pytest.raises(ValueError, match="at least 50"):
        J.calibrate(classifier, torch.rand(10, 784))
    with pytest.raises(ValueError, match="n\\*n"):
        judge.transitions(torch.rand(10, 784), n=3)


# ---------------------------------------------------------------------------------------------
# Verdicts from fabricated metric dicts: for each claim, holds / does not hold / mixed.

VAE = {"classes": 8, "effective_classes": 6.0, "frac_not_garment": 0.10, "frac_unsure": 0.10,
       "frac_distinct_garments": 0.30, "garment_spread": 1.0, "sharpness_rel": 0.8, "grey_rel": 0.05,
       "frac_path_garment": 0.9, "path_reach": 0.8, "frac_codes_inside": 1.0, "frac_cells_hit": 0.5,
       "kl_gauss": 0.6, "ks_max": 0.08, "fit_gap": 3.5, "fit_gap_rel": 0.013, "fit_gap_se": 0.5, "fit_gap_rel_se": 0.002}

CASES = [  # (claim, the AE's values that differ from the VAE's, expected verdict)
    ("diverse", {"classes": 2, "effective_classes": 2.0}, "holds"),
    ("diverse", {"classes": 7, "effective_classes": 5.5}, "does not hold"),
    ("diverse", {"classes": 3, "effective_classes": 6.2}, "mixed"),  # fewer classes, evenly spread
    ("ambiguous", {"frac_not_garment": 0.8, "frac_unsure": 0.4}, "holds"),
    ("ambiguous", {"frac_not_garment": 0.12, "frac_unsure": 0.05}, "does not hold"),
    ("ambiguous", {"frac_not_garment": 0.8, "frac_unsure": 0.1}, "mixed"),  # off the data, but clear when on it
    ("less_variation", {"frac_distinct_garments": 0.02, "garment_spread": 0.3}, "holds"),
    ("less_variation", {"frac_distinct_garments": 0.28, "garment_spread": 0.95}, "does not hold"),
    ("less_variation", {"frac_distinct_garments": 0.10, "garment_spread": 1.1}, "mixed"),
    ("blurred", {"sharpness_rel": 0.5, "grey_rel": 0.2}, "holds"),
    ("blurred", {"sharpness_rel": 1.5, "grey_rel": 0.05}, "does not hold"),  # noise is not blur
    ("blurred", {"sharpness_rel": 1.5, "grey_rel": 0.5}, "mixed"),
    ("transitions", {"frac_path_garment": 0.2, "path_reach": 0.2}, "holds"),
    ("transitions", {"frac_path_garment": 0.85, "path_reach": 0.78}, "does not hold"),
    ("transitions", {"frac_path_garment": 0.2, "path_reach": 0.8}, "mixed"),  # gets there, but through noise
    ("window", {"frac_codes_inside": 0.7, "frac_cells_hit": 0.15}, "holds"),
    ("window", {"frac_codes_inside": 0.95, "frac_cells_hit": 0.45}, "does not hold"),
    ("window", {"frac_codes_inside": 0.8, "frac_cells_hit": 0.6}, "mixed"),  # fewer inside, more cells hit
    ("not_normal", {"kl_gauss": 3.0, "ks_max": 0.4}, "holds"),
    ("not_normal", {"kl_gauss": 0.8, "ks_max": 0.1}, "does not hold"),
    ("not_normal", {"kl_gauss": 0.7, "ks_max": 0.4}, "mixed"),  # the prior's moments, another shape
    ("overfit", {"fit_gap": 9.0, "fit_gap_rel": 0.03}, "holds"),
    ("overfit", {"fit_gap": 2.0, "fit_gap_rel": 0.005}, "does not hold"),  # the lab AE: under-fit, not over
    ("overfit", {"fit_gap": 6.5, "fit_gap_rel": 0.005}, "mixed"),  # more nats, a smaller share of a larger loss
]


def claim(key):
    return next(c for c in C.CLAIMS if c.key == key)


@pytest.mark.parametrize("key, ae, expected", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_verdict_per_claim(key, ae, expected):
    assert C.verdict(claim(key), VAE, {**VAE, **ae})["verdict"] == expected


def test_every_claim_has_all_three_cases():
    for c in C.CLAIMS:
        assert {e for k, _, e in CASES if k == c.key} == {"holds", "does not hold", "mixed"}, c.key


def test_an_unmeasurable_primary_cannot_tell():
    assert C.verdict(claim("blurred"), VAE, {**VAE, "sharpness_rel": NAN})["verdict"] == "cannot tell"
    # an unmeasurable secondary leaves the primary's verdict
    assert C.verdict(claim("ambiguous"), VAE, {**VAE, "frac_not_garment": 0.9, "frac_unsure": NAN})["verdict"] == "holds"


def test_margins_are_thresholds_not_any_difference():
    c = claim("window")
    just = {**VAE, "frac_codes_inside": 1.0 - c.primary.margin, "frac_cells_hit": 0.5 - c.secondary.margin}
    assert C.verdict(c, VAE, just)["verdict"] == "holds"
    short = {**VAE, "frac_codes_inside": 0.95, "frac_cells_hit": 0.45}
    assert C.verdict(c, VAE, short)["verdict"] == "does not hold"


def test_a_gap_within_its_noise_cannot_tell():
    """Gaps of a few nats measured with errors of about one cannot show overfitting either way."""
    c = claim("overfit")
    noisy = {"fit_gap_se": 1.2, "fit_gap_rel_se": 0.004}
    assert C.verdict(c, {**VAE, **noisy}, {**VAE, **noisy, "fit_gap": 4.4, "fit_gap_rel": 0.016})["verdict"] == "cannot tell"
    sure = {"fit_gap_se": 0.01, "fit_gap_rel_se": 0.0001}  # the same numbers, measured precisely: decided
    assert C.verdict(c, {**VAE, **sure}, {**VAE, **sure, "fit_gap": 4.4, "fit_gap_rel": 0.016})["verdict"] == "does not hold"


def test_every_verdict_carries_its_margin_to_the_threshold():
    judged = C.judge_claims({"VAE": VAE, "AE": {**VAE, "fit_gap": 4.4, "frac_codes_inside": 0.7}})
    window = next(c for c in judged if c["key"] == "window")
    assert window["margins"]["AE"][0][0] == "0.2 past 0.1"
    overfit = next(c for c in judged if c["key"] == "overfit")
    assert overfit["margins"]["AE"][0][0].startswith("0.1 short of 1 (noise +-1.4)")
    summary = C.verdict_summary(judged)
    assert "0.2 past 0.1" in summary and "short of" in summary


def test_diverse_and_less_variation_rest_on_different_measures():
    keys = {c.key: {c.primary.key, c.secondary.key} for c in C.CLAIMS}
    assert not keys["diverse"] & keys["less_variation"]
    primaries = [c.primary.key for c in C.CLAIMS]
    assert len(set(primaries)) == len(primaries)


def test_declaration_states_every_measure_and_reason():
    text = C.claims_declaration()
    for c in C.CLAIMS:
        assert c.text in text and c.primary.rule() in text and c.secondary.rule() in text and c.primary.why in text


# ---------------------------------------------------------------------------------------------
# Seeds and several AEs.


def test_seeds_that_disagree_depend_on_the_seed():
    holds = {**VAE, "frac_codes_inside": 0.7, "frac_cells_hit": 0.15}
    results = {"VAE": [VAE] * 3, "lab AE": [holds, VAE, holds], "AE-512": [holds] * 3, "AE-x": [VAE] * 3}
    window = next(c for c in C.judge_claims(results) if c["key"] == "window")
    assert window["verdicts"] == {"lab AE": "depends on the seed", "AE-512": "holds", "AE-x": "does not hold"}
    assert window["per_seed"]["lab AE"] == ["holds", "does not hold", "holds"]
    assert window["values"]["lab AE"]["primary"] == [0.7, 1.0, 0.7]


def test_seeds_are_paired_and_json_is_strict():
    with pytest.raises(ValueError, match="seed by seed"):
        C.judge_claims({"VAE": [VAE] * 3, "AE": [VAE] * 2})
    with pytest.raises(ValueError, match="no results for"):
        C.judge_claims({"AE": [VAE]}, vae="VAE")
    judged = C.judge_claims({"VAE": VAE, "AE": {**VAE, "sharpness_rel": NAN}})  # one dict = one seed
    json.dumps(judged, allow_nan=False)
    assert next(c for c in judged if c["key"] == "blurred")["verdicts"]["AE"] == "cannot tell"
    assert "CANNOT TELL" in C.verdict_table(judged)


def test_verdict_table_shows_both_measures_and_seeds():
    results = {"VAE": [VAE] * 3, "AE": [{**VAE, "frac_path_garment": 0.2, "path_reach": 0.8}] * 3}
    text = C.verdict_table(C.judge_claims(results))
    assert "MIXED   (seeds: mixed / mixed / mixed)" in text and "primary:" in text and "secondary:" in text


def test_claims_on_trained_models_follow_the_numbers(trained_vae, judge, data):
    _, _, x_test, y_test = data
    results = analysis.compare_seeds({"VAE": [trained_vae], "AE": [labvae.Autoencoder()]}, judge, x_test, y_test)
    judged = C.judge_claims(results)
    assert len(judged) == len(C.CLAIMS)
    ambiguous = next(c for c in judged if c["key"] == "ambiguous")
    assert ambiguous["values"]["AE"]["primary"][0] > ambiguous["values"]["VAE"]["primary"][0]  # untrained: grey
    json.dumps(judged, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# The controls that must fail the judge: grey blobs (the mean image, speckled or not).


def test_grey_blobs_are_not_garments(judge, data):
    """A tile greyer than 98% of the real images is refused, whatever its shape; the limit comes from them."""
    x_train, _, _, _ = data
    x = x_train.reshape(len(x_train), -1)
    assert judge.max_grey == pytest.approx(J.grey_share(x).quantile(J.GREY_QUANTILE).item(), abs=0.05)
    washed = (0.5 * x[:200] + 0.3).clamp(0, 1)  # real shapes washed into mid-grey: a blob with a garment's outline
    blobs = washed[J.grey_share(washed) > judge.max_grey]
    assert len(blobs) > 100 and judge.score(blobs)["frac_garment"] == 0
    mean = x.mean(0, keepdim=True)
    speckled = (mean + J.SPECKLE * torch.randn(50, 784, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    grey = J.grey_share(speckled) > judge.max_grey
    assert not judge.garments(speckled)[grey].any()  # every speckled blob over the limit is refused


def test_every_control_reports_whether_it_met_its_expectation(judge, data):
    """Noise, flat grey and real images meet theirs on any data; the mean-image rows are read on real data."""
    _, _, x_test, _ = data
    rows = {r["input"]: r for r in judge.calibration_report(x_test)}
    assert {"mean training image", "held-out, blurred (std 1 px)", "held-out, blurred (std 2 px)"} <= set(rows)
    assert any(n.startswith("mean image + speckle") for n in rows)
    for name, r in rows.items():
        if r["as_expected"] is not None:
            assert r["as_expected"] == (r["frac_garment"] <= 0.05 if r["expected"] == "not a garment"
                                        else r["frac_garment"] >= 0.9), name
        if name.startswith(("uniform noise", "flat grey", "held-out real", "test images")):
            assert r["as_expected"], name
    assert "as expected" in J.calibration_table(list(rows.values()))


def test_repeated_images_do_not_shrink_the_thresholds(classifier, data):
    """Data tiled to a larger size holds each image many times: the judge calibrates on each once."""
    x_train, y_train, _, _ = data
    once = J.calibrate(classifier, x_train, y_train)
    tiled = J.calibrate(classifier, x_train.repeat(3, 1, 1, 1), y_train.repeat(3))
    assert tiled.radius == pytest.approx(once.radius, rel=0.05) and len(tiled.reference) == len(once.reference)
