"""How a self-check runs a student's code and reports: one printed line, never a traceback."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import warnings
from dataclasses import dataclass

import torch

from .guard import Delegated, delegates, disabled, recording
from .probe import first_match
from .probe import kind as _kind

PASS, WRONG, NOT_DONE = "pass", "wrong", "not done"
GRADING = ("autograde", "validate")  # what nbgrader sets NBGRADER_EXECUTION to in the kernels it runs


@dataclass(frozen=True)
class CheckResult:
    """What a check found; message is the one line it printed."""

    status: str  # "pass", "wrong" or "not done"
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASS


@dataclass(frozen=True)
class Unfinished:
    """What attempt() returns when the student's function is a stub or crashed; checks report it."""

    name: str
    error: BaseException | None  # None: NotImplementedError, i.e. not done yet


class _Stop(Exception):
    def __init__(self, status: str, text: str):
        self.status, self.text = status, text


def _wrong(text: str):
    raise _Stop(WRONG, text)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0].rstrip('.')}" if text else type(e).__name__


def _crashed(e: BaseException, part: str | None = None) -> _Stop:
    who = f"its {part}" if part else "it"
    return _Stop(WRONG, f"{who} raised {_first_line(e)}; run it on a small example and read the traceback")


def _check(name: str):
    """Turn a check body (raises _Stop or returns the pass detail) into a check that prints and never raises."""

    def wrap(body):
        @functools.wraps(body)
        def run(obj, *args, **kwargs) -> CheckResult:
            label = obj.name if isinstance(obj, Unfinished) else name  # train_ae, not the my_ae it makes
            try:
                if isinstance(obj, Unfinished):
                    if isinstance(obj.error, Delegated):
                        raise _delegated(obj.error.name)
                    raise _Stop(NOT_DONE, "") if obj.error is None else _crashed(obj.error)
                detail = body(obj, *args, **kwargs)
                result = CheckResult(PASS, f"✓ {label}: correct, {detail}.")
            except _Stop as stop:
                if stop.status == NOT_DONE:
                    text = f"… {label}: not done yet (write your code in place of `raise NotImplementedError()`)."
                else:
                    text = f"✗ {label}: {stop.text}" + ("" if stop.text.endswith(("?", ".")) else ".")
                result = CheckResult(stop.status, text)
            except Exception as e:  # a bug the check did not foresee: still one line, never a traceback
                result = CheckResult(WRONG, f"✗ {label}: the check could not finish ({_first_line(e)}); "
                                            "compare your answer's type and shape with the exercise's.")
            print(result.message)
            return result

        return run

    return wrap


def _delegated(what: str) -> _Stop:
    return _Stop(WRONG, f"it hands the work to labvae's own {what}; write the code yourself (the check runs "
                        "your function with labvae's answer switched off, and reads its code)")


def _call(name: str, fn, *args):
    """The student's fn(*args) with the caller's RNG untouched and labvae's own answer disabled."""
    if isinstance(fn, Unfinished):
        raise _Stop(NOT_DONE, "") if fn.error is None else _crashed(fn.error)
    if not callable(fn):
        _wrong(f"expected the function {name}, got {_kind(fn)}")
    if what := delegates(fn, name):
        raise _delegated(what)
    try:
        with torch.random.fork_rng(devices=[]), disabled(name):
            torch.manual_seed(0)
            return fn(*args)
    except Delegated as d:
        raise _delegated(d.name) from None
    except NotImplementedError:
        raise _Stop(NOT_DONE, "") from None
    except Exception as e:
        raise _crashed(e) from None


def _tensor(out, what: str = "a tensor") -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (float, int)):
        _wrong("it returns a Python number; return the tensor itself (no .item()), so gradients can flow")
    if out is None:
        _wrong("it returns None; did you forget the `return`?")
    _wrong(f"it returns {_kind(out)}; return {what} (torch, not numpy)")


def _diagnose(out: torch.Tensor, variants: list[tuple[torch.Tensor, str]]) -> None:
    """Stop with the hint of the first known mistake that out equals."""
    hint = first_match(out, variants)
    if hint:
        _wrong(hint)


def attempt(fn, *args, **kwargs):
    """fn(*args, **kwargs), or an Unfinished that the matching check reports (a stub, a crash, a shortcut).

    While fn runs, labvae's trained models are out of reach and every labvae.fit call is recorded on
    the model it trains, so check_ae can tell with which settings and data the model was trained.
    """
    name = getattr(fn, "__name__", "it")
    if what := delegates(fn, "train_ae"):
        return Unfinished(name, Delegated(what))
    try:
        with disabled("train_ae"), recording(args):
            return fn(*args, **kwargs)
    except Delegated as d:
        return Unfinished(name, d)
    except NotImplementedError:
        return Unfinished(name, None)
    except Exception as e:
        return Unfinished(name, e)


def use(student, reference, result: CheckResult, what: str | None = None):
    """The student's answer if its check passed, else the reference (with a one-line note)."""
    if result.passed:
        return student
    what = f"labvae's {what or getattr(reference, '__name__', 'reference')}"
    print(f"  (the cells below use {what} until yours passes, so the notebook still runs to the end)")
    return reference


class NotPassed(AssertionError):
    """Raised by a graded cell under nbgrader when its check does not pass: the cell scores 0."""


def grading() -> bool:
    """True inside a kernel that nbgrader's autograde or validate runs."""
    return os.environ.get("NBGRADER_EXECUTION") in GRADING


def mark(check, answer) -> None:
    """A graded cell: under nbgrader, run check on answer again and raise unless it passes; else nothing."""
    if not grading():
        return  # the student already saw the check's line above; nothing to repeat
    err = io.StringIO()  # nbgrader scores a cell that writes to stderr 0: warnings must not cost the mark
    with warnings.catch_warnings(), contextlib.redirect_stderr(err):
        warnings.simplefilter("ignore")
        result = check(answer)
    if not result.passed:
        raise NotPassed(result.message)
