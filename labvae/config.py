"""Run settings shared by the notebooks and the CLI: the lab's settings, or a fast smoke mode."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .checkpoints import load_or_train
from .data import cache_dir, data_root, load_fashion_mnist, synthetic_fashion
from .models import ModelConfig

# The three models of the lab, by the names the notebooks and metrics.json use.
MODELS = {
    "vae": ModelConfig("vae", latent_dim=2, hidden_dim=512),  # the lab's VAE
    "ae": ModelConfig("ae", latent_dim=2, hidden_dim=None),  # the lab's AE: linear maps only
    "ae512": ModelConfig("ae", latent_dim=2, hidden_dim=512),  # AE with the VAE's capacity
}
LABELS = {"vae": "VAE", "ae": "lab AE (linear)", "ae512": "AE, 512 hidden"}
SWEEP_MODELS = ("vae", "ae")  # what `python -m labvae sweep` draws: the lab's VAE and its AE with a 2-d code

# The beta family (notebook 5, `python -m labvae beta`): the lab's VAE with another KL weight, or
# with its posterior sigma fixed. From an AE with noise (0) through the lab's ELBO (1) to a strong
# pull towards the prior (4); beta = 1 is the lab's VAE itself and reuses its checkpoint "vae".
BETAS = (0.0, 0.1, 0.5, 1.0, 2.0, 4.0)
# Notebook 5's core lesson: no prior, the lab's VAE, a strong pull; two VAEs to train at most, so
# that the five notebooks' core path stays within minutes. Its optional part trains the rest.
CORE_BETAS = (0.0, 1.0, 4.0)
# A tenth of the sigma the lab's VAE learns (median about 0.1 on Fashion-MNIST): the prior still
# places the codes, but the noise is too small to fill the gaps between them.
FIXED_SIGMA = 0.01


def beta_model_name(beta: float) -> str:
    """The model name for one beta: 'vae' for the lab's beta = 1, else e.g. 'vae-beta0.5'."""
    return "vae" if beta == 1 else f"vae-beta{beta:g}"


FIXED_SIGMA_NAME = f"vae-sigma{FIXED_SIGMA:g}"
VARIANTS = {  # models beyond the lab's three, by name; LabConfig.model trains and caches them too
    **{beta_model_name(b): ModelConfig("vae", beta=b) for b in BETAS if b != 1},
    FIXED_SIGMA_NAME: ModelConfig("vae", posterior_sigma=FIXED_SIGMA),
}
LABELS.update({beta_model_name(b): f"VAE, β={b:g}" for b in BETAS if b != 1})
LABELS[FIXED_SIGMA_NAME] = f"VAE, σ fixed {FIXED_SIGMA:g}"

# Smoke mode: small synthetic data, few epochs; enough for every cell to run and show structure.
SMOKE_SIZES = (3000, 500)
SMOKE_EPOCHS = 3
SEEDS = (0, 1, 2)  # three trainings per model: a verdict that flips between them rests on luck
# The lab AE trained to convergence: on 8,226 real images its per-epoch gain falls below 0.1% after
# about 2,300 Adam steps (epoch 71) and the loss moves 0.1% between 6,600 and 9,900 steps; so train
# for 6,600 steps, whatever the dataset size (28 epochs on the full 60,000 images).
CONVERGED_STEPS = 6600
SMOKE_CONVERGED_EPOCHS = 20  # smoke mode: enough to see the loss flatten, still a few seconds


@dataclass(frozen=True)
class LabConfig:
    """Where data comes from, how models are trained, where results go."""

    data: str | Path  # a folder holding FashionMNIST/raw/, or "synthetic"
    epochs: int = 10  # the lab's setting
    batch_size: int = 256  # the lab's setting
    lr: float = 1e-3  # the lab's Adam learning rate
    seed: int = 0  # data order, noise and weight init: same seed, same results
    out: Path = Path("results")  # checkpoints, grids, metrics
    device: str = "auto"  # CUDA or MPS when present, else CPU
    precision: str = "auto"  # bf16 matmuls where the hardware has them natively, else fp32
    synthetic_sizes: tuple[int, int] = (6000, 1000)  # train/test images when data == "synthetic"
    progress: bool = True

    @property
    def smoke(self) -> bool:
        return self.data == "synthetic" and self.synthetic_sizes == SMOKE_SIZES

    def data_folder(self) -> Path:
        """The folder the loader reads; synthetic data is written into the cache on first use."""
        if self.data != "synthetic":
            return data_root(self.data)
        n_train, n_test = self.synthetic_sizes
        root = cache_dir() / f"synthetic-{n_train}-{n_test}-seed{self.seed}"
        return synthetic_fashion(root, n_train=n_train, n_test=n_test, seed=self.seed)  # rewritten if damaged

    def load_data(self):
        """(x_train, y_train, x_test, y_test) as float images in [0, 1] and int labels."""
        root = self.data_folder()
        x_train, y_train = load_fashion_mnist(root, train=True)
        x_test, y_test = load_fashion_mnist(root, train=False)
        return x_train, y_train, x_test, y_test

    def model(self, name: str, x_train, x_test=None, epochs: int | None = None):
        """Load the named model ('vae', 'ae', 'ae512' or a VARIANTS name) from out/, or train and save it.

        epochs: train this long instead of the config's; the checkpoint is then out/<name>-<epochs>ep.pt.
        """
        known = {**MODELS, **VARIANTS}
        if name not in known:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(known)}.")
        epochs = self.epochs if epochs is None else epochs
        file = f"{name}.pt" if epochs == self.epochs else f"{name}-{epochs}ep.pt"
        model = load_or_train(
            replace(known[name], seed=self.seed), self.out / file, x_train, x_test,
            epochs=epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
            device=self.device, precision=self.precision, progress=self.progress,
        )
        # Trained on the accelerator if there is one; explored on the CPU, where the notebooks'
        # tensors live (a 2-d decoder is fast there, and CPU tensors never meet CUDA or MPS weights).
        return model.cpu()

    def with_seed(self, seed: int) -> LabConfig:
        """The same settings for training with another seed; its checkpoints go to out/seed<N>/.

        Only for cfg.model: load the data from the original config (synthetic data depends on the seed).
        """
        return self if seed == self.seed else replace(self, seed=seed, out=self.out / f"seed{seed}")

    def converged_epochs(self, n_train: int) -> int:
        """Epochs that give the lab AE CONVERGED_STEPS Adam steps on n_train images (at least the lab's)."""
        if self.smoke:
            return SMOKE_CONVERGED_EPOCHS
        return max(self.epochs, -(-CONVERGED_STEPS * self.batch_size // n_train))


def lab_config(**overrides) -> LabConfig:
    """Settings for a notebook: the lab's, or smoke mode when LABVAE_SMOKE=1; LABVAE_PRECISION picks fp32/bf16."""
    if os.environ.get("LABVAE_SMOKE", "0") not in ("", "0"):
        base = LabConfig(data="synthetic", epochs=SMOKE_EPOCHS, out=cache_dir() / "results-smoke",
                         synthetic_sizes=SMOKE_SIZES)
    elif os.environ.get("NBGRADER_EXECUTION"):  # nbgrader validate/autograde: never train into a student's folder
        base = LabConfig(data=data_root(), out=cache_dir() / "results-nbgrader")  # shared by every notebook run
    else:
        base = LabConfig(data=data_root())  # LABVAE_DATA, else the per-user cache
    # A benchmark of the notebooks as Colab runs them (no native bf16) sets LABVAE_PRECISION=fp32.
    base = replace(base, precision=os.environ.get("LABVAE_PRECISION") or base.precision)
    return replace(base, **overrides)
