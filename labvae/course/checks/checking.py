"""How a self-check runs a student's code and reports: one printed line, never a traceback.

A check has two halves (Check): collect calls the student's function on inputs drawn from a seed and
keeps what it returned (tensors, gradients, plain values); verdict judges those outputs against the
exercise's specification, recomputed from the same seed. In a notebook both run in the student's
kernel; `labvae grade` runs collect there and the verdict in its own process, so nothing the kernel
patches (the checks, CheckResult, json, print) decides a mark.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from dataclasses import dataclass

import torch

from .guard import LOADS, delegates, recording
from .probe import first_match
from .probe import kind as _kind
from .watch import SWITCH, Delegated, training, watching

PASS, WRONG, NOT_DONE = "pass", "wrong", "not done"
GRADING = ("autograde", "validate")  # what nbgrader sets NBGRADER_EXECUTION to in the kernels it runs
SELF_SEED = 0  # the inputs of a check run in the notebook; the grader draws a fresh seed per check
MAX_ELEMENTS = 1 << 20  # per returned tensor: the largest right answer is a 588x588 image (346k values)
TEXT_CHARS = 300  # of any text collected in the kernel (a stop's message), which the grader treats as untrusted


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
    found = re.search(r"'Probe' object has no attribute '(\w+)'", str(e)) if isinstance(e, AttributeError) else None
    if found:  # nn.Module's own AttributeError names only the class: the stand-in the student never met
        missing = found.group(1)
        return _Stop(WRONG, f"{who} reads model.{missing}, which the lab's models need not have (the check passes "
                            "a stand-in model that has decode only); decode codes with model.decode(z)")
    return _Stop(WRONG, f"{who} raised {_first_line(e)}; run it on a small example and read the traceback")


DELEGATED = "it hands the work to labvae's own"  # the start of every delegation's message: the copying report's key
LOADED = "it loads a saved model"


def _delegated(what: str) -> _Stop:
    """The stop for an answer that ran labvae's own solution (what: its name), loaded a model, or turned the watch off."""
    if what == SWITCH:
        return _Stop(WRONG, f"{DELEGATED} answer unseen: it switches off the profiler the check watches your code with")
    if what.split(".")[0] in LOADS:  # torch.load, torch.jit.load: a saved model, whoever saved it
        return _Stop(WRONG, f"{LOADED} ({what}) instead of training one; build and train the model inside "
                            "train_ae (the check watches what your code runs)")
    if "load" in what or "checkpoint" in what or what == "cfg.model":
        return _Stop(WRONG, f"{DELEGATED} {what}, a saved lab model; build and train the model inside train_ae "
                            "(the check watches what your code runs)")
    return _Stop(WRONG, f"{DELEGATED} {what}; write the code yourself (the check watches what your code runs)")


def _call(name: str, fn, *args, seed: int = SELF_SEED):
    """What collect keeps of the student's fn(*args): the caller's RNG untouched, seeded, labvae's own answer watched for."""
    if isinstance(fn, Unfinished):
        raise _Stop(NOT_DONE, "") if fn.error is None else _crashed(fn.error)
    if not callable(fn):
        _wrong(f"expected the function {name}, got {_kind(fn)}")
    if what := delegates(fn, name):
        raise _delegated(what)
    try:
        with torch.random.fork_rng(devices=[]), watching(name):
            torch.manual_seed(seed)
            out = fn(*args)
            plain = not isinstance(out, torch.Tensor) or type(out) in (torch.Tensor, torch.nn.Parameter)
            return out if plain else _plain_tensor(out)  # inside the watch: a subclass computes nothing later
    except Delegated as d:
        raise _delegated(d.name) from None
    except NotImplementedError:
        raise _Stop(NOT_DONE, "") from None
    except Exception as e:
        raise _crashed(e) from None


def _plain_tensor(out):
    _wrong(f"it returns a {type(out).__name__}, a subclass of torch.Tensor; return a plain torch tensor")


def _tensor(out, what: str = "a tensor") -> torch.Tensor:
    """out if it is a tensor, else stop saying what it is; a str is collect's description of a returned object."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (float, int)):
        _wrong("it returns a Python number; return the tensor itself (no .item()), so gradients can flow")
    if out is None:
        _wrong("it returns None; did you forget the `return`?")
    shown = out[:TEXT_CHARS] if isinstance(out, str) else _kind(out)
    _wrong(f"it returns {shown}; return {what} (torch, not numpy)")


def returned(value):
    """What collect keeps of a returned value: a detached CPU tensor, a number, None, or a description."""
    if isinstance(value, torch.Tensor):
        if value.numel() > MAX_ELEMENTS:
            return f"a tensor of shape {tuple(value.shape)}, far larger than the exercise's"
        return value.detach().cpu().clone()
    if isinstance(value, (float, int)) or value is None:
        return None if value is None else float(value)
    return _kind(value)


def need(data: dict, key: str):
    """data[key], or the stop collect met before it could record key (a stub, a crash, a shortcut)."""
    if key in data:
        return data[key]
    stop = data.get("stop")
    status, text = stop if isinstance(stop, (list, tuple)) and len(stop) == 2 else (WRONG, "")
    if status == NOT_DONE:
        raise _Stop(NOT_DONE, "")
    raise _Stop(WRONG, str(text)[:TEXT_CHARS] or "the check could not finish: its inputs' results are missing")


class Check:
    """A self-check in two halves: collect(fn, seed, data) in the student's kernel, verdict(data, seed) anywhere.

    Calling it runs both, prints the one line and returns the CheckResult, as a notebook's check cell does.
    prepare(cfg), where given, is what the verdict needs of the lab's data and models (check_ae: labvae's own
    lab AE): both halves then also take the LabConfig (default: lab_config()), and the grader runs prepare
    once, under the kernels' settings, before deciding with theirs.
    """

    def __init__(self, name: str, collect, verdict, public: str, prepare=None):
        self.name, self.collect, self.verdict = name, collect, verdict  # name: the student's function's
        self.prepare = prepare
        self.__name__ = self.__qualname__ = public  # what the notebooks call: checks.check_kl
        self.__doc__ = verdict.__doc__

    def _cfg(self, cfg) -> tuple:
        if self.prepare is None:
            return ()
        from ...config import lab_config

        return (cfg or lab_config(progress=False),)  # no progress bar: a graded cell must not write to stderr

    def gather(self, fn, seed: int = SELF_SEED, cfg=None) -> dict:
        """Run the student's fn on the check's inputs; what it returned, and where it stopped (never raises)."""
        data: dict = {}
        try:
            self.collect(fn, seed, data, *self._cfg(cfg))
        except _Stop as stop:
            data["stop"] = [stop.status, stop.text]
        except Exception as e:  # a bug the check did not foresee: the verdict still gives one line
            data["stop"] = [WRONG, f"the check could not finish ({_first_line(e)}); compare your answer's "
                                   "type and shape with the exercise's"]
        return data

    def decide(self, data: dict, seed: int = SELF_SEED, cfg=None, label: str | None = None) -> CheckResult:
        """The verdict on collected outputs: a pure function of data, seed (and cfg); never raises, never prints."""
        return _judge(label or self.name,
                      lambda: self.verdict(data if isinstance(data, dict) else {}, seed, *self._cfg(cfg)))

    def __call__(self, fn, cfg=None) -> CheckResult:
        label = fn.name if isinstance(fn, Unfinished) else None  # what checks.attempt ran: train_ae, by its name
        result = self.decide(self.gather(fn, SELF_SEED, cfg), SELF_SEED, cfg, label)
        print(result.message)
        return result


def _judge(label: str, body) -> CheckResult:
    """body() gives the pass detail or raises _Stop: the CheckResult, with its one-line message."""
    try:
        detail = body()
        return CheckResult(PASS, f"✓ {label}: correct, {detail}.")
    except _Stop as stop:
        if stop.status == NOT_DONE:
            return CheckResult(NOT_DONE, f"… {label}: not done yet (write your code in place of `raise NotImplementedError()`).")
        return CheckResult(stop.status, f"✗ {label}: {stop.text}" + ("" if stop.text.endswith(("?", ".")) else "."))
    except Exception as e:  # a bug the check did not foresee, or junk where outputs belong: still one line
        return CheckResult(WRONG, f"✗ {label}: the check could not finish ({_first_line(e)}); "
                                  "compare your answer's type and shape with the exercise's.")


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
        with training(), watching("train_ae"), recording(args):
            return fn(*args, **kwargs)
    except Delegated as d:
        return Unfinished(name, d)
    except NotImplementedError:
        return Unfinished(name, None)
    except Exception as e:
        return Unfinished(name, e)


def use(student, fallback, result: CheckResult, what: str | None = None):
    """The student's answer if its check passed, else labvae's fallback (with a one-line note)."""
    if result.passed:
        return student
    what = f"labvae's {what or getattr(fallback, '__name__', 'fallback')}"
    print(f"  (the cells below use {what} until yours passes, so the notebook still runs to the end)")
    return fallback


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
