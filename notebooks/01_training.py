# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
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
# - how an autoencoder and a variational autoencoder (VAE) are built: the ELBO, the reparameterisation;
# - how to train both with a 2-d latent space, read their loss curves and compare reconstructions;
# - how to write the VAE's three formulas yourself: the reparameterisation, the KL term and the loss.
#
# **Exercises.** Each *Exercise* cell is followed by a check that prints ✓, *not done yet*, or what is
# wrong. Until a check passes, the notebook uses labvae's own version, so every cell still runs.
#
# The models trained here are saved for the next notebooks (on Colab, each notebook trains its own).
#
# **Time:** a first run computes for about 70 s, nearly all of it training (measured at full scale,
# 60,000 images, on an idle 2-core CPU), about 1–2 min on Colab's CPU (estimated), longer on a busy
# shared server; later runs load the saved models in seconds. The core, 01–04, is a 3–3.5 h lab; 05
# and every *Try next* are optional.
#
# **Hand in.** This notebook carries no marks: hand in 02, 03 and 04 (each header says how),
# with their outputs kept. The marks: Exercise 1.1 (2 marks), Exercise 2.1 (2 marks), Exercise 2.2 (1 mark).

# %%
# Setup: on Colab, install labvae (or update it to the repository's newest commit); Colab's own
# torch, numpy and ipywidgets stay as they are. Anywhere else this cell does nothing.
import subprocess
import sys

REPOSITORY = "https://github.com/labvae/labvae"
if "google.colab" in sys.modules:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    if subprocess.run([*pip, "--force-reinstall", "--no-deps", f"labvae @ git+{REPOSITORY}"],
                      capture_output=True).returncode != 0:
        raise RuntimeError(f"labvae could not be installed from {REPOSITORY}: open that address in a browser "
                           "and, if it does not load, ask your instructor for the course's repository.")
    subprocess.run([*pip, "labvae"], check=True)  # only what labvae needs and this runtime lacks
    if "labvae" in sys.modules:
        print("labvae was updated: restart the session (Runtime > Restart session) to use the new version.")

# %%
import matplotlib.pyplot as plt
import torch

import labvae
from labvae.course import checks
from labvae.course.checks import fallbacks

# %% [markdown]
# ## Settings
#
# `lab_config()` holds the lab's settings: Adam with learning rate 1e-3, batch size 256, 10 epochs.
# Data comes from `$LABVAE_DATA` (a folder holding `FashionMNIST/raw/`), else it is downloaded into
# `~/.cache/labvae/data`.

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
# $z \mapsto \hat x = \operatorname{sigmoid}(g(z))$ ($\sigma$ always means a standard deviation here),
# and training minimises binary cross-entropy summed over the 784 pixels,
# $$\mathcal{L}_{AE}(x) = -\sum_{i=1}^{784} \big[x_i \log \hat x_i + (1-x_i)\log(1-\hat x_i)\big].$$
# The lab's AE uses single linear layers (784→2, 2→784). Nothing in this loss says *where* the codes go.
#
# **Variational autoencoder (VAE).** The encoder outputs a *distribution* over codes,
# $q(z\mid x) = \mathcal{N}\big(\mu(x), \operatorname{diag}\sigma^2(x)\big)$: here an MLP
# 784→512→($\mu$, $\log\sigma^2$). The decoder (2→512→784, sigmoid) gives $p(x\mid z)$. Training
# maximises the evidence lower bound (ELBO), i.e. minimises
# $$\mathcal{L}_{VAE}(x) = \underbrace{\mathbb{E}_{q(z\mid x)}\big[-\log p(x\mid z)\big]}_{\text{reconstruction (BCE)}}
# + \underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{pulls codes towards the prior}}.$$
# For binary pixels ($x_i \in \{0, 1\}$), where BCE is $-\log p(x\mid z)$ of a Bernoulli decoder, it
# bounds the log-likelihood:
# $$\log p(x) = \mathrm{ELBO}(x) + \mathrm{KL}\big(q(z\mid x)\,\|\,p(z\mid x)\big) \;\ge\; \mathrm{ELBO}(x) = -\mathcal{L}_{VAE}(x).$$
# Fashion-MNIST's pixels are grey levels, so here BCE is a loss in nats, not a normalised likelihood
# (see *The BCE floor* below).
#
# **The reparameterisation trick.** Sampling $z \sim q(z\mid x)$ is not differentiable with respect to
# $\mu$ and $\sigma$. Writing the sample as
# $$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)$$
# makes $z$ a smooth function of $\mu$ and $\sigma$, so gradients reach the encoder; the decoder is
# trained on a *cloud* of codes around each $\mu$.
#
# **The KL term in closed form.** For a diagonal Gaussian against $\mathcal{N}(0, I)$ in $d$ dimensions,
# $$\mathrm{KL} = -\tfrac12 \sum_{j=1}^{d} \big(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\big),$$
# zero only when $\mu = 0$ and $\sigma = 1$.
#
# **Nats.** Losses are in **nats per image** (natural logarithms; 1 nat ≈ 1.44 bits): summed over
# pixels, averaged over the batch.
#
# **The BCE floor.** For a grey pixel the BCE is smallest at $\hat x = x$, and even then positive (the
# pixel's entropy), so a perfect reconstruction scores well above 0; we measure this floor below.
# $\prod_i \hat x_i^{x_i}(1-\hat x_i)^{1-x_i}$ is a probability only for 0/1 pixels, which is why the
# bound above is stated for binary pixels.
#
# `labvae` builds three models: the lab's VAE, the lab's linear AE, and an AE with the VAE's shape
# (784→512→2→512→784), so that "VAE vs AE" is not only "big vs small".

# %%
for name, config in labvae.MODELS.items():
    model = config.build()
    print(f"{labvae.LABELS[name]}: {sum(p.numel() for p in model.parameters()):,} parameters")
print(labvae.VAE())

# %% [markdown]
# ## Your turn: the VAE's formulas in code
#
# Practice (no marks); the notebook uses your functions on the trained VAE.
#
# **Exercise 0.1 (reparameterisation).** Write `reparameterize(mu, logvar)`: return
# $z = \mu + \sigma \odot \varepsilon$ with $\sigma = \exp(\tfrac12 \log\sigma^2)$ and a fresh
# $\varepsilon \sim \mathcal{N}(0, I)$ for every element. `mu` and `logvar` are `(B, 2)` tensors; so is `z`.
# Hint: `torch.randn_like`.

# %% nbgrader={"grade": false, "grade_id": "0_1-reparameterize", "locked": false, "schema_version": 3, "solution": true, "task": false}
def reparameterize(mu, logvar):
    """z = mu + sigma * eps with eps ~ N(0, I); (B, d), (B, d) -> (B, d)."""
    ### BEGIN SOLUTION
    sigma = torch.exp(0.5 * logvar)  # logvar is log sigma^2
    return mu + sigma * torch.randn_like(sigma)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "0_1-reparameterize-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
reparameterize_check = checks.check_reparameterize(reparameterize)

# %% [markdown]
# **Exercise 0.2 (the KL term).** Write `kl_divergence(mu, logvar)`: the closed form above, summed over
# the latent dimensions and **averaged over the batch**, so it is in nats per image. Return a scalar
# tensor (no `.item()`: the loss needs its gradient).

# %% nbgrader={"grade": false, "grade_id": "0_2-kl", "locked": false, "schema_version": 3, "solution": true, "task": false}
def kl_divergence(mu, logvar):
    """KL(q(z|x) || N(0, I)) in nats per image; (B, d), (B, d) -> scalar."""
    ### BEGIN SOLUTION
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(mu)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "0_2-kl-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
kl_check = checks.check_kl(kl_divergence)

# %% [markdown]
# **Exercise 0.3 (the loss).** Write `vae_loss(x_hat, x, mu, logvar)`: the BCE between the decoded
# images `x_hat` and the images `x` (both `(B, 1, 28, 28)`, values in [0, 1]) **summed over the 784
# pixels**, plus your KL; both averaged over the batch. Hint:
# `torch.nn.functional.binary_cross_entropy(x_hat, x, reduction="sum")`.

# %% nbgrader={"grade": false, "grade_id": "0_3-loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def vae_loss(x_hat, x, mu, logvar):
    """Negative ELBO in nats per image: BCE summed over pixels + KL, averaged over the batch."""
    ### BEGIN SOLUTION
    bce = torch.nn.functional.binary_cross_entropy(x_hat, x, reduction="sum") / len(x)
    return bce + kl_divergence(mu, logvar)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "0_3-loss-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
loss_check = checks.check_loss(vae_loss)

# %% [markdown]
# **Predict before you run:** after training, how many nats per image will the VAE's KL term cost on
# the test set: about 0, about 6, about 60 or about 600? Think about how many numbers the code holds
# and how precisely the encoder can afford to place them.

# %% [markdown] tags=["predict-01"]
# ### BEGIN SOLUTION
# About 6 (yours is printed below). Not 0: a code equal to the prior says nothing about the image. Not
# large: per dimension the KL is $\tfrac12(\mu^2 + \sigma^2 - 1 - \log\sigma^2)$, and two numbers placed
# with $\sigma$ below 1 cost a few nats each.
# ### END SOLUTION

# %% [markdown]
# ## Training
#
# `cfg.model(name, ...)` loads a checkpoint trained with these settings and data, or trains one and saves it.

# %% tags=["nbval-ignore-output"]
vae = cfg.model("vae", x_train, x_test)
ae = cfg.model("ae", x_train, x_test)
ae512 = cfg.model("ae512", x_train, x_test)
models = {"VAE": vae, "lab AE (linear)": ae, "AE, 512 hidden": ae512}

# %%
for name, model in models.items():
    final = model.history.final()
    kl = f" = recon {final['test_recon']:6.1f} + KL {final['test_kl']:4.1f}" if name == "VAE" else ""
    print(f"{name:16s} final test loss {final['test_loss']:6.1f} nats/image{kl} "
          f"({final['epochs']} epochs, trained in {final['seconds']:.0f} s)")

# %% [markdown]
# ## Loss curves
#
# One panel per model, train (solid) and test (dashed) in one colour; the last panel is the VAE's KL.

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
for ax, (colour, (name, model)) in zip(axes, zip(("tab:blue", "tab:orange", "tab:green"), models.items())):
    epochs = range(1, model.history.epochs + 1)
    ax.plot(epochs, [e["loss"] for e in model.history.train], "-", c=colour, label="train")
    ax.plot(epochs, [e["loss"] for e in model.history.test], "--", c=colour, label="test")
    ax.set(title=name, xlabel="epoch", ylabel="loss (nats per image)")
    ax.legend(fontsize=8)
axes[3].plot(epochs, [e["kl"] for e in vae.history.train], "-", c="tab:blue", label="train")
axes[3].plot(epochs, [e["kl"] for e in vae.history.test], "--", c="tab:blue", label="test")
axes[3].set(title="VAE: KL term", xlabel="epoch", ylabel="KL (nats per image)", ylim=(0, None))
axes[3].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Is each model done learning? Compare the last epoch's improvement with the first one's:

# %%
for name, model in models.items():
    train = [epoch["loss"] for epoch in model.history.train]
    last_drop = train[-2] - train[-1] if len(train) > 1 else float("nan")
    print(f"{name:16s} last epoch improved the training loss by {last_drop:5.2f} nats/image "
          f"({last_drop / train[-2]:.2%}); the first by {train[0] - train[1]:5.1f}")

# %% [markdown]
# Adam moves each weight by about the learning rate per step, so a model's progress depends on the
# number of steps: with fewer training images an epoch holds fewer of them.

# %% [markdown]
# ## Reconstructions
#
# Top row: test images; below, each model's reconstruction from its 2-d code (the VAE's $\mu$). Does a
# model draw a different picture for each input, or nearly the same one? The next cell measures it.

# %%
x = x_test[:10]
with torch.no_grad():
    rows = [x, vae.decode(vae.encode(x)[0]), ae(x), ae512(x)]
fig, axes = plt.subplots(4, 1, figsize=(10, 5.5))
for ax, images, title in zip(axes, rows, ["test images", *models]):
    labvae.show_images(images, nrow=10, ax=ax, title=title)
fig.tight_layout()
plt.show()

# %%
print("how different the ten pictures of a row are (mean RMS distance between them):")
print(f"{'test images':16s} {torch.pdist(x.reshape(10, -1)).mean().item() / 28:.3f}")
for name, images in zip(models, rows[1:]):
    print(f"{name:16s} {torch.pdist(images.reshape(10, -1)).mean().item() / 28:.3f}")

# %% [markdown]
# ## How low can the reconstruction go?
#
# The BCE of each test image against itself: no model can go below it.

# %%
flat = x_test.reshape(len(x_test), -1)  # (N, 784)
floor = torch.nn.functional.binary_cross_entropy(flat, flat, reduction="sum").item() / len(flat)
print(f"BCE floor of the test images: {floor:.1f} nats per image")
for name, model in models.items():
    print(f"{name:16s} reconstruction {model.history.final()['test_recon']:6.1f} nats: "
          f"{model.history.final()['test_recon'] - floor:5.1f} above the floor")

# %% [markdown]
# ## Your functions on the trained VAE
#
# The answer to the prediction, measured with **your** `kl_divergence` (or labvae's, until yours passes):

# %%
kl_fn = checks.use(kl_divergence, fallbacks.kl_divergence, kl_check)
with torch.no_grad():
    mu, logvar = vae.encode(x_test)  # (N, 2) each
    print(f"KL on the test set: {kl_fn(mu, logvar).item():.2f} nats per image")

# %% [markdown]
# Your `vae_loss` on the test set, with $z$ drawn by your `reparameterize`, beside the VAE's own test loss:

# %%
sample = checks.use(reparameterize, fallbacks.reparameterize, reparameterize_check)
loss_fn = checks.use(vae_loss, fallbacks.vae_loss, loss_check)
with torch.no_grad():
    x_hat = vae.decode(sample(mu, logvar))  # (N, 1, 28, 28)
    print(f"your loss: {loss_fn(x_hat, x_test, mu, logvar).item():.1f} nats per image; "
          f"the VAE's own: {vae.history.final()['test_loss']:.1f}")

# %% [markdown]
# ## Saved for the next notebooks

# %%
for path in sorted(cfg.out.glob("*.pt")):
    print(path)

# %% [markdown]
# ## Summary
#
# - Both models compress an image to two numbers; the VAE also pays a KL price for codes that stray
#   from $\mathcal{N}(0, I)$.
# - The reparameterisation trick makes sampling differentiable and trains the decoder on a cloud
#   around each code.
# - Losses are in nats per image; grey-level BCE has a floor far above 0.
#
# **Try next:**
# - train for longer with `cfg = labvae.lab_config(epochs=30)`: which model's loss keeps falling, and
#   which has levelled off?
# - give the VAE a bigger code, `model = labvae.VAE(latent_dim=8)` then `labvae.fit(model, x_train, x_test)`:
#   how do the reconstruction and the KL change?
# - then open **02_vae_sweep** to walk the VAE's latent plane.
