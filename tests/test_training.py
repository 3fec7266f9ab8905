import pickle

import pytest
import torch

import labvae


def test_training_lowers_test_loss(data):
    x_train, _, x_test, _ = data
    # The lab AE is linear and learns slowly (16 Adam steps here), so it is held to a smaller drop.
    for model, drop in ((labvae.VAE(), 50), (labvae.Autoencoder(), 3)):
        before = labvae.evaluate(model, x_test)["loss"]
        history = labvae.fit(model, x_train, x_test, epochs=2, progress=False, device="cpu")
        assert history.epochs == 2 and len(history.test) == 2 and len(history.seconds) == 2
        assert history.test[-1]["loss"] < before - drop  # nats per image: a real drop
        assert model.history is history


def test_vae_terms_are_consistent(trained_vae, data):
    terms = labvae.evaluate(trained_vae, data[2])
    assert terms["loss"] == pytest.approx(terms["recon"] + terms["kl"], rel=1e-5)
    assert terms["kl"] > 0.5  # the trained encoder uses its latent space


def test_same_seed_same_weights(data):
    x = data[0][:600]
    weights = []
    for _ in range(2):
        model = labvae.VAE()
        labvae.fit(model, x, epochs=1, seed=5, progress=False, device="cpu")
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    other = labvae.VAE()
    labvae.fit(other, x, epochs=1, seed=6, progress=False, device="cpu")
    assert not torch.equal(other.state_dict()["to_mu.weight"], weights[0]["to_mu.weight"])


def test_nan_loss_stops_with_epoch_and_step(data):
    model = labvae.VAE()
    real_loss, calls = model.loss, []

    def loss(x):  # the 4th batch's loss turns NaN, as a diverging model's would
        calls.append(1)
        terms = real_loss(x)
        return {k: v * float("nan") for k, v in terms.items()} if len(calls) == 4 else terms

    model.loss = loss
    with pytest.raises(labvae.TrainingError, match=r"epoch 1, step 4\b"):
        labvae.fit(model, data[0][:600], epochs=1, batch_size=100, progress=False, device="cpu")
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no NaN update was applied
    assert not model.training


def test_nan_data_is_refused_before_training(data):
    x = data[0][:600].clone()
    x[300] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf pixels"):
        labvae.fit(labvae.VAE(), x, epochs=1, progress=False, device="cpu")


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"batch_size": 0}, {"lr": 0}])
def test_bad_fit_arguments(kwargs, data):
    with pytest.raises(ValueError):
        labvae.fit(labvae.VAE(), data[0][:10], progress=False, **kwargs)


def test_fit_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="28x28"):
        labvae.fit(labvae.VAE(), torch.rand(10, 3, 32, 32), progress=False)


def test_checkpoint_round_trip(trained_vae, data, tmp_path):
    path = labvae.save_checkpoint(trained_vae, tmp_path / "vae.pt", note="hello")
    loaded = labvae.load_checkpoint(path)
    assert isinstance(loaded, labvae.VAE) and loaded.config == trained_vae.config
    assert loaded.history.test == trained_vae.history.test and loaded.meta == {"note": "hello"}
    z = torch.randn(7, 2)
    assert torch.equal(loaded.decode(z), trained_vae.decode(z))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # our own pickle, refused below
def test_checkpoint_refuses_pickled_payload(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this would run arbitrary code",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "labvae-checkpoint-v1", "payload": Evil()}, path)
    with pytest.raises(labvae.CheckpointError, match="pickled Python objects"):
        labvae.load_checkpoint(path)
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(labvae.CheckpointError):
        labvae.load_checkpoint(path)


def test_checkpoint_for_another_architecture(trained_vae, tmp_path):
    path = labvae.save_checkpoint(trained_vae, tmp_path / "vae.pt")
    with pytest.raises(labvae.CheckpointError, match="not the 'ae'"):
        labvae.load_checkpoint(path, kind="ae")
    payload = torch.load(path, weights_only=True)
    payload["config"]["hidden_dim"] = 256
    torch.save(payload, path)
    with pytest.raises(labvae.CheckpointError, match="do not fit"):
        labvae.load_checkpoint(path)
    torch.save({"state_dict": {}}, path)
    with pytest.raises(labvae.CheckpointError, match="not a labvae checkpoint"):
        labvae.load_checkpoint(path)


def test_checkpoint_save_is_atomic(trained_vae, tmp_path, monkeypatch):
    path = labvae.save_checkpoint(trained_vae, tmp_path / "vae.pt")
    before = path.read_bytes()

    def crash(obj, f, *a, **k):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        labvae.save_checkpoint(labvae.VAE(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["vae.pt"]


def test_load_or_train_reuses_matching_checkpoint(data, tmp_path):
    x_train, _, _x_test, _ = data
    cfg = labvae.MODELS["ae"]
    first = labvae.load_or_train(cfg, tmp_path / "ae.pt", x_train, epochs=1, progress=False, device="cpu")
    mtime = (tmp_path / "ae.pt").stat().st_mtime_ns
    again = labvae.load_or_train(cfg, tmp_path / "ae.pt", x_train, epochs=1, progress=False, device="cpu")
    assert (tmp_path / "ae.pt").stat().st_mtime_ns == mtime
    assert torch.equal(first.decoder[0].weight, again.decoder[0].weight)
    labvae.load_or_train(cfg, tmp_path / "ae.pt", x_train[:1000], epochs=1, progress=False, device="cpu")
    assert (tmp_path / "ae.pt").stat().st_mtime_ns != mtime  # other data: retrained


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_train_and_are_recorded(precision, data):
    x_train, _, x_test, _ = data
    model = labvae.VAE()
    before = labvae.evaluate(model, x_test)["loss"]
    history = labvae.fit(model, x_train, x_test, epochs=1, precision=precision, progress=False, device="cpu")
    assert history.precision == precision and history.final()["precision"] == precision
    assert history.test[-1]["loss"] < before - 50
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    assert model.decode(torch.zeros(1, 2)).dtype == torch.float32


def test_auto_precision_is_a_real_choice():
    from labvae.training import pick_precision

    assert pick_precision("auto", torch.device("cpu")) in ("fp32", "bf16")
    assert pick_precision("auto", torch.device("mps")) == "fp32"
    with pytest.raises(ValueError, match="precision"):
        pick_precision("fp8", torch.device("cpu"))


@pytest.mark.parametrize("capability, expected", [((7, 5), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16"), ((6, 1), "fp32")])
def test_auto_precision_on_cuda_is_bf16_only_where_native(monkeypatch, capability, expected):
    """A T4 (7.5) passes is_bf16_supported() but only emulates bf16: auto must pick fp32 there."""
    from labvae.training import pick_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert pick_precision("auto", torch.device("cuda")) == expected
    assert pick_precision("bf16", torch.device("cuda")) == "bf16"  # asked for explicitly: honoured
