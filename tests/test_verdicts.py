"""What a kernel sends the grader is untrusted: only small plain outputs load, and only right outputs pass."""

import base64
import io
import os
import pickle
import zipfile

import pytest
import torch
from answers import solution

import labvae
from labvae.course import checks
from labvae.course.checks import ae_check, exercises
from labvae.course.checks.sweep_checks import _grid_args
from labvae.course.grade import verdicts

GRID = exercises.exercise("1_1-grid")


def sent(data) -> str:
    buf = io.BytesIO()
    torch.save(data, buf)
    return base64.b64encode(buf.getvalue()).decode()


def reply(marker: str, payload: str) -> dict:
    return {"content": {"ename": "RuntimeError", "evalue": marker + payload}}


class Boom:
    def __reduce__(self):
        return (print, ("the grader ran this",))


def deflated() -> str:
    buf = io.BytesIO()
    torch.save({"out": torch.zeros(4)}, buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return base64.b64encode(out.getvalue()).decode()


def nested(depth: int):
    value = []
    for _ in range(depth):
        value = [value]
    return {"out": value}


GARBLED = {
    "not base64": lambda: "@@@",
    "not a zip": lambda: base64.b64encode(b"hello").decode(),
    "a plain pickle": lambda: base64.b64encode(pickle.dumps({"out": 1})).decode(),
    "code in the pickle": lambda: sent({"out": Boom()}),
    "not a dict": lambda: sent([torch.zeros(3)]),
    "a huge tensor": lambda: sent({"out": torch.zeros(verdicts.MAX_ELEMENTS + 1, dtype=torch.bool)}),
    "a compressed record": deflated,
    "nested too deep": lambda: sent(nested(50)),
    "too many values": lambda: sent({"out": list(range(verdicts.MAX_NODES + 1))}),
    "over the size cap": lambda: "A" * (verdicts.MAX_PAYLOAD + 4),
}


@pytest.mark.parametrize("name", GARBLED)
def test_what_is_not_small_and_plain_is_refused(name, capsys):
    with pytest.raises(verdicts.Garbled):
        verdicts.load(GARBLED[name]())
    assert "the grader ran this" not in capsys.readouterr().out
    status, message = verdicts.decide(GRID, reply("@@m@@", GARBLED[name]()), "@@m@@", 0, 60)
    assert status == "error" and "not a check's outputs" in message


def test_right_outputs_pass_only_for_the_graders_inputs():
    seed, other_seed = 1, 2
    assert _grid_args(seed) != _grid_args(other_seed)  # the grader's seed picks one of the (n, limit) asked for
    data = checks.check_latent_grid.gather(solution("02_vae_sweep", "latent_grid"), seed)
    assert verdicts.decide(GRID, reply("@@m@@", sent(data)), "@@m@@", seed, 60)[0] == "pass"
    other = checks.check_latent_grid.gather(solution("02_vae_sweep", "latent_grid"), other_seed)
    assert verdicts.decide(GRID, reply("@@m@@", sent(other)), "@@m@@", seed, 60)[0] == "wrong"  # outputs made for other inputs


@pytest.mark.parametrize("data", [{}, {"stop": ["pass", "✓ forged"]}, {"out": "✓ forged"}, {"out": torch.zeros(441, 2)},
                                  {"out": [1, 2]}, {"stop": "pass"}])
def test_forged_outputs_never_pass(data):
    status, message = verdicts.decide(GRID, reply("@@m@@", sent(data)), "@@m@@", 0, 60)
    assert status in ("wrong", "not done", "error") and not message.startswith("✓"), message


def test_a_reply_without_the_marker_is_an_error_and_a_missing_function_is_not_done():
    assert verdicts.decide(GRID, {"content": {"ename": "NameError", "evalue": "x"}}, "@@m@@", 0, 60)[0] == "error"
    assert verdicts.decide(GRID, {"content": {"ename": "KeyboardInterrupt", "evalue": ""}}, "@@m@@", 0, 60)[0] == "error"
    status, message = verdicts.decide(GRID, reply("@@m@@", sent({"missing": True})), "@@m@@", 0, 60)
    assert status == "not done" and "latent_grid is not defined" in message


# ---------------------------------------------------------------------------------------------
# check_ae (2.1a): the kernel sends tensors; the grader re-derives what it can and judges them.

AE = exercises.exercise("2_1-ae")


@pytest.fixture(scope="module")
def trained_ae():
    """(cfg, a right answer to train_ae) in smoke mode."""
    cfg = labvae.lab_config(progress=False)
    x_train, _, x_test, _ = cfg.load_data()
    return cfg, checks.attempt(solution("03_ae_sweep", "train_ae", cfg), x_train, x_test)


def judged(data, seed, cfg):
    return verdicts.decide(AE, reply("@@m@@", sent(data)), "@@m@@", seed, 60, cfg)


def test_check_ae_is_decided_in_the_grader_on_a_bounded_payload(trained_ae):
    cfg, model = trained_ae
    assert verdicts.is_split(AE) and checks.check_ae.prepare is not None
    data = checks.check_ae.gather(model, 7, cfg)
    status, message = judged(data, 7, cfg)
    assert status == "pass" and message.startswith("✓ train_ae: "), message
    # Real data sends TEST_ROWS reconstructions: they fit the loader's caps, with room to spare.
    assert ae_check.TEST_ROWS * 784 <= verdicts.MAX_ELEMENTS
    full = {**data, "x_hat": torch.rand(ae_check.TEST_ROWS, 784)}
    assert len(sent(full)) < verdicts.MAX_PAYLOAD // 2 and verdicts.load(sent(full))["x_hat"].shape == (1000, 784)


FORGED = {  # each from a right answer's outputs: what the tensors alone earn
    "perfect reconstructions": lambda d, x: {**d, "x_hat": x.clone()},
    "inverted reconstructions": lambda d, x: {**d, "x_hat": 1 - x},
    "a 2 reported for 3-d codes": lambda d, x: {**d, "code_dim": 2, "codes_ab": torch.cat([d["codes_ab"], d["codes_ab"][:, :1]], 1),
                                                "codes_mix": torch.cat([d["codes_mix"], d["codes_mix"][:, :1]], 1)},
    "half the test images": lambda d, x: {**d, "x_hat": d["x_hat"][: len(x) // 2]},
    "a reported loss": lambda d, x: {k: v for k, v in d.items() if k != "x_hat"} | {"loss": 0.0, "passed": True},
    "numbers where tensors go": lambda d, x: {**d, "x_hat": 0.5, "dec_ab": [0.5]},
    "a forged fit record": lambda d, x: {**d, "x_hat": 1 - x, "fits": [{"data": "x", "epochs": "10"}]},
}


@pytest.mark.parametrize("name", FORGED)
def test_forged_ae_evidence_earns_only_what_its_tensors_earn(trained_ae, name):
    cfg, model = trained_ae
    data = checks.check_ae.gather(model, 3, cfg)
    x = ae_check.reference_numbers(cfg, 3).x_test  # the grader's own copy of the images judged
    status, message = judged(FORGED[name](data, x), 3, cfg)
    assert status == "wrong" and message.startswith("✗ train_ae: "), message


def test_the_loss_is_recomputed_on_the_test_images_the_graders_seed_draws(trained_ae, monkeypatch):
    """Real data is judged on TEST_ROWS images drawn from the grader's seed (smoke's 500 are all judged):
    reconstructions perfect for one seed's images are measured against another seed's as what they are."""
    cfg, model = trained_ae
    monkeypatch.setattr(ae_check, "TEST_ROWS", 100)
    assert not torch.equal(ae_check.test_rows(1, 500), ae_check.test_rows(2, 500))
    data = {**checks.check_ae.gather(model, 1, cfg), "x_hat": ae_check.reference_numbers(cfg, 1).x_test}
    assert "reconstructs the test images better" in judged(data, 1, cfg)[1]
    status, message = judged(data, 2, cfg)
    assert status == "wrong" and "untrained or nearly" in message, message


def test_the_graders_config_is_the_kernels_and_its_own_environment_is_restored(tmp_path, monkeypatch):
    monkeypatch.setenv("LABVAE_SMOKE", "0")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    env = {"LABVAE_SMOKE": "1", "LABVAE_DATA": str(tmp_path / "data"), "LABVAE_CACHE": str(tmp_path / "k")}
    before = dict(os.environ)
    cfg = verdicts.kernels_config(env, tmp_path / "warm", ())
    assert cfg.smoke and cfg.out == tmp_path / "warm" / "cache" / "results-smoke"
    assert dict(os.environ) == before
