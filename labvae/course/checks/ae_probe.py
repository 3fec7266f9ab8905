"""Exercise 2.1a, step (a): run the student's AE on inputs the check chooses and keep only tensors.

Everything that calls into the student's objects lives here: what comes out is an AEEvidence of
plain tensors and numbers, which ae_verdict judges without touching the student's code again (so
the verdict could run in another process, on tensors a kernel sent).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...adapter import Adapted, as_model, model_parts
from ...models import IMAGE_PIXELS
from .checking import _crashed, _wrong
from .probe import kind as _kind

PAIRS = 64  # image pairs and code pairs whose mixtures test linearity: enough to see any hidden layer
MIX = 0.3  # the mixing weight: t * a + (1 - t) * b
FAR = 4.0  # probe codes this many times the codes' spread from their centre: a missing sigmoid leaves [0, 1]
EXPECTED = ("the trained model: an nn.Module with encode(x) -> (B, 2) codes and decode(z) -> images in [0, 1] "
            "(labvae.Autoencoder(latent_dim=2) has both), or an (encoder, decoder) pair")


@dataclass(frozen=True)
class AEEvidence:
    """What the model computed on the check's inputs: tensors and numbers, no student objects."""

    code_dim: int  # width of encode's output per image
    x_hat: torch.Tensor  # (N, 784) reconstructions of the test images
    codes_ab: torch.Tensor  # (2 * PAIRS, code_dim) codes of test images a, then b
    codes_mix: torch.Tensor  # (PAIRS, code_dim) codes of MIX * a + (1 - MIX) * b
    dec_ab: torch.Tensor  # (2 * PAIRS, 784) decoded probe codes a, then b (far from the data)
    dec_mix: torch.Tensor  # (PAIRS, 784) decoded MIX * a + (1 - MIX) * b
    at_init: bool  # a labvae model whose weights are still its config's initial ones
    fits: tuple[dict, ...]  # the labvae.fit calls recorded while train_ae ran: settings and data
    moved: float = 1.0  # how far optimizers moved its parameters while train_ae ran, relative (0: never stepped)
    foreign: str = ""  # a module it runs that existed before train_ae ran and that train_ae left untouched


def parts(answer) -> tuple:
    """(encode, decode, the module that owns them or None), or a stop that says what type was expected."""
    if answer is None:
        _wrong(f"it is None; train_ae must return {EXPECTED}")
    if type(answer).__name__ == "History":
        _wrong("it is a History: labvae.fit returns the training history; train_ae must return the model itself")
    found = model_parts(answer)  # the library's one list of shapes an AE may come in
    if found is not None:
        return found
    if isinstance(answer, nn.Module):
        _wrong(f"it is an nn.Module without encode and decode (nor encoder and decoder): the notebook encodes "
               f"images and decodes codes with them; train_ae must return {EXPECTED}")
    _wrong(f"it is {_kind(answer)}; train_ae must return {EXPECTED}")


def as_ae(answer):
    """The answer as labvae.models.as_model makes it, for the cells after the check; else unchanged."""
    try:
        return as_model(answer)
    except Exception:
        return answer


def _at_init(answer) -> bool:
    """True for a labvae model whose weights still equal its config's freshly built ones."""
    from ...models import ModelConfig

    config = getattr(answer, "config", None)
    if not (isinstance(answer, nn.Module) and isinstance(config, ModelConfig)):
        return False
    fresh = config.build().state_dict()
    mine = answer.state_dict()
    return mine.keys() == fresh.keys() and all(
        mine[k].shape == fresh[k].shape and torch.equal(mine[k].detach().cpu().float(), fresh[k].float())
        for k in fresh)


def _run(fn, x: torch.Tensor, part: str, batch_size: int = 4096) -> torch.Tensor:
    """fn over x in batches, as a (len(x), -1) float32 CPU tensor; a crash or a non-tensor stops the check."""
    out = []
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                y = fn(x[i : i + batch_size])
                if isinstance(y, tuple) and part == "encode":
                    _wrong("its encode returns a tuple (mu and logvar?): this is a VAE; the exercise retrains "
                           "the plain autoencoder, one code per image")
                if not isinstance(y, torch.Tensor) or len(y) != len(x[i : i + batch_size]):
                    _wrong(f"its {part} returns {_kind(y)} for {min(batch_size, len(x) - i)} inputs; "
                           f"expected a tensor with one row per input")
                out.append(y.detach().reshape(len(y), -1).float().cpu())
    except Exception as e:
        if type(e).__name__ == "_Stop":
            raise
        raise _crashed(e, part) from None
    return torch.cat(out)


def collect(answer, x_test: torch.Tensor) -> AEEvidence:
    """Step (a): the answer's encodings and decodings of the check's inputs (the test images, mixes of them
    and of codes), as AEEvidence; run under the watch, which stops a model that loads one or runs labvae's own."""
    from .watch import moved, untrained_modules, watching

    foreign: list = []
    with watching("train_ae"), untrained_modules(foreign):
        ev = _collect(answer, x_test)
    owned = list(Adapted(*parts(answer)).owned)
    return AEEvidence(**{**ev.__dict__, "moved": moved(owned), "foreign": foreign[0] if foreign else ""})


def _collect(answer, x_test: torch.Tensor) -> AEEvidence:
    model = Adapted(*parts(answer))
    params = list(model.parameters())
    if any(p.dtype != torch.float32 for p in params):
        dtypes = sorted({str(p.dtype) for p in params})
        _wrong(f"its weights are {', '.join(dtypes)}; keep them float32 (no .half() or .double()), like the data")
    modules = list(model.owned)
    modes = [(m, m.training) for m in modules]
    for m in modules:
        m.eval()
    try:
        x = x_test.reshape(len(x_test), IMAGE_PIXELS)
        codes = _run(model.encode_raw, x, "encode")
        x_hat = _run(model.decode, codes, "decode")
        g = torch.Generator().manual_seed(0)  # the same probes for every answer
        pick = torch.randint(len(x), (2 * PAIRS,), generator=g)
        a, b = x[pick[:PAIRS]], x[pick[PAIRS:]]
        codes_ab = _run(model.encode_raw, torch.cat([a, b]), "encode")
        codes_mix = _run(model.encode_raw, MIX * a + (1 - MIX) * b, "encode")
        centre, spread = codes.mean(0), codes.std(0).clamp_min(1e-3)
        z = centre + FAR * spread * torch.randn(2 * PAIRS, codes.shape[1], generator=g)
        dec_ab = _run(model.decode, z, "decode")
        dec_mix = _run(model.decode, MIX * z[:PAIRS] + (1 - MIX) * z[PAIRS:], "decode")
    finally:
        for m, mode in modes:
            m.train(mode)
    if x_hat.shape[1] != IMAGE_PIXELS:
        _wrong(f"its decode gives {x_hat.shape[1]} values per code; expected 784 (one 28x28 image)")
    return AEEvidence(code_dim=codes.shape[1], x_hat=x_hat, codes_ab=codes_ab,
                      codes_mix=codes_mix, dec_ab=dec_ab, dec_mix=dec_mix, at_init=_at_init(answer),
                      fits=tuple(dict(f) for f in getattr(answer, "__dict__", {}).get("_labvae_fits", [])))
