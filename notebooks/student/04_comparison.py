# ---
# jupyter:
#   jupytext:
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
# # 4 · Comparing the two latent spaces
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/student/04_comparison.ipynb)
#
# **What you will learn**
# - how the VAE's and the AEs' latent spaces differ, side by side at the same scale;
# - how far each model's codes are from the prior $\mathcal{N}(0, I)$, the VAE's included;
# - what the straight line between two encoded images decodes to, in each model.
#
# **Exercise 2.2 (1 mark)** is at the end: a written comparison, with these pictures and numbers as evidence.
#
# **Time:** under 30 s of computing with the models loaded from notebook 1 (measured at full scale,
# 60,000 images, on a 2-core CPU); opened alone on Colab's CPU, about 1.5–3 min (estimated);
# longer on a busy shared server.
#
# **Hand in** `04_comparison.ipynb` with the other marked notebooks (02–04), run top to bottom and
# saved with its outputs; leave the graded cells in place, unrenamed. The marks: Exercise 1.1 (2 marks),
# Exercise 2.1 (2 marks), Exercise 2.2 (1 mark); 01 is practice, 05 optional. On Colab: *File › Download
# › Download .ipynb*, named as above (not *Copy of …*). Hand in where your course says: its LMS
# assignment or nbgrader.

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
from labvae import analysis

# %% [markdown]
# ## Load (or train) everything
#
# The three models of notebook 1 (trained here if missing, always on Colab), and a small classifier
# (784→256→10) for the prediction below.

# %% tags=["nbval-ignore-output"]
cfg = labvae.lab_config()
x_train, y_train, x_test, y_test = cfg.load_data()
models = {labvae.LABELS[name]: cfg.model(name, x_train, x_test) for name in ("vae", "ae", "ae512")}
classifier = analysis.load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test)

# %%
print(f"classifier test accuracy: {classifier.accuracy:.1%} (chance: 10%)")

# %% [markdown]
# ## The sweeps side by side
#
# Same window $[-4, 4]^2$, same 21×21 codes, same scale; the point $(z_1, z_2) = (-4, 4)$ top-left.

# %%
fig, axes = plt.subplots(1, 3, figsize=(21, 7.4))
for ax, (name, model) in zip(axes, models.items()):
    labvae.show_grid(labvae.decode_grid(model.decode), ax=ax, title=name)
fig.tight_layout(w_pad=3)
plt.show()

# %% [markdown]
# ## Where the codes live
#
# Every test image's code (the VAE's $\mu$) on the **same axes** for all models, with the prior's
# 1σ, 2σ, 3σ circles and the swept window.

# %%
codes = {name: labvae.latent_codes(model, x_test) for name, model in models.items()}
span = max(c.abs().max().item() for c in codes.values()) * 1.05  # every code on the axes
fig, axes = plt.subplots(1, 3, figsize=(21, 6.2))
for ax, (name, c) in zip(axes, codes.items()):
    analysis.plot_codes(c, y_test, ax=ax, prior=True, title=name)
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
fig.tight_layout(w_pad=3)
plt.show()

# %% [markdown]
# ## Each model's codes on its own sweep
#
# Each model's test codes (red) over its sweep, at the sweep's scale. A judge calibrated on real images
# counts garment tiles in cells with a test code and in the **holes** (cells with none); a *seam* is a
# step between neighbouring tiles with an RMS pixel change above 0.15.

# %%
judge = analysis.calibrate(classifier, x_train, y_train)  # what counts as a garment, learned from real images
fig, axes = plt.subplots(1, 3, figsize=(21, 7.4))
for ax, (name, model) in zip(axes, models.items()):
    labvae.show_grid(labvae.decode_grid(model.decode), ax=ax)
    inside = codes[name][(codes[name].abs() <= 4).all(1)]  # (M, 2): the codes the window shows
    ax.scatter(inside[:, 0], inside[:, 1], s=1, c="tab:red", alpha=0.3)
    ax.set_title(f"{name}: {len(inside) / len(codes[name]):.0%} of test codes inside")
fig.tight_layout(w_pad=3)
plt.show()
for name, model in models.items():
    tiles = labvae.grid.sweep_tiles(model)  # (441, 784), top-left first
    judged = judge.score(tiles)
    r = analysis.holes(judged["labels"], codes[name], n=21, limit=4.0)
    print(f"{name:16s} garments: {judged['frac_garment']:4.0%} of tiles ({judged['classes']} classes), "
          f"{r['garment_in_code_cells']:4.0%} in cells with a code, {r['garment_in_empty_cells']:4.0%} in the "
          f"{r['cells_empty']} holes; seams: {analysis.large_steps(tiles, n=21):.1%} of neighbour steps")

# %% [markdown]
# ## Do the codes follow the prior?
#
# The KL term pulls each image's $q(z\mid x)$ towards $\mathcal{N}(0, I)$, but nothing forces all codes
# *together* (the **aggregate posterior**) to be $\mathcal{N}(0, I)$. Below, each dimension's histogram
# (for the VAE also one sampled $z = \mu + \sigma\varepsilon$ per image) against the prior's density,
# and two distances: the KL from $\mathcal{N}(0, I)$ of a Gaussian with the codes' mean and covariance
# (0 only for the prior's), and the largest Kolmogorov–Smirnov distance of a marginal from
# $\mathcal{N}(0, 1)$ (it sees shapes that moments miss).

# %%
analysis.plot_posterior(models, x_test)
plt.show()
for name, model in models.items():
    post = analysis.aggregate_posterior(model, x_test)
    m, cov = post["posterior_z"]["mean"], post["posterior_z"]["cov"]
    print(f"{name:16s} mean ({m[0]:+.2f}, {m[1]:+.2f}), covariance [[{cov[0][0]:.2f}, {cov[0][1]:+.2f}], "
          f"[{cov[1][0]:+.2f}, {cov[1][1]:.2f}]]; KL of the Gaussian fit {post['kl_gauss']:.2f} nats; "
          f"KS {post['ks_max']:.2f}; prior draws with no test code within 0.2: {post['frac_prior_far']:.0%}")

# %% [markdown]
# ## Interpolation: the straight line between two images
#
# Encode two test images, decode ten points on the straight line between their codes, for every
# model. The first and last tile of each row are the real images; each row says how much of the change
# between them the decoded path makes. Which paths look like garments, and which get anywhere?

# %%
pairs = analysis.path_pairs(y_test, n_within=2, n_across=2)
analysis.plot_paths(models, x_test, y_test, pairs["within"] + pairs["across"])
plt.show()

# %% [markdown]
# ## One pad, all decoders
#
# The same $z$ goes to every decoder. Pick whose codes the dots show, and drag to where the scatters
# show a model has no codes; "zoom out" shows where each model's codes really are.

# %% tags=["nbval-ignore-output"]
pad = labvae.latent_pad(models, x_test, y_test)
pad

# %%
print(pad.summary())

# %% [markdown]
# ## Your turn: predict, then write the comparison

# %% [markdown]
# **Predict before you run:** draw 1,000 codes from the prior $\mathcal{N}(0, I)$, decode them with
# each model and let the classifier label the images. Over how many of the ten classes will each
# model's samples spread, and how often will the classifier be confident (max p ≥ 0.9)?

# %% [markdown] tags=["predict-04"]
# YOUR ANSWER HERE

# %%
torch.manual_seed(0)
z_prior = torch.randn(1000, 2)  # (1000, 2) draws from N(0, I)
for name, model in models.items():
    with torch.no_grad():
        probs = classifier.probs(model.decode(z_prior.to(model.device)))  # (1000, 10)
    counts = torch.bincount(probs.argmax(1), minlength=10)
    confident = (probs.max(1).values >= 0.9).float().mean().item()
    print(f"{name:16s} classes among the samples: {(counts > 0).sum().item():2d} of 10; "
          f"confident: {confident:4.0%}; most common: {labvae.CLASSES[int(counts.argmax())]}")

# %% [markdown]
# Before you write: was every model trained to the end? The AE with 512 hidden units is the control
# for capacity: the VAE's layers, without its noise and KL term.

# %%
for name in (labvae.LABELS[key] for key in ("vae", "ae", "ae512")):
    history = models[name].history  # the loss of every epoch, saved with the model
    print(f"{name:16s} training loss fell {analysis.still_improving(history):.2%} in the last of its {history.epochs} epochs")
ae_gain = analysis.still_improving(models[labvae.LABELS["ae"]].history)
if ae_gain > 0.001:  # above 0.1% per epoch the loss had not settled
    print(f"The lab AE was still improving when its training stopped (its loss fell {ae_gain:.2%} in the last "
          "epoch): part of its difference from the VAE may be training time, not the KL term.")
else:
    print(f"The lab AE's loss fell only {ae_gain:.2%} in its last epoch: it had nearly stopped improving.")

# %% [markdown]
# **Exercise 2.2 (1 mark).** Comment on the biggest differences between the VAE's sweep and the lab
# AE's sweep, and relate each to how the two models work: the prior and the KL term, the
# reparameterisation noise, the continuity of the decoders, and the holes in the latent space. Use the
# pictures and numbers of these notebooks as evidence. Write a few paragraphs in the cell below.

# %% [markdown] nbgrader={"grade": true, "grade_id": "2_2-comparison", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# YOUR ANSWER HERE

# %% [markdown]
# ## Summary
#
# - You drew the three models' sweeps and codes, each model's codes over its sweep, compared the codes
#   with the prior and decoded straight lines between real images: the evidence for Exercise 2.2.
#
# **Try next:**
# - Interpolate between more pairs: `analysis.plot_paths(models, x_test, y_test, analysis.path_pairs(y_test, 4, 4, seed=1)["across"])`.
# - Train the lab AE for 30 epochs (`cfg.model("ae", x_train, x_test, epochs=30)`) and draw its sweep
#   and codes beside the 10-epoch one.
# - Then, optionally, open **05_beta** to vary the KL term's weight.
