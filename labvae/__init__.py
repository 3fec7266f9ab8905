"""labvae: exploring the 2-d latent spaces of a VAE and an autoencoder on Fashion-MNIST."""

from .checkpoints import CheckpointError, load_checkpoint, load_or_train, save_checkpoint
from .config import BETAS, LABELS, MODELS, LabConfig, lab_config
from .data import CLASSES, DataError, load_fashion_mnist, make_synthetic_fashion
from .grid import decode_grid, latent_grid, save_grid, show_grid, show_images
from .models import VAE, Autoencoder, ModelConfig, as_model, latent_codes, posterior_std
from .pad import latent_pad
from .threads import fit_threads
from .training import History, TrainingError, evaluate, fit
from .widgets import BetaExplorer, ZExplorer, beta_explorer, z_explorer

__all__ = [
    "BETAS", "CLASSES", "LABELS", "MODELS", "VAE", "Autoencoder", "BetaExplorer", "CheckpointError", "DataError", "History",
    "LabConfig", "ModelConfig", "TrainingError", "as_model", "beta_explorer", "decode_grid", "evaluate", "fit", "lab_config",
    "latent_codes", "latent_grid", "latent_pad", "load_checkpoint", "load_fashion_mnist", "load_or_train",
    "fit_threads", "make_synthetic_fashion", "posterior_std", "save_checkpoint", "save_grid", "show_grid", "show_images", "ZExplorer", "z_explorer",
]

fit_threads()  # every kernel that imports labvae: torch's threads fitted to the CPU it really has
