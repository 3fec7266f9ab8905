"""Hostile inputs and interruptions: every output atomic, every bad input one clear line (issue 8)."""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

import labvae
from labvae import _io, cli
from labvae.training import pick_device

ARGS = ("--data", "synthetic", "--epochs", "1", "--quiet")


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "labvae", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def one_line_error(r, *words, code=1):
    """The run failed with exit code `code` and exactly one stderr line holding every word."""
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A completed `sweep` on synthetic data: checkpoints, grids, metrics and comparison.png."""
    out = tmp_path_factory.mktemp("finished") / "results"
    r = run("sweep", *ARGS, "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture
def results(finished_run, tmp_path):
    """A private copy of the finished run, free to damage."""
    return shutil.copytree(finished_run, tmp_path / "results")


# ---------------------------------------------------------------------------------------------
# 1. Every output is written atomically; a killed writer's temp file is removed by the next run.

SLOW_SAVEFIG = r"""
import os, sys, time
from pathlib import Path
import matplotlib.figure

def slow_savefig(self, fname, *args, **kwargs):
    f = open(fname, "wb") if isinstance(fname, (str, os.PathLike)) else fname  # savefig truncates a path
    f.write(b"\x89PNG half a figure")
    f.flush()
    Path(sys.argv[1]).write_text("writing")
    time.sleep(300)  # killed here, mid-write

matplotlib.figure.Figure.savefig = slow_savefig
from labvae.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_kill_while_writing_comparison_png_keeps_the_old_file(results, tmp_path):
    before = (results / "comparison.png").read_bytes()
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", SLOW_SAVEFIG, str(ready), "sweep", *ARGS, "--out", str(results)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(2400):  # up to 240 s for the cached run to reach the figure
            if ready.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), f"the child never reached savefig: {child.communicate()[1]}"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert (results / "comparison.png").read_bytes() == before  # the previous good figure, intact
    stale = list(results.glob(".comparison.png.*.tmp"))
    assert len(stale) == 1 and stale[0].read_bytes().startswith(b"\x89PNG half")

    r = run("sweep", *ARGS, "--out", str(results))
    assert r.returncode == 0, r.stderr
    assert not list(results.glob(".*.tmp"))  # the killed run's leftover is gone
    with Image.open(results / "comparison.png") as im:
        im.verify()


def test_atomic_write_removes_only_dead_writers_temps(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has exited
    stale = tmp_path / f".x.png.{dead_pid}.abcd1234.tmp"
    legacy = tmp_path / ".x.png.k2j4h5g6.tmp"  # written before temps carried a pid
    live = tmp_path / f".x.png.{os.getppid()}.zzzz9999.tmp"  # a running process: maybe mid-write
    other = tmp_path / ".x.png.bak.tmp.keep"
    sibling = tmp_path / f".x.png.old.{dead_pid}.abcd1234.tmp"  # the temp of "x.png.old", not of "x.png"
    for p in (stale, legacy, live, other, sibling):
        p.write_bytes(b"partial")
    _io.atomic_write(tmp_path / "x.png", lambda f: f.write(b"new"))
    assert (tmp_path / "x.png").read_bytes() == b"new"
    assert not stale.exists() and not legacy.exists()
    assert live.exists() and other.exists() and sibling.exists()


def test_interrupted_comparison_figure_leaves_previous_file(trained_vae, judge, data, tmp_path, monkeypatch):
    import matplotlib.figure

    from labvae import analysis

    _, _, x_test, y_test = data
    r = analysis.compare_model(trained_vae, judge, x_test, y_test)
    path = tmp_path / "comparison.png"
    path.write_bytes(b"the previous good figure")

    def crash(self, fname, *args, **kwargs):
        fname.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", crash)
    with pytest.raises(KeyboardInterrupt):
        analysis.comparison_figure({"VAE": trained_vae}, {"VAE": r}, x_test, y_test, path=path)
    assert path.read_bytes() == b"the previous good figure"
    assert [p.name for p in tmp_path.iterdir()] == ["comparison.png"]


# ---------------------------------------------------------------------------------------------
# 2. Devices that are not there: one line, non-zero exit.


@pytest.mark.parametrize("device, words", [
    ("cuda", ("needs a CUDA GPU", "auto or cpu")), ("cuda:7", ("cuda:7",)),
    ("mps", ("Apple",)), ("meta", ("cannot train on device 'meta'",)), ("tpu9", ("unknown device",)),
])
def test_unavailable_device_is_one_line(device, words, tmp_path):
    if device.startswith("cuda") and torch.cuda.device_count() > (7 if ":" in device else 0):
        pytest.skip("this machine has that GPU")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(ValueError, match=words[0]):
        pick_device(device)
    r = run("sweep", *ARGS, "--device", device, "--out", str(tmp_path / "out"))
    one_line_error(r, *words)
    assert not (tmp_path / "out" / "vae.pt").exists()  # refused before any training


# ---------------------------------------------------------------------------------------------
# 3. NaN and inf never reach a file.


def test_nan_image_is_refused_not_saved_black(tmp_path):
    grid = torch.full((1, 56, 56), float("nan"))
    with pytest.raises(ValueError, match="NaN or inf"):
        labvae.save_grid(grid, tmp_path / "g.png")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="NaN or inf"):
        labvae.decode_grid(lambda z: torch.full((len(z), 784), float("nan")))


@pytest.mark.parametrize("limit", [float("inf"), float("-inf"), float("nan"), 0.0])
def test_infinite_limit_is_refused(limit, trained_vae):
    with pytest.raises(ValueError, match="positive finite"):
        labvae.latent_grid(5, limit)
    with pytest.raises(ValueError, match="positive finite"):
        labvae.z_explorer(trained_vae, limit=limit)


def test_checkpoint_with_nan_weights_is_retrained_not_drawn(results):
    path = results / "vae.pt"
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["decoder.0.weight"][0, 0] = float("nan")
    torch.save(payload, path)
    with pytest.raises(labvae.CheckpointError, match="NaN or inf"):
        labvae.load_checkpoint(path)
    r = run("sweep", *ARGS, "--out", str(results))
    assert r.returncode == 0, r.stderr
    assert "vae.pt" in r.stderr and "NaN" in r.stderr and "again" in r.stderr
    labvae.load_checkpoint(path)  # replaced by a good one
    with Image.open(results / "vae_grid.png") as im:
        assert np.asarray(im).std() > 5  # a real sweep, not a black square


def test_saving_nan_weights_is_refused(tmp_path):
    model = labvae.VAE()
    with torch.no_grad():
        model.to_mu.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf weights"):
        labvae.save_checkpoint(model, tmp_path / "vae.pt")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# 4. A damaged checkpoint payload is reported, and the CLI retrains over it and says so.


def _damage(payload, how):
    if how == "no config":
        del payload["config"]
    elif how == "no state_dict":
        del payload["state_dict"]
    elif how == "meta is a list":
        payload["meta"] = ["key"]
    elif how == "history is a string":
        payload["history"] = "ten epochs"
    elif how == "history train is a dict":
        payload["history"]["train"] = {"loss": 1.0}
    elif how == "weights not tensors":
        payload["state_dict"] = {"decoder.0.weight": [1.0, 2.0]}
    return payload


@pytest.mark.parametrize("how", ["no config", "no state_dict", "meta is a list", "history is a string",
                                 "history train is a dict", "weights not tensors"])
def test_damaged_checkpoint_is_one_clear_error(how, trained_vae, tmp_path):
    path = labvae.save_checkpoint(trained_vae, tmp_path / "vae.pt")
    torch.save(_damage(torch.load(path, weights_only=True), how), path)
    with pytest.raises(labvae.CheckpointError, match="is damaged: its .*; delete it and train again"):
        labvae.load_checkpoint(path)


@pytest.mark.parametrize("how", ["no state_dict", "meta is a list"])
def test_cli_retrains_over_a_damaged_checkpoint_and_says_so(how, results):
    path = results / "vae.pt"
    torch.save(_damage(torch.load(path, weights_only=True), how), path)
    r = run("sweep", *ARGS, "--out", str(results))
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if "vae.pt" in line]
    assert len(lines) == 1 and "damaged" in lines[0] and "training the vae again" in lines[0]
    assert labvae.load_checkpoint(path).meta["key"]["epochs"] == 1


def test_checkpoint_folder_in_the_way_is_one_line(tmp_path):
    out = tmp_path / "out"
    (out / "vae.pt").mkdir(parents=True)
    one_line_error(run("sweep", *ARGS, "--out", str(out)), "vae.pt is a folder")


# ---------------------------------------------------------------------------------------------
# 5. Divergence without NaN stops training and restores the last good weights.


def test_exploding_loss_stops_and_restores_the_weights(data):
    model = labvae.Autoencoder()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(labvae.TrainingError, match=r"exploded to .* epoch 1, step 2\b.*lower the learning rate"):
        labvae.fit(model, data[0][:1000], epochs=3, lr=1e9, progress=False, device="cpu")
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())  # the weights it started with
    assert not model.training and model.history.epochs == 0


def test_diverging_vae_is_left_usable(data):
    model = labvae.VAE()
    with pytest.raises(labvae.TrainingError):
        labvae.fit(model, data[0][:1000], epochs=2, lr=1e6, progress=False, device="cpu")
    assert not model.training
    assert all(torch.isfinite(p).all() and p.abs().max() < 10 for p in model.parameters())
    assert torch.isfinite(labvae.decode_grid(model.decode, n=3)).all()


def test_explosion_in_epoch_two_keeps_epoch_one(data):
    x = data[0][:600]
    reference = labvae.VAE()
    labvae.fit(reference, x, epochs=1, batch_size=100, progress=False, device="cpu")
    model, calls = labvae.VAE(), []
    real_loss = model.loss

    def loss(batch):  # the first batch of epoch 2 (6 batches per epoch) comes back 1000x too large
        calls.append(1)
        terms = real_loss(batch)
        return {k: v * 1000 for k, v in terms.items()} if len(calls) == 7 else terms

    model.loss = loss
    with pytest.raises(labvae.TrainingError, match=r"epoch 2, step 1\b.*start of epoch 2"):
        labvae.fit(model, x, epochs=3, batch_size=100, progress=False, device="cpu")
    assert model.history.epochs == 1  # the history matches the weights kept
    ref = reference.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in model.state_dict().items())


def test_nan_test_loss_in_epoch_two_keeps_epoch_one_and_its_history(data):
    x, x_test = data[0][:600], data[2][:100]
    reference = labvae.VAE()
    labvae.fit(reference, x, x_test, epochs=1, batch_size=100, progress=False, device="cpu")
    model, test_passes = labvae.VAE(), []
    real_loss = model.loss

    def loss(batch):  # the test pass after epoch 2 comes back NaN; training steps stay finite
        if not model.training:
            test_passes.append(1)
            if len(test_passes) == 2:
                return {k: v * float("nan") for k, v in real_loss(batch).items()}
        return real_loss(batch)

    model.loss = loss
    with pytest.raises(labvae.TrainingError, match=r"test loss became nan after epoch 2.*start of epoch 2"):
        labvae.fit(model, x, x_test, epochs=3, batch_size=100, progress=False, device="cpu")
    assert model.history.epochs == 1 and len(model.history.test) == 1  # matches the weights kept
    ref = reference.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in model.state_dict().items())


def test_interrupted_fit_keeps_whole_epochs(data):
    model, calls = labvae.VAE(), []
    real_loss = model.loss
    start = {k: v.clone() for k, v in model.state_dict().items()}

    def loss(batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_loss(batch)

    model.loss = loss
    with pytest.raises(KeyboardInterrupt):
        labvae.fit(model, data[0][:600], epochs=1, batch_size=100, progress=False, device="cpu")
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items()) and not model.training


# ---------------------------------------------------------------------------------------------
# 6. Unclear messages made clear.


def _raw(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    return raw


def test_only_gzipped_files_says_gunzip(synthetic_root, tmp_path):
    raw = _raw(tmp_path)
    for f in labvae.data.RAW_FILES:
        (raw / f"{f}.gz").write_bytes(b"\x1f\x8b not really")
    with pytest.raises(labvae.DataError, match=r"only as gzipped files .*gunzip"):
        labvae.load_fashion_mnist(tmp_path, download=False)


def test_folder_where_a_raw_file_should_be(synthetic_root, tmp_path):
    raw = _raw(tmp_path)
    for f in labvae.data.RAW_FILES:
        shutil.copy(synthetic_root / "FashionMNIST" / "raw" / f, raw / f)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    (raw / "t10k-labels-idx1-ubyte").mkdir()
    with pytest.raises(labvae.DataError, match="t10k-labels-idx1-ubyte is a folder"):
        labvae.load_fashion_mnist(tmp_path, download=False)


def test_raw_is_a_file(tmp_path):
    (tmp_path / "FashionMNIST").mkdir()
    (tmp_path / "FashionMNIST" / "raw").write_text("oops")
    with pytest.raises(labvae.DataError, match=r"raw is a file"):
        labvae.load_fashion_mnist(tmp_path, download=False)


def test_zero_image_idx_file(tmp_path):
    labvae.make_synthetic_fashion(tmp_path, n_train=20, n_test=10)
    (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, 0, 28, 28))
    with pytest.raises(labvae.DataError, match="holds no images"):
        labvae.load_fashion_mnist(tmp_path, download=False)


def test_truncated_cached_synthetic_data_is_regenerated(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABVAE_CACHE", str(tmp_path))
    cfg = labvae.LabConfig(data="synthetic", synthetic_sizes=(40, 20))
    images = cfg.data_folder() / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    good = images.read_bytes()
    images.write_bytes(good[:-500])  # a run killed by an older labvae, or a full disk
    x_train, _, x_test, _ = cfg.load_data()
    assert images.read_bytes() == good and len(x_train) == 40 and len(x_test) == 20
    assert "writing it again" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (("--seed", "-1"), ("seed must be a whole number from 0 to 4294967295",)),
    (("--seed", str(2**70)), ("seed must be a whole number",)),
    (("--data", ""), ("--data", "is empty")),
    (("--out", ""), ("--out", "is empty")),
    (("--out", " "), ("--out", "is empty")),
])
def test_bad_cli_values_are_one_line(args, words):
    one_line_error(run("sweep", "--quiet", *args), *words, "--help", code=2)


def test_seed_whose_comparison_seeds_overflow_is_refused_before_training(tmp_path):
    r = run("sweep", "--quiet", "--data", "synthetic", "--seed", "4294967295", "--out", str(tmp_path / "out"))
    one_line_error(r, "--seed 4294967295 is too large", "use at most 4294967293")
    assert not (tmp_path / "out" / "vae.pt").exists()


def test_empty_labvae_data_is_refused(tmp_path):
    with pytest.raises(labvae.DataError, match="empty name"):
        labvae.load_fashion_mnist("", download=False)


def test_fit_on_0_255_data_says_scale_it(data):
    x = data[0][:100]
    with pytest.raises(ValueError, match=r"torch.uint8 .*/ 255"):
        labvae.fit(labvae.VAE(), (x * 255).to(torch.uint8), progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"from 0 to 255; .*\[0, 1\]"):
        labvae.fit(labvae.VAE(), (x * 255).round(), progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"x_test holds"):
        labvae.fit(labvae.VAE(), x, x * 255, progress=False, device="cpu")


def test_fit_on_an_empty_tensor(data):
    with pytest.raises(ValueError, match="non-empty"):
        labvae.fit(labvae.VAE(), torch.empty(0, 1, 28, 28), progress=False, device="cpu")
    with pytest.raises(ValueError, match="non-empty"):
        labvae.evaluate(labvae.VAE(), torch.empty(0, 784))


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5])
def test_fit_and_synthetic_data_refuse_bad_seeds(seed, data, tmp_path):
    with pytest.raises(ValueError, match="seed must be a whole number"):
        labvae.fit(labvae.VAE(), data[0][:10], seed=seed, progress=False, device="cpu")
    with pytest.raises(ValueError, match="seed must be a whole number"):
        labvae.make_synthetic_fashion(tmp_path, n_train=5, n_test=5, seed=seed)


def test_zero_dim_decoder_output():
    with pytest.raises(ValueError, match=r"returned \(\) for 441 z vectors"):
        labvae.decode_grid(lambda z: torch.tensor(0.5))


# ---------------------------------------------------------------------------------------------
# 7. metrics.json is strict JSON.


def _strict(text):
    def refuse(name):
        raise AssertionError(f"metrics.json holds {name}, which is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_metrics_json_is_strict_with_one_test_image(tmp_path):
    labvae.make_synthetic_fashion(tmp_path / "data", n_train=300, n_test=1)
    r = run("sweep", "--data", str(tmp_path / "data"), "--epochs", "1", "--out", str(tmp_path / "out"), "--quiet")
    assert r.returncode == 0, r.stderr
    metrics = _strict((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["vae"]["comparison"]["real_to_real_median"] is None  # no other image to be near


def test_write_json_turns_non_finite_numbers_into_null(tmp_path):
    cli._write_json(tmp_path / "m.json", {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": -float("inf")}})
    assert _strict((tmp_path / "m.json").read_text()) == {"a": None, "b": [1.0, None], "c": {"d": None}}


# ---------------------------------------------------------------------------------------------
# 8. An unwritable --out is found before training; n=1 and limit=8 sweeps are labelled right.


def test_unwritable_out_is_found_before_training(tmp_path, monkeypatch, capsys):
    out = tmp_path / "locked"
    out.mkdir()
    real_mkstemp = _io.tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if os.path.samefile(dir, out):
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --out")

    monkeypatch.setattr(_io.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(labvae.LabConfig, "load_data", no_training)
    assert cli.main(["sweep", *ARGS, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"labvae: error: cannot write into {out} (Permission denied); choose another folder "
                   "with --out, or fix its permissions."]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_folder(tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o555)
    try:
        one_line_error(run("sweep", *ARGS, "--out", str(out)), "cannot write into")
    finally:
        out.chmod(0o755)


def test_one_tile_sweep_is_the_centre_and_labelled_so(z_decoder):
    assert labvae.latent_grid(1).tolist() == [[0.0, 0.0]]
    image = labvae.decode_grid(z_decoder, n=1)
    assert image[0, :, :14].mean() == pytest.approx(0.5) and image[0, :, 14:].mean() == pytest.approx(0.5)
    left, right, bottom, top = labvae.show_grid(image).get_images()[0].get_extent()
    assert (left + right) / 2 == 0 and (bottom + top) / 2 == 0  # the tile's centre is drawn at z = (0, 0)
    assert (left, right) == (-4, 4)  # the one tile stands for the whole window


@pytest.mark.parametrize("n", [2, 5, 21])
def test_sweeps_of_more_tiles_are_unchanged(n):
    z1, z2 = torch.linspace(-4, 4, n), torch.linspace(4, -4, n)
    expected = torch.stack([z1.repeat(n), z2.repeat_interleave(n)], dim=1)
    assert torch.equal(labvae.latent_grid(n, 4.0), expected)


def test_limit_travels_with_the_image(z_decoder):
    image = labvae.decode_grid(z_decoder, n=21, limit=8.0)
    ax = labvae.show_grid(image)
    assert list(ax.get_xticks()) == list(range(-8, 9))
    left, right, _, _ = ax.get_images()[0].get_extent()
    assert left < -8 and right > 8 and left > -9
    with pytest.raises(ValueError, match="decoded with limit=8 but show_grid got limit=4"):
        labvae.show_grid(image, limit=4.0)
    with pytest.raises(ValueError, match="pass limit="):
        labvae.show_grid(image.clone())  # a plain tensor: the window is not known
    assert list(labvae.show_grid(image.clone(), limit=8).get_xticks()) == list(range(-8, 9))
