import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

import labvae


def test_latent_grid_corners_and_order():
    z = labvae.latent_grid(21, 4.0)
    assert z.shape == (441, 2)
    assert z[0].tolist() == [-4.0, 4.0]  # top-left
    assert z[-1].tolist() == [4.0, -4.0]  # bottom-right
    assert z[20].tolist() == [4.0, 4.0]  # end of the first row: z1 grew, z2 stayed
    assert z[21].tolist() == pytest.approx([-4.0, 3.6])  # second row: z2 one step lower
    assert torch.allclose(z[220], torch.zeros(2), atol=1e-6)  # centre tile is z = 0


def test_decode_grid_orientation(z_decoder):
    img = labvae.decode_grid(z_decoder, n=21, limit=4.0)
    assert img.shape == (1, 588, 588)

    def tile(row, col):
        return img[0, row * 28 : (row + 1) * 28, col * 28 : (col + 1) * 28]

    # left half encodes z1, right half z2, both mapped from [-4, 4] to [0, 1]
    assert tile(0, 0)[:, :14].mean() == pytest.approx(0.0)  # z1 = -4 at the left
    assert tile(0, 0)[:, 14:].mean() == pytest.approx(1.0)  # z2 = +4 at the top
    assert tile(20, 20)[:, :14].mean() == pytest.approx(1.0)  # z1 = +4 at the right
    assert tile(20, 20)[:, 14:].mean() == pytest.approx(0.0)  # z2 = -4 at the bottom
    z1_along_row = torch.stack([tile(5, c)[:, :14].mean() for c in range(21)])
    assert torch.all(z1_along_row.diff() > 0)  # z1 grows left -> right
    z2_down_column = torch.stack([tile(r, 5)[:, 14:].mean() for r in range(21)])
    assert torch.all(z2_down_column.diff() < 0)  # z2 grows bottom -> top


def test_decode_grid_is_one_batched_call():
    calls = []

    def decode(z):
        calls.append(z.shape)
        return torch.zeros(len(z), 784)  # flat output is accepted too

    labvae.decode_grid(decode)
    assert calls == [(441, 2)]


def test_save_grid_writes_exact_grayscale_png(trained_vae, tmp_path):
    path = labvae.save_grid(labvae.decode_grid(trained_vae.decode), tmp_path / "vae_grid.png")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == (588, 588)
        pixels = np.asarray(im)
    assert pixels.std() > 10  # the trained VAE's sweep is not constant
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


def test_same_seed_identical_grid_bytes(data, tmp_path):
    x_train = data[0][:512]
    digests = []
    for i in range(2):
        model = labvae.VAE(seed=0)
        labvae.fit(model, x_train, epochs=1, seed=0, progress=False, device="cpu")
        path = labvae.save_grid(labvae.decode_grid(model.decode), tmp_path / f"g{i}.png")
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_show_grid_axes_in_z_units(z_decoder):
    ax = labvae.show_grid(labvae.decode_grid(z_decoder))
    assert list(ax.get_xticks()) == list(range(-4, 5))
    assert list(ax.get_yticks()) == list(range(-4, 5))
    assert "z_1" in ax.get_xlabel() and "z_2" in ax.get_ylabel()
    left, right, bottom, top = ax.get_images()[0].get_extent()
    assert left < -4 < 4 < right and bottom < -4 < 4 < top  # z2 up: top edge is +4


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "at least 1"), ({"n": 2.5}, "whole number"), ({"limit": 0}, "positive"),
    ({"limit": -1.0}, "positive"),
])
def test_bad_sweep_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        labvae.latent_grid(**kwargs)


def test_grid_needs_2d_latent():
    with pytest.raises(ValueError, match="2-d latent"):
        labvae.decode_grid(labvae.VAE(latent_dim=3).decode)


def test_decoder_with_wrong_output_shape():
    with pytest.raises(ValueError, match="expected"):
        labvae.decode_grid(lambda z: torch.zeros(len(z), 10))
    with pytest.raises(ValueError, match="failed"):
        labvae.decode_grid(torch.nn.Linear(3, 784))


def test_save_grid_rejects_colour_images(tmp_path):
    with pytest.raises(ValueError, match="grayscale"):
        labvae.save_grid(torch.zeros(3, 28, 28), tmp_path / "x.png")


def test_sweep_tiles_are_row_major_from_the_top_left(z_decoder):
    from types import SimpleNamespace

    from labvae.grid import sweep_tiles

    tiles = sweep_tiles(SimpleNamespace(decode=z_decoder), n=3, limit=4.0)  # (9, 784)
    assert tiles.shape == (9, 784)
    left, right = tiles.reshape(9, 28, 28)[:, 0, 0], tiles.reshape(9, 28, 28)[:, 0, 27]  # (z1+4)/8, (z2+4)/8
    assert torch.allclose(left, torch.tensor([0.0, 0.5, 1.0] * 3))
    assert torch.allclose(right, torch.tensor([1.0] * 3 + [0.5] * 3 + [0.0] * 3))
