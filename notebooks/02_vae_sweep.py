# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2 · Walking the VAE's latent plane
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/02_vae_sweep.ipynb)
#
# **What you will learn**
# - how to decode a systematic sweep of the latent space: 21 values per dimension from −4 to +4,
#   441 codes drawn as one 588×588 image;
# - how to read that image: which corner is which $z$, and why the codes sit where they do;
# - how to explore the plane interactively with two sliders;
# - why samples from the prior $\mathcal{N}(0, I)$ look like clothing.

# %%
# Setup: on Colab, install labvae from its repository; anywhere else this cell does nothing.
import subprocess
import sys

REPOSITORY = "https://github.com/labvae/labvae"
if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"labvae @ git+{REPOSITORY}"], check=True)

# %%
import matplotlib.pyplot as plt
import torch

import labvae

# %% [markdown]
# ## Load (or train) the VAE
#
# The VAE from notebook 1 is loaded from its checkpoint; if it is missing, it is trained here.

# %% tags=["nbval-ignore-output"]
cfg = labvae.lab_config()
x_train, y_train, x_test, y_test = cfg.load_data()
vae = cfg.model("vae", x_train, x_test)

# %% [markdown]
# ## The sweep
#
# The prior says codes should look like draws from $\mathcal{N}(0, I)$, so almost all of them lie
# within ±3 standard deviations of the origin. We sweep a slightly larger window,
# $[-4, 4]^2$: 21 values per dimension, 0.4 apart, 441 codes in all. `latent_grid` lists them
# row by row, starting at the **top-left**:

# %%
z = labvae.latent_grid(n=21, limit=4.0)  # (441, 2), columns (z1, z2)
print("shape:", tuple(z.shape))
print("first (top-left):    ", z[0].tolist())
print("end of first row:    ", z[20].tolist())
print("last (bottom-right): ", z[-1].tolist())

# %% [markdown]
# So $z_1$ grows from left to right and $z_2$ from **bottom to top**, like the axes of a plot:
# $z = [-4, 4]$ is the top-left tile and $z = [4, -4]$ the bottom-right. `decode_grid` decodes all
# 441 codes in one batched forward pass and lays the 28×28 tiles edge to edge: 21 × 28 = 588 pixels.

# %%
grid = labvae.decode_grid(vae.decode, n=21, limit=4.0)
print("image:", tuple(grid.shape))
fig, ax = plt.subplots(figsize=(9, 9))
labvae.show_grid(grid, ax=ax, limit=4.0, title="VAE: decoded sweep over $z \\in [-4, 4]^2$")
plt.show()

# %%
path = labvae.save_grid(grid, cfg.out / "vae_grid.png")
print("saved", path)

# %% [markdown]
# **Reading the picture.** Neighbouring tiles differ a little, and moving across the plane morphs one
# garment into another: the decoder is a smooth function of $z$, and the VAE was trained to decode
# *every* code near each image's $\mu$ (the reparameterisation noise), so there are no blank gaps
# between classes. Towards the edge of the window the images stop changing much: few training codes
# lie out there, so the decoder has learned little about that region.

# %% [markdown]
# ## Explore with sliders
#
# Move $z_1$ and $z_2$: the decoder runs on each move and the image updates in place. The small
# picture on the right is the sweep above, with a red ring where the current $z$ sits.
# (Sliders need a live kernel: they do nothing in a static preview.)

# %% tags=["nbval-ignore-output"]
explorer = labvae.z_explorer({"VAE": vae})
explorer

# %% [markdown]
# The explorer can also be driven from code, which is how the tests check it:

# %%
explorer.set_z(1.5, -0.5)
shown = explorer.decoded()["VAE"]
direct = vae.decode(torch.tensor([[1.5, -0.5]]))[0]
print("explorer shows decode(z) exactly:", torch.equal(shown, direct))

# %% [markdown]
# ## Samples from the prior
#
# A VAE is a generative model: draw $z \sim \mathcal{N}(0, I)$ and decode. Because the KL term pulled
# the codes of the training images towards this same distribution, prior samples land where the
# decoder has seen data, and most look like clothing. (Notebook 3 does the same with an AE.)

# %%
torch.manual_seed(0)
z_prior = torch.randn(32, 2)  # (32, 2) draws from N(0, I)
with torch.no_grad():
    samples = vae.decode(z_prior)
labvae.show_images(samples, nrow=16, title="VAE: decode(z) for 32 draws z ~ N(0, I)")
plt.show()

# %% [markdown]
# ## Summary
#
# - The 21×21 sweep shows the whole 2-d latent space at once: $z = [-4, 4]$ top-left,
#   $z = [4, -4]$ bottom-right, $z_2$ growing upwards.
# - The VAE's plane is filled with plausible garments that change gradually from tile to tile.
# - Random codes from the prior decode to clothing, because training pulled the data's codes
#   towards that prior.
#
# **Try next:** sweep a wider window (`labvae.decode_grid(vae.decode, limit=8)`) and see where the
# images stop changing; then open **03_ae_sweep** to do the same with a plain autoencoder.
