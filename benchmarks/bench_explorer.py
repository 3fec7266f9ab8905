"""Time one slider move of labvae.z_explorer in the kernel: re-decode + redraw in place.

Target: <= 15 ms per move (median) with one model, and with the three models of 04_comparison.
What is timed is everything the kernel does for a move: setting the slider's value fires the
observer, which decodes z through every model, encodes the PNGs and replaces the Image values.
The browser's own repaint is not included (see tests/test_browser.py for the on-screen check).
"""

import argparse
import statistics
import time

import torch

import labvae

TARGET_MS = 15.0


def time_moves(explorer, moves: int) -> list[float]:
    """Milliseconds per z1 slider move, sweeping z1 across its range."""
    times = []
    for i in range(moves):
        t0 = time.perf_counter()
        explorer.z1_slider.value = -4 + 8 * (i % 81) / 80  # steps of 0.1, every move changes z
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=200)
    args = parser.parse_args()
    # Trained or not, the models cost the same to decode; untrained keeps the benchmark self-contained.
    models = {name: config.build().eval() for name, config in labvae.MODELS.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    ok = True
    for label, subset in (("VAE only", {"vae": models["vae"]}), ("VAE + lab AE + AE-512", models)):
        explorer = labvae.z_explorer(subset)
        time_moves(explorer, 20)  # warm-up
        ms = time_moves(explorer, args.moves)
        p95 = sorted(ms)[int(0.95 * len(ms)) - 1]
        print(f"{label:22s} median {statistics.median(ms):5.2f} ms   p95 {p95:5.2f} ms   max {max(ms):5.2f} ms")
        ok &= statistics.median(ms) <= TARGET_MS
    print(f"{'PASS' if ok else 'FAIL'}: median redraw per slider move <= {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
