"""What runs while a check calls the student's code: labvae's own solution caught by its code, however it was reached.

A profile hook (sys.setprofile, and threading's for threads started meanwhile) sees every Python frame
entered while the check calls the student's function. A frame whose code is one of the exercise's
solutions (guard.SOLUTIONS), or a copy of one (the same bytecode, constants and names under another code
object: __code__.replace, types.FunctionType, exec of its source), stops the call with Delegated, whatever
object held the function or however it was fetched. Turning the hook off from inside (sys.setprofile)
is caught the same way. For 2.1a it also notes which parameters an optimizer moved while train_ae ran,
and which models already existed, untouched, so that an answer built on a model it did not train shows.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import inspect
import sys
import textwrap
import threading
import types
import weakref

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

_SEEN: dict[int, tuple] = {}  # id(code) -> (code, its fingerprint or None): each code object is read once
_PRINTS: dict = {}  # exercise -> {fingerprint: shown name}
_CODES: set = set()  # every solution's co_code: the cheap test before a fingerprint is made
_REAL = {"setprofile": sys.setprofile, "settrace": sys.settrace}  # as imported, before any student cell ran
MAX_CLONE = 50_000_000  # parameter values copied at their first optimizer step, to measure how far training moved them


class Delegated(BaseException):
    """labvae's own solution ran; BaseException, so a student's `except Exception` cannot hide it."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _shape(code: types.CodeType):
    consts = tuple(_shape(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c)) for c in code.co_consts)
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
            code.co_argcount, code.co_kwonlyargcount, consts)


def fingerprint(code: types.CodeType) -> str:
    """What a code object computes, not where it came from: equal for a recompiled or replaced copy."""
    return hashlib.sha1(repr(_shape(code)).encode()).hexdigest()


def _code(obj):
    for _ in range(4):  # staticmethod, method, partial, property: down to the function
        obj = getattr(obj, "__func__", None) or getattr(obj, "func", None) or getattr(obj, "fget", None) or obj
    return getattr(obj, "__code__", None)


def _copies(code) -> list:
    """code, and its source compiled afresh (what exec(inspect.getsource(...)) makes; a .pyc may differ)."""
    if code is None:
        return []
    try:
        fresh = compile(textwrap.dedent(inspect.getsource(code)), "<copy>", "exec")
        return [code, *(c for c in fresh.co_consts if isinstance(c, types.CodeType) and c.co_name == code.co_name)]
    except (OSError, TypeError, SyntaxError):
        return [code]


def forbidden(exercise: str) -> dict[str, str]:
    """{fingerprint: shown name} of the exercise's labvae solutions (guard.SOLUTIONS)."""
    if not _PRINTS:  # every exercise's at once, so that no code object is read before its solution is known
        from .guard import SOLUTIONS, _resolve, _shown

        for key, targets in SOLUTIONS.items():
            prints = {}
            for target in targets:
                for code in _copies(_code(_resolve(target)[2])):
                    prints[fingerprint(code)] = _shown(target)
                    _CODES.add(code.co_code)
            _PRINTS[key] = prints
        _PRINTS[None] = _switches()
        _SEEN.clear()
    return {**_PRINTS.get(exercise, {}), **_PRINTS[None]}


def _print_of(code) -> str | None:
    """The code's fingerprint when its bytecode is a solution's, else None; read once per code object."""
    hit = _SEEN.get(id(code))
    if hit is None or hit[0] is not code:
        hit = (code, fingerprint(code) if code.co_code in _CODES else None)
        _SEEN[id(code)] = hit
    return hit[1]


SWITCH = "the check's watch (it switches off the profiler the check runs your code under)"


def _switches() -> dict[str, str]:
    """{fingerprint: SWITCH} of threading's setprofile functions: calling them turns the watch off."""
    out = {}
    for name in ("setprofile", "setprofile_all_threads"):
        code = _code(getattr(threading, name, None))
        if code is not None:
            out[fingerprint(code)] = SWITCH
            _CODES.add(code.co_code)
    return out


@contextlib.contextmanager
def watching(exercise: str):
    """Within: a solution of the exercise (or a copy of its code) entered in this thread, or threads started here,
    raises Delegated; so does switching the watch off. A delegation caught and hidden by the student's code still
    raises when the block ends."""
    bad = forbidden(exercise)
    off = _REAL["setprofile"]
    found: list[str] = []
    on = [True]  # off while the watch itself restores the profiler

    def hook(frame, event, arg):
        if not on[0]:
            return
        if event == "call":
            name = bad.get(_print_of(frame.f_code))
            if name is not None:
                found.append(name)
                raise Delegated(name)
        elif event == "c_call" and arg is off:
            found.append(SWITCH)
            raise Delegated(SWITCH)

    before, before_threads = sys.getprofile(), threading.getprofile()
    threading.setprofile(hook)
    _REAL["setprofile"](hook)
    try:
        yield
    finally:
        on[0] = False
        intact = sys.getprofile() is hook
        _REAL["setprofile"](before)
        threading.setprofile(before_threads)
    if found:
        raise Delegated(found[0])
    if not intact:
        raise Delegated(SWITCH)


# ---------------------------------------------------------------------------------------------
# 2.1a: what training ran while train_ae did, and which models were there before it


_FIRST: dict[int, tuple] = {}  # id(param) -> (param, its values at its first optimizer step in train_ae)
_OLD: dict[int, weakref.ref] = {}  # parameters that existed before train_ae and it left untouched


def _first_step(optimizer, args, kwargs) -> None:
    budget = MAX_CLONE - sum(v.numel() for _, v in _FIRST.values())
    for group in optimizer.param_groups:
        for p in group.get("params", ()):
            if isinstance(p, torch.Tensor) and id(p) not in _FIRST and p.numel() <= budget:
                _FIRST[id(p)] = (p, p.detach().clone())
                budget -= p.numel()


def _parameters() -> dict[int, tuple]:
    """id -> (parameter, its version) of every nn.Module's parameters alive now."""
    out = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), nn.Module):  # type(): no __class__ lookup, which some objects warn on
            for p in obj.parameters(recurse=False):
                out[id(p)] = (p, p._version)
    return out


@contextlib.contextmanager
def training():
    """Within (train_ae's call): note the parameters optimizers step; after: which older ones it left untouched."""
    _FIRST.clear()
    before = _parameters()
    handle = register_optimizer_step_pre_hook(_first_step)
    try:
        yield
    finally:
        handle.remove()
        _OLD.clear()
        for key, (p, version) in before.items():
            if p._version == version and key not in _FIRST:
                _OLD[key] = weakref.ref(p)


def moved(modules) -> float:
    """How far optimizers moved these modules' parameters in train_ae: the largest relative change (0: never stepped)."""
    out = 0.0
    for m in modules:
        for p in m.parameters() if isinstance(m, nn.Module) else ():
            first = _FIRST.get(id(p))
            if first is not None and first[0] is p:
                change = (p.detach() - first[1]).norm() / first[1].norm().clamp_min(1e-12)
                out = max(out, float(change))
    return out


@contextlib.contextmanager
def untrained_modules(found: list):
    """Within: every module run whose own parameters existed before train_ae and were left untouched is noted in found."""
    def pre(module, args):
        for p in module.parameters(recurse=False):
            ref = _OLD.get(id(p))
            if ref is not None and ref() is p:
                found.append(type(module).__name__)
                return None
        return None

    handle = nn.modules.module.register_module_forward_pre_hook(pre)
    try:
        yield
    finally:
        handle.remove()
