# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1 · Training a VAE and an autoencoder with a 2-d latent space
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/01_training.ipynb)
#
# **What you will learn**
# - what Fashion-MNIST looks like, class by class;
# - how an autoencoder and a variational autoencoder (VAE) are built, and what each one's loss asks for;
# - the ELBO (reconstruction + KL), the reparameterisation trick, and the closed-form KL term;
# - how to train both with a 2-d latent space, read their loss curves and compare reconstructions.
#
# The models trained here are saved, and the next notebooks load them
# (each notebook also trains them itself if they are missing).

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
# ## Settings
#
# `lab_config()` holds the lab's settings: Adam with learning rate 1e-3, batch size 256, 10 epochs.
# Data comes from `$LABVAE_DATA` (a folder holding `FashionMNIST/raw/`), else it is downloaded into
# `~/.cache/labvae/data`. With `LABVAE_SMOKE=1` (used by the tests) everything runs on small
# synthetic garments for a few epochs instead, so the pictures are cruder.

# %%
cfg = labvae.lab_config()
cfg

# %% [markdown]
# ## The data
#
# Fashion-MNIST: 28×28 grayscale images of clothing in ten classes. `load_data` returns images as
# floats in [0, 1], shaped `(N, 1, 28, 28)`, and integer labels.

# %%
x_train, y_train, x_test, y_test = cfg.load_data()
print(f"train: {tuple(x_train.shape)}, test: {tuple(x_test.shape)}, pixel range [{x_train.min():.0f}, {x_train.max():.0f}]")

# %%
fig, axes = plt.subplots(2, 5, figsize=(12, 5.5))
for label, ax in enumerate(axes.flat):
    examples = x_train[y_train == label][:9]
    labvae.show_images(examples, nrow=3, ax=ax, title=f"{label}: {labvae.CLASSES[label]}")
fig.suptitle("Nine training examples of every class")
plt.show()

# %% [markdown]
# ## The two models
#
# Both squeeze a 784-pixel image through a **2-d code** $z$ and rebuild it. Two numbers per image is
# very little, but it lets us *draw* the whole latent space on paper.
#
# **Autoencoder (AE).** An encoder maps $x \mapsto z = f(x)$, a decoder maps
# $z \mapsto \hat x = \sigma(g(z))$, and training minimises the reconstruction error: binary cross-entropy
# summed over the 784 pixels,
# $$\mathcal{L}_{AE}(x) = -\sum_{i=1}^{784} \big[x_i \log \hat x_i + (1-x_i)\log(1-\hat x_i)\big].$$
# The lab's AE is as simple as it gets: $f$ and $g$ are single linear layers (784→2 and 2→784, then a
# sigmoid). Nothing in this loss says *where* in the plane the codes should go.
#
# **Variational autoencoder (VAE).** The encoder outputs a *distribution* over codes,
# $q(z\mid x) = \mathcal{N}\big(\mu(x), \operatorname{diag}\sigma^2(x)\big)$: here an MLP
# 784→512→($\mu$, $\log\sigma^2$). The decoder (2→512→784, sigmoid) gives $p(x\mid z)$. Training
# maximises the evidence lower bound (ELBO), i.e. minimises
# $$\mathcal{L}_{VAE}(x) = \underbrace{\mathbb{E}_{q(z\mid x)}\big[-\log p(x\mid z)\big]}_{\text{reconstruction (BCE)}}
# + \underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{pulls codes towards the prior}}.$$
#
# **The reparameterisation trick.** Sampling $z \sim q(z\mid x)$ is not differentiable with respect to
# $\mu$ and $\sigma$. Writing the sample as
# $$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)$$
# moves the randomness into an *input* $\varepsilon$, so $z$ is a smooth function of $\mu$ and
# $\sigma$ and gradients flow through it to the encoder. It also means the decoder is trained on a
# *cloud* of codes around each $\mu$, not a single point.
#
# **The KL term in closed form.** For a diagonal Gaussian against $\mathcal{N}(0, I)$ in $d$ dimensions,
# $$\mathrm{KL} = -\tfrac12 \sum_{j=1}^{d} \big(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\big),$$
# zero only when $\mu = 0$ and $\sigma = 1$. Both losses are reported in **nats per image**:
# summed over pixels (and latent dimensions), averaged over the batch.
#
# `labvae` builds three models: the lab's VAE, the lab's linear AE, and an AE with the VAE's shape
# (784→512→2→512→784), so that "VAE vs AE" is not only "big vs small".

# %%
for name, config in labvae.MODELS.items():
    model = config.build()
    print(f"{labvae.LABELS[name]}: {sum(p.numel() for p in model.parameters()):,} parameters")
print(labvae.VAE())

# %% [markdown]
# ## Training
#
# `cfg.model(name, ...)` loads a checkpoint trained with exactly these settings and data if there is
# one, and otherwise trains with `labvae.fit` (progress bar per epoch) and saves it to `cfg.out`.

# %% tags=["nbval-ignore-output"]
vae = cfg.model("vae", x_train, x_test)
ae = cfg.model("ae", x_train, x_test)
ae512 = cfg.model("ae512", x_train, x_test)
models = {"VAE": vae, "lab AE (linear)": ae, "AE, 512 hidden": ae512}

# %%
for name, model in models.items():
    final = model.history.final()
    print(f"{name:16s} test loss {final['test_loss']:6.1f} = recon {final['test_recon']:6.1f} "
          f"+ KL {final['test_kl']:4.1f} nats/image   ({final['epochs']} epochs)")

# %% [markdown]
# ## Loss curves
#
# Train (solid) and test (dashed) per epoch. For the VAE, watch the two terms separately: the
# reconstruction falls while the KL *rises* from about zero — the encoder learns to spend a few nats
# of information per image to describe it, and the KL term charges for every nat.

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
for name, model in models.items():
    model.history.plot(axes, title=name)
axes[2].set_ylim(bottom=0)
fig.suptitle("Training curves (nats per image; lower is better)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Is each model done learning? Compare the last epoch's improvement with the first one's:

# %%
for name, model in models.items():
    train = [epoch["loss"] for epoch in model.history.train]
    last_drop = train[-2] - train[-1] if len(train) > 1 else float("nan")
    verdict = "still improving fast" if last_drop > 0.05 * (train[0] - train[-1]) else "levelling off"
    print(f"{name:16s} last epoch improved by {last_drop:5.1f} nats/image: {verdict}")

# %% [markdown]
# The lab's linear AE has only 3,922 parameters, yet it learns the slowest: its decoder starts as a
# random 2→784 map, and Adam moves each weight by about the learning rate (1e-3) per step, so turning
# noise into garment shapes takes many steps. With fewer training images (as in the partial dataset or
# smoke mode) there are fewer steps per epoch and it is further from converged after 10 epochs. Keep
# that in mind when its pictures look bad in the next notebooks: part of it is the model, part is
# training time.

# %% [markdown]
# ## Reconstructions
#
# Top row: test images. Below: each model's reconstruction from its 2-d code (the VAE uses the mean
# code $\mu$). Two numbers cannot hold a whole image, so every model blurs; the question for the next
# notebooks is what the *space* of codes looks like.

# %%
x = x_test[:10]
with torch.no_grad():
    rows = [x, vae.decode(vae.encode(x)[0]), ae(x), ae512(x)]
fig, axes = plt.subplots(4, 1, figsize=(10, 5.5))
for ax, images, title in zip(axes, rows, ["test images", *models]):
    labvae.show_images(images, nrow=10, ax=ax, title=title)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Saved for the next notebooks

# %%
for path in sorted(cfg.out.glob("*.pt")):
    print(path)

# %% [markdown]
# ## Summary
#
# - Both models compress an image to two numbers; the AE only learns to reconstruct, the VAE also pays
#   a KL price for codes that stray from $\mathcal{N}(0, I)$.
# - The reparameterisation trick makes the VAE's sampling step differentiable and trains the decoder
#   on a neighbourhood of each code.
# - With the lab's settings the linear AE reconstructs worst, the capacity-matched AE best: the KL term
#   costs the VAE some reconstruction quality.
#
# **Try next:** train with `cfg = labvae.lab_config(epochs=30)`; give the VAE a bigger latent space
# (`labvae.VAE(latent_dim=8)`) and compare its loss; then open **02_vae_sweep** to walk the VAE's
# latent plane.
