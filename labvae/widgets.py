"""Sliders over z: one pair of sliders decodes live through one or several models."""

from __future__ import annotations

import io
import math
import numbers

import ipywidgets as widgets
import torch
from PIL import Image, ImageDraw

from .adapter import as_model
from .grid import decode_grid, to_uint8

SHOW_PX = 280  # the decoded 28x28 image is shown 10x, large enough to see detail
MAP_PX = 280  # the sweep thumbnail beside it, with a marker at the current z


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # fast encode: a redraw must stay under 15 ms
    return buf.getvalue()


MARKER = 255  # palette index of the marker's red; indices 0-254 are grays


def _paletted(gray: Image.Image) -> Image.Image:
    """Gray image -> palette image with one red entry: its PNG encodes ~6x faster than RGB."""
    img = gray.point(lambda v: v * 254 // 255).convert("P")  # keep index 255 free for red
    img.putpalette([round(i * 255 / 254) for i in range(255) for _ in range(3)] + [255, 40, 40])
    return img


class ZExplorer(widgets.VBox):
    """Two sliders (z1, z2) that decode through every model at once and redraw in place."""

    def __init__(self, models: dict, limit: float = 4.0, n: int = 21, step: float = 0.05):
        if not isinstance(models, dict) or not models:
            raise ValueError("z_explorer needs a dict of name -> model, e.g. {'VAE': vae}.")
        if not isinstance(limit, numbers.Real) or isinstance(limit, bool) or not 0 < limit < math.inf:
            raise ValueError(f"limit must be a positive finite number: the sliders cover [-limit, limit] (got {limit!r}).")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a whole number of sweep tiles per side, at least 1 (got {n!r}).")
        if not isinstance(step, numbers.Real) or not 0 < step <= limit:
            raise ValueError(f"step must be a positive number no larger than limit={limit:g} (got {step!r}).")
        # Any model exercise 2.1a accepts: labvae's, a module of your own, an (encoder, decoder) pair.
        models = {name: as_model(model, f"model {name!r}") for name, model in models.items()}
        for name, model in models.items():
            if model.latent_dim != 2:
                raise ValueError(f"model {name!r} has a {model.latent_dim}-d latent space; the sliders need a 2-d latent space.")
        self.models = models
        self.limit, self.n = float(limit), n
        slider = dict(min=-limit, max=limit, step=step, value=0.0, continuous_update=True,
                      readout_format=".2f", layout=widgets.Layout(width="320px"))
        self.z1_slider = widgets.FloatSlider(description="z1", **slider)
        self.z2_slider = widgets.FloatSlider(description="z2", **slider)
        self.z_label = widgets.HTML()
        self.images, self.maps, self.titles, self._sweeps = {}, {}, {}, {}
        panels = []
        for name, model in self.models.items():
            self._sweeps[name] = self._thumbnail(model)
            self.images[name] = widgets.Image(format="png", width=SHOW_PX, height=SHOW_PX)
            self.maps[name] = widgets.Image(format="png", width=MAP_PX, height=MAP_PX)
            self.titles[name] = widgets.HTML(f"<b>{name}</b>: decode(z), and z on the sweep")
            panels.append(widgets.VBox([self.titles[name], widgets.HBox([self.images[name], self.maps[name]])],
                                       layout=widgets.Layout(margin="0 24px 12px 0")))
        self._decoded: dict[str, torch.Tensor] = {}
        self._hold = False
        # Panels sit side by side and wrap onto new rows on narrow screens.
        panel_box = widgets.Box(panels, layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        super().__init__([widgets.HBox([self.z1_slider, self.z2_slider, self.z_label]), panel_box])
        # Stable CSS classes, so a browser test (or a stylesheet) can find each part.
        self.add_class("labvae-explorer")
        self.z1_slider.add_class("labvae-z1")
        self.z2_slider.add_class("labvae-z2")
        self.z_label.add_class("labvae-z")
        for image in self.images.values():
            image.add_class("labvae-decoded")
        for image in self.maps.values():
            image.add_class("labvae-sweep-marker")
        for title in self.titles.values():
            title.add_class("labvae-title")
        self.z1_slider.observe(self._on_slide, names="value")
        self.z2_slider.observe(self._on_slide, names="value")
        self.redraw()

    def _thumbnail(self, model) -> Image.Image:
        """The model's sweep, shrunk to MAP_PX and paletted, ready for the marker."""
        model.eval()
        sweep = Image.fromarray(to_uint8(decode_grid(model.decode, n=self.n, limit=self.limit)))
        return _paletted(sweep.resize((MAP_PX, MAP_PX), Image.BILINEAR))

    @property
    def z(self) -> torch.Tensor:
        """The current z, shape (2,)."""
        return torch.tensor([self.z1_slider.value, self.z2_slider.value], dtype=torch.float32)

    def set_z(self, z1: float, z2: float) -> None:
        """Move both sliders (clipped to the window) and redraw once."""
        self._hold = True
        try:
            self.z1_slider.value, self.z2_slider.value = float(z1), float(z2)
        finally:
            self._hold = False
        self.redraw()

    def summary(self) -> str:
        """What the explorer is (the latent pad's fallback): every move decodes in the kernel."""
        return f"sliders over z: every move decodes {', '.join(self.models)} in the kernel (a live kernel is needed)"

    def decoded(self) -> dict[str, torch.Tensor]:
        """The images currently shown, name -> (1, 28, 28) in [0, 1]."""
        return dict(self._decoded)

    def _on_slide(self, change) -> None:
        if not self._hold:
            self.redraw()

    @torch.no_grad()
    def redraw(self) -> None:
        """Decode the current z through every model and replace the image bytes in place."""
        z = self.z
        self.z_label.value = f"<code>z = [{z[0]:+.2f}, {z[1]:+.2f}]</code>"
        for name, model in self.models.items():
            x_hat = model.decode(z.view(1, 2).to(model.device))[0].cpu()  # (1, 2) -> (1, 28, 28)
            self._decoded[name] = x_hat
            big = Image.fromarray(to_uint8(x_hat)).resize((SHOW_PX, SHOW_PX), Image.NEAREST)
            self.images[name].value = _png(big)
            self.maps[name].value = _png(self._marked_sweep(name, z))

    def _marked_sweep(self, name: str, z: torch.Tensor) -> Image.Image:
        """The sweep thumbnail with a red ring at z (tile centres sit at the sweep's z values)."""
        img = self._sweeps[name].copy()
        tile = MAP_PX / self.n
        x = ((z[0].item() + self.limit) / (2 * self.limit) * (self.n - 1) + 0.5) * tile
        y = ((self.limit - z[1].item()) / (2 * self.limit) * (self.n - 1) + 0.5) * tile
        r = max(tile * 0.6, 4)
        ImageDraw.Draw(img).ellipse([x - r, y - r, x + r, y + r], outline=MARKER, width=2)
        return img


class BetaExplorer(ZExplorer):
    """The z sliders plus a beta slider that switches the panel between models trained beforehand."""

    def __init__(self, family: dict, limit: float = 4.0, n: int = 21, step: float = 0.05,
                 beta: float | None = None, name: str = "VAE"):
        if not isinstance(family, dict) or not family or not all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and b == b for b in family):
            raise ValueError("beta_explorer needs a dict of beta -> model, e.g. {0.0: vae_beta0, 1.0: vae}.")
        self.family = {b: as_model(family[b], f"the model for beta={b:g}") for b in sorted(family)}
        if beta is None:
            beta = 1.0 if 1.0 in self.family else next(iter(self.family))  # the lab's VAE when present
        if beta not in self.family:
            raise ValueError(f"beta={beta!r} is not one of the models given ({', '.join(f'{b:g}' for b in self.family)}).")
        for b, model in self.family.items():
            if model.latent_dim != 2:
                raise ValueError(f"the model for beta={b:g} has a {model.latent_dim}-d latent space; the sliders need a 2-d latent space.")
        self.name = name
        super().__init__({name: self.family[beta]}, limit=limit, n=n, step=step)
        # Every model's sweep thumbnail up front, so moving the beta slider only decodes one z.
        self._family_sweeps = {b: self._sweeps[name] if b == beta else self._thumbnail(m)
                               for b, m in self.family.items()}
        self.beta_slider = widgets.SelectionSlider(
            options=[(f"{b:g}", b) for b in self.family], value=beta, description="β",
            continuous_update=True, layout=widgets.Layout(width="240px"))
        self.beta_slider.add_class("labvae-beta")
        controls = self.children[0]
        controls.children = (*controls.children[:2], self.beta_slider, *controls.children[2:])
        self.beta_slider.observe(self._on_beta, names="value")
        self._show_beta(beta)

    @property
    def beta(self) -> float:
        """The beta of the model shown now."""
        return self.beta_slider.value

    def set_beta(self, beta: float) -> None:
        """Show the model trained with this beta (one of the family's)."""
        if beta not in self.family:
            raise ValueError(f"beta={beta!r} is not one of the models given ({', '.join(f'{b:g}' for b in self.family)}).")
        self.beta_slider.value = beta

    def _on_beta(self, change) -> None:
        self._show_beta(change["new"])
        self.redraw()

    def _show_beta(self, beta: float) -> None:
        self.models[self.name] = self.family[beta].eval()
        self._sweeps[self.name] = self._family_sweeps[beta]
        self.titles[self.name].value = f"<b>{self.name}, β = {beta:g}</b>: decode(z), and z on its sweep"


def beta_explorer(family: dict, limit: float = 4.0, n: int = 21, beta: float | None = None) -> BetaExplorer:
    """Sliders over z and over beta, for a dict beta -> model; display the result in a notebook."""
    return BetaExplorer(family, limit=limit, n=n, beta=beta)


def z_explorer(models, limit: float = 4.0, n: int = 21) -> ZExplorer:
    """Sliders over z for one model or a dict name -> model; display the result in a notebook."""
    if not isinstance(models, dict):
        models = {getattr(getattr(models, "config", None), "kind", "model"): models}
    return ZExplorer(models, limit=limit, n=n)



