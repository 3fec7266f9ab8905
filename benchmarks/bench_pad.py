"""Time the latent pad in headless Chromium: decode + draw per pointer move, one model and three.

Target: <= 16 ms at the 99th percentile (60 frames per second), on the standalone page
(`python -m labvae explorer`), which runs the same pad.js as the notebook widget. What is timed is
the page's own work for one pointermove event: clip z, evaluate every decoder, draw the pad, the
marker, the label and every 28x28 image (performance.now() around it, inside the page). The drag is
real input: playwright's mouse moves across the pad. Also stated: the largest pixel difference
between the drawn images and torch's decode of the same z.

    python benchmarks/bench_pad.py [--results results/] [--moves 400]
"""

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

import labvae
from labvae.checkpoints import load_checkpoint
from labvae.pad_page import write_page

TARGET_MS = 16.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]


def models_from(results):
    """The lab's three models from results/ when saved there, else freshly built (decoding costs the same)."""
    out = {}
    for name, config in labvae.MODELS.items():
        path = Path(results or "") / f"{name}.pt"
        out[labvae.LABELS[name]] = load_checkpoint(path) if results and path.is_file() else config.build().eval()
    return out


def drag(page, moves: int):
    """Drag across the pad in a zigzag of `moves` pointer moves; return the page's ms per move."""
    box = page.locator(".labvae-pad-area").bounding_box()
    page.evaluate("() => { document.querySelector('.labvae-pad').__labvaePad.times.length = 0; }")
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    for i in range(moves):
        t = i / moves
        page.mouse.move(box["x"] + 5 + (box["width"] - 10) * (0.5 + 0.5 * np.sin(7 * t * np.pi)),
                        box["y"] + 5 + (box["height"] - 10) * t)
    page.mouse.up()
    return page.evaluate("() => document.querySelector('.labvae-pad').__labvaePad.times.slice()")


def pixel_error(page, models) -> int:
    """Largest |page pixel - torch pixel| over every model's image at the pad's current z (of 255)."""
    z = page.evaluate("() => document.querySelector('.labvae-pad').__labvaePad.z")
    drawn = page.evaluate("""() => Array.from(document.querySelectorAll('canvas.labvae-pad-image')).map(c =>
        [c.dataset.name, Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((v, i) => i % 4 === 0))])""")
    worst = 0
    for name, pixels in drawn:
        with torch.no_grad():
            want = labvae.grid.to_uint8(models[name].decode(torch.tensor([z]))[0]).astype(int).reshape(-1)
        worst = max(worst, int(np.abs(np.array(pixels) - want).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=None, help="folder with vae.pt, ae.pt, ae512.pt (default: untrained)")
    parser.add_argument("--moves", type=int, default=400)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    models = models_from(args.results)
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared); models "
          f"{'from ' + args.results if args.results else 'untrained'}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        for label, subset in (("VAE only", {"VAE": models["VAE"]}), ("VAE + lab AE + AE-512", models)):
            path = write_page(subset, Path(tmp) / "pad.html")
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(path.as_uri())
            page.wait_for_function("() => window.__labvaePadReady === true")
            drag(page, 50)  # warm-up: the JIT compiles the decoders' loops
            ms = drag(page, args.moves)
            error = pixel_error(page, subset)
            p99 = float(np.percentile(ms, 99))
            print(f"{label:22s} {len(ms)} moves: median {statistics.median(ms):5.2f} ms   p99 {p99:5.2f} ms   "
                  f"max {max(ms):5.2f} ms   largest pixel difference from torch {error}/255 "
                  f"(page: {path.stat().st_size / 1e6:.2f} MB)")
            ok &= p99 <= TARGET_MS
            page.close()
        browser.close()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{'PASS' if ok else 'FAIL'}: decode + draw per pointer move <= {TARGET_MS:.0f} ms at the 99th percentile")


if __name__ == "__main__":
    main()
