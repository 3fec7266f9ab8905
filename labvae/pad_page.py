"""The latent pad as one self-contained HTML page: no server, no network, the decoders inside it."""

from __future__ import annotations

import html
import json
from pathlib import Path

from ._io import atomic_write
from .checkpoints import load_checkpoint
from .config import LABELS, MODELS, LabConfig
from .data import DataError, load_fashion_mnist
from .pad import ESM, pad_state

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; img-src data: blob:">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222 }} p {{ max-width: 60em }}</style>
</head><body>
<h1>{title}</h1>
<p>Drag or click on the square: it is the latent plane z = (z1, z2), with z = (&minus;4, 4) at the top-left,
as in the lab's sweeps. Every model decodes the point under your pointer, in this page (arrow keys move z
too; Shift moves ten steps). The dots are test images' codes, coloured by class.</p>
<div id="labvae-pad"></div>
<p id="labvae-pad-about" style="font-size:12px;color:#555">{about}</p>
<script type="application/json" id="labvae-pad-state">{state}</script>
<script type="text/plain" id="labvae-pad-esm">{esm}</script>
<script type="module">
const src = document.getElementById("labvae-pad-esm").textContent;
const mod = await import(URL.createObjectURL(new Blob([src], {{ type: "text/javascript" }})));
const state = JSON.parse(document.getElementById("labvae-pad-state").textContent);
const handlers = {{}};
const model = {{  // the few calls of anywidget's model that the pad makes, kept in this page
  get: key => state[key],
  set: (key, value) => {{ state[key] = value; }},
  save_changes() {{}},
  on: (event, callback) => {{ (handlers[event] ||= []).push(callback); }},
}};
mod.default.render({{ model, el: document.getElementById("labvae-pad") }});
window.__labvaePadReady = true;
</script>
</body></html>
"""


def _inert(text: str) -> str:
    """Text safe inside a <script> element: no '</' can close it early."""
    return text.replace("</", "<\\/")


def page_html(state: dict, title: str = "Exploring latent spaces: the latent pad") -> str:
    """The page for a pad_state: the pad's script and the weights inline."""
    esm = ESM.read_text()
    if "</" in esm:
        raise ValueError("pad.js must not contain '</': it is inlined in a <script> element.")
    about = "; ".join(f"{html.escape(m['name'])}: {m['weights']:,} weights in {m['bits']}-bit, "
                      f"largest pixel difference from torch {m['max_error_255']}/255 on a 41x41 grid"
                      if m["layers"] else f"{html.escape(m['name'])}: not exportable, not shown"
                      for m in state["models"])
    state = {**state, "models": [m for m in state["models"] if m["layers"]]}  # no kernel here
    return PAGE.format(title=html.escape(title), about=about, esm=esm,
                       state=_inert(json.dumps(state, separators=(",", ":"))))


def write_page(models: dict, out, x=None, y=None, limit: float = 4.0, title: str | None = None) -> Path:
    """Write the standalone pad page for a dict name -> model to out (atomically); return its path."""
    state = pad_state(models, x, y, limit)
    if not any(m["layers"] for m in state["models"]):
        raise ValueError("no model's decoder could be exported to the page (each must be a chain of Linear and "
                         "ReLU/Sigmoid/Tanh/LeakyReLU layers); use the pad in a notebook instead.")
    text = page_html(state, title or "Exploring latent spaces: the latent pad")
    return atomic_write(out, lambda f: f.write(text.encode("utf-8")))


def explorer(args) -> Path:
    """`python -m labvae explorer RESULTS OUT.html`: the saved models of RESULTS on one standalone page."""
    results = Path(args.results)
    if not results.is_dir():
        raise ValueError(f"{results} is not a folder; give the folder `python -m labvae sweep` wrote (e.g. results/).")
    models = {LABELS[name]: load_checkpoint(results / f"{name}.pt") for name in MODELS
              if (results / f"{name}.pt").is_file()}
    if not models:
        raise ValueError(f"{results} holds none of {', '.join(f'{n}.pt' for n in MODELS)}; run "
                         f"`python -m labvae sweep --out {results}` first.")
    x = y = None
    if args.data is not None:
        root = LabConfig(data=args.data).data_folder()
        try:
            x, y = load_fashion_mnist(root, train=False, download=False)
        except DataError as e:
            raise ValueError(f"--data {args.data}: {e}") from None
    path = write_page(models, args.out, x, y)
    codes = "with test codes" if x is not None else "without test codes (give --data to draw them)"
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {', '.join(models)}, {codes}): open it in a browser, "
          "no server or network needed")
    return path


def add_parser(sub) -> None:
    """The `explorer` subcommand."""
    p = sub.add_parser("explorer", help="write one self-contained HTML page with the latent pad of saved models",
                       description="Write OUT.html: the latent pad (drag over z, every model decodes in the page) for "
                                   "the checkpoints vae.pt, ae.pt, ae512.pt found in RESULTS. No server, no network.")
    p.add_argument("results", metavar="RESULTS", help="folder with the checkpoints (what `sweep` wrote)")
    p.add_argument("out", metavar="OUT.html", type=Path, help="the page to write")
    p.add_argument("--data", metavar="ROOT|synthetic", default=None,
                   help="draw these test images' codes on the pad (folder holding FashionMNIST/raw/, or 'synthetic')")
    p.set_defaults(run=explorer)
