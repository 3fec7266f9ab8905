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
# - how to train both with a 2-d latent space, read their loss curves and compare reconstructions;
# - how to write the VAE's three formulas yourself: the reparameterisation, the KL term and the loss.
#
# **Exercises.** Cells marked *Exercise* hold a function for you to write, each followed by a check
# that prints ✓, *not done yet*, or what is wrong with a hint. Until a check passes, the rest of the
# notebook uses labvae's own version, so every cell still runs.
#
# The models trained here are saved, and the next notebooks load them
# (each notebook also trains them itself if they are missing). On Colab, each notebook opened from
# its badge runs on a machine of its own and sees none of the others' checkpoints: there, this one
# trains the VAE, the lab AE and the AE with 512 hidden units itself.
#
# **Time:** the first run computes for about 70 s, nearly all of it training the three models
# (measured with `benchmarks/bench_notebooks.py --full-scale`: real mode, fp32, 2 threads on an
# otherwise idle 2-core AMD EPYC, the data tiled to the full 60,000 training images). Later runs load
# the saved models in seconds.

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
from labvae.course import checks, reference

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
# $z \mapsto \hat x = \operatorname{sigmoid}(g(z))$ (the sigmoid squashes each pixel into (0, 1); in
# these notebooks $\sigma$ always means a standard deviation), and training minimises the reconstruction error: binary cross-entropy
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
# It is a lower bound on the log-likelihood of the image:
# $$\log p(x) = \mathrm{ELBO}(x) + \mathrm{KL}\big(q(z\mid x)\,\|\,p(z\mid x)\big) \;\ge\; \mathrm{ELBO}(x) = -\mathcal{L}_{VAE}(x),$$
# and the gap is how far the encoder's $q(z\mid x)$ is from the decoder's true posterior $p(z\mid x)$.
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
# zero only when $\mu = 0$ and $\sigma = 1$.
#
# **Nats.** Both losses are reported in **nats per image**: summed over pixels (and latent dimensions),
# averaged over the batch. A nat is the unit of information you get with natural logarithms
# (1 nat = 1/ln 2 ≈ 1.44 bits). A KL of $k$ nats means the code says about $k$ nats about each image
# beyond what the prior already says.
#
# **The BCE floor.** Fashion-MNIST pixels are gray levels in [0, 1], not just 0 or 1. For such a target
# the BCE is smallest when $\hat x = x$, and even then it is not 0: it equals the entropy
# $-\sum_i \big[x_i \log x_i + (1-x_i)\log(1-x_i)\big]$, which is positive wherever a pixel is gray. So
# a perfect reconstruction still scores well above 0 nats; we measure this floor below. It also means
# that BCE on grey-level targets is **not a normalised likelihood**: $\prod_i \hat x_i^{x_i}(1-\hat x_i)^{1-x_i}$
# is a probability only for pixels that are exactly 0 or 1, and over all grey-level images it does not
# sum to 1. So the reconstruction term (and the "ELBO" built from it) is a loss in nats, not
# $-\log p(x)$ of a real density over images, and its floor is far above 0.
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
# These three are practice (no marks), and the notebook uses them: your KL measures the trained VAE,
# your reparameterisation draws its code clouds, and your loss scores a test batch.
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
# Of the four, about 6 (yours is printed below). It cannot be 0: a code that is exactly the prior says
# nothing about the image, and the reconstruction term pays far more than a few nats to know which
# garment it is. It cannot be large either, because the code has only two numbers, each placed with
# limited precision. Per dimension the KL is $\tfrac12(\mu^2 + \sigma^2 - 1 - \log\sigma^2)$: codes
# spread about as wide as the prior ($\mu^2 \approx 1$ to 2 on average) with an encoder that places
# each code to within a fraction of the prior's width ($\sigma$ well below 1, so $-\log\sigma^2$ is a
# few nats) give a couple of nats per dimension: a few nats for two. (How narrow $\sigma$ really is,
# is notebook 2's question.)
# ### END SOLUTION

# %% [markdown]
# ## Training
#
# `cfg.model(name, ...)` loads a checkpoint trained with exactly these settings and data if there is
# one, and otherwise trains with `labvae.fit` (one progress bar per model) and saves it to `cfg.out`.

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
# Train (solid) and test (dashed) per epoch. For the VAE, watch the two terms separately. The KL
# starts at almost 0 on the very first batches (an untrained encoder outputs $\mu \approx 0$,
# $\sigma \approx 1$: the prior itself) and rises within the first epoch as the encoder starts to
# describe each image, so the first epoch's average is already a few nats. After that, read the
# curves: every nat the code spends is charged, and the reconstruction pays for what the code leaves out.

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
# Why a small model can be the slowest to finish: the lab's linear AE has only 3,922 parameters, but its
# decoder starts as a random 2→784 map, and Adam moves each weight by about the learning rate (1e-3)
# per step, so turning noise into garment shapes takes many steps. With fewer training images there are
# fewer steps per epoch. If the cell above says it is still improving fast, keep that in mind when its
# pictures look bad in the next notebooks: part of it is the model, part is training time.

# %% [markdown]
# ## Reconstructions
#
# Top row: test images. Below: each model's reconstruction from its 2-d code (the VAE uses the mean
# code $\mu$). Two numbers cannot hold a whole image, so no reconstruction keeps the details. Look at
# each row: does a model draw a different picture for each input, or nearly the same one for all?
# The cell after the pictures measures it.

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
# A row whose spread is far below the test images' draws nearly the same picture whatever the input:
# its code, or its decoder, does not yet tell the images apart.

# %% [markdown]
# ## How low can the reconstruction go?
#
# The BCE floor of the test images: each image scored against itself. No model can reconstruct below
# it; the gap above it is what each model's two-number code loses.

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
# The answer to the prediction above, measured with **your** `kl_divergence` on the whole test set
# (or labvae's, until yours passes its check):

# %%
kl_fn = checks.use(kl_divergence, reference.kl_divergence, kl_check)
with torch.no_grad():
    mu, logvar = vae.encode(x_test)  # (N, 2) each
    print(f"KL on the test set: {kl_fn(mu, logvar).item():.2f} nats per image")

# %% [markdown]
# Your `reparameterize` draws 300 codes from $q(z\mid x)$ for each of six test images: during training
# the decoder sees such a cloud around each image's code. How wide the clouds are is notebook 2's
# question.

# %%
sample = checks.use(reparameterize, reference.reparameterize, reparameterize_check)
with torch.no_grad():
    mu6, logvar6 = vae.encode(x_test[:6])  # (6, 2) each
    clouds = sample(mu6.repeat_interleave(300, 0), logvar6.repeat_interleave(300, 0))  # (1800, 2)
fig, ax = plt.subplots(figsize=(6, 6))
ax.scatter(mu[:, 0], mu[:, 1], s=2, c="lightgray", label="μ of every test image")
for i in range(6):
    ax.scatter(*clouds[i * 300 : (i + 1) * 300].T, s=3, label=labvae.CLASSES[int(y_test[i])])
ax.set_xlabel("$z_1$")
ax.set_ylabel("$z_2$")
ax.set_aspect("equal")
ax.legend(fontsize=7, markerscale=3)
ax.set_title("z = μ + σ·ε for six test images")
plt.show()

# %% [markdown]
# And your `vae_loss` on the test set, with $z$ drawn by your `reparameterize`. It should land close to
# the VAE's own test loss (the noise in $z$ makes them differ a little):

# %%
loss_fn = checks.use(vae_loss, reference.vae_loss, loss_check)
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
# - Both models compress an image to two numbers; the AE only learns to reconstruct, the VAE also pays
#   a KL price for codes that stray from $\mathcal{N}(0, I)$.
# - The reparameterisation trick makes the VAE's sampling step differentiable and trains the decoder
#   on a neighbourhood of each code.
# - Every loss is in nats per image; the BCE of grey-level images has a floor far above 0, and the
#   reconstruction numbers above say how far each model stays above it (one training run, and for the
#   VAE one sampled $z$: small differences between models are not yet evidence).
#
# **Try next:**
# - train for longer with `cfg = labvae.lab_config(epochs=30)`: which model's loss keeps falling, and
#   which has levelled off?
# - give the VAE a bigger code, `model = labvae.VAE(latent_dim=8)` then `labvae.fit(model, x_train, x_test)`:
#   expect the reconstruction to fall and the KL to rise: the extra dimensions carry information, and
#   the KL term charges for it;
# - then open **02_vae_sweep** to walk the VAE's latent plane.
