"""The guard decides by what runs: labvae's own solution, or a copy of its code, is caught however it was reached."""

import inspect
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import torch
from answers import assert_flags, solution, verdict

import labvae
from labvae.course import checks
from labvae.course.checks import fallbacks, guard, watch


class Box:
    grid = labvae.latent_grid  # a class attribute keeps the real function: no name in the answer says so
    sweep = staticmethod(fallbacks.sweep_image)


class Caller:
    def __init__(self, f):
        self.f = f

    def __call__(self, *args):
        return self.f(*args)


_ns = SimpleNamespace(**{"g" + "rid": labvae.latent_grid})
_copy = types.FunctionType(labvae.latent_grid.__code__.replace(co_name="mine"), labvae.grid.__dict__, "mine")
_made = types.FunctionType(fallbacks.sweep_image.__code__, fallbacks.__dict__, "made")
_space = dict(vars(labvae.grid))
exec(compile(inspect.getsource(labvae.grid.latent_grid), "<cell>", "exec"), _space)  # noqa: S102 (the attack)
_kept = Caller(getattr(labvae, "latent" + "_grid"))


def _in_thread(n=21, limit=4.0):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(Box.grid, n, limit).result()


def _hidden(n=21, limit=4.0):
    try:
        return getattr(Box, "gr" + "id")(n, limit)
    except BaseException:  # noqa: BLE001 (the attack: swallow the guard's signal, then answer anyway)
        pass
    return solution("02_vae_sweep", "latent_grid")(n, limit)


def _switched_off(n=21, limit=4.0):
    import sys

    setprofile = vars(sys)["set" + "profile"]
    setprofile(None)
    return Box.grid(n, limit)


GRID = {
    "class attribute through getattr": lambda n=21, limit=4.0: getattr(Box, "gr" + "id")(n, limit),
    "SimpleNamespace through vars()[key]": lambda n=21, limit=4.0: vars(_ns)["grid"](n, limit),
    "callable instance": lambda n=21, limit=4.0: _kept(n, limit),
    "__code__.replace": lambda n=21, limit=4.0: _copy(n, limit),
    "exec of inspect.getsource": lambda n=21, limit=4.0: _space["latent_grid"](n, limit),
    "in a thread": _in_thread,
    "Delegated swallowed": _hidden,
    "profiler switched off": _switched_off,
}


@pytest.mark.parametrize("name", GRID)
def test_labvaes_grid_is_caught_however_it_is_reached(name, capsys):
    result = assert_flags(checks.check_latent_grid, GRID[name], "labvae's own", capsys)
    assert result.message.count(".") >= 1 and "\n" not in result.message
    assert labvae.latent_grid is labvae.grid.latent_grid and labvae.latent_grid(3, 1.0).shape == (9, 2)


def test_a_function_type_copy_of_the_sweep_is_caught(capsys):
    assert_flags(checks.check_sweep, lambda decode, z, n: _made(decode, z, n), "labvae's own", capsys)
    assert_flags(checks.check_sweep, lambda decode, z, n: Box.sweep(decode, z, n), "labvae's own", capsys)


def test_the_kl_through_a_vae_loss_is_caught(capsys):
    def kl(mu, logvar):
        vae = labvae.VAE()
        vae.encode = lambda x: (mu, logvar)
        return getattr(vae, "lo" + "ss")(torch.zeros(len(mu), 784))["kl"]

    assert_flags(checks.check_kl, kl, "labvae's own labvae.VAE.loss", capsys)


def test_what_an_exercise_allows_passes_the_watch(capsys):
    def sweep_model(model, n=21, limit=4.0):  # labvae.latent_grid and torchvision's make_grid: allowed
        from torchvision.utils import make_grid

        with torch.no_grad():
            tiles = model.decode(labvae.latent_grid(n, limit)).reshape(n * n, 1, 28, 28)
        return make_grid(tiles, nrow=n, padding=0)[:1]

    assert verdict(checks.check_ae_sweep, sweep_model, capsys).passed
    assert set(guard.ALLOWED) == set(guard.SOLUTIONS)


def test_a_copy_is_recognised_by_its_code_not_its_name():
    prints = watch.forbidden("latent_grid")
    assert watch.fingerprint(_copy.__code__) in prints and watch.fingerprint(_space["latent_grid"].__code__) in prints
    own = solution("02_vae_sweep", "latent_grid")
    assert watch.fingerprint(own.__code__) not in prints


def test_the_watch_leaves_the_profiler_as_it_was():
    import sys

    def mine(frame, event, arg):
        return None

    sys.setprofile(mine)
    try:
        checks.check_latent_grid(solution("02_vae_sweep", "latent_grid"))
        assert sys.getprofile() is mine and threading.getprofile() is None
    finally:
        sys.setprofile(None)


# --- 2.1a: a model the answer did not train -------------------------------------------------------


@pytest.fixture(scope="module")
def lab():
    cfg = labvae.lab_config(progress=False)
    x_train, _, x_test, _ = cfg.load_data()
    cfg.model("ae", x_train, x_test)  # the ae.pt notebook 01 saves
    return cfg, x_train, x_test


def test_loaded_or_labvaes_own_ae_earns_nothing(lab, capsys):
    cfg, x_train, x_test = lab
    path = cfg.out / "ae.pt"
    lab_ae = cfg.model("ae", x_train, x_test)  # loaded in an earlier cell, kept in a closure
    state = {k: v.clone() for k, v in lab_ae.state_dict().items()}
    answers = {
        "torch.load": (lambda a, b: torch.load(path, weights_only=True),
                       "loads a saved model"),
        "read_checkpoint": (lambda a, b: getattr(labvae.checkpoints, "read_" + "checkpoint")(path), "labvae's own"),
        "cfg.model through getattr": (lambda a, b: getattr(cfg, "mo" + "del")("ae", a, b), "labvae's own cfg.model"),
        "an earlier cell's model": (lambda a, b: lab_ae, "did not train"),
        "its weights, copied in": (lambda a, b: _with(state), "labvae's own lab AE"),
    }
    for name, (train_ae, hint) in answers.items():
        result = verdict(checks.check_ae, checks.attempt(train_ae, x_train, x_test), capsys)
        assert not result.passed and hint in result.message, (name, result.message)


def _with(state):
    model = labvae.Autoencoder(latent_dim=2)
    model.load_state_dict(state)
    return model


def test_the_labs_own_recipe_passes_though_its_weights_equal_the_lab_ae(lab, capsys):
    cfg, x_train, x_test = lab

    def train_ae(x_train, x_test):
        model = labvae.Autoencoder(latent_dim=2)
        labvae.fit(model, x_train, x_test, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, progress=False)
        return model

    assert verdict(checks.check_ae, checks.attempt(train_ae, x_train, x_test), capsys).passed
