"""Training loop, evaluation and checkpoints."""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ._io import atomic_write
from .models import IMAGE_PIXELS, ModelConfig

TERMS = ("loss", "recon", "kl")
CHECKPOINT_FORMAT = "labvae-checkpoint-v1"


class CheckpointError(RuntimeError):
    """A checkpoint file is unreadable, unsafe or for another model."""


class TrainingError(RuntimeError):
    """Training diverged (NaN or inf loss)."""


@dataclass
class History:
    """Per-epoch mean loss terms (nats per image) and wall time."""

    train: list[dict] = field(default_factory=list)  # one {"loss", "recon", "kl"} per epoch
    test: list[dict] = field(default_factory=list)  # empty when fit got no x_test
    seconds: list[float] = field(default_factory=list)  # wall time per epoch, test pass included
    precision: str = "fp32"  # what fit's forward/backward ran in: "fp32" or "bf16"

    @property
    def epochs(self) -> int:
        return len(self.train)

    def final(self) -> dict:
        """Last epoch's train/test terms and total seconds, as a flat dict."""
        out = {f"train_{k}": v for k, v in (self.train[-1] if self.train else {}).items()}
        out.update({f"test_{k}": v for k, v in (self.test[-1] if self.test else {}).items()})
        return {**out, "epochs": self.epochs, "seconds": round(sum(self.seconds), 2), "precision": self.precision}

    def to_dict(self) -> dict:
        return {"train": self.train, "test": self.test, "seconds": self.seconds, "precision": self.precision}

    def plot(self, axes=None, title: str = ""):
        """Loss, reconstruction and KL per epoch, train solid and test dashed, one panel each."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 3, figsize=(12, 3))
        epochs = range(1, self.epochs + 1)
        for ax, term, name in zip(axes, TERMS, ("loss = recon + KL", "reconstruction (BCE)", "KL")):
            ax.plot(epochs, [e[term] for e in self.train], "-o", ms=3, label=f"{title} train".strip())
            if self.test:
                ax.plot(epochs, [e[term] for e in self.test], "--", label=f"{title} test".strip())
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.set_ylabel("nats per image")
            ax.legend(fontsize=8)
        return axes

    @classmethod
    def from_dict(cls, d: dict | None) -> History:
        d = d or {}
        return cls(list(d.get("train", [])), list(d.get("test", [])), list(d.get("seconds", [])),
                   d.get("precision", "fp32"))


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA, else Apple MPS, else CPU; anything else is passed to torch."""
    if str(device) != "auto":
        try:
            return torch.device(device)
        except RuntimeError:
            raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps.") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where the hardware multiplies bf16 natively, else 'fp32'."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', not {precision!r}.")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        native = (getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
                  or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
        return "bf16" if native else "fp32"  # emulated bf16 would be slower than fp32
    return "fp32"


def _flat(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x[0].numel() != IMAGE_PIXELS or len(x) == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a non-empty tensor of 28x28 images (N, 1, 28, 28), got {shape}.")
    return x.reshape(len(x), IMAGE_PIXELS).float()


def fit(model, x_train, x_test=None, *, epochs: int = 10, batch_size: int = 256, lr: float = 1e-3,
        seed: int = 0, device="auto", precision: str = "auto", progress: bool = True) -> History:
    """Train model with Adam on shuffled in-memory batches; returns (and attaches) its History.

    precision: 'fp32', 'bf16' (autocast: bf16 matmuls, fp32 weights, optimizer and loss sums), or
    'auto' = bf16 where the CPU or GPU multiplies bf16 natively, else fp32. The one used is recorded
    in History.precision. Evaluation, decoding and the sweep always run in fp32.
    """
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"epochs and batch_size must be >= 1 and lr > 0 (got {epochs}, {batch_size}, {lr}).")
    dev = pick_device(device)
    precision = pick_precision(precision, dev)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    # Flatten and move once: batches are then plain index lookups, no per-item transforms.
    x_train = _flat(x_train, "x_train").to(dev)
    x_test = None if x_test is None else _flat(x_test, "x_test")
    model.to(dev)
    opt = _adam(model, lr, dev)
    order = torch.Generator().manual_seed(seed)  # shuffling, independent of the global RNG
    history = History(precision=precision)
    n = len(x_train)
    steps = -(-n // batch_size)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)  # the VAE's reparameterisation noise
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            model.train()
            sums = dict.fromkeys(TERMS, 0.0)
            perm = torch.randperm(n, generator=order).to(dev)
            bar = tqdm(range(steps), desc=f"{model.config.kind} epoch {epoch}/{epochs}",
                       disable=not progress, leave=epoch == epochs, mininterval=0.5)
            for step in bar:
                idx = perm[step * batch_size : (step + 1) * batch_size]
                with autocast:
                    terms = model.loss(x_train[idx])
                values = {k: v.item() for k, v in terms.items()}
                if not all(map(math.isfinite, values.values())):  # checked before the update, so
                    raise TrainingError(                            # the weights stay the last good ones
                        f"the {model.config.kind} loss became {values['loss']} at epoch {epoch}, step "
                        f"{step + 1}; lower the learning rate (lr={lr}) or check the data for NaNs."
                    )
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                opt.step()
                for k in TERMS:
                    sums[k] += values[k] * len(idx)
                if step % 20 == 0:
                    bar.set_postfix(loss=f"{values['loss']:.1f}")
            history.train.append({k: sums[k] / n for k in TERMS})
            if x_test is not None:
                history.test.append(evaluate(model, x_test))
            history.seconds.append(time.perf_counter() - t0)
            if progress:
                bar.set_postfix(train=f"{history.train[-1]['loss']:.1f}",
                                **({"test": f"{history.test[-1]['loss']:.1f}"} if history.test else {}))
    model.eval()
    model.history = history
    return history


def _adam(model, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused single-kernel update where this torch supports it (same maths, faster)."""
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.Adam(model.parameters(), lr=lr)


@torch.no_grad()
def evaluate(model, x, batch_size: int = 2048) -> dict:
    """Mean per-image loss terms (nats) over x; the VAE's terms use one posterior sample."""
    x = _flat(x, "x")
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(TERMS, 0.0)
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(model.device)
        for k, v in model.loss(xb).items():
            sums[k] += v.item() * len(xb)
    model.train(was_training)
    return {k: sums[k] / len(x) for k in TERMS}


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(model, path, **meta) -> Path:
    """Write state_dict + config + history atomically (temp file, then rename)."""
    history = getattr(model, "history", None)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history.to_dict() if history is not None else None,
        "meta": json.loads(json.dumps(meta)),  # plain JSON types only, so weights_only loading works
    }
    return atomic_write(path, lambda f: torch.save(payload, f))  # the previous file survives a crash


def read_checkpoint(path) -> dict:
    """Load a checkpoint's payload safely (weights_only) and check its format."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train the model first (or check the path).")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} contains pickled Python objects, which labvae refuses to load (they can run code); "
            "use a checkpoint written by labvae.save_checkpoint."
        ) from None
    except Exception as e:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}); delete it and train again.") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a labvae checkpoint; use one written by labvae.save_checkpoint.")
    return payload


def load_checkpoint(path, kind: str | None = None, device="cpu"):
    """Rebuild the model saved at path (optionally insisting on kind 'vae'/'ae'/'classifier')."""
    payload = read_checkpoint(path)
    config = dict(payload["config"])
    if kind is not None and config.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {config.get('kind')!r} model, not the {kind!r} asked for.")
    if config.get("kind") == "classifier":
        from .compare import ClassifierConfig
        model = ClassifierConfig(**{k: v for k, v in config.items() if k != "kind"}).build()
    else:
        try:
            model = ModelConfig(**config).build()
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path} describes a model labvae cannot build: {e}") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError:
        raise CheckpointError(
            f"{path}'s weights do not fit the architecture its config describes ({config}); "
            "it was written for another model: delete it and train again."
        ) from None
    model.history = History.from_dict(payload.get("history"))
    model.meta = payload.get("meta", {})
    return model.to(pick_device(device)).eval()


def fingerprint(*tensors: torch.Tensor) -> str:
    """Short content hash of tensors, to tell whether a cached checkpoint saw the same data."""
    h = hashlib.sha1()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def load_or_train(config, path, x_train, x_test=None, *, epochs: int = 10, batch_size: int = 256,
                  lr: float = 1e-3, seed: int = 0, device="auto", precision: str = "auto",
                  progress: bool = True):
    """Load the checkpoint at path if it was trained with exactly these settings and data, else train and save."""
    key = {"config": config.to_dict(), "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
           "precision": pick_precision(precision, pick_device(device)), "data": fingerprint(x_train)}
    path = Path(path)
    if path.is_file():
        try:
            model = load_checkpoint(path, device=device)
            if model.meta.get("key") == key:
                return model
        except CheckpointError:
            pass  # stale or foreign file: retrain and replace it atomically
    model = config.build()
    if progress:
        print(f"training {config.kind} ({config.to_dict()}) for {epochs} epochs -> {path}")
    fit(model, x_train, x_test, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        device=device, precision=precision, progress=progress)
    save_checkpoint(model, path, key=key)
    model.meta = {"key": key}
    return model
