"""labvae.course.checks: every check passes the solutions and names each typical mistake with its hint."""

import pytest
import torch
import torch.nn.functional as F
from answers import assert_flags, solution, verdict

import labvae
from labvae.course import checks
from labvae.course.checks import exercises, fallbacks
from labvae.grid import TILE

own_grid = solution("02_vae_sweep", "latent_grid")  # the answers as the solution notebooks write them
own_sweep_model = solution("03_ae_sweep", "sweep_model")


@pytest.mark.parametrize("notebook, symbol, check", [
    ("01_training", "reparameterize", checks.check_reparameterize), ("01_training", "kl_divergence", checks.check_kl),
    ("01_training", "vae_loss", checks.check_loss), ("02_vae_sweep", "latent_grid", checks.check_latent_grid),
    ("02_vae_sweep", "sweep_image", checks.check_sweep), ("03_ae_sweep", "sweep_model", checks.check_ae_sweep)])
def test_the_solution_passes_and_labvaes_own_answer_does_not(notebook, symbol, check, capsys):
    result = verdict(check, solution(notebook, symbol), capsys)
    assert result.passed, result.message
    assert "labvae's own" in verdict(check, getattr(fallbacks, symbol), capsys).message


# --- reparameterize --------------------------------------------------------------------------


REPARAMETERIZE_MISTAKES = {
    "no noise": (lambda mu, logvar: mu + 0 * logvar, "there is no noise"),
    "variance as sigma": (lambda mu, logvar: mu + torch.exp(logvar) * torch.randn_like(mu), "exp(logvar) is the variance"),
    "noise not scaled": (lambda mu, logvar: mu + torch.randn_like(mu), "eps is not scaled"),
    "mu missing": (lambda mu, logvar: torch.exp(0.5 * logvar) * torch.randn_like(mu), "mu is missing"),
    "shared over batch": (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(2), "every image gets the same eps"),
    "shared over dims": (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(len(mu), 1), "both latent dimensions get the same eps"),
    "uniform noise": (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.rand_like(mu), "torch.rand_like"),
    "times logvar": (lambda mu, logvar: mu + logvar * torch.randn_like(mu), "not by logvar itself"),
    "exponent sign": (lambda mu, logvar: mu + torch.exp(-0.5 * logvar) * torch.randn_like(mu), "exponent's sign"),
    "torch.normal": (lambda mu, logvar: torch.normal(mu.detach(), torch.exp(0.5 * logvar.detach())), "cut off from the graph"),
    "wrong shape": (lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)).sum(1), "has shape"),
}


@pytest.mark.parametrize("name", REPARAMETERIZE_MISTAKES)
def test_reparameterize_mistakes_are_named(name, capsys):
    fn, hint = REPARAMETERIZE_MISTAKES[name]
    assert_flags(checks.check_reparameterize, fn, hint, capsys)


def test_reparameterize_reseeding_is_caught(capsys):
    def reseeds(mu, logvar):
        torch.manual_seed(0)
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    assert_flags(checks.check_reparameterize, reseeds, "same z on every call", capsys)


def test_checks_leave_the_callers_random_state_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_reparameterize(solution("01_training", "reparameterize"))
    assert torch.equal(torch.rand(3), expected)


# --- kl_divergence ---------------------------------------------------------------------------


def closed_form(mu, logvar, one=1.0, half=0.5):
    return -half * (one + logvar - mu.pow(2) - logvar.exp())  # (B, d)


KL_MISTAKES = {
    "wrong sign": (lambda mu, logvar: -closed_form(mu, logvar).sum(1).mean(), "wrong sign"),
    "sum over batch": (lambda mu, logvar: closed_form(mu, logvar).sum(), "summed over the batch"),
    "mean over dims": (lambda mu, logvar: closed_form(mu, logvar).mean(), "averaged over the latent dimensions"),
    "wrong axis": (lambda mu, logvar: closed_form(mu, logvar).sum(0).mean(), "summed over the wrong axis"),
    "missing the 1": (lambda mu, logvar: closed_form(mu, logvar, one=0.0).sum(1).mean(), "the 1 is missing"),
    "logvar as sigma": (lambda mu, logvar: (-0.5 * (1 + torch.log(logvar**2) - mu**2 - logvar**2)).sum(1).mean(),
                        "treats logvar as sigma"),
    "logvar as variance": (lambda mu, logvar: (-0.5 * (1 + logvar - mu**2 - logvar)).sum(1).mean(), "uses logvar as the variance"),
    "sigma for variance": (lambda mu, logvar: (-0.5 * (1 + logvar - mu**2 - torch.exp(0.5 * logvar))).sum(1).mean(),
                           "where the variance sigma^2"),
    "per image": (lambda mu, logvar: closed_form(mu, logvar).sum(1), "one KL per image"),
    "missing half": (lambda mu, logvar: closed_form(mu, logvar, half=1.0).sum(1).mean(), "-0.5 in front is missing"),
    "mu not squared": (lambda mu, logvar: (-0.5 * (1 + logvar - mu - logvar.exp())).sum(1).mean(), "mu must be squared"),
    "not a tensor": (lambda mu, logvar: closed_form(mu, logvar).sum(1).mean().item(), "Python number"),
}


@pytest.mark.parametrize("name", KL_MISTAKES)
def test_kl_mistakes_are_named(name, capsys):
    fn, hint = KL_MISTAKES[name]
    assert_flags(checks.check_kl, fn, hint, capsys)


# --- vae_loss --------------------------------------------------------------------------------


def bce(x_hat, x, reduction="sum"):
    return F.binary_cross_entropy(x_hat.reshape(len(x), -1), x.reshape(len(x), -1), reduction=reduction)


KL = solution("01_training", "kl_divergence")
LOSS_MISTAKES = {
    "mean over pixels": (lambda x_hat, x, mu, lv: bce(x_hat, x, "mean") + KL(mu, lv), "averaged over pixels"),
    "divided by 784": (lambda x_hat, x, mu, lv: bce(x_hat, x) / len(x) / 784 + KL(mu, lv), "divided by 784"),
    "KL missing": (lambda x_hat, x, mu, lv: bce(x_hat, x) / len(x), "the KL term is missing"),
    "sum over batch": (lambda x_hat, x, mu, lv: bce(x_hat, x) + KL(mu, lv) * len(x), "summed over the batch"),
    "arguments swapped": (lambda x_hat, x, mu, lv: bce(x, x_hat) / len(x) + KL(mu, lv), "arguments are swapped"),
    "KL subtracted": (lambda x_hat, x, mu, lv: bce(x_hat, x) / len(x) - KL(mu, lv), "the KL is subtracted"),
    "BCE summed, KL averaged": (lambda x_hat, x, mu, lv: bce(x_hat, x) + KL(mu, lv), "divide the BCE by len(x) too"),
    "squared error": (lambda x_hat, x, mu, lv: (x_hat - x).pow(2).sum() / len(x) + KL(mu, lv), "squared error"),
    "with logits": (lambda x_hat, x, mu, lv: F.binary_cross_entropy_with_logits(x_hat, x, reduction="sum") / len(x) + KL(mu, lv),
                    "_with_logits"),
    "shape mismatch": (lambda x_hat, x, mu, lv: F.binary_cross_entropy(x_hat, x.view(-1, 784), reduction="sum"),
                       "it raised ValueError: Using a target size"),
}


@pytest.mark.parametrize("name", LOSS_MISTAKES)
def test_loss_mistakes_are_named(name, capsys):
    fn, hint = LOSS_MISTAKES[name]
    assert_flags(checks.check_loss, fn, hint, capsys)


# --- latent_grid -----------------------------------------------------------------------------


def grid_from(z1, z2, z2_outer=True, order=(0, 1)):
    """Codes built the way students often build them, with one knob per typical mistake."""
    a, b = torch.meshgrid(z2, z1, indexing="ij") if z2_outer else torch.meshgrid(z1, z2, indexing="ij")
    cols = (b, a) if z2_outer else (a, b)  # (z1, z2)
    stacked = torch.stack([c.reshape(-1) for c in cols], dim=1)
    return stacked[:, list(order)]


def lin(limit, n, flip=False):
    t = torch.linspace(-limit, limit, n)
    return t.flip(0) if flip else t


LATENT_GRID_MISTAKES = {
    "z2 upside down": (lambda n=21, limit=4.0: grid_from(lin(limit, n), lin(limit, n)), "z2 is upside down"),
    "transposed": (lambda n=21, limit=4.0: grid_from(lin(limit, n), lin(limit, n, True), z2_outer=False), "transposed"),
    "(z2, z1) order": (lambda n=21, limit=4.0: grid_from(lin(limit, n), lin(limit, n, True), order=(1, 0)), "the columns are (z2, z1)"),
    "wrong range": (lambda n=21, limit=4.0: grid_from(lin(3.0, n), lin(3.0, n, True)), "it covers [-3.00, 3.00]"),
    "wrong n": (lambda n=21, limit=4.0: grid_from(lin(limit, 20), lin(limit, 20, True)), "20 values per dimension"),
    "arange": (lambda n=21, limit=4.0: grid_from(torch.arange(-limit, limit, 0.4), torch.arange(-limit, limit, 0.4).flip(0)),
               "20 values per dimension"),
    "z1 reversed": (lambda n=21, limit=4.0: grid_from(lin(limit, n, True), lin(limit, n, True)), "z1 runs right to left"),
    "rotated": (lambda n=21, limit=4.0: grid_from(lin(limit, n, True), lin(limit, n)), "rotated by 180 degrees"),
    "a (n, n, 2) table": (lambda n=21, limit=4.0: own_grid(n, limit).reshape(n, n, 2), "list the codes as (441, 2)"),
    "float64": (lambda n=21, limit=4.0: own_grid(n, limit).double(), "float32"),
    "numpy": (lambda n=21, limit=4.0: own_grid(n, limit).numpy(), "torch, not numpy"),
    "ignores n": (lambda n=21, limit=4.0: own_grid(21, limit), "it ignores n"),
    "ignores limit": (lambda n=21, limit=4.0: own_grid(n, 4.0), "it ignores limit"),
}


@pytest.mark.parametrize("name", LATENT_GRID_MISTAKES)
def test_latent_grid_mistakes_are_named(name, capsys):
    fn, hint = LATENT_GRID_MISTAKES[name]
    assert_flags(checks.check_latent_grid, fn, hint, capsys)


# --- sweep_image and sweep_model -------------------------------------------------------------


def tiles_of(decode, z, n):
    with torch.no_grad():
        return decode(z).reshape(n, n, TILE, TILE)  # (row, col, y, x)


def lay(tiles, n):
    return tiles.permute(0, 2, 1, 3).reshape(1, n * TILE, n * TILE)


SWEEP_MISTAKES = {
    "wrong size": (lambda decode, z, n: lay(tiles_of(decode, z, n), n)[:, :560, :560], "the image is 560x560"),
    "transposed": (lambda decode, z, n: lay(tiles_of(decode, z, n), n).transpose(1, 2), "the image is transposed"),
    "flipped": (lambda decode, z, n: lay(tiles_of(decode, z, n), n).flip(1), "upside down"),
    "rows reversed": (lambda decode, z, n: lay(tiles_of(decode, z, n).flip(0), n), "rows of tiles are in reverse order"),
    "mirrored": (lambda decode, z, n: lay(tiles_of(decode, z, n), n).flip(2), "flipped left to right"),
    "column-major": (lambda decode, z, n: lay(tiles_of(decode, z, n).transpose(0, 1), n), "laid out column by column"),
    "scrambled": (lambda decode, z, n: tiles_of(decode, z, n).reshape(1, n * TILE, n * TILE), "scrambled"),
    "times 255": (lambda decode, z, n: 255 * lay(tiles_of(decode, z, n), n), "no scaling to 255"),
    "padding": (lambda decode, z, n: labvae.grid.make_grid(decode(z), nrow=n)[:1], "gaps or borders between tiles"),
    "3 channels": (lambda decode, z, n: labvae.grid.make_grid(decode(z), nrow=n, padding=0), "3 channels"),
    "uint8": (lambda decode, z, n: (255 * lay(tiles_of(decode, z, n), n)).to(torch.uint8), "torch.uint8"),
    "numpy": (lambda decode, z, n: lay(tiles_of(decode, z, n), n).numpy(), "numpy array"),
    "hard-coded 21": (lambda decode, z, n: lay(tiles_of(decode, labvae.latent_grid(21), 21), 21), "it ignores n"),
}


@pytest.mark.parametrize("name", SWEEP_MISTAKES)
def test_sweep_mistakes_are_named(name, capsys):
    fn, hint = SWEEP_MISTAKES[name]
    assert_flags(checks.check_sweep, fn, hint, capsys)


SWEEP_MODEL_MISTAKES = {
    "window too small": (lambda model, n=21, limit=4.0: own_sweep_model(model, n, 3.0), "row 0, column 0 shows z = [-3.0, 3.0]"),
    "z2 upside down": (lambda model, n=21, limit=4.0: own_sweep_model(model, n, limit).flip(1), "upside down"),
    "padding": (lambda model, n=21, limit=4.0: labvae.grid.make_grid(model.decode(labvae.latent_grid(n, limit)), nrow=n)[:1],
                "gaps or borders"),
    "forward instead of decode": (lambda model, n=21, limit=4.0: model(labvae.latent_grid(n, limit)), "model.decode(z)"),
    "transposed": (lambda model, n=21, limit=4.0: own_sweep_model(model, n, limit).transpose(1, 2), "transposed"),
    "returns None": (lambda model, n=21, limit=4.0: None, "forget the `return`"),
}


@pytest.mark.parametrize("name", SWEEP_MODEL_MISTAKES)
def test_sweep_model_mistakes_are_named(name, capsys):
    fn, hint = SWEEP_MODEL_MISTAKES[name]
    assert_flags(checks.check_ae_sweep, fn, hint, capsys)


# --- the retrained AE (the mistakes in how it was trained: test_wrong_answers) ---------------


def lab_data():
    x_train, _, x_test, _ = labvae.lab_config(progress=False).load_data()
    return x_train, x_test


AE_MISTAKES = {
    "untrained": (lambda: labvae.Autoencoder(latent_dim=2), "it is untrained"),
    "32-d code": (lambda: labvae.Autoencoder(latent_dim=32), "2-d code"),
    "a VAE": (lambda: labvae.VAE(), "this is a VAE"),
    "hidden layers": (lambda: labvae.Autoencoder(latent_dim=2, hidden_dim=64), "hidden layer"),
    "None": (lambda: None, "must return the trained model"),
    "the History": (lambda: labvae.fit(labvae.Autoencoder(), lab_data()[0][:256], epochs=1, progress=False), "return the model itself"),
    "a bare Sequential": (lambda: torch.nn.Sequential(torch.nn.Linear(784, 2), torch.nn.Linear(2, 784)), "encode and decode"),
    "a number": (lambda: 3.5, "it is a float"),
}


@pytest.mark.parametrize("name", AE_MISTAKES)
def test_ae_mistakes_are_named(name, capsys):
    make, hint = AE_MISTAKES[name]
    answer = checks.attempt(lambda x_train, x_test: make(), *lab_data())
    capsys.readouterr()
    assert_flags(checks.check_ae, answer, hint, capsys)


# --- never raises; not done yet; fallback ----------------------------------------------------


def stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("ex", [e for e in exercises.EXERCISES if not e.manual], ids=lambda e: e.key)
def test_a_stub_is_not_done_yet(ex, capsys):
    answer = checks.attempt(stub) if ex.symbol == "my_ae" else stub
    result = verdict(ex.check, answer, capsys)
    assert result.status == "not done" and "not done yet" in result.message
    assert result.message.startswith(f"… {'stub' if ex.symbol == 'my_ae' else ex.symbol}: ")  # names the function


@pytest.mark.parametrize("ex", [e for e in exercises.EXERCISES if not e.manual], ids=lambda e: e.key)
def test_a_crash_is_one_sentence_naming_the_exception(ex, capsys):
    def crashes(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    answer = checks.attempt(crashes) if ex.symbol == "my_ae" else crashes
    result = verdict(ex.check, answer, capsys)
    assert result.status == "wrong" and "raised ZeroDivisionError: division by zero" in result.message


@pytest.mark.parametrize("ex", [e for e in exercises.EXERCISES if not e.manual], ids=lambda e: e.key)
def test_junk_gets_a_sentence_not_a_traceback(ex, capsys):
    for junk in (None, 42, "text", [1, 2]):
        assert verdict(ex.check, junk, capsys).status == "wrong"


def test_use_falls_back_with_a_note(capsys):
    done = checks.CheckResult("pass", "✓")
    assert checks.use(stub, fallbacks.kl_divergence, done) is stub
    assert capsys.readouterr().out == ""
    wrong = checks.CheckResult("wrong", "✗")
    assert checks.use(stub, fallbacks.kl_divergence, wrong) is fallbacks.kl_divergence
    assert "labvae's kl_divergence" in capsys.readouterr().out


def test_registry_shape_and_marks():
    keys = [e.key for e in exercises.EXERCISES]
    assert len(keys) == len(set(keys))
    marks = {}
    for e in exercises.EXERCISES:
        marks[e.key.split("-")[0]] = marks.get(e.key.split("-")[0], 0) + e.points
        assert (e.check is None) == e.manual
        assert e.manual or e.symbol.isidentifier()
    assert (marks["1_1"], marks["2_1"], marks["2_2"]) == (2, 2, 1)  # the lab's marks
    assert sum(e.points for e in exercises.EXERCISES) == 5
    assert exercises.exercise("1_1-grid").symbol == "latent_grid"


def test_check_namespace_reports_missing_symbols(capsys):
    results = exercises.check_namespace({"latent_grid": own_grid}, "02_vae_sweep")
    assert results["1_1-grid"].passed and results["1_1-sweep"].status == "not done"
