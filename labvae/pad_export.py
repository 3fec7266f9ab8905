"""The latent pad's data: decoder weights the browser can evaluate (8 or 16 bit), and test codes."""

from __future__ import annotations

import base64

import numpy as np
import torch
from torch import nn

from .adapter import as_model

IMAGE_PIXELS = 28 * 28
# Elementwise modules the page evaluates itself; anything else in a decoder falls back to the kernel.
ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.LeakyReLU: "leaky_relu"}
INT8_MAX_ERROR = 1  # worst pixel difference (of 255) 8-bit weights may cause; else 16-bit is sent
PROBE_N = 41  # probe grid per side: the 21x21 sweep's points and the points between them
MAX_CODES = 2000  # test codes drawn per model: enough to see clusters and holes, ~18 KB each


def as_pad_model(obj):
    """Anything the lab's checks accept -> a model with .decode(z) and .encode(x) (labvae.as_model).

    A model with decode(z) alone is kept as it is: the pad decodes it, but has no codes to draw."""
    try:
        return as_model(obj, "the pad's model")
    except ValueError:
        if callable(getattr(obj, "decode", None)):
            return obj
        raise


def _device(model) -> torch.device:
    params = model.parameters() if isinstance(model, nn.Module) else []
    return next(iter(params), torch.empty(0)).device


@torch.no_grad()
def decode_flat(model, z: torch.Tensor) -> torch.Tensor:
    """model.decode(z) as (B, 784) on the CPU; ValueError if the model is not a 2-d-code image decoder."""
    try:
        x_hat = model.decode(z.to(_device(model)))
    except Exception as e:
        raise ValueError(f"decode failed on z shaped (B, 2) ({type(e).__name__}: {e}); the pad needs a model with a 2-d latent space.") from None
    x_hat = x_hat.detach().float().cpu().reshape(len(z), -1)
    if x_hat.shape[1] != IMAGE_PIXELS:
        raise ValueError(f"decode gave {x_hat.shape[1]} values per code; the pad shows 28x28 images (784).")
    return x_hat


def _flatten(module: nn.Module) -> list | None:
    """A decoder's modules in order if it is a chain of Linear and elementwise activations, else None."""
    if isinstance(module, nn.Sequential):
        out = []
        for child in module:
            part = _flatten(child)
            if part is None:
                return None
            out += part
        return out
    if isinstance(module, nn.Linear) or type(module) in ACTIVATIONS:
        return [module]
    if isinstance(module, (nn.Identity, nn.Flatten)):  # a no-op on (B, k) codes
        return []
    return None


def _numpy_chain(chain: list, z: np.ndarray) -> np.ndarray:
    """Evaluate a chain of (op, params) layers in float64 numpy: the page's arithmetic."""
    x = z.astype(np.float64)
    for layer in chain:
        op = layer["op"]
        if op == "linear":
            x = x @ layer["weight"].T + layer["bias"]
        elif op == "relu":
            x = np.maximum(x, 0)
        elif op == "sigmoid":
            x = 1 / (1 + np.exp(-x))
        elif op == "tanh":
            x = np.tanh(x)
        else:
            x = np.where(x >= 0, x, x * layer["slope"])
    return x


def _layers(modules: list) -> list[dict]:
    out = []
    for m in modules:
        if isinstance(m, nn.Linear):
            weight = m.weight.detach().double().cpu().numpy()  # (out, in)
            bias = m.bias.detach().double().cpu().numpy() if m.bias is not None else np.zeros(len(weight))
            out.append({"op": "linear", "weight": weight, "bias": bias})
        else:
            out.append({"op": ACTIVATIONS[type(m)], "slope": float(getattr(m, "negative_slope", 0.0))})
    return out


def probe_grid(limit: float) -> torch.Tensor:
    """PROBE_N x PROBE_N codes over [-limit, limit]^2, (PROBE_N**2, 2)."""
    t = torch.linspace(-limit, limit, PROBE_N)
    return torch.cartesian_prod(t, t)


def decoder_chain(model, limit: float = 4.0) -> list[dict] | None:
    """The decoder as layers the page evaluates, checked against model.decode; None if it is not such a chain."""
    decoder = getattr(model, "decoder", None)
    if decoder is None and isinstance(getattr(model, "_decode", None), nn.Module):
        decoder = model._decode  # an (encoder, decoder) pair through labvae.as_model
    modules = _flatten(decoder) if isinstance(decoder, nn.Module) else None
    if not modules:
        return None
    z = probe_grid(limit)
    target = decode_flat(model, z).double().numpy()
    chain = _layers(modules)
    # labvae's models apply the sigmoid in decode(), outside .decoder: try the chain with it too.
    for candidate in (chain, chain + [{"op": "sigmoid", "slope": 0.0}]):
        try:
            got = _numpy_chain(candidate, z.numpy())
        except ValueError:  # shapes do not chain: not a plain MLP from 2 to 784
            return None
        if got.shape == target.shape and np.abs(got - target).max() <= 1e-4:
            return candidate
    return None


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _quantize(chain: list[dict], bits: int) -> tuple[list[dict], list[dict]]:
    """(layers for the page, the same layers dequantized for numpy) with weights in `bits` bits."""
    page, exact = [], []
    for layer in chain:
        if layer["op"] != "linear":
            page.append({"op": layer["op"], "slope": layer["slope"]})
            exact.append(layer)
            continue
        w = layer["weight"]
        n_out, n_in = w.shape
        bias = layer["bias"].astype(np.float32)
        # Sent transposed, (in, out): the page adds one input's column to every output at a time.
        if bits == 8:
            scale = (np.abs(w).max(axis=1) / 127).astype(np.float32)  # one scale per output row
            scale[scale == 0] = 1
            q = np.round(w / scale[:, None]).astype(np.int8)
            deq = q.astype(np.float64) * scale[:, None].astype(np.float64)
            page.append({"op": "linear", "in": n_in, "out": n_out, "dtype": "int8", "w": _b64(q.T),
                         "scale": _b64(scale), "b": _b64(bias)})
        else:
            q = w.astype(np.float16)
            deq = q.astype(np.float64)
            page.append({"op": "linear", "in": n_in, "out": n_out, "dtype": "float16", "w": _b64(q.T),
                         "b": _b64(bias)})
        exact.append({"op": "linear", "weight": deq, "bias": bias.astype(np.float64)})
    return page, exact


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Pixel values in [0, 1] -> 0..255, rounded as the page rounds (half up)."""
    return np.floor(np.clip(values, 0, 1) * 255 + 0.5).astype(np.int16)


def export_decoder(model, limit: float = 4.0) -> dict | None:
    """The page's copy of the decoder: 8-bit weights with per-row scale when they stay within
    INT8_MAX_ERROR of torch on the probe grid, else 16-bit; None if it cannot be exported."""
    chain = decoder_chain(model, limit)
    if chain is None:
        return None
    z = probe_grid(limit)
    target = to_uint8(decode_flat(model, z).double().numpy())
    for bits in (8, 16):
        page, exact = _quantize(chain, bits)
        error = int(np.abs(to_uint8(_numpy_chain(exact, z.numpy())) - target).max())
        if error <= INT8_MAX_ERROR or bits == 16:
            weights = sum(layer["in"] * layer["out"] for layer in page if layer["op"] == "linear")
            return {"layers": page, "bits": bits, "weights": weights, "max_error_255": error}
    return None  # not reached: 16 bits always returns


@torch.no_grad()
def pad_codes(model, x: torch.Tensor, y: torch.Tensor | None = None, max_codes: int = MAX_CODES) -> dict | None:
    """Up to max_codes test codes (the VAE's mu, an AE's code) and their classes, for the pad's dots."""
    encode = getattr(model, "encode", None)
    if x is None or encode is None:
        return None
    x, y = x[:max_codes], (y[:max_codes] if y is not None else torch.zeros(min(len(x), max_codes), dtype=torch.long))
    code = encode(x.to(_device(model)))
    code = (code[0] if isinstance(code, tuple) else code).detach().float().cpu().reshape(len(x), -1)
    if code.shape[1] != 2 or not torch.isfinite(code).all():
        return None
    return {"z": _b64(code.numpy().astype(np.float32)), "y": _b64(y.numpy().astype(np.uint8)), "n": len(x),
            "extent": float(code.abs().max())}
