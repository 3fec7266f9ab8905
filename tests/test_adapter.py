"""labvae.as_model: every AE style exercise 2.1a accepts is a model every later helper takes."""

import pytest
import torch
from torch import nn

import labvae
from labvae import analysis
from labvae.grid import sweep_tiles


class Own(nn.Module):
    """A student's AE with its own names: no device, no config, encode/decode on flat images."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.down, self.up = nn.Linear(784, 2), nn.Linear(2, 784)

    def encode(self, x):
        return self.down(x.view(len(x), -1))

    def decode(self, z):
        return torch.sigmoid(self.up(z))


class Halves(nn.Module):
    """Encoder and decoder submodules, no methods of its own."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
        self.decoder = nn.Sequential(nn.Linear(2, 784), nn.Sigmoid())


def pair():
    enc, dec = nn.Linear(784, 2), nn.Sequential(nn.Linear(2, 784), nn.Sigmoid())
    return enc, dec


STYLES = {"labvae's": lambda: labvae.Autoencoder(latent_dim=2), "own module": Own, "encoder/decoder": Halves,
          "(encoder, decoder) pair": pair, "own VAE with (mu, logvar)": lambda: labvae.VAE()}


@pytest.mark.parametrize("style", STYLES)
def test_every_style_works_in_every_helper(style, data):
    _, _, x_test, y_test = data
    answer = STYLES[style]()
    model = labvae.as_model(answer)
    assert model.latent_dim == 2 and isinstance(model.device, torch.device)
    assert labvae.latent_codes(answer, x_test[:7]).shape == (7, 2)  # helpers take the raw answer too
    assert model.decode(torch.zeros(3, 2)).shape == (3, 1, 28, 28)
    assert labvae.decode_grid(model.decode, n=5).shape == (1, 140, 140)
    assert sweep_tiles(answer, n=3).shape == (9, 784)
    ex = labvae.z_explorer({"mine": answer})
    ex.set_z(1.0, -2.0)
    assert torch.allclose(ex.decoded()["mine"], model.decode(torch.tensor([[1.0, -2.0]]))[0].detach())
    assert analysis.interpolate(answer, x_test[:2], x_test[2:4], steps=4).shape == (2, 4, 1, 28, 28)
    assert "kl_gauss" in analysis.aggregate_posterior(answer, x_test[:50])


def test_labvae_models_come_back_unchanged():
    vae = labvae.VAE()
    assert labvae.as_model(vae) is vae and labvae.models.as_model is labvae.as_model


def test_what_is_not_a_model_is_one_sentence():
    with pytest.raises(ValueError, match="is a dict, not a model: give an nn.Module with encode"):
        labvae.as_model({"model": Own()})
    with pytest.raises(ValueError, match="model 'x' is a Sequential, not a model"):
        labvae.z_explorer({"x": nn.Sequential(nn.Linear(784, 2))})


def test_a_wider_code_is_refused_by_the_sliders():
    class Wide(Own):
        def __init__(self):
            super().__init__()
            self.down, self.up = nn.Linear(784, 3), nn.Linear(3, 784)

    assert labvae.as_model(Wide()).latent_dim == 3
    with pytest.raises(ValueError, match="3-d latent space; the sliders need a 2-d latent space"):
        labvae.z_explorer({"wide": Wide()})
