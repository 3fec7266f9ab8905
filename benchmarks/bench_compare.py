"""Time labvae.analysis.compare_model: every comparison metric for one model.

Target: <= 3 s per model on 2 CPU cores, with an already trained classifier. Uses --data (a folder
holding FashionMNIST/raw/; default $LABVAE_DATA), else synthetic data of the same size as the
partial real copy (8,000 train, 4,443 test).
"""

import argparse
import statistics
import tempfile
import time

import torch

import labvae
from labvae import analysis

from common import data_root  # benchmarks/common.py, beside this script

TARGET_S = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="folder holding FashionMNIST/raw/ (default: $LABVAE_DATA, else synthetic)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root, kind = data_root(args.data, tempfile.mkdtemp(), n_test=4443)
    x_train, y_train = labvae.load_fashion_mnist(root, train=True, download=False)
    x_test, y_test = labvae.load_fashion_mnist(root, train=False, download=False)
    print(f"data: {root} ({kind}, {len(x_train)} train, {len(x_test)} test); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    classifier = analysis.train_classifier(x_train, y_train, x_test, y_test, device="cpu")
    print(f"classifier test accuracy {classifier.accuracy:.1%} (trained before timing)")
    referee = analysis.calibrate(classifier, x_train, y_train)  # once, before timing, like the notebook
    ok = True
    for name, config in labvae.MODELS.items():
        model = config.build()
        labvae.fit(model, x_train, epochs=1, progress=False, device="cpu")  # trained weights, realistic maps
        seconds = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            analysis.compare_model(model, referee, x_test, y_test)
            seconds.append(time.perf_counter() - t0)
        print(f"{labvae.LABELS[name]:18s} compare_model: median {statistics.median(seconds):.2f} s "
              f"(runs: {', '.join(f'{s:.2f}' for s in seconds)})")
        ok &= statistics.median(seconds) <= TARGET_S
    print(f"{'PASS' if ok else 'FAIL'}: all metrics for one model in <= {TARGET_S:.0f} s")


if __name__ == "__main__":
    main()
