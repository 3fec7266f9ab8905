"""The latent pad: drag over a 2-d z and see every decoder's image; the page decodes, not the kernel."""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path

import torch

from .data import CLASSES
from .pad_export import PROBE_N, as_pad_model, decode_flat, export_decoder, pad_codes, to_uint8

ESM = Path(__file__).with_name("static") / "pad.js"

try:  # anywidget renders in JupyterLab, Notebook 7, Colab and VS Code; without it the sliders remain
    import anywidget
    import traitlets
except ImportError:  # pragma: no cover - anywidget is a dependency; this guards a broken install
    anywidget = None


def pad_state(models: dict, x=None, y=None, limit: float = 4.0) -> dict:
    """What the page needs, JSON-ready: every decoder's weights (or None: kernel), test codes, window."""
    if not isinstance(models, dict) or not models:
        raise ValueError("latent_pad needs a model or a dict of name -> model, e.g. {'VAE': vae}.")
    if not isinstance(limit, numbers.Real) or isinstance(limit, bool) or not 0 < limit < math.inf:
        raise ValueError(f"limit must be a positive finite number: the pad covers [-limit, limit]^2 (got {limit!r}).")
    specs, codes = [], {}
    for name, obj in models.items():
        model = as_pad_model(obj)
        if isinstance(model, torch.nn.Module):
            model.eval()
        decode_flat(model, torch.zeros(1, 2))  # a clear error now for a model without a 2-d code
        spec = export_decoder(model, float(limit)) or {"layers": None}
        specs.append({"name": str(name), **spec})
        found = pad_codes(model, x, y)
        if found is not None:
            codes[str(name)] = found
    return {"models": specs, "codes": codes, "classes": list(CLASSES), "limit": float(limit), "z": [0.0, 0.0]}


def kernel_note(state: dict) -> str | None:
    """The one line that says which decoders stay in the kernel, or None when the page decodes them all."""
    names = [m["name"] for m in state["models"] if m["layers"] is None]
    if not names:
        return None
    return (f"latent pad: {', '.join(names)} decode(s) in the kernel (the decoder is not a chain of Linear and "
            "ReLU/Sigmoid/Tanh/LeakyReLU layers), so those images follow the pointer only with a live kernel.")


if anywidget is not None:

    class LatentPad(anywidget.AnyWidget):
        """A square over z in [-limit, limit]^2: drag, click or use arrows; every model's decode(z) follows."""

        _esm = ESM.read_text()
        models = traitlets.List().tag(sync=True)  # per model: name, layers (or None), bits, error
        codes = traitlets.Dict().tag(sync=True)  # name -> test codes and classes, for the dots
        classes = traitlets.List().tag(sync=True)
        limit = traitlets.Float(4.0).tag(sync=True)
        z = traitlets.List([0.0, 0.0]).tag(sync=True)  # set by the page when the pointer stops
        kernel_images = traitlets.Dict().tag(sync=True)  # name -> 784 bytes, base64: kernel-decoded models

        def __init__(self, models: dict, x=None, y=None, limit: float = 4.0):
            state = pad_state(models, x, y, limit)
            self._models = {str(name): as_pad_model(obj) for name, obj in models.items()}
            self.note = kernel_note(state)
            super().__init__(**state)
            self.add_class("labvae-pad-widget")
            self.observe(self._on_z, names="z")
            self._on_z()

        @property
        def state_bytes(self) -> int:
            """Bytes of JSON the widget's state takes in a notebook that saves it (weights and codes)."""
            return len(json.dumps({k: getattr(self, k) for k in ("models", "codes", "classes", "limit", "z")}))

        def summary(self) -> str:
            """One line per model: where it decodes, its weights in the page and their error; the state's size."""
            lines = [f"{m['name']}: decoded in the page from {m['weights']:,} weights in {m['bits']}-bit, largest pixel "
                     f"difference from torch {m['max_error_255']}/255 on a {PROBE_N}x{PROBE_N} grid" if m["layers"] else
                     f"{m['name']}: decoded in the kernel" for m in self.models]
            return "\n".join(lines + [f"widget state (saved with the notebook when widget state is kept): {self.state_bytes / 1e6:.1f} MB"])

        def set_z(self, z1: float, z2: float) -> None:
            """Move the pad's marker to (z1, z2), clipped to the window; the page redraws."""
            self.z = [max(-self.limit, min(self.limit, float(z1))), max(-self.limit, min(self.limit, float(z2)))]

        def decoded(self) -> dict[str, torch.Tensor]:
            """Every model's decode of the current z, name -> (1, 28, 28) in [0, 1] (torch, in the kernel)."""
            z = torch.tensor([self.z], dtype=torch.float32)
            return {name: decode_flat(m, z).reshape(1, 28, 28) for name, m in self._models.items()}

        def _on_z(self, change=None) -> None:
            kernel = [m["name"] for m in self.models if m["layers"] is None]
            if kernel:
                import base64

                z = torch.tensor([self.z], dtype=torch.float32)
                self.kernel_images = {name: base64.b64encode(to_uint8(decode_flat(self._models[name], z).double().numpy()[0])
                                                             .astype("uint8").tobytes()).decode("ascii") for name in kernel}
else:  # pragma: no cover
    LatentPad = None


def latent_pad(models, x=None, y=None, limit: float = 4.0):
    """A 2-d pad over z for one model or a dict name -> model, with x, y the test images and labels
    whose codes it draws; the slider explorer instead where anywidget is missing."""
    if not isinstance(models, dict):
        models = {getattr(getattr(models, "config", None), "kind", "model"): models}
    if LatentPad is None:
        from .widgets import z_explorer

        print("latent pad: anywidget is not installed (pip install anywidget), so here are the sliders instead.")
        return z_explorer(models, limit=limit)
    pad = LatentPad(models, x, y, limit)
    if pad.note:
        print(pad.note)
    return pad
