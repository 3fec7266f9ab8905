import struct

import pytest
import torch

import labvae
from labvae.data import RAW_FILES


def test_synthetic_files_load_through_torchvision(synthetic_root, data):
    raw = synthetic_root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(RAW_FILES)
    x_train, y_train, x_test, _y_test = data
    assert x_train.shape == (2000, 1, 28, 28) and x_test.shape == (400, 1, 28, 28)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert 0 <= x_train.min() and x_train.max() <= 1 and x_train.max() > 0.5
    assert torch.equal(torch.bincount(y_train), torch.full((10,), 200))


def test_synthetic_classes_differ_and_vary(data):
    x, y, _, _ = data
    means = torch.stack([x[y == c].mean(0) for c in range(10)])  # (10, 1, 28, 28)
    dists = torch.cdist(means.flatten(1), means.flatten(1))
    assert dists[~torch.eye(10, dtype=bool)].min() > 1.0  # every pair of class means differs
    assert x[y == 0].std(0).mean() > 0.05  # items within a class vary


def test_synthetic_is_deterministic(tmp_path):
    a = labvae.make_synthetic_fashion(tmp_path / "a", n_train=50, n_test=10, seed=3)
    b = labvae.make_synthetic_fashion(tmp_path / "b", n_train=50, n_test=10, seed=3)
    for name in RAW_FILES:
        assert (a / "FashionMNIST/raw" / name).read_bytes() == (b / "FashionMNIST/raw" / name).read_bytes()


def test_missing_data_error_says_where_and_what_to_do(tmp_path):
    with pytest.raises(labvae.DataError) as e:
        labvae.load_fashion_mnist(tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in msg
    assert all(name in msg for name in RAW_FILES)
    assert "LABVAE_DATA" in msg and "synthetic" in msg


def test_labvae_data_environment_variable(synthetic_root, monkeypatch):
    monkeypatch.setenv("LABVAE_DATA", str(synthetic_root))
    x, _ = labvae.load_fashion_mnist(train=False, download=False)
    assert len(x) == 400


def _copy_root(src, dst):
    raw = dst / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES:
        (raw / name).write_bytes((src / "FashionMNIST" / "raw" / name).read_bytes())
    return raw


def test_truncated_file_is_a_clear_error(synthetic_root, tmp_path):
    raw = _copy_root(synthetic_root, tmp_path)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(labvae.DataError, match="truncated or corrupt"):
        labvae.load_fashion_mnist(tmp_path, download=False)


def test_wrong_magic_is_a_clear_error(synthetic_root, tmp_path):
    raw = _copy_root(synthetic_root, tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes(struct.pack(">I", 0x1F8B0800) + labels.read_bytes()[4:])
    with pytest.raises(labvae.DataError, match="not an uncompressed Fashion-MNIST IDX file"):
        labvae.load_fashion_mnist(tmp_path, train=False, download=False)


def test_image_label_count_mismatch(synthetic_root, tmp_path):
    raw = _copy_root(synthetic_root, tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    body = labels.read_bytes()[8:-1]
    labels.write_bytes(struct.pack(">II", 0x801, len(body)) + body)
    with pytest.raises(labvae.DataError, match="399 labels"):
        labvae.load_fashion_mnist(tmp_path, train=False, download=False)


def test_bad_sizes_rejected(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        labvae.make_synthetic_fashion(tmp_path, n_train=0)
