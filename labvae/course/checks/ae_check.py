"""The check of exercise 2.1a: a linear AE with a 2-d code, trained as well as the lab's settings train it.

It judges what the answer computes and how well, never how it was trained: any nn.Module with
encode and decode (or encoder and decoder), or an (encoder, decoder) pair, trained by labvae.fit or
by a loop of the student's own. A checking.Check in two halves, so that `labvae grade` decides it in
its own process on tensors the student's kernel sent:

(a) collect (in the kernel): ae_probe.collect runs the answer on inputs the check chooses (test images
    drawn from the seed, mixtures of images and of codes) and keeps only tensors: an AEEvidence;
(b) verdict (anywhere): checks that those tensors answer the check's own inputs, then ae_verdict.verdict
    judges them against an AEReference of numbers from labvae's own models (labvae.fit with the lab's
    settings, a fresh lab AE), recomputing the loss from the reconstructions and its own test images.
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from ...config import LabConfig
from ...models import IMAGE_PIXELS, ModelConfig
from .ae_probe import PAIRS, AEEvidence, as_ae, collect
from .ae_verdict import TOLERANCE, AEReference, Band, bce, verdict
from .checking import (
    NOT_DONE,
    SELF_SEED,
    TEXT_CHARS,
    Check,
    Unfinished,
    _crashed,
    _delegated,
    _Stop,
    _wrong,
    need,
)
from .watch import Delegated

LAB = {"epochs": 10, "batch_size": 256, "lr": 1e-3}  # the lab's settings, accepted in smoke mode too
# Test images judged per check: their reconstructions (1000 x 784 values) fit one tensor under
# checking.MAX_ELEMENTS and the whole reply under the grader's payload cap (about 5 MB in all). Smoke
# data (500) and the tests' stand-in (1,000) are judged whole; real data on a draw of 1,000 from the
# seed (the grader's own). On the partial real data, 30 draws moved correct models' loss relative to
# labvae's by at most 0.2 points from the all-image figure (std 0.06-0.08), against a band of -3 / +5.
TEST_ROWS = 1000
_CACHE: dict = {}  # per config: its test images and labvae's reconstructions of them, computed once per process

__all__ = ["as_ae", "check_ae", "reference_numbers", "test_rows"]


def _settings_label(s: dict) -> str:
    return f"the lab's settings (epochs={s['epochs']}, batch_size={s['batch_size']}, lr={s['lr']:g})"


def test_rows(seed: int, n: int) -> torch.Tensor:
    """Which of n test images a check judges: all when n <= TEST_ROWS, else TEST_ROWS drawn from seed."""
    if n <= TEST_ROWS:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:TEST_ROWS].sort().values


def _reconstructions(cfg: LabConfig) -> dict:
    """The config's test images (N, 784) and labvae's own models' reconstructions of them, once per config."""
    if cfg in _CACHE:
        return _CACHE[cfg]
    x_train, _, x_test, _ = cfg.load_data()
    flat_test = x_test.reshape(len(x_test), IMAGE_PIXELS)

    def measure(model):
        with torch.no_grad():
            return model.decode(model.encode(flat_test)).reshape(len(flat_test), -1)

    own = {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr}
    made = {"x": flat_test, "own": own, "lab": measure(cfg.model("ae", x_train, x_test)), "ten": None,
            "fresh": measure(ModelConfig("ae", latent_dim=2, hidden_dim=None, seed=cfg.seed).build())}
    if cfg.smoke and own != LAB:  # typing the lab's own settings in smoke mode is right too
        made["ten"] = measure(cfg.model("ae", x_train, x_test, epochs=LAB["epochs"]))  # smoke differs in epochs only
    _CACHE[cfg] = made
    return made


def reference_numbers(cfg: LabConfig, seed: int = SELF_SEED) -> AEReference:
    """The test images a check of this seed judges and what labvae's own lab AE reaches on them: trusted numbers only."""
    made = _reconstructions(cfg)
    pick = test_rows(seed, len(made["x"]))
    x, lab = made["x"][pick], made["lab"][pick]
    bands = [Band(_settings_label(made["own"]), bce(lab, x), *TOLERANCE["smoke" if cfg.smoke else "real"])]
    settings = [made["own"]]
    if made["ten"] is not None:
        bands.append(Band(_settings_label(LAB), bce(made["ten"][pick], x), *TOLERANCE["smoke-lab"]))
        settings.append(LAB)
    return AEReference(x_test=x, bands=tuple(bands), squared=(lab - x).pow(2).sum().item() / len(x),
                       untrained=bce(made["fresh"][pick], x), settings=tuple(settings), lab=lab)


def _plain_fit(fit: dict) -> dict:
    """A recorded labvae.fit call with numbers and short text only (what the grader can load)."""
    return {k: v if isinstance(v, (int, float)) else str(v)[:TEXT_CHARS] for k, v in fit.items()}


def _collect(answer, seed: int, data: dict, cfg: LabConfig) -> None:
    """(a), in the student's kernel: the evidence of what train_ae's model computes on the seed's test images."""
    if isinstance(answer, Unfinished):  # what checks.attempt bound: a stub, a crash or labvae's own model
        if isinstance(answer.error, Delegated):
            raise _delegated(answer.error.name)
        raise _Stop(NOT_DONE, "") if answer.error is None else _crashed(answer.error)
    _, _, x_test, _ = cfg.load_data()
    x = x_test.reshape(len(x_test), IMAGE_PIXELS)[test_rows(seed, len(x_test))]
    evidence = asdict(collect(answer, x))
    data.update(evidence, fits=[_plain_fit(f) for f in evidence["fits"]])


def _sent(data: dict, key: str, rows: int, cols: int | None = None) -> torch.Tensor:
    """data[key] as a float32 (rows, cols) tensor, or ValueError: the kernel did not send what collect makes."""
    t = need(data, key)
    if not (isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() == 2 and t.shape[0] == rows
            and t.shape[1] == (cols or t.shape[1])):
        raise ValueError(f"{key} is not the tensor the check's inputs give")
    return t.float()


def _evidence(data: dict, ref: AEReference) -> AEEvidence:
    """The kernel's outputs as AEEvidence, their shapes those of the grader's own inputs; ValueError if not.

    Trusted no further than tensors: the code size is read from the codes, the loss is recomputed from
    the reconstructions against ref.x_test; at_init and the recorded fits can only name a fault."""
    x_hat = _sent(data, "x_hat", *ref.x_test.shape)
    codes_ab = _sent(data, "codes_ab", 2 * PAIRS)
    dim = codes_ab.shape[1]
    at_init, fits = need(data, "at_init"), need(data, "fits")
    moved, foreign = need(data, "moved"), need(data, "foreign")
    if not isinstance(moved, (int, float)) or not isinstance(foreign, str):
        raise ValueError("moved or foreign is not what the check records")
    if not isinstance(at_init, bool) or not isinstance(fits, (list, tuple)) or not all(
            isinstance(f, dict) and isinstance(f.get("data"), str)
            and all(isinstance(f.get(k), (int, float)) for k in LAB) for f in fits):
        raise ValueError("at_init or fits is not what the check records")
    return AEEvidence(code_dim=dim, x_hat=x_hat, codes_ab=codes_ab, codes_mix=_sent(data, "codes_mix", PAIRS, dim),
                      dec_ab=_sent(data, "dec_ab", 2 * PAIRS, IMAGE_PIXELS),
                      dec_mix=_sent(data, "dec_mix", PAIRS, IMAGE_PIXELS), at_init=at_init, fits=tuple(fits),
                      moved=float(moved), foreign=foreign[:TEXT_CHARS])


def _verdict(data: dict, seed: int, cfg: LabConfig) -> str:
    """train_ae(x_train, x_test) -> a linear AE with a 2-d code and a sigmoid output, trained as the lab's settings train it."""
    ref = reference_numbers(cfg, seed)
    passed, detail = verdict(_evidence(data, ref), ref)  # (b): tensors and numbers only
    if not passed:
        _wrong(detail)
    return detail


# check_ae(model, cfg=None): model is what train_ae returned (the notebook's my_ae); cfg the lab's data
# and settings (default: the kernel's lab_config()). prepare: the grader computes labvae's numbers once.
check_ae = Check("train_ae", _collect, _verdict, "check_ae", prepare=_reconstructions)
