"""Checkpoints warmed once for a class: loaded from $LABVAE_CHECKPOINTS, never copied or written there."""

import os
from pathlib import Path

import torch

import labvae
from labvae.checkpoints import load_or_train
from labvae.config import MODELS


def small_data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(64, 1, 28, 28, generator=g), torch.rand(16, 1, 28, 28, generator=g)


def train(path, x_train, x_test, epochs=1):
    return load_or_train(MODELS["ae"], path, x_train, x_test, epochs=epochs, batch_size=32, progress=False,
                         device="cpu")


def test_a_shared_checkpoint_is_loaded_and_nothing_is_written(tmp_path, monkeypatch):
    x_train, x_test = small_data()
    shared = tmp_path / "shared"
    warmed = train(shared / "ae.pt", x_train, x_test)
    shared.chmod(0o555)  # read-only, as an instructor leaves it
    try:
        monkeypatch.setenv("LABVAE_CHECKPOINTS", os.pathsep.join([str(tmp_path / "missing"), str(shared)]))
        student = tmp_path / "student" / "results"
        model = train(student / "ae.pt", x_train, x_test)
        assert not student.exists()  # loaded from the shared folder: no copy in the student's folder
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), warmed.state_dict().values()))
        # Another setting (2 epochs) does not match the shared checkpoint: trained and saved privately.
        train(student / "ae-2ep.pt", x_train, x_test, epochs=2)
        assert (student / "ae-2ep.pt").is_file() and sorted(p.name for p in shared.iterdir()) == ["ae.pt"]
    finally:
        shared.chmod(0o755)


def test_under_nbgrader_a_notebook_never_trains_into_the_students_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("LABVAE_SMOKE", raising=False)
    monkeypatch.setenv("LABVAE_CACHE", str(tmp_path / "cache"))
    for mode in ("validate", "autograde"):
        monkeypatch.setenv("NBGRADER_EXECUTION", mode)
        assert labvae.lab_config().out == tmp_path / "cache" / "results-nbgrader"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert labvae.lab_config().out == Path("results")  # a student's own run keeps results/ beside the notebook


def test_kernels_get_the_graders_precision(tmp_path, monkeypatch):
    """The warm-up's checkpoints are keyed by precision: kernels resolve the same one, so they load them."""
    from labvae.course.grade.runner import kernel_env

    monkeypatch.setenv("LABVAE_PRECISION", "fp32")
    assert kernel_env(tmp_path, True, str(tmp_path))["LABVAE_PRECISION"] == "fp32"
    monkeypatch.delenv("LABVAE_PRECISION")
    assert kernel_env(tmp_path, True, str(tmp_path))["LABVAE_PRECISION"] == "auto"
