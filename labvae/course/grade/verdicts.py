"""Marks decided in the grader: the kernel only runs the student's functions; the verdict runs here.

For a checking.Check, the cell sent to the student's kernel calls the check's collect half on inputs
drawn from a seed the grader chose for this check alone, and sends back what the student's function
returned (tensors, gradients, plain values) as torch.save bytes. The grader loads them with
torch.load(weights_only=True), bounded in size, count and shape, and decides pass or fail with the
check's verdict half, in its own process, on inputs it recomputes from its seed. Whatever the kernel
patches (the checks, CheckResult, json, print, the registry), what comes back is only outputs, and
only right outputs for the grader's inputs pass.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import zipfile
from dataclasses import replace
from pathlib import Path

import torch

from ..checks.checking import MAX_ELEMENTS, NOT_DONE, TEXT_CHARS, WRONG, Check

MAX_PAYLOAD = 12 << 20  # base64 characters per check: the largest right answer (a 588x588 image) is ~2 MB
MAX_TOTAL_ELEMENTS = 8 * MAX_ELEMENTS  # over all tensors one check sends back
MAX_NODES = 10_000  # values in the structure; a check sends back a few dozen
MAX_DEPTH = 6
DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8, torch.int16,
          torch.int32, torch.int64, torch.bool}

# Run in the student's kernel: one exercise's collect half on what their code bound; the outputs ride
# in the execute reply's error value (no printed output can crowd them out), after a marker.
COLLECT_CELL = """\
def _labvae_collect():
    import base64, importlib, io, torch
    ex = {{e.key: e for e in importlib.import_module({registry!r}).EXERCISES}}[{key!r}]
    data = ex.check.gather(globals()[ex.symbol], {seed}) if ex.symbol in globals() else {{"missing": True}}
    buf = io.BytesIO()
    torch.save(data, buf)
    return {marker!r} + base64.b64encode(buf.getvalue()).decode()
_labvae_out = _labvae_collect()
del _labvae_collect
raise RuntimeError(_labvae_out)
"""


class Garbled(ValueError):
    """What the kernel sent back is not a check's outputs (too large, malformed, or of a kind not allowed)."""


def is_split(ex) -> bool:
    """True when the exercise's check can be decided in the grader (a checking.Check)."""
    return isinstance(ex.check, Check)


def new_seed() -> int:
    """A seed for one check's inputs that no submission can know in advance."""
    return secrets.randbelow(2**31 - 16)  # the checks add small offsets to it


def collect_cell(registry: str, key: str, seed: int, marker: str) -> str:
    return COLLECT_CELL.format(registry=registry, key=key, seed=int(seed), marker=marker)


def load(payload: str) -> dict:
    """The outputs one kernel sent back, from base64 torch.save bytes; Garbled unless small and plain."""
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD:
        raise Garbled(f"over {MAX_PAYLOAD >> 20} MB")
    try:
        raw = base64.b64decode(payload, validate=True)
        with zipfile.ZipFile(io.BytesIO(raw)) as z:  # torch.save's archive: stored records, nothing inflated
            if any(i.compress_type != zipfile.ZIP_STORED or i.file_size > len(raw) for i in z.infolist()):
                raise Garbled("a compressed or oversized record")
        data = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except Garbled:
        raise
    except Exception as e:  # bad base64, not a zip, or torch.load's unpickler refusing: all garbled
        raise Garbled(type(e).__name__) from None
    if not isinstance(data, dict):
        raise Garbled("not a dict")
    return _plain(data, [0, 0], 0)


def _plain(value, count: list, depth: int):
    """value rebuilt from plain parts (str-keyed dicts, lists, tensors, numbers, short text), or Garbled."""
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise Garbled("too many values")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value[:TEXT_CHARS]
    if isinstance(value, torch.Tensor):
        if (value.layout != torch.strided or value.is_quantized or value.dtype not in DTYPES
                or value.numel() > MAX_ELEMENTS):
            raise Garbled("a tensor of a kind the checks never send")
        count[1] += value.numel()
        if count[1] > MAX_TOTAL_ELEMENTS:
            raise Garbled("too many tensor elements")
        return value.detach().clone()  # a plain tensor with storage of its own
    if isinstance(value, (list, tuple)):
        return [_plain(v, count, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k[:TEXT_CHARS]: _plain(v, count, depth + 1) for k, v in value.items()}
    raise Garbled(f"a {type(value).__name__}")


def decide(ex, reply: dict | None, marker: str, seed: int, check_timeout: float, cfg=None) -> tuple[str, str]:
    """(status, message) for one exercise: the grader's verdict on the outputs in the collect cell's reply.

    cfg: the kernels' LabConfig (kernels_config), for checks that judge against labvae's models (check_ae)."""
    content = (reply or {}).get("content") or {}
    ename, evalue = str(content.get("ename", "")), content.get("evalue", "")
    if not isinstance(evalue, str) or not evalue.startswith(marker):
        if ename == "KeyboardInterrupt":
            return "error", f"the check did not finish within {check_timeout:g} s; the function may never return"
        return "error", f"the check could not run: {ename or 'no result'}: {str(evalue)[:120]}"[:200]
    try:
        data = load(evalue[len(marker):])
    except Garbled as g:
        return "error", f"what the kernel sent back for this check is not a check's outputs ({g}); 0 marks"
    if data.get("missing") is True:
        return NOT_DONE, f"… {ex.symbol} is not defined: its cell was deleted, renamed or never ran."
    result = ex.check.decide(data, seed, cfg)
    status = result.status if result.status in ("pass", WRONG, NOT_DONE) else "error"
    return status, result.message


KERNEL_SETTINGS = ("LABVAE_SMOKE", "LABVAE_DATA", "LABVAE_PRECISION", "LABVAE_CACHE", "LABVAE_CHECKPOINTS")


def kernels_config(env: dict, home: Path, exercises):
    """The LabConfig the kernels get from env (mode, data), with what each split check's verdict needs of it
    (check_ae: labvae's own lab AE on the same test images) prepared now, once per grading run.

    home: where the models the kernels load were trained (the warm-up's folder). The grader's environment
    is the kernels' only meanwhile, before any kernel starts: the same data files, the same checkpoints."""
    from ...config import lab_config
    from .submissions import GradeError

    kernel = {**{k: str(env[k]) for k in KERNEL_SETTINGS if k in env}, "LABVAE_CACHE": str(Path(home) / "cache")}
    saved = {k: os.environ.get(k) for k in (*KERNEL_SETTINGS, "NBGRADER_EXECUTION")}
    try:
        for k in saved:  # the kernels `labvae grade` runs are not nbgrader's, nor read the grader's own settings
            os.environ.pop(k, None)
        os.environ.update(kernel)
        cfg = lab_config(progress=False)
        cfg = cfg if cfg.out.is_absolute() else replace(cfg, out=Path(home) / cfg.out)  # the warm-up's cwd
        for ex in exercises:
            if is_split(ex) and ex.check.prepare is not None:
                ex.check.prepare(cfg)
    except Exception as e:
        raise GradeError(f"could not prepare the checks' reference models: {str(e)[:200]}") from None
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v
    return cfg
