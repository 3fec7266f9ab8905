"""The training loop and evaluation: fit(model, x_train, x_test) with Adam, per-epoch History."""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .models import IMAGE_PIXELS, check_seed
from .threads import fit_threads

TERMS = ("loss", "recon", "kl")
EXPLODED = 100  # a step loss this many times the first one means divergence: BCE only falls when training works


class TrainingError(RuntimeError):
    """Training diverged (NaN, inf or exploding loss)."""


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
    """'auto' -> CUDA, else Apple MPS, else CPU; cpu, cuda[:i] or mps only where they are present."""
    if str(device) != "auto":
        return _check_device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _check_device(device) -> torch.device:
    """torch.device(device) if labvae can train on it here, else ValueError with what to use instead."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or mps.") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(device)!r} needs a CUDA GPU and this machine has none; use auto or cpu.")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {str(device)!r} does not exist: this machine has {count} CUDA GPU(s), "
                             f"cuda:0 to cuda:{count - 1}; use one of those, auto or cpu.")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device {str(device)!r} needs an Apple-silicon GPU, which this machine lacks; use auto or cpu.")
    elif dev.type != "cpu":
        raise ValueError(f"labvae cannot train on device {str(device)!r}; use auto, cpu, cuda or mps.")
    return dev


def pick_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where the hardware multiplies bf16 natively, else 'fp32'.

    On CUDA that means compute capability 8.0 (Ampere) or newer: older GPUs such as Colab's T4 (7.5)
    pass torch.cuda.is_bf16_supported() but only emulate bf16, which is slower than fp32.
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', not {precision!r}.")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.get_device_capability(device) >= (8, 0) else "fp32"
    if device.type == "cpu":
        native = (getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
                  or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
        return "bf16" if native else "fp32"  # emulated bf16 would be slower than fp32
    return "fp32"


def _flat(x: torch.Tensor, name: str) -> torch.Tensor:
    """(N, 1, 28, 28) images in [0, 1] -> (N, 784) float32, or ValueError saying what is wrong."""
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) == 0 or x[0].numel() != IMAGE_PIXELS:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a non-empty tensor of 28x28 images (N, 1, 28, 28), got {shape}.")
    if not x.is_floating_point():
        raise ValueError(f"{name} holds {x.dtype} values; labvae expects float pixels in [0, 1] "
                         f"(for 0-255 images use {name}.float() / 255).")
    x = x.reshape(len(x), IMAGE_PIXELS).float()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or inf pixels; drop or repair those images before training.")
    lo, hi = torch.aminmax(x)
    if lo < 0 or hi > 1:  # BCE needs targets in [0, 1]; 0-255 data would look like a bad learning rate
        raise ValueError(f"{name} holds pixels from {lo.item():g} to {hi.item():g}; labvae expects them "
                         f"in [0, 1] (for 0-255 images use {name} / 255).")
    return x


def fit(model, x_train, x_test=None, *, epochs: int = 10, batch_size: int = 256, lr: float = 1e-3,
        seed: int = 0, device="auto", precision: str = "auto", progress: bool = True) -> History:
    """Train model with Adam on shuffled in-memory batches; returns (and attaches) its History.

    precision: 'fp32', 'bf16' (autocast: bf16 matmuls, fp32 weights, optimizer and loss sums), or
    'auto' = bf16 where the CPU or GPU multiplies bf16 natively, else fp32. The one used is recorded
    in History.precision. Evaluation, decoding and the sweep always run in fp32.
    """
    if not (_whole(epochs) and _whole(batch_size) and epochs >= 1 and batch_size >= 1
            and isinstance(lr, numbers.Real) and 0 < lr < math.inf):
        raise ValueError(f"epochs and batch_size must be whole numbers >= 1 and lr a finite number > 0 "
                         f"(got {epochs!r}, {batch_size!r}, {lr!r}).")
    check_seed(seed)
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
    first = None  # the first step's loss: the yardstick for an exploding loss
    good = _snapshot(model)  # the last weights known good: what any failure rolls back to
    # One bar per model, one step per epoch: in a notebook each bar is a widget, and a bar per epoch
    # made hundreds of them (a browser tab, Colab's above all, slows down under that many).
    bar = tqdm(total=epochs, desc=f"{model.config.kind}", unit="epoch", disable=not progress, mininterval=0.5)
    try:
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed)  # the VAE's reparameterisation noise
            for epoch in range(1, epochs + 1):
                if epoch > 1:
                    good = _snapshot(model)  # an epoch finished cleanly: a copy of ~3 MB, once per epoch
                fit_threads()  # each epoch: the load of a shared server changes while a model trains
                first = _epoch(model, opt, x_train, x_test, history, epoch, batch_size, lr,
                               autocast, order, first, bar)
                bar.update(1)
    except BaseException:
        model.load_state_dict(good)  # never leave half-updated or blown-up weights behind
        model.eval()
        model.history = history  # the completed epochs, which match the restored weights
        raise
    finally:
        bar.close()
    model.eval()
    model.history = history
    return history


def _epoch(model, opt, x_train, x_test, history, epoch, batch_size, lr, autocast, order, first, bar) -> float:
    """One pass over shuffled batches, then the test pass; raises TrainingError on divergence.

    bar: the model's progress bar (one step per epoch); its postfix shows the running loss.
    """
    t0 = time.perf_counter()
    model.train()
    n, dev = len(x_train), x_train.device
    steps = -(-n // batch_size)
    sums = dict.fromkeys(TERMS, 0.0)
    perm = torch.randperm(n, generator=order).to(dev)
    for step in range(steps):
        idx = perm[step * batch_size : (step + 1) * batch_size]
        with autocast:
            terms = model.loss(x_train[idx])
        values = {k: v.item() for k, v in terms.items()}
        loss = values["loss"]
        first = loss if first is None and math.isfinite(loss) else first
        # Checked before the update, so a bad step never reaches the weights.
        finite = all(map(math.isfinite, values.values()))
        if not finite or abs(loss) > EXPLODED * max(abs(first), 1.0):
            raise TrainingError(
                f"the {model.config.kind} loss "
                + (f"exploded to {loss:.3g}" if finite else f"became {loss:.3g}")
                + f" at epoch {epoch}, step {step + 1}" + (f" (it began at {first:.1f})" if finite else "")
                + f", so training stopped and the weights from the start of epoch {epoch} were kept; "
                f"lower the learning rate (lr={lr:g})."
            )
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        for k in TERMS:
            sums[k] += values[k] * len(idx)
        if step % 20 == 0:
            bar.set_postfix(epoch=epoch, loss=f"{loss:.1f}", refresh=False)  # drawn at the bar's own pace
    history.train.append({k: sums[k] / n for k in TERMS})
    if x_test is not None:
        test = _evaluate(model, x_test)
        if not all(map(math.isfinite, test.values())):
            history.train.pop()  # the weights roll back to this epoch's start: so does the history
            raise TrainingError(
                f"the {model.config.kind} test loss became {test['loss']:.3g} after epoch {epoch}, so "
                f"training stopped and the weights from the start of epoch {epoch} were kept; lower "
                f"the learning rate (lr={lr:g})."
            )
        history.test.append(test)
    history.seconds.append(time.perf_counter() - t0)
    bar.set_postfix(train=f"{history.train[-1]['loss']:.1f}", refresh=False,
                    **({"test": f"{history.test[-1]['loss']:.1f}"} if history.test else {}))
    return first


def _snapshot(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _adam(model, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused single-kernel update where this torch supports it (same maths, faster)."""
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.Adam(model.parameters(), lr=lr)


def evaluate(model, x, batch_size: int = 2048) -> dict:
    """Mean per-image loss terms (nats) over x; the VAE's terms use one posterior sample."""
    return _evaluate(model, _flat(x, "x"), batch_size)


@torch.no_grad()
def _evaluate(model, x, batch_size: int = 2048) -> dict:
    """evaluate on x already checked and flattened to (N, 784)."""
    fit_threads()
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(TERMS, 0.0)
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(model.device)
        for k, v in model.loss(xb).items():
            sums[k] += v.item() * len(xb)
    model.train(was_training)
    return {k: sums[k] / len(x) for k in TERMS}
