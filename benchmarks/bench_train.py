"""Training throughput: labvae.fit against the lab's own DataLoader loop, on the same VAE and data.

Measured: samples/s of `labvae.fit(VAE(), x_train, batch_size=256, lr=1e-3)` and of the lab's loop
(torchvision FashionMNIST with ToTensor + flatten, DataLoader(batch_size=256, shuffle=True), the
same model class, loss and Adam settings) over the same number of epochs, after an untimed warm-up;
best of a few interleaved repeats. The lab's loading alone (no training) is timed too: it is the
part of the lab loop fit removes. fit runs with its default precision="auto" (bf16 matmuls where the
CPU has them natively, else fp32) and, for comparison, with precision="fp32". Also: how close fit
gets to this machine's matmul ceiling in the precision it used, and one CUDA epoch if a GPU is present.

Target: labvae.fit >= 2.5x the lab loop's samples/s.

    python benchmarks/bench_train.py --data /path/to/root   # holds FashionMNIST/raw/
    python benchmarks/bench_train.py --quick                # synthetic data, 1 epoch each
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
from torch.utils.data import DataLoader
from torchvision.datasets import FashionMNIST
from torchvision.transforms import Compose, Lambda, ToTensor

import labvae

from common import cpu_model, data_root  # benchmarks/common.py, beside this script

TARGET = 2.5
BATCH, LR = 256, 1e-3


def flatten(t: torch.Tensor) -> torch.Tensor:
    """(1, 28, 28) -> (784,), as the lab's transform does."""
    return t.view(-1)



def lab_loop(root: str, epochs: int, max_batches: int | None = None, train: bool = True) -> float:
    """The lab's style of training loop; returns the seconds it took (train=False: loading only)."""
    ds = FashionMNIST(root, train=True, download=False, transform=Compose([ToTensor(), Lambda(flatten)]))
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True)
    model = labvae.VAE()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    t0 = time.perf_counter()  # dataset construction (reading the files) is not timed, as for fit
    for _ in range(epochs):
        total = 0.0
        for i, (x, _) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            if not train:
                continue
            loss = model.loss(x)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()  # the lab sums the loss to print it, as fit does
    return time.perf_counter() - t0


def fit_seconds(x: torch.Tensor, epochs: int, device: str = "cpu", precision: str = "auto") -> float:
    """Wall time of one labvae.fit call on a fresh VAE."""
    model = labvae.VAE()
    t0 = time.perf_counter()
    labvae.fit(model, x, epochs=epochs, batch_size=BATCH, lr=LR, device=device, precision=precision,
               progress=False)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def flops_per_sample(model: labvae.VAE) -> int:
    """Matmul FLOPs of one training sample (forward + backward) through the VAE's Linear layers."""
    # Forward: 2*in*out per Linear (a multiply and an add per weight). Backward: the weight
    # gradient costs the same again for every layer, and the input gradient too, except for
    # the first layer, whose input is the data and needs no gradient. Bias adds, ReLU, the loss,
    # the reparameterisation and Adam are elementwise and left out: they are O(width), not O(in*out).
    first = model.encoder[0]
    total = 0
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            fwd = 2 * layer.in_features * layer.out_features
            total += fwd + fwd + (0 if layer is first else fwd)
    return total


def matmul_ceiling(reps: int, dtype=torch.float32) -> list[tuple[str, float]]:
    """GFLOP/s of torch.mm (in dtype) on the shapes that dominate one training step of the VAE."""
    b, d, h = BATCH, labvae.models.IMAGE_PIXELS, 512
    shapes = {  # (m, k, n): an (m, k) @ (k, n) product
        "fwd enc (256x784)@(784x512)": (b, d, h),
        "fwd dec (256x512)@(512x784)": (b, h, d),
        "grad W  (512x256)@(256x784)": (h, b, d),
    }
    out = []
    for name, (m, k, n) in shapes.items():
        a, w, c = (torch.rand(m, k, dtype=dtype), torch.rand(k, n, dtype=dtype),
                   torch.empty(m, n, dtype=dtype))
        for _ in range(5):  # warm up the kernels and caches
            torch.mm(a, w, out=c)
        best = float("inf")
        for _ in range(3):  # best of three blocks, so a hiccup cannot lower the ceiling
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.mm(a, w, out=c)
            best = min(best, (time.perf_counter() - t0) / reps)
        out.append((name, 2 * m * k * n / best / 1e9))
    return out



def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="folder holding FashionMNIST/raw/ (default: $LABVAE_DATA, "
                   "else synthetic data in a temp folder)")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs for each loop (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each loop (default 3)")
    p.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat, a shorter ceiling run")
    args = p.parse_args()
    epochs, repeats = (1, 1) if args.quick else (args.epochs, args.repeats)

    with tempfile.TemporaryDirectory() as tmp:
        root, kind = data_root(args.data, tmp)
        x_train, _ = labvae.load_fashion_mnist(root, train=True, download=False)
        n = len(x_train)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU: {cpu_model()} "
              f"({os.cpu_count()} logical cores)")
        # Other jobs share the cores and slow the loops unevenly: near 0 means a fair run.
        print(f"load average before the run: {os.getloadavg()[0]:.2f}")
        precision = labvae.training.pick_precision("auto", torch.device("cpu"))
        print(f"data: {root} ({kind}), {n} training images; {epochs} timed epoch(s) each, batch {BATCH}")
        print(f"labvae.fit precision='auto' resolves to {precision} on this CPU")

        # Warm-up (untimed): first calls pay for lazy init, allocator growth and kernel selection.
        fit_seconds(x_train[:2048], epochs=1)
        lab_loop(root, epochs=1, max_batches=8)

        # Interleaved repeats, best kept: on a shared machine noise only ever adds time.
        fit_name = f"labvae.fit ({precision}, auto)"
        times = {fit_name: [], "labvae.fit (fp32)": [], "lab DataLoader loop": [], "  its loading alone": []}
        for _ in range(repeats):
            times[fit_name].append(fit_seconds(x_train, epochs))
            times["labvae.fit (fp32)"].append(fit_seconds(x_train, epochs, precision="fp32"))
            times["lab DataLoader loop"].append(lab_loop(root, epochs))
            times["  its loading alone"].append(lab_loop(root, epochs, train=False))

    print(f"\n{'loop (best of ' + str(repeats) + ')':<28}{'seconds':>10}{'samples/s':>12}"
          f"{'median s':>10}")
    for name, ts in times.items():
        print(f"{name:<28}{min(ts):>10.2f}{epochs * n / min(ts):>12.0f}{statistics.median(ts):>10.2f}")
    t_fit, t_lab = min(times[fit_name]), min(times["lab DataLoader loop"])
    rate_fit, ratio = epochs * n / t_fit, t_lab / t_fit
    print(f"{'speed-up (fit / lab)':<28}{ratio:>10.2f}x")
    print(f"{'speed-up (fit fp32 / lab)':<28}{t_lab / min(times['labvae.fit (fp32)']):>10.2f}x")

    flops = flops_per_sample(labvae.VAE())
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    ceiling = matmul_ceiling(reps=10 if args.quick else 50, dtype=dtype)
    best = max(g for _, g in ceiling)
    achieved = rate_fit * flops / 1e9
    print()
    print(f"matmul FLOPs per training sample: {flops / 1e6:.2f} M (Linear layers, fwd + bwd)")
    for name, g in ceiling:
        print(f"  torch.mm {name}: {g:8.1f} GFLOP/s")
    print(f"{'achieved by labvae.fit':<28}{achieved:>10.1f} GFLOP/s")
    print(f"{'matmul ceiling (best mm)':<28}{best:>10.1f} GFLOP/s ({precision}, as fit ran)")
    print(f"{'fraction of ceiling':<28}{achieved / best:>10.1%}")

    if torch.cuda.is_available():
        fit_seconds(x_train[:2048], epochs=1, device="cuda")  # warm-up: CUDA context, cuBLAS
        t_gpu = fit_seconds(x_train, epochs=1, device="cuda")
        print(f"\ncuda ({torch.cuda.get_device_name()}): one epoch of labvae.fit in {t_gpu:.2f} s, "
              f"{n / t_gpu:.0f} samples/s")
    else:
        print("\ncuda: not available, GPU epoch skipped")

    ok = ratio >= TARGET
    print(f"\n{'PASS' if ok else 'FAIL'}: labvae.fit is {ratio:.2f}x the lab loop (target >= {TARGET}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
