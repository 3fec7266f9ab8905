"""Time the beta family end to end: what `python -m labvae beta` does, in a fresh output folder.

Measured: wall seconds from loading the data to beta.json written, with nothing cached: six VAEs
(beta 0, 0.1, 0.5, 1, 2, 4) and the fixed-sigma VAE trained with the lab's settings (10 epochs,
batch 256, Adam 1e-3), the classifier, the judge's calibration, every metric, beta.png and beta.json.
Also the training seconds of each model (from its History), so the rest can be read off. No target:
the figure goes into the README. Uses --data (a folder holding FashionMNIST/raw/; default
$LABVAE_DATA), else synthetic data of the same size as the partial real copy.

    python benchmarks/bench_beta.py --data /path/to/root --threads 2
"""

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib
import torch

import labvae
from labvae.analysis import beta

from common import cpu_model, data_root  # benchmarks/common.py, beside this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="folder holding FashionMNIST/raw/ (default: $LABVAE_DATA, else synthetic)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per model (default: 10, the lab's)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2, the target machine's cores)")
    args = parser.parse_args()
    matplotlib.use("Agg")
    torch.set_num_threads(args.threads)
    root, kind = data_root(args.data, tempfile.mkdtemp(), n_test=4443)
    out = Path(tempfile.mkdtemp(prefix="bench-beta-"))  # empty: every model is trained, nothing loaded
    cfg = labvae.LabConfig(data=root, epochs=args.epochs, out=out, progress=False)
    print(f"machine: {cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"data: {root} ({kind})")
    t0 = time.perf_counter()
    result = beta.run(cfg, say=lambda *a: None)
    total = time.perf_counter() - t0
    train = 0.0
    for name in beta.family_names():
        model = labvae.load_checkpoint(out / f"{name}.pt")
        seconds = sum(model.history.seconds)
        train += seconds
        print(f"{labvae.LABELS[name]:20s} trained in {seconds:6.2f} s ({model.history.precision})")
    print(beta.beta_table(result["models"]))
    print(f"the beta family end to end: {total:.1f} s ({train:.1f} s training the 7 VAEs, "
          f"{total - train:.1f} s data, classifier, judge, metrics, figure and JSON)")


if __name__ == "__main__":
    main()
