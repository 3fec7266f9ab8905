"""What the benchmarks share: where the data comes from and what machine ran them."""

import os
import platform
from pathlib import Path

import labvae


def data_root(arg: str | None, tmp: str, n_test: int = 1000) -> tuple[str, str]:
    """The --data folder, else $LABVAE_DATA, else freshly written synthetic data in tmp."""
    root = arg or os.environ.get("LABVAE_DATA")
    if root:
        return root, "real files"
    labvae.make_synthetic_fashion(tmp, n_train=8000, n_test=n_test)
    return tmp, "synthetic"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else whatever platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
