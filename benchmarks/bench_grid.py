"""Sweep-grid rendering: labvae's batched decode + PNG against a student-style subplot render.

Measured: wall time to turn a 21x21 sweep of z in [-4, 4]^2 into a PNG, for
  * labvae: `decode_grid(model.decode, n=21, limit=4)` (one batched decode) + `save_grid(img, png)`;
  * a student-style render: 441 single-vector `model.decode(z)` calls, each drawn with imshow
    into its own subplot of `plt.subplots(21, 21)` with the axis off, then `fig.savefig(png)`.
Both use the same VAE, briefly trained on the data, and the Agg backend. Each is repeated; the
best and median are printed, and the speed-up is taken on medians.

Target: labvae >= 100x faster than the student-style render.

    python benchmarks/bench_grid.py --data /path/to/root   # holds FashionMNIST/raw/
    python benchmarks/bench_grid.py --quick                # synthetic data, untrained, fewer repeats
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless, and the backend a benchmark should measure: no window
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import labvae  # noqa: E402

from common import data_root  # noqa: E402  benchmarks/common.py, beside this script

TARGET = 100.0
N, LIMIT = 21, 4.0



def labvae_render(model: labvae.VAE, png: Path) -> None:
    """The library's way: one batched decode, one PNG of exactly 588 x 588 pixels."""
    labvae.save_grid(labvae.decode_grid(model.decode, n=N, limit=LIMIT), png)


def student_render(model: labvae.VAE, png: Path) -> None:
    """A student's way: one decode call and one subplot per z, then savefig."""
    fig, axes = plt.subplots(N, N, figsize=(10, 10))
    # Same sweep and order as labvae.latent_grid: rows go from z2 = +limit down, columns z1 up.
    z2s = torch.linspace(LIMIT, -LIMIT, N)
    z1s = torch.linspace(-LIMIT, LIMIT, N)
    with torch.no_grad():
        for i, z2 in enumerate(z2s):
            for j, z1 in enumerate(z1s):
                z = torch.tensor([[z1.item(), z2.item()]])  # (1, 2): a single latent vector
                img = model.decode(z)[0, 0].numpy()
                axes[i, j].imshow(img, cmap="gray")
                axes[i, j].axis("off")
    fig.savefig(png)
    plt.close(fig)


def timed(fn, repeats: int) -> list[float]:
    """Wall times of repeats calls of fn()."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="folder holding FashionMNIST/raw/ (default: $LABVAE_DATA, "
                   "else synthetic data in a temp folder)")
    p.add_argument("--repeats", type=int, default=5, help="timed student renders (default 5); "
                   "labvae's render is repeated 10x as often, being that much shorter")
    p.add_argument("--quick", action="store_true", help="untrained VAE and 2 student renders")
    args = p.parse_args()
    repeats = 2 if args.quick else args.repeats

    print(f"torch {torch.__version__}, matplotlib {matplotlib.__version__} "
          f"({matplotlib.get_backend()}), {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f} (near 0 = a quiet machine)")
    model = labvae.VAE()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.quick:
            print("model: untrained VAE (--quick)")
        else:
            root, kind = data_root(args.data, str(tmp / "data"))
            # One epoch is enough for a sweep of recognisable garments; the timings do not need it.
            x_train, _ = labvae.load_fashion_mnist(root, train=True, download=False)
            history = labvae.fit(model, x_train, epochs=1, device="cpu", progress=False)
            print(f"model: VAE trained 1 epoch on {root} ({kind}), "
                  f"loss {history.train[-1]['loss']:.1f} nats/image")
        model.eval()

        fast_png, slow_png = tmp / "labvae.png", tmp / "student.png"
        # Same numbers both ways: the 441 single decodes must equal the batched ones.
        tiles = labvae.decode_grid(model.decode, n=N, limit=LIMIT)
        with torch.no_grad():
            first = model.decode(torch.tensor([[-LIMIT, LIMIT]]))[0, 0]
        if not torch.allclose(tiles[0, :28, :28], first, atol=1e-6):
            sys.exit("the student sweep does not match labvae.latent_grid; fix the benchmark")

        # Warm-up (untimed): the first call pays for imports, font caches and allocations.
        labvae_render(model, fast_png)
        student_render(model, slow_png)
        fast = timed(lambda: labvae_render(model, fast_png), 10 * repeats)
        slow = timed(lambda: student_render(model, slow_png), repeats)
        fast_size, slow_size = Image.open(fast_png).size, Image.open(slow_png).size

    print(f"\n{'render':<34}{'runs':>6}{'best s':>10}{'median s':>10}{'PNG px':>12}")
    for name, ts, size in (("labvae decode_grid + save_grid", fast, fast_size),
                           ("student 441 decodes + subplots", slow, slow_size)):
        print(f"{name:<34}{len(ts):>6}{min(ts):>10.4f}{statistics.median(ts):>10.4f}"
              f"{'x'.join(map(str, size)):>12}")
    speedup = statistics.median(slow) / statistics.median(fast)
    print(f"{'speed-up (median)':<34}{speedup:>16.0f}x")
    print(f"{'speed-up (best)':<34}{min(slow) / min(fast):>16.0f}x")

    ok = speedup >= TARGET
    print(f"\n{'PASS' if ok else 'FAIL'}: labvae renders the sweep {speedup:.0f}x faster "
          f"(median; target >= {TARGET:.0f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
