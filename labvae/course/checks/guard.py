"""What a student's code may not run: labvae's own solutions per exercise (read in its code; watch catches them
when they run), what it may (ALLOWED), and labvae.fit's record of how 2.1a's model was trained."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import inspect
import sys
import types

import numpy as np
import torch

_SWEEP = ("labvae.grid:decode_grid", "labvae.grid:sweep_tiles", "labvae.course.checks.fallbacks:sweep_image",
          "labvae.course.checks.fallbacks:sweep_model", "labvae.course.checks.fallbacks:lay_out")
_KL = ("labvae.course.checks.fallbacks:kl_divergence", "labvae.course.checks.fallbacks:kl_per_dim",
       "labvae.models:VAE.loss", "labvae.analysis.posterior:gaussian_kl_to_prior")
# Per exercise (the student's function name): labvae's functions that would do the whole exercise, or
# (train_ae) hand over a saved model. watch.watching catches them, and copies of their code, when they run.
SOLUTIONS = {
    "reparameterize": ("labvae.course.checks.fallbacks:reparameterize", "labvae.models:VAE.reparameterize"),
    "kl_divergence": _KL,
    "vae_loss": ("labvae.course.checks.fallbacks:vae_loss", "labvae.course.checks.fallbacks:bce",
                 "labvae.models:_bce_nats", *_KL),
    "latent_grid": ("labvae.grid:latent_grid",),
    "sweep_image": _SWEEP,
    "sweep_model": _SWEEP,
    "train_ae": ("labvae.config:LabConfig.model", "labvae.checkpoints:load_or_train",
                 "labvae.checkpoints:load_checkpoint", "labvae.checkpoints:read_checkpoint",
                 "labvae.checkpoints:load_shared", "torch.serialization:load", "torch.jit._serialization:load"),
}
LOADS = ("torch",)  # train_ae's solutions that load any saved model, not only labvae's, by their shown names
# Per exercise: what its text lets the student's code call besides torch and torchvision (none of it
# runs a solution above; tests/test_guard.py holds every one to passing the watch).
ALLOWED = {
    "reparameterize": (),
    "kl_divergence": (),
    "vae_loss": ("kl_divergence (the student's own, 0.2)",),
    "latent_grid": (),
    "sweep_image": ("decode (the one passed in)", "labvae.latent_grid"),
    "sweep_model": ("labvae.latent_grid", "model.decode"),
    "train_ae": ("labvae.Autoencoder", "labvae.fit", "cfg.epochs", "cfg.batch_size", "cfg.lr", "cfg.seed"),
}


def _resolve(target: str):
    module, _, path = target.partition(":")
    obj = importlib.import_module(module)
    owner = None
    for part in path.split("."):
        owner, obj = obj, inspect.getattr_static(obj, part)
    return owner, path.split(".")[-1], obj


def _shown(target: str) -> str:
    module, _, path = target.partition(":")
    short = {"labvae.grid": "labvae", "labvae.course.checks.fallbacks": "fallbacks", "labvae.config": "cfg",
             "labvae.checkpoints": "labvae", "labvae.models": "labvae", "torch.serialization": "torch",
             "torch.jit._serialization": "torch.jit"}.get(module, module)
    return f"{short}.{path.split('.')[-1]}" if short == "cfg" else f"{short}.{path}"


def _function(obj):
    """The plain function behind a method, partial or staticmethod, for identity tests."""
    for _ in range(3):
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif isinstance(obj, (staticmethod, classmethod, types.MethodType)):
            obj = obj.__func__
        else:
            break
    return obj


def delegates(fn, exercise: str) -> str | None:
    """The labvae solution fn refers to (itself, its code's names, defaults, closures), as written, or None."""
    solutions = [(_function(_resolve(t)[2]), _shown(t)) for t in SOLUTIONS.get(exercise, ())]
    targets = {id(f): name for f, name in solutions}
    code_of = {id(f.__code__): name for f, name in solutions if hasattr(f, "__code__")}  # FunctionType(sol.__code__)
    seen, todo = set(), [fn]
    for _ in range(3):  # fn, the helpers it calls, and theirs
        found = []
        for f in todo:
            if id(_function(f)) in targets:
                return targets[id(_function(f))]
            f = _function(f)
            code = getattr(f, "__code__", None)
            if code is None or id(f) in seen:
                continue
            if id(code) in code_of:
                return code_of[id(code)]
            seen.add(id(f))
            names, codes = set(), [code]
            while codes:
                c = codes.pop()
                names |= set(c.co_names)
                codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
            space = getattr(f, "__globals__", {})
            objs = [space[n] for n in names if n in space]
            objs += [cell.cell_contents for cell in (f.__closure__ or ()) if _filled(cell)]
            objs += list(f.__defaults__ or ()) + list((f.__kwdefaults__ or {}).values())
            objs += _contents(objs)  # _impl = [labvae.latent_grid]: a solution kept in a list or dict
            for _ in range(3):  # labvae.course.reference.sweep_image: attribute chains of the code's names
                more = []
                for obj in objs:
                    for n in names:
                        with contextlib.suppress(Exception):
                            more.append(inspect.getattr_static(obj, n))
                objs += [m for m in more if not any(m is o for o in objs)]
            for obj in objs:
                if id(_function(obj)) in targets:
                    return targets[id(_function(obj))]
                if id(getattr(_function(obj), "__code__", None)) in code_of:
                    return code_of[id(_function(obj).__code__)]
                if isinstance(obj, types.FunctionType) and not (obj.__module__ or "").startswith(("labvae", "torch")):
                    found.append(obj)  # the student's own helper: read it too
        todo = found
    return None


def _contents(objs, limit: int = 1000) -> list:
    """The items of the lists, tuples, sets and dicts among objs (keys and values), nested two deep; at most limit."""
    out, todo = [], [o for o in objs if isinstance(o, (list, tuple, set, frozenset, dict))]
    for _ in range(2):
        more = []
        for box in todo:
            with contextlib.suppress(Exception):
                items = list(box.items()) if isinstance(box, dict) else list(box)
                for item in items[:limit]:
                    for x in item if isinstance(box, dict) else (item,):
                        out.append(x)
                        if isinstance(x, (list, tuple, set, frozenset, dict)):
                            more.append(x)
            if len(out) > limit:
                return out[:limit]
        todo = more
    return out


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty closure cell raises)
    except ValueError:
        return False
    return True


def fingerprint(x) -> tuple[int, str] | None:
    """(number of images, a hash of their multiset), equal for reshaped, reordered or copied images; else None."""
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or len(x) == 0:
        return None
    a = np.ascontiguousarray(x.detach().reshape(len(x), -1).float().cpu().numpy())
    rows = a.view(np.dtype((np.void, a.shape[1] * a.itemsize))).ravel()  # one opaque value per image
    return len(a), hashlib.sha1(np.sort(rows).tobytes()).hexdigest()


def _which(x, given: dict) -> str:
    """Which images x is, by content (any shape, order or copy): the training set, the test set, or how many others."""
    mine = fingerprint(x)
    for name, images in given.items():
        if mine is not None and mine == images:
            return name
    return f"{len(x) if hasattr(x, '__len__') else '?'} other images"


@contextlib.contextmanager
def recording(given):
    """Within: every labvae.fit call notes its settings and data on the model it trains."""
    from ... import training

    original = training.fit
    prints = {}  # the given images' fingerprints, computed at the first fit call only
    defaults = {k: v.default for k, v in inspect.signature(original).parameters.items()}

    @functools.wraps(original)
    def fit(model, x_train, x_test=None, **kwargs):
        if not prints:
            prints.update({n: fingerprint(x) for n, x in zip(("the training images", "the test images"), given)})
        notes = model.__dict__.setdefault("_labvae_fits", [])
        notes.append({**{k: kwargs.get(k, defaults[k]) for k in ("epochs", "batch_size", "lr")},
                      "data": _which(x_train, prints)})
        return original(model, x_train, x_test, **kwargs)

    patched = [m for m in list(sys.modules.values())
               if isinstance(m, types.ModuleType) and m.__dict__.get("fit") is original]
    for m in patched:
        m.fit = fit
    try:
        yield
    finally:
        for m in patched:
            m.fit = original
