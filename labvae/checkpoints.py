"""Checkpoints: save, load safely (weights only) and load-or-train with a key of settings and data."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path

import torch

from ._io import atomic_write
from .models import build_model
from .training import History, fit, pick_device, pick_precision

CHECKPOINT_FORMAT = "labvae-checkpoint-v1"


class CheckpointError(RuntimeError):
    """A checkpoint file is unreadable, unsafe, damaged or for another model."""

    def __init__(self, message: str, problem: str | None = None):
        super().__init__(message)
        self.problem = problem or message  # what is wrong, without the advice: for "replacing it" notes


def _damaged(path, problem: str) -> CheckpointError:
    return CheckpointError(f"{path} {problem}; delete it and train again.", problem)



def save_checkpoint(model, path, **meta) -> Path:
    """Write state_dict + config + history atomically (temp file, then rename)."""
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise ValueError(f"the {model.config.kind} has NaN or inf weights; refusing to save it to {path}: "
                         "train it again, with a lower learning rate.")
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
        raise _damaged(path, f"is not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a labvae checkpoint; use one written by labvae.save_checkpoint.",
                              "is not a labvae checkpoint")
    problem = _payload_problem(payload)
    if problem:
        raise _damaged(path, f"is damaged: {problem}")
    return payload


def _payload_problem(payload: dict) -> str | None:
    """What is wrong with a checkpoint's payload, or None: every field save_checkpoint writes is checked."""
    config, weights = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(config.get("kind"), str):
        return "its config is missing or has no model kind"
    if not isinstance(weights, dict) or not weights:
        return "its weights (state_dict) are missing"
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        return "its weights (state_dict) are not all named tensors"
    if not all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point()):
        return "its weights hold NaN or inf values"
    if not isinstance(payload.get("meta", {}), dict):
        return "its meta is not a dict"
    history = payload.get("history")
    if history is None:
        return None
    if not isinstance(history, dict):
        return "its history is not a dict"
    for part in ("train", "test"):
        epochs = history.get(part, [])
        if not isinstance(epochs, list) or not all(
                isinstance(e, dict) and all(isinstance(v, (int, float)) for v in e.values()) for e in epochs):
            return f"its history's {part} losses are not a list of numbers per epoch"
    seconds = history.get("seconds", [])
    if not isinstance(seconds, list) or not all(isinstance(t, (int, float)) for t in seconds):
        return "its history's seconds are not a list of numbers"
    if not isinstance(history.get("precision", "fp32"), str):
        return "its history's precision is not a string"
    return None


def load_checkpoint(path, kind: str | None = None, device="cpu"):
    """Rebuild the model saved at path (optionally insisting on kind 'vae'/'ae'/'classifier')."""
    payload = read_checkpoint(path)
    config = dict(payload["config"])
    if kind is not None and config.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {config.get('kind')!r} model, not the {kind!r} asked for.")
    try:
        model = build_model(config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path} describes a model labvae cannot build: {e}",
                              f"describes a model labvae cannot build ({e})") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError:
        raise CheckpointError(
            f"{path}'s weights do not fit the architecture its config describes ({config}); "
            "it was written for another model: delete it and train again.",
            "holds weights that do not fit its config",
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


def shared_checkpoints(name: str) -> list[Path]:
    """Checkpoints named name in the read-only folders $LABVAE_CHECKPOINTS lists (os.pathsep-separated).

    A grading run warms the checkpoints once into a shared folder; every student's kernel loads them
    from there instead of from a private copy, and never writes into it."""
    folders = [f for f in os.environ.get("LABVAE_CHECKPOINTS", "").split(os.pathsep) if f]
    return [Path(f) / name for f in folders if (Path(f) / name).is_file()]


def load_shared(name: str, key: dict, kind: str | None = None, device="cpu"):
    """The first shared checkpoint named name trained with exactly key, else None (unreadable ones are skipped)."""
    for path in shared_checkpoints(name):
        try:
            model = load_checkpoint(path, kind=kind, device=device)
        except (CheckpointError, OSError):
            continue
        if model.meta.get("key") == key:
            return model
    return None


def load_or_train(config, path, x_train, x_test=None, *, epochs: int = 10, batch_size: int = 256,
                  lr: float = 1e-3, seed: int = 0, device="auto", precision: str = "auto",
                  progress: bool = True):
    """Load the checkpoint at path if it was trained with exactly these settings and data, else train and save."""
    key = {"config": config.to_dict(), "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
           "precision": pick_precision(precision, pick_device(device)), "data": fingerprint(x_train)}
    path = Path(path)
    shared = load_shared(path.name, key, device=device)
    if shared is not None:  # warmed once for a whole class: loaded, never copied or written
        return shared
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder where the {config.kind} checkpoint file should be; "
                              "move it away, or write the results somewhere else.")
    if path.exists():
        try:
            model = load_checkpoint(path, device=device)
            if model.meta.get("key") == key:
                return model
            why = "was trained with other settings or data"
        except CheckpointError as e:
            why = e.problem
        # Stale, foreign or damaged: retrain and replace it atomically, and say so even when quiet.
        print(f"labvae: {path} {why}; training the {config.kind} again to replace it.", file=sys.stderr)
    model = config.build()
    if progress:
        settings = ", ".join(f"{k} {v}" for k, v in config.to_dict().items() if k != "kind")  # text, not a dict
        print(f"training the {config.kind} ({settings}) for {epochs} epochs -> {path}")
    fit(model, x_train, x_test, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        device=device, precision=precision, progress=progress)
    save_checkpoint(model, path, key=key)
    model.meta = {"key": key}
    return model
