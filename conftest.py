"""Test-wide settings: notebooks run in smoke mode on synthetic data, in a throwaway cache."""

import os
import tempfile

# Set before any kernel starts, so nbval's notebook kernels inherit them too.
os.environ["LABVAE_SMOKE"] = "1"
os.environ.setdefault("LABVAE_CACHE", tempfile.mkdtemp(prefix="labvae-test-cache-"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "colab: runs the setup cell in a copy of the Colab-pinned venv "
                   "($LABVAE_COLAB_VENV, built by .ci/colab; skipped without it)")
