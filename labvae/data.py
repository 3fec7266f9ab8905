"""Fashion-MNIST through torchvision, and a synthetic stand-in written in the same IDX format."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import numpy as np

from ._io import atomic_write
from .models import check_seed

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
RAW_FILES = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
)
_IDX_MAGIC = {3: 0x00000803, 1: 0x00000801}  # unsigned-byte IDX with 3 dims (images) or 1 (labels)


class DataError(RuntimeError):
    """Fashion-MNIST files are missing, truncated or corrupt."""


def cache_dir() -> Path:
    """Per-user cache for data and smoke-mode results: $LABVAE_CACHE, else ~/.cache/labvae."""
    if os.environ.get("LABVAE_CACHE"):
        return Path(os.environ["LABVAE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "labvae"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where Fashion-MNIST lives: the argument, else $LABVAE_DATA, else the cache folder."""
    if root is None:
        root = os.environ.get("LABVAE_DATA") or cache_dir() / "data"
    if not str(root).strip():  # Path("") would quietly mean the current folder
        raise DataError("the data folder is an empty name; give a folder that holds FashionMNIST/raw/.")
    return Path(root).expanduser()


def load_fashion_mnist(root=None, train: bool = True, download: bool = True):
    """Return (x, y): x float32 (N, 1, 28, 28) in [0, 1], y int64 (N,)."""
    from torchvision.datasets import FashionMNIST

    root = data_root(root)
    raw = root / "FashionMNIST" / "raw"
    for folder in (root, root / "FashionMNIST", raw):
        if folder.exists() and not folder.is_dir():
            raise DataError(f"{folder} is a file, but Fashion-MNIST's raw IDX files go in the folder "
                            f"{raw}; move that file away, or point at another data folder.")
    if not _raw_files_present(raw) and download:
        try:
            FashionMNIST(str(root), train=train, download=True)
        except Exception:  # offline, blocked or half-downloaded: explained below
            pass
    if not _raw_files_present(raw):
        raise DataError(_why_missing(raw, download))
    prefix = "train" if train else "t10k"
    n_images = _check_idx(raw / f"{prefix}-images-idx3-ubyte", ndim=3)[0]
    n_labels = _check_idx(raw / f"{prefix}-labels-idx1-ubyte", ndim=1)[0]
    if n_images != n_labels:
        raise DataError(
            f"{raw} holds {n_images} {prefix} images but {n_labels} labels; "
            "replace both files with a matching pair."
        )
    ds = FashionMNIST(str(root), train=train, download=False)
    x = ds.data.unsqueeze(1).float().div_(255)  # (N, 28, 28) uint8 -> (N, 1, 28, 28) in [0, 1]
    y = ds.targets.long()
    if len(y) and (y.min() < 0 or y.max() >= len(CLASSES)):
        raise DataError(f"{raw / (prefix + '-labels-idx1-ubyte')} has labels outside 0-9; it is corrupt.")
    return x, y


def _raw_files_present(raw: Path) -> bool:
    return all((raw / f).is_file() for f in RAW_FILES)


def _why_missing(raw: Path, download: bool) -> str:
    """One sentence on why the four raw files are not usable in raw, and what to do."""
    folders = [f for f in RAW_FILES if (raw / f).is_dir()]
    if folders:
        return (f"{raw / folders[0]} is a folder, but it should be the raw IDX file of that name; "
                "move the folder away and put the file there.")
    missing = [f for f in RAW_FILES if not (raw / f).is_file()]
    if all((raw / f"{f}.gz").is_file() for f in missing):
        return (f"{raw} holds Fashion-MNIST only as gzipped files ({', '.join(f + '.gz' for f in missing)}); "
                f"unpack them with: gunzip {raw}/*.gz")
    why = "it could not be downloaded" if download else "download=False"
    return (
        f"Fashion-MNIST not found in {raw} (missing: {', '.join(missing)}) and {why}; "
        f"put the four raw files {', '.join(RAW_FILES)} there, or point LABVAE_DATA at a folder "
        "that holds FashionMNIST/raw/, or use synthetic data "
        "(labvae.make_synthetic_fashion(root), or --data synthetic on the command line)."
    )


def _check_idx(path: Path, ndim: int) -> tuple[int, ...]:
    """Validate an IDX file's header against its size, so torchvision never reads garbage."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4 + 4 * ndim)
    if len(header) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated ({size} bytes, shorter than its header); download it again.")
    magic, *dims = struct.unpack(f">I{ndim}I", header)
    if magic != _IDX_MAGIC[ndim]:
        raise DataError(
            f"{path} is not an uncompressed Fashion-MNIST IDX file (magic number {magic:#010x}); "
            "if it is gzipped, unpack it with gunzip, else download it again."
        )
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DataError(f"{path} holds {dims[1]}x{dims[2]} images, not 28x28; it is not Fashion-MNIST.")
    if dims[0] == 0:
        raise DataError(f"{path} holds no {'images' if ndim == 3 else 'labels'} (its header says 0); "
                        "download it again.")
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if size != expected:
        raise DataError(
            f"{path} is truncated or corrupt: its header promises {expected} bytes but it has {size}; "
            "download it again."
        )
    return tuple(dims)


# ---------------------------------------------------------------------------------------------
# Synthetic garments: ten classes of simple shapes drawn with numpy, written as IDX files.


def make_synthetic_fashion(root, n_train: int = 6000, n_test: int = 1000, seed: int = 0) -> Path:
    """Write synthetic garment images as the four raw IDX files under root/FashionMNIST/raw/."""
    if not all(isinstance(n, int) and n >= 1 for n in (n_train, n_test)):
        raise ValueError(f"n_train and n_test must be whole numbers, at least 1 (got {n_train!r} and {n_test!r}).")
    check_seed(seed)
    raw = Path(root).expanduser() / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % len(CLASSES)  # balanced classes, shuffled
        rng.shuffle(labels)
        images = np.stack([_draw_garment(int(c), rng) for c in labels])
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return Path(root).expanduser()


def synthetic_fashion(root, n_train: int = 6000, n_test: int = 1000, seed: int = 0) -> Path:
    """The synthetic set under root: reused when all four files are intact, else (re)written."""
    raw = Path(root).expanduser() / "FashionMNIST" / "raw"
    if not raw.exists():
        return make_synthetic_fashion(root, n_train, n_test, seed)
    try:
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            if (_check_idx(raw / f"{prefix}-images-idx3-ubyte", ndim=3)[0] != n
                    or _check_idx(raw / f"{prefix}-labels-idx1-ubyte", ndim=1)[0] != n):
                raise DataError(f"{raw} holds another number of {prefix} images than {n}")
    except (DataError, OSError) as e:  # a killed earlier run or a stray edit: it is ours to rewrite
        print(f"labvae: the cached synthetic data is damaged ({str(e).split(';')[0]}); writing it again.",
              file=sys.stderr)
        return make_synthetic_fashion(root, n_train, n_test, seed)
    return Path(root).expanduser()


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(f">I{array.ndim}I", _IDX_MAGIC[array.ndim], *array.shape)
    atomic_write(path, lambda f: f.write(header + array.astype(np.uint8).tobytes()))


_YY, _XX = np.mgrid[0:28, 0:28].astype(np.float32)


def _box(x0, x1, y0, y1):
    return ((_XX >= x0) & (_XX <= x1) & (_YY >= y0) & (_YY <= y1)).astype(np.float32)


def _trapezoid(y0, y1, top_half, bottom_half, cx=13.5):
    """Rows y0..y1, half-width growing linearly from top_half to bottom_half."""
    t = np.clip((_YY - y0) / max(y1 - y0, 1e-3), 0, 1)
    half = top_half + t * (bottom_half - top_half)
    return ((np.abs(_XX - cx) <= half) & (_YY >= y0) & (_YY <= y1)).astype(np.float32)


def _ellipse(cx, cy, rx, ry):
    return ((((_XX - cx) / rx) ** 2 + ((_YY - cy) / ry) ** 2) <= 1).astype(np.float32)


def _shape(label: int, r: np.random.Generator) -> np.ndarray:
    """One garment silhouette (28, 28) in [0, 1], centred, before jitter."""

    def j(s=1.0):  # small random jitter, in pixels
        return r.uniform(-s, s)

    if label == 0:  # T-shirt: body plus short sleeves
        body = _box(8 + j(), 19 + j(), 5, 24 + j())
        sleeves = _trapezoid(5, 11 + j(), 9, 13 + j())
        return np.maximum(body, sleeves)
    if label == 1:  # Trouser: two long legs
        gap = 1 + abs(j())
        return np.maximum(_box(9 + j(), 13.5 - gap / 2, 3, 26), _box(13.5 + gap / 2, 18 + j(), 3, 26))
    if label == 2:  # Pullover: body plus long sleeves
        body = _box(8 + j(), 19 + j(), 4, 24 + j())
        arms = np.maximum(_box(3 + j(), 7, 5, 23 + j()), _box(20, 24 + j(), 5, 23 + j()))
        return np.maximum(body, np.maximum(arms, _box(7, 20, 4, 8)))
    if label == 3:  # Dress: narrow top flaring to a wide hem
        return _trapezoid(3, 26, 3 + j(), 10 + j())
    if label == 4:  # Coat: long body, long sleeves, dark zip line
        body = _box(7 + j(), 20 + j(), 3, 26)
        arms = np.maximum(_box(2 + j(), 6, 4, 25), _box(21, 25 + j(), 4, 25))
        shape = np.maximum(body, np.maximum(arms, _box(6, 21, 3, 7)))
        return shape * (1 - 0.6 * _box(13, 14, 6, 26))
    if label == 5:  # Sandal: sole plus thin straps
        sole = _box(2, 25 + j(), 19 + j(), 21)
        straps = sum(_box(x, x + 1, 12 + j(), 19) for x in (5, 10, 15, 20))
        return np.clip(sole + 0.8 * straps, 0, 1)
    if label == 6:  # Shirt: like a T-shirt with a collar and buttons, slightly longer sleeves
        body = _box(8 + j(), 19 + j(), 5, 24 + j())
        sleeves = _trapezoid(5, 15 + j(), 9, 13 + j())
        shape = np.maximum(body, sleeves) * (1 - 0.4 * _ellipse(13.5, 5, 3, 2))
        return shape * (1 - 0.5 * sum(_box(13, 14, y, y) for y in (9, 13, 17, 21)))
    if label == 7:  # Sneaker: low shoe, toe to the left, rising heel
        shoe = np.maximum(_box(2 + j(), 25, 16 + j(), 22), _ellipse(19 + j(), 15, 6, 5))
        return shoe * (1 - 0.5 * _box(2, 25, 21, 22))
    if label == 8:  # Bag: box with a handle arc
        bag = _box(4 + j(), 23 + j(), 11 + j(), 25)
        handle = _ellipse(13.5, 11, 6 + j(), 6) * (1 - _ellipse(13.5, 11, 4.5, 4.5)) * (_YY < 11)
        return np.maximum(bag, handle)
    # Ankle boot: tall shaft plus a foot
    return np.maximum(_box(12 + j(), 22 + j(), 3 + j(), 23), _box(3 + j(), 22, 16, 24))


def _draw_garment(label: int, r: np.random.Generator) -> np.ndarray:
    """A jittered, shaded, noisy uint8 image of one garment class."""
    img = _shape(label, r)
    scale = r.uniform(0.85, 1.1)
    dy, dx = r.uniform(-2, 2, size=2)
    # Resample about the centre: scale and shift with nearest-neighbour lookup (cheap and enough).
    src_y = np.clip(np.round((_YY - 13.5 - dy) / scale + 13.5), 0, 27).astype(int)
    src_x = np.clip(np.round((_XX - 13.5 - dx) / scale + 13.5), 0, 27).astype(int)
    img = img[src_y, src_x]
    shade = r.uniform(0.45, 1.0) * (1 + 0.25 * (_YY / 27 - 0.5) * r.uniform(-1, 1))  # lit from above/below
    img = img * shade + img * r.normal(0, 0.06, size=img.shape)  # fabric texture only on the garment
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
