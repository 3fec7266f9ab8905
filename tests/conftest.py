"""Shared fixtures: small synthetic Fashion-MNIST and a briefly trained VAE."""

import matplotlib
import pytest
import torch

import labvae

matplotlib.use("Agg")  # tests draw figures without a screen


@pytest.fixture(autouse=True)
def steady_threads(monkeypatch):
    """fit's threads left as they are within a test: two fits compared bit for bit must run alike.

    fit_threads may change the count between epochs as the load changes, and 1 and 2 threads round
    differently (weights differ by ~6e-8 after 2 epochs). Notebook kernels still fit their threads.
    """
    monkeypatch.setattr(labvae.training, "fit_threads", lambda: None)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """A data folder holding synthetic IDX files, read through the real torchvision loader."""
    return labvae.make_synthetic_fashion(tmp_path_factory.mktemp("data"), n_train=2000, n_test=400)


@pytest.fixture(scope="session")
def data(synthetic_root):
    x_train, y_train = labvae.load_fashion_mnist(synthetic_root, train=True, download=False)
    x_test, y_test = labvae.load_fashion_mnist(synthetic_root, train=False, download=False)
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="session")
def trained_vae(data):
    x_train, _, x_test, _ = data
    model = labvae.VAE()
    labvae.fit(model, x_train, x_test, epochs=3, progress=False, device="cpu")
    return model


@pytest.fixture
def z_decoder():
    """A decoder that writes z into the pixels: left half = (z1 + 4) / 8, right half = (z2 + 4) / 8."""

    def decode(z):
        img = torch.empty(len(z), 1, 28, 28)
        img[..., :14] = ((z[:, 0] + 4) / 8).view(-1, 1, 1, 1)
        img[..., 14:] = ((z[:, 1] + 4) / 8).view(-1, 1, 1, 1)
        return img

    return decode


@pytest.fixture(scope="session")
def classifier(data):
    """The tile classifier, briefly trained on the synthetic data."""
    from labvae import analysis

    x_train, y_train, x_test, y_test = data
    return analysis.train_classifier(x_train, y_train, x_test, y_test, epochs=3, device="cpu")


@pytest.fixture(scope="session")
def judge(classifier, data):
    """A judge calibrated on the synthetic training images."""
    from labvae.analysis.judge import calibrate

    x_train, y_train, _, _ = data
    return calibrate(classifier, x_train, y_train)
