"""The notebook's self-check and the grader give one verdict: the grader's secret inputs come from the family the check covers."""

import pytest
import torch
from answers import solution
from test_verdicts import reply, sent

from labvae.course.checks import exercises
from labvae.course.checks.checking import SELF_SEED
from labvae.course.checks.sweep_checks import FAMILY
from labvae.course.grade import verdicts
from labvae.grid import TILE


def arange_grid(n=21, limit=4.0):  # n + 1 values for 54 of the family's 448 (n, limit) pairs
    step = 2 * limit / (n - 1)
    z1 = torch.arange(-limit, limit + step, step)
    z2 = z1.flip(0)
    rows, cols = torch.meshgrid(z2, z1, indexing="ij")
    return torch.stack([cols.reshape(-1), rows.reshape(-1)], 1)


def rounded_grid(n=21, limit=4.0):
    return solution("02_vae_sweep", "latent_grid")(n, limit).mul(10).round().div(10)


def arange_sweep(model, n=21, limit=4.0):
    z = arange_grid(n, limit)
    with torch.no_grad():
        tiles = model.decode(z).reshape(-1, TILE, TILE)
    k = int(len(tiles) ** 0.5)
    return tiles[: k * k].reshape(k, k, TILE, TILE).permute(0, 2, 1, 3).reshape(1, k * TILE, k * TILE)


GRID = {"solution": lambda: solution("02_vae_sweep", "latent_grid"), "arange": lambda: arange_grid,
        "rounded": lambda: rounded_grid}
MODEL = {"solution": lambda: solution("03_ae_sweep", "sweep_model"), "arange": lambda: arange_sweep}


def graders(ex, fn, seed: int) -> str:
    """The grader's status: collect in the kernel on the seed's inputs, the verdict on what came back."""
    return verdicts.decide(ex, reply("@@m@@", sent(ex.check.gather(fn, seed))), "@@m@@", seed, 60)[0]


@pytest.mark.parametrize(("key", "answers", "seeds"), [("1_1-grid", GRID, 20), ("2_1-ae-sweep", MODEL, 3)])
def test_the_notebook_and_the_grader_agree_over_seeds(key, answers, seeds, capsys):
    ex = exercises.exercise(key)
    for name, make in answers.items():
        fn = make()
        mine = ex.check.decide(ex.check.gather(fn, SELF_SEED), SELF_SEED).status
        theirs = {graders(ex, fn, seed) for seed in range(1, seeds + 1)}
        assert theirs == {mine}, (name, mine, theirs)
        assert (mine == "pass") == (name == "solution"), name


def test_the_draws_come_from_the_family():
    from labvae.course.checks.sweep_checks import _grid_args, _model_args

    drawn = {_grid_args(s)[-1] for s in range(500)} | {_model_args(s)[-1] for s in range(500)}
    assert drawn <= set(FAMILY) and len(drawn) > 200
