import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

import labvae


@pytest.mark.parametrize("model", [labvae.VAE(), labvae.Autoencoder(), labvae.Autoencoder(hidden_dim=512)])
def test_shapes_and_ranges(model, data):
    x = data[0][:16]
    code = model.encode(x)
    z = code[0] if isinstance(code, tuple) else code
    assert z.shape == (16, 2)
    x_hat = model.decode(torch.randn(16, 2) * 4)
    assert x_hat.shape == (16, 1, 28, 28)
    assert 0 <= x_hat.min() and x_hat.max() <= 1
    terms = model.loss(x)
    assert set(terms) == {"loss", "recon", "kl"} and all(t.ndim == 0 for t in terms.values())


def test_lab_ae_is_linear():
    ae = labvae.Autoencoder()
    linears = [m for m in ae.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 2), (2, 784)]
    assert not any(isinstance(m, torch.nn.ReLU) for m in ae.modules())


def test_vae_architecture():
    vae = labvae.VAE()
    shapes = [(m.in_features, m.out_features) for m in vae.modules() if isinstance(m, torch.nn.Linear)]
    assert shapes == [(784, 512), (512, 2), (512, 2), (2, 512), (512, 784)]


def test_kl_matches_torch_distributions():
    vae = labvae.VAE()
    x = torch.rand(8, 1, 28, 28)
    mu, logvar = vae.encode(x)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
    torch.manual_seed(0)
    got = vae.loss(x)["kl"]
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bce_is_nats_per_image():
    ae = labvae.Autoencoder()
    x = torch.rand(5, 1, 28, 28)
    x_hat = ae(x).view(5, -1)
    expected = F.binary_cross_entropy(x_hat, x.view(5, -1), reduction="none").sum(1).mean()
    assert torch.allclose(ae.loss(x)["recon"], expected, rtol=1e-4)
    assert ae.loss(x)["kl"] == 0


def test_loss_is_stable_for_saturated_outputs():
    ae = labvae.Autoencoder()
    with torch.no_grad():
        ae.decoder[-1].bias.fill_(200.0)  # sigmoid == 1.0 exactly in float32
    x = torch.zeros(2, 1, 28, 28)
    assert torch.isfinite(ae.loss(x)["loss"])


def test_same_seed_same_initial_weights():
    a, b, c = labvae.VAE(seed=1), labvae.VAE(seed=1), labvae.VAE(seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.to_mu.weight, c.to_mu.weight)


@pytest.mark.parametrize("shape", [(4, 3, 28, 28), (4, 100), (784,)])
def test_bad_image_shapes(shape):
    with pytest.raises(ValueError, match="28x28"):
        labvae.VAE().loss(torch.rand(*shape))


def test_bad_latent_shape():
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        labvae.VAE().decode(torch.zeros(3, 5))


def test_bad_configs():
    with pytest.raises(ValueError, match="kind"):
        labvae.ModelConfig("gan")
    with pytest.raises(ValueError, match="latent_dim"):
        labvae.ModelConfig("vae", latent_dim=0)
    with pytest.raises(ValueError, match="hidden layer"):
        labvae.ModelConfig("vae", hidden_dim=None)


@pytest.mark.parametrize("build", [lambda: labvae.VAE(), lambda: labvae.Autoencoder()], ids=["vae", "ae"])
def test_models_take_inputs_from_any_device(build):
    # A notebook's tensors live on the CPU while a model may sit on CUDA or MPS; "meta" stands in for
    # such a device here: mixing devices inside a layer raises there too.
    model = build().to("meta")
    x, z = torch.rand(3, 1, 28, 28), torch.zeros(3, 2)
    assert model.decode(z).device.type == "meta"
    assert model(x)[0].device.type == "meta" if isinstance(model, labvae.VAE) else model(x).device.type == "meta"
    assert model.loss(x)["loss"].device.type == "meta"


def test_lab_config_hands_back_models_on_the_cpu(tmp_path, synthetic_root):
    cfg = labvae.lab_config(data=synthetic_root, epochs=1, out=tmp_path, device="cpu", progress=False)
    x_train, _, x_test, _ = cfg.load_data()
    assert cfg.model("ae", x_train[:300], x_test[:50]).device.type == "cpu"
