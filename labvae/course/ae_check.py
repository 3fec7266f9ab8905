"""The check of exercise 2.1a: a linear AE with a 2-d code, trained as well as the lab's settings train it.

It judges what the answer computes and how well, never how it was trained: any nn.Module with
encode and decode (or encoder and decoder), or an (encoder, decoder) pair, trained by labvae.fit or
by a loop of the student's own. In two steps, so that step (b) can one day run outside the student's
kernel on tensors sent from it:

(a) ae_probe.collect runs the answer on inputs the check chooses (the test images, as many training
    images, mixtures of images and of codes) and keeps only tensors: an AEEvidence;
(b) ae_verdict.verdict judges that evidence against an AEReference of numbers from labvae's own
    models (labvae.fit with the lab's settings, a fresh lab AE) and never calls the student's code.
"""

from __future__ import annotations

import torch

from ..config import LabConfig, lab_config
from ..models import IMAGE_PIXELS, ModelConfig
from .ae_probe import as_ae, collect
from .ae_verdict import TOLERANCE, AEReference, Band, bce, verdict
from .checking import _check, _wrong

LAB = {"epochs": 10, "batch_size": 256, "lr": 1e-3}  # the lab's settings, accepted in smoke mode too
_CACHE: dict = {}  # per config: its data and reference numbers, computed once per process (bulk grading)

__all__ = ["as_ae", "check_ae", "reference_numbers"]


def _settings_label(s: dict) -> str:
    return f"the lab's settings (epochs={s['epochs']}, batch_size={s['batch_size']}, lr={s['lr']:g})"


def reference_numbers(cfg: LabConfig) -> AEReference:
    """The config's test images and what labvae's own lab AE reaches on them: trusted numbers only."""
    if cfg in _CACHE:
        return _CACHE[cfg]
    x_train, _, x_test, _ = cfg.load_data()
    flat_test = x_test.reshape(len(x_test), IMAGE_PIXELS)

    def measure(model):
        with torch.no_grad():
            return model.decode(model.encode(flat_test)).reshape(len(flat_test), -1)

    own = {"epochs": cfg.epochs, "batch_size": cfg.batch_size, "lr": cfg.lr}
    scale = "smoke" if cfg.smoke else "real"
    lab = measure(cfg.model("ae", x_train, x_test))
    bands = [Band(_settings_label(own), bce(lab, flat_test), *TOLERANCE[scale])]
    settings = [own]
    if cfg.smoke and own != LAB:  # typing the lab's own settings in smoke mode is right too
        ten = cfg.model("ae", x_train, x_test, epochs=LAB["epochs"])  # smoke differs from the lab in epochs only
        bands.append(Band(_settings_label(LAB), bce(measure(ten), flat_test), *TOLERANCE["smoke-lab"]))
        settings.append(LAB)
    fresh = measure(ModelConfig("ae", latent_dim=2, hidden_dim=None, seed=cfg.seed).build())
    ref = AEReference(x_test=flat_test, bands=tuple(bands), squared=(lab - flat_test).pow(2).sum().item() / len(flat_test),
                      untrained=bce(fresh, flat_test), settings=tuple(settings))
    _CACHE[cfg] = ref
    return ref


@_check("train_ae")
def check_ae(model, cfg: LabConfig | None = None) -> str:
    """model: what train_ae returned; cfg: the lab's data and settings (default: the notebook's lab_config())."""
    cfg = cfg or lab_config(progress=False)  # no progress bar: a graded cell must not write to stderr
    ref = reference_numbers(cfg)
    evidence = collect(model, ref.x_test)  # (a): the only step that runs the student's code
    passed, detail = verdict(evidence, ref)  # (b): tensors and numbers only
    if not passed:
        _wrong(detail)
    return detail
