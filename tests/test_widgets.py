"""Kernel-side explorer tests; CI runs them on ipywidgets 8 and again on 7.7.1 (Colab)."""

import io

import ipywidgets
import numpy as np
import pytest
import torch
from PIL import Image

import labvae


def shown_pixels(image_widget) -> np.ndarray:
    with Image.open(io.BytesIO(image_widget.value)) as im:
        return np.asarray(im.convert("L"))


def test_explorer_is_a_widget(trained_vae):
    ex = labvae.z_explorer(trained_vae)
    assert isinstance(ex, ipywidgets.VBox)
    assert ex.z1_slider.min == -4 and ex.z1_slider.max == 4 and ex.z.tolist() == [0, 0]
    print("ipywidgets", ipywidgets.__version__)


def test_moving_sliders_changes_the_image(trained_vae):
    ex = labvae.z_explorer({"VAE": trained_vae})
    before = ex.images["VAE"].value
    ex.z1_slider.value = 2.5  # what a drag does in the browser: set the trait, observers fire
    assert ex.images["VAE"].value != before
    assert "+2.50" in ex.z_label.value


def test_shown_image_equals_decode(trained_vae):
    ex = labvae.z_explorer({"VAE": trained_vae})
    ex.set_z(1.0, -2.0)
    assert ex.z.tolist() == [1.0, -2.0]
    expected = trained_vae.decode(torch.tensor([[1.0, -2.0]]))[0]
    assert torch.equal(ex.decoded()["VAE"], expected)
    pixels = shown_pixels(ex.images["VAE"])
    assert pixels.shape == (280, 280)
    tiles = pixels[::10, ::10]  # nearest-neighbour upscale: every 10th pixel is one source pixel
    assert np.array_equal(tiles, labvae.grid.to_uint8(expected))


def test_one_pair_of_sliders_drives_every_model(trained_vae):
    ae = labvae.Autoencoder(seed=3)
    ex = labvae.z_explorer({"VAE": trained_vae, "AE": ae})
    before = {k: w.value for k, w in ex.images.items()}
    maps_before = {k: w.value for k, w in ex.maps.items()}
    ex.z2_slider.value = -3.0
    z = torch.tensor([[0.0, -3.0]])
    for name, model in (("VAE", trained_vae), ("AE", ae)):
        assert ex.images[name].value != before[name]
        assert ex.maps[name].value != maps_before[name]  # the marker moved
        assert torch.equal(ex.decoded()[name], model.decode(z)[0])


def test_marker_sits_on_the_sweep_tile(trained_vae):
    ex = labvae.z_explorer({"VAE": trained_vae})
    ex.set_z(-4.0, 4.0)  # top-left tile
    rgb = np.asarray(Image.open(io.BytesIO(ex.maps["VAE"].value)).convert("RGB")).astype(int)
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    ys, xs = np.nonzero(red)
    assert len(xs) and xs.mean() < 280 / 21 and ys.mean() < 280 / 21


def test_sliders_clip_to_the_window(trained_vae):
    ex = labvae.z_explorer(trained_vae, limit=4.0)
    ex.set_z(10.0, -10.0)
    assert ex.z.tolist() == [4.0, -4.0]


def test_bad_explorer_arguments(trained_vae):
    with pytest.raises(ValueError, match="dict of name"):
        labvae.z_explorer({})
    with pytest.raises(ValueError, match="positive"):
        labvae.z_explorer(trained_vae, limit=0)
    with pytest.raises(ValueError, match="2-d latent"):
        labvae.z_explorer({"big": labvae.VAE(latent_dim=3)})


@pytest.fixture
def beta_family():
    """Three VAEs with different weights, standing in for models trained with beta 0, 1 and 4."""
    return {0.0: labvae.VAE(seed=1, beta=0.0), 1.0: labvae.VAE(seed=2), 4.0: labvae.VAE(seed=3, beta=4.0)}


def test_beta_slider_sits_beside_the_z_sliders(beta_family):
    ex = labvae.beta_explorer(beta_family)
    assert isinstance(ex, labvae.ZExplorer)
    assert ex.beta_slider in ex.children[0].children and ex.z1_slider in ex.children[0].children
    assert [label for label, _ in ex.beta_slider.options] == ["0", "1", "4"]
    assert ex.beta == 1.0  # starts on the lab's VAE


def test_moving_the_beta_slider_shows_that_models_decode(beta_family):
    ex = labvae.beta_explorer(beta_family)
    ex.set_z(1.5, -0.5)
    z = torch.tensor([[1.5, -0.5]])
    before, map_before = ex.images["VAE"].value, ex.maps["VAE"].value
    ex.beta_slider.value = 4.0  # what a drag does in the browser
    assert torch.equal(ex.decoded()["VAE"], beta_family[4.0].decode(z)[0])
    assert ex.images["VAE"].value != before and ex.maps["VAE"].value != map_before  # its own sweep
    assert "β = 4" in ex.titles["VAE"].value
    tiles = shown_pixels(ex.images["VAE"])[::10, ::10]
    assert np.array_equal(tiles, labvae.grid.to_uint8(beta_family[4.0].decode(z)[0]))
    ex.z1_slider.value = -2.0  # the z sliders now drive the beta = 4 model
    assert torch.equal(ex.decoded()["VAE"], beta_family[4.0].decode(torch.tensor([[-2.0, -0.5]]))[0])
    ex.set_beta(0.0)
    assert torch.equal(ex.decoded()["VAE"], beta_family[0.0].decode(torch.tensor([[-2.0, -0.5]]))[0])


def test_bad_beta_explorer_arguments(beta_family):
    with pytest.raises(ValueError, match="dict of beta -> model"):
        labvae.beta_explorer({})
    with pytest.raises(ValueError, match="dict of beta -> model"):
        labvae.beta_explorer({"one": labvae.VAE()})
    with pytest.raises(ValueError, match="not one of the models"):
        labvae.beta_explorer(beta_family, beta=2.0)
    with pytest.raises(ValueError, match="2-d latent"):
        labvae.beta_explorer({1.0: labvae.VAE(), 2.0: labvae.VAE(latent_dim=3)})
    with pytest.raises(ValueError, match="not one of the models"):
        labvae.beta_explorer(beta_family).set_beta(0.5)
