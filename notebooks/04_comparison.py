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
# # 4 · Comparing the two latent spaces, with numbers
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/04_comparison.ipynb)
#
# **What you will learn**
# - how the VAE's and the AE's latent spaces differ, side by side at the same scale;
# - how to build a judge for "what does this tile show" that you can trust: test it first on inputs
#   whose answer you know (noise, flat grey, real images), and only then let it score sweeps;
# - how to turn "looks more diverse" or "looks blurred" into a measurement declared *before* you see
#   the numbers, and why one training run is not enough to call a verdict;
# - how each difference follows from the models (the prior and KL term, the reparameterisation
#   noise) and where the usual story does *not* hold on this data.

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
from labvae.config import SEEDS

# %% [markdown]
# ## Load (or train) everything
#
# The three models of notebook 1, each trained three times with different random seeds (weights,
# batch order, noise): a difference that one training run shows and the next one does not is luck, not
# a property of the model. A fourth model is the lab AE trained **to convergence**: the lab trains it
# for 10 epochs, and below we check whether that is enough. Training the extra models takes a few
# minutes on a laptop CPU the first time; after that the checkpoints load. On Colab, where each
# notebook is a machine of its own, this one trains all twelve models and the classifier itself:
# about 4–8 minutes on a CPU runtime. A small classifier (784→256→10) will look at the tiles.

# %% tags=["nbval-ignore-output"]
cfg = labvae.lab_config()
x_train, y_train, x_test, y_test = cfg.load_data()
CONVERGED = "lab AE, converged"
converged_epochs = cfg.converged_epochs(len(x_train))
runs = {labvae.LABELS[name]: [cfg.with_seed(s).model(name, x_train, x_test) for s in SEEDS]
        for name in ("vae", "ae", "ae512")}
runs[CONVERGED] = [cfg.with_seed(s).model("ae", x_train, x_test, epochs=converged_epochs) for s in SEEDS]
models = {name: per_seed[0] for name, per_seed in runs.items()}  # seed 0: the pictures below
classifier = analysis.load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test)

# %%
print(f"seeds {SEEDS}; the lab AE, converged: {converged_epochs} epochs instead of {cfg.epochs}")
print(f"classifier test accuracy: {classifier.accuracy:.1%} (chance: 10%)")

# %% [markdown]
# ## The sweeps side by side
#
# Same window $[-4, 4]^2$, same 21×21 codes, same scale; $z = [-4, 4]$ top-left.

# %%
fig, axes = plt.subplots(2, 2, figsize=(13, 13))
for ax, (name, model) in zip(axes.flat, models.items()):
    labvae.show_grid(labvae.decode_grid(model.decode), ax=ax, title=name)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Is the lab's AE trained at all?
#
# Two checks. **How far did the decoder's weights move?** Each weight matrix's size (its norm) against
# the same matrix at initialisation: 1.0 means it has not moved. **Is the loss still falling?** The
# last epoch's fall of the training loss, as a share of the loss: a model that still improves by
# percent per epoch has not finished learning.

# %%
for name, model in models.items():
    scale = ", ".join(f"{k} x{v:.2f}" for k, v in analysis.weight_scale(model).items())
    print(f"{name:18s} {model.history.epochs:4d} epochs; last epoch improved the loss by "
          f"{analysis.still_improving(model.history):6.2%}; decoder weights vs initial: {scale}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.5))
models[CONVERGED].history.plot(axes, title=CONVERGED)
models["lab AE (linear)"].history.plot(axes, title="lab AE, lab's epochs")
plt.show()

# %% [markdown]
# Read the lab AE's line against the converged one. How many epochs are enough depends on how many
# updates an epoch holds: an epoch over 60,000 images is 235 Adam steps, over a smaller training set
# proportionally fewer. Where the lab AE's decoder weights are still about ×1.0 of their random start
# and its loss still falls by percents per epoch, its sweep is mostly the initial noise, and a
# comparison against it is half a comparison against an untrained model. Trained to convergence, the
# same linear model draws smooth garment silhouettes. Both versions appear as separate columns below.

# %% [markdown]
# ## Where the codes live
#
# Every test image encoded (the VAE's $\mu$, the AE's code), on the **same axes** for all models,
# with the prior's 1σ, 2σ, 3σ circles and the swept window.

# %%
codes = {name: labvae.latent_codes(model, x_test) for name, model in models.items()}
span = max(c.abs().quantile(0.995).item() for c in codes.values()) * 1.05
fig, axes = plt.subplots(2, 2, figsize=(14, 12))
for ax, (name, c) in zip(axes.flat, codes.items()):
    analysis.plot_codes(c, y_test, ax=ax, prior=True, title=name)
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
fig.tight_layout()
plt.show()

# %% [markdown]
# And all clouds on literally the same axes: each colour is one model's test codes.

# %%
fig, ax = plt.subplots(figsize=(8, 8))
analysis.plot_code_clouds(codes, ax=ax, title="Test codes of all models, one set of axes")
plt.show()

# %% [markdown]
# The VAE's encoder gives each image not a point but a small Gaussian cloud, $\mathcal{N}(\mu, \sigma^2)$.
# How large are those clouds compared with the 0.4 between neighbouring sweep points, and how much of
# the sweep do the test codes reach?

# %%
vae = models["VAE"]
mu, logvar = vae.encode(x_test.to(vae.device))
sigma = (0.5 * logvar).exp().detach().cpu()
cells = analysis.code_stats(mu.detach().cpu())["frac_cells_hit"]
print(f"posterior sigma: median {sigma.median():.2f}, 90% of values below {sigma.quantile(0.9):.2f}; "
      f"sweep step: {8 / 20:.1f}")
print(f"sweep cells holding at least one test code (mu): {cells:.0%} of 441")

# %% [markdown]
# ## One pair of sliders, all decoders
#
# The same $z$ goes to every decoder. Park the sliders where the scatter above shows a model has no
# codes and compare what each one draws.

# %% tags=["nbval-ignore-output"]
explorer = labvae.z_explorer(models)
explorer

# %% [markdown]
# ## A judge you can trust
#
# To count "classes in the sweep" we need something that says what a tile shows. The classifier alone
# is not that: it was trained only on garments, so it must put its probability *somewhere* — on pure
# noise or a flat grey square it answers "Bag" or "Trouser" with p ≥ 0.9. So the judge first asks
# whether a tile looks like real data at all, and only then lets the classifier name it:
#
# - **close in shape** to some real training image: correlation distance (1 − r, after removing each
#   image's mean brightness) to the most similar one no larger than for 99% of held-out real images;
# - **contrast** (pixel standard deviation) at least that of 99% of real images: a flat or nearly
#   blank tile is not a garment, whatever its shape;
# - a garment tile counts as **confident** when the classifier gives p ≥ 0.9, and a class counts as
#   shown only with at least 5 confident tiles (about a 2×2 patch), so a few stray tiles on a border
#   add no class.
#
# Every threshold comes from real images, not from the sweeps. Before it scores a single sweep, here is
# the judge on inputs whose answer we know: noise, flat grey, the mean image of each class, and real
# images it has never seen. The last column is what the classifier alone would claim.

# %%
referee = analysis.calibrate(classifier, x_train, y_train)
print(f"shape radius {referee.radius:.3f}, minimum contrast {referee.min_contrast:.3f}, "
      f"jump {referee.jump:.3f} (RMS)")
print(analysis.calibration_table(referee.calibration_report(x_test)))

# %% [markdown]
# ## The claims, declared before the numbers
#
# A typical student answer to this lab compares the sweeps by eye: the VAE's images are "more
# diverse"; the AE's are "ambiguous and cannot be deciphered", show "less variation and more
# blurring" and "unrealistic" transitions, "because the AE's code space is not shaped by a prior".
#
# For each claim we fix, *before* computing anything, **one primary measure** with the threshold it
# must pass and why, and **one secondary measure** that looks at the claim from another side. A claim
# **holds** when both agree it does, **does not hold** when both agree it does not, and is **mixed**
# when they disagree (both numbers are shown). Each AE is judged on its own, for each of the three
# seeds; a verdict that changes between seeds **depends on the seed**.

# %%
print(analysis.claims_declaration())

# %% [markdown]
# ## The measurements
#
# `analysis.compare_model` scores one sweep: where the codes live, what the judge sees in each tile,
# how tiles change from one to the next. Each cell shows the mean over the three seeds and, in
# brackets, the smallest and largest value.

# %%
results = analysis.compare_seeds(runs, referee, x_test, y_test)  # {model: [metrics per seed]}
print(analysis.metrics_table(results))

# %% [markdown]
# Top: what the judge sees in every tile (white = not a garment, × = a garment tile whose class is
# unsure). Bottom: how much each tile differs from its neighbours, on **one colour scale** for all
# models. Seed 0. A white patch *inside* the VAE's disc is not noise: look at the same place in its
# sweep — faint garments fading into the black background, with less contrast than 99% of real
# images. The judge does not name ghosts, for any model.

# %%
first = {name: r[0] for name, r in results.items()}
vmax = max(max(r["maps"]["continuity_map"]) for r in first.values())
fig, axes = plt.subplots(2, 4, figsize=(25, 11))
for col, (name, r) in zip(axes.T, first.items()):
    analysis.plot_map(r["maps"]["labels"], ax=col[0], title=f"{name}: what the judge sees")
    analysis.plot_unsure(r["maps"]["labels"], r["maps"]["confidence"], col[0])
    analysis.plot_map(r["maps"]["continuity_map"], ax=col[1], kind="heat",
                     title=f"{name}: mean pixel change to neighbours", vmax=vmax)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The verdicts
#
# Each AE against the VAE, seed by seed (seed 0 of the AE against seed 0 of the VAE, and so on).

# %%
verdicts = analysis.judge_claims(results, vae="VAE")
print(analysis.verdict_table(verdicts))

# %% [markdown]
# ## Why the two spaces differ
#
# **The prior and the KL term place the VAE's codes.** The KL term charges every image for the
# distance of $q(z\mid x)$ from $\mathcal{N}(0, I)$, so the VAE's codes crowd into a disc of
# radius ≈3 around the origin: the *inside the window* row is near 100% for the VAE. The AE's loss says
# nothing about position, so its codes sit wherever initialisation and training left them — in the
# scatters, a thin band, or clouds that reach far outside the window. Sweeping $[-4, 4]^2$ is therefore
# a natural window for the VAE and an arbitrary one for an AE.
#
# **The noise does not fill the plane; packed codes and a smooth decoder do.** During training the
# VAE's decoder sees $z = \mu + \sigma\varepsilon$, a small cloud around each code. The clouds are
# small: the median σ printed above is a fraction of the 0.4 between sweep points, and the test codes
# reach only part of the sweep's cells. So it is *not* true that every point of the plane was decoded
# during training. What the KL term does is pack all codes into one disc, with no empty
# gaps between classes; the decoder, a smooth function, interpolates between neighbouring codes, and
# most tiles in between still look like garments (the *tiles judged garments* row). An AE's codes can
# lie in bands or far-apart clouds; between them its decoder was never trained, and there its tiles
# leave the data (white in the judge's map).
#
# **Continuity is not the difference here.** Every decoder is a smooth function of $z$, so neighbouring
# tiles rarely jump for any model (the *neighbour steps that jump* row). What differs is whether the
# smooth path stays on the data: the *neighbour steps off the data* row.
#
# **Blur is measured only where there is something to blur.** The sharpness of noise is not detail, so
# it is measured on garment tiles only, each against the real image it resembles most. The VAE and the
# capacity-matched AE both come out less sharp than real images. Where the lab AE is undertrained, its
# few garment tiles are noisy grey blobs: sharper than real images by one measure, greyer by the other —
# "mixed" is the honest answer.
#
# **A linear decoder draws a plane of images.** The lab AE decodes $\mathrm{sigmoid}(Wz + b)$: every
# tile mixes the same two patterns in different proportions, so even trained to convergence its sweep
# shows one or two kinds of garment. "VAE against the lab AE" is therefore also "a 512-unit non-linear
# decoder against a linear one"; the capacity-matched AE separates the two.
#
# **Where the common wisdom needs care.** A confident classifier is not proof of a good image: alone,
# it names pure noise and flat grey with p ≥ 0.9 (the calibration table). And one training run is not
# enough: where a verdict says *depends on the seed*, a single run would have given either answer.

# %%
v, lab, done = (first[k] for k in ("VAE", "lab AE (linear)", CONVERGED))
for name, r in (("VAE", v), ("lab AE", lab), ("lab AE, converged", done)):
    print(f"{name:18s} {r['frac_garment']:4.0%} of tiles are garments, {r['classes']} classes shown, "
          f"{r['frac_codes_inside']:4.0%} of test codes inside the window, "
          f"{r['frac_cells_hit']:4.0%} of sweep cells hold a code")

# %% [markdown]
# ## Your turn: predict, then write the comparison

# %% [markdown]
# **Predict before you run:** draw 1,000 codes from the prior $\mathcal{N}(0, I)$, decode them with
# each model and let the classifier label the images. Over how many of the ten classes will each
# model's samples spread, and how often will the classifier be confident (max p ≥ 0.9)?

# %% [markdown] nbgrader={"grade": true, "grade_id": "predict-04", "locked": false, "points": 0, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# The VAE's prior samples land where its codes are, so they spread over most classes (9 of 10
# in our run), but the classifier is rarely confident (about 5%): the VAE's decoder averages over
# the reparameterisation noise, so its images are blurry. Most of the lab AE's prior samples land where
# it has no codes; there its decoder draws nearly the same noisy pattern everywhere, and the
# classifier calls all of them one class, confidently (91% in our run): confident is not the
# same as good. The capacity-matched AE comes close to the VAE here (8 classes), but by luck: part of
# its codes happened to land near the origin (only 41% of them lie inside the window), not by design.
# ### END SOLUTION

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
# **Exercise 2.2 (1 mark).** Comment on the biggest differences between the VAE's sweep and the lab
# AE's sweep, and relate each to how the two models work: the prior and the KL term, the
# reparameterisation noise, the continuity of the decoders, and the holes in the latent space. Use the
# pictures and numbers of these notebooks as evidence. Write a few paragraphs in the cell below.

# %% [markdown] nbgrader={"grade": true, "grade_id": "2_2-comparison", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# *Model answer.* **The biggest difference:** the VAE's sweep is a map of the wardrobe (every tile is a
# garment-like image, neighbours morph into each other, and the classifier finds most classes in it),
# while the lab AE's sweep is mostly speckled noise, with blurry garment shapes only near a narrow band
# (and one class, by the classifier).
#
# **Prior and KL term.** The KL term pulls every image's $q(z\mid x)$ towards $\mathcal{N}(0, I)$, so
# the VAE's codes fill a disc of radius about 3 in units of the prior's σ: nearly all test codes lie
# inside the window $[-4, 4]^2$, and the window is where the codes are. The AE's loss says nothing
# about position: its codes lie on a thin band that reaches far outside the window and touches only
# about a sixth of the sweep's cells. The rest of the window is **holes**: codes no training image
# ever had, where the decoder's output was never asked to look like anything.
#
# **Reparameterisation noise.** The VAE's decoder is trained on $z = \mu + \sigma\varepsilon$, a small
# cloud around each code (σ ≈ 0.1), and the KL packs the clouds of different classes next to each
# other. So between two codes the decoder has learned to interpolate between garments, and prior
# samples decode to clothing. The AE's decoder only ever sees the exact codes.
#
# **Continuity.** Both decoders are smooth functions of $z$, so both sweeps change gradually from tile
# to tile; the difference is whether the smooth path runs through plausible images.
#
# **The costs.** The VAE pays for its tidy space: its images are blurrier (it averages over the noise,
# and the KL term costs reconstruction nats). And part of the lab AE's noise is training time, not
# design: a linear 784→2→784 map learns slowly and is far from converged after 10 epochs.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# - The VAE's prior and KL term pack its codes into a disc inside the window, and its smooth decoder
#   turns most of that disc into garments — although the test codes reach only part of the sweep's
#   cells and the posterior noise is far smaller than the sweep step.
# - The AEs' codes are placed arbitrarily, in a thin band or in clouds that reach far beyond the
#   window; between their codes the sweeps leave the data.
# - A judge has to be tested before it is trusted: the classifier alone calls noise and flat grey
#   garments; gated by closeness to real images, it calls them "not a garment".
# - Each claim of the lab report rests on a measure fixed in advance and on three training runs: some
#   hold, some are mixed, some depend on the AE or on the seed. The lab's 10-epoch AE can be far from
#   trained; the converged column shows what the same linear model does when it is.
#
# **Try next:**
# - Train the lab AE for 30 epochs (`cfg.model("ae", x_train, x_test, epochs=30)`) and score its
#   sweep with `analysis.compare_model(model, referee, x_test)`: expect its share of garment tiles to
#   land between the lab AE's and the converged column's, while `analysis.weight_scale(model)` is still
#   well below the converged model's: the weights keep growing long after the sweep looks tidier.
# - Calibrate the judge on half the training images
#   (`analysis.calibrate(classifier, x_train[: len(x_train) // 2])`): expect its thresholds to move only
#   in the second decimal and noise and flat grey to stay "not a garment".
# - Score 441 real test images with `referee.score(x_test[:441])` and compare `classes` with the
#   VAE's: expect the real images to show more classes than any sweep, because many VAE tiles are
#   blends the classifier is unsure about.
