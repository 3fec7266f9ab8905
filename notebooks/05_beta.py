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
# # 5 · One knob from an autoencoder to a VAE: the KL weight β
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/05_beta.ipynb)
#
# **What you will learn**
# - what the KL term does to the latent space, by turning its weight β from 0 (no prior at all)
#   through 1 (the lab's VAE) to 4 (a strong pull towards the prior);
# - how to separate two things the VAE does at once: the **prior places the codes**, and the
#   **noise fills the gaps** between them — with a VAE whose posterior σ is fixed small;
# - how to read the posterior σ of every code as an ellipse on the scatter;
# - how reconstruction, KL, the codes inside the window and the quality of the sweep move with β.

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

import labvae
from labvae import analysis
from labvae.analysis import beta, figures

# %% [markdown]
# ## The knob
#
# The lab's VAE minimises, per image,
#
# $$\text{loss} = \underbrace{-\log p(x \mid z)}_{\text{recon (BCE)}} + \beta \,
#   \underbrace{\mathrm{KL}\big(q(z \mid x)\,\|\,\mathcal{N}(0, I)\big)}_{\text{KL}},
#   \qquad z = \mu + \sigma\varepsilon .$$
#
# With **β = 1** this is exactly the negative ELBO of notebook 1. Here we change only β:
# - **β = 0**: the prior is gone. The encoder still outputs $\mu$ and $\sigma$ and the decoder still
#   sees noisy codes, but nothing charges the codes for where they sit or how small $\sigma$ is.
# - **β > 1**: every nat of KL costs more, so codes are pulled harder towards $\mathcal{N}(0, I)$ and
#   the posteriors are pushed towards $\sigma = 1$.
#
# And one more model: the lab's VAE (β = 1) with $\sigma$ **fixed** at 0.01 for every image. Its KL
# term then depends on $\mu$ only: the prior still places the codes, but the noise is far smaller
# than the lab's VAE learns, so it cannot fill the space between codes.
#
# Every model uses the lab's settings (Adam 1e-3, batch 256, 10 epochs) and the same starting
# weights; only the loss differs. β = 1 is the VAE of notebook 1, loaded from its checkpoint. On
# Colab, where each notebook is a machine of its own, all seven VAEs and the classifier are trained
# here: about 3–6 minutes on a CPU runtime.

# %% tags=["nbval-ignore-output"]
cfg = labvae.lab_config()
x_train, y_train, x_test, y_test = cfg.load_data()
models = beta.train_family(cfg, x_train, x_test)
classifier = analysis.load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test)
judge = analysis.calibrate(classifier, x_train, y_train)  # what counts as a garment, learned from real images

# %%
for name, model in models.items():
    print(f"{labvae.LABELS[name]:20s} beta={model.config.beta:<4g} posterior sigma: "
          f"{'learned' if model.config.posterior_sigma is None else model.config.posterior_sigma}")

# %% [markdown]
# ## The sweeps side by side
#
# The same 21×21 codes over $[-4, 4]^2$ for every model, $z = [-4, 4]$ top-left.

# %%
fig, axes = plt.subplots(2, 4, figsize=(20, 10.5))
for ax, (name, model) in zip(axes.flat, models.items()):
    labvae.show_grid(labvae.decode_grid(model.decode), ax=ax, title=labvae.LABELS[name])
axes.flat[-1].set_axis_off()
fig.tight_layout()
plt.show()

# %% [markdown]
# **Predict before you run:** as β grows from 0 to 4, what happens to the share of test codes that
# land inside the swept window $[-4, 4]^2$, and to the KL term (reported unweighted, so it can be
# compared across β)? And where do you expect β = 0 to sit?

# %% [markdown] nbgrader={"grade": true, "grade_id": "predict-05", "locked": false, "points": 0, "schema_version": 3, "solution": true, "task": false}
# ### BEGIN SOLUTION
# The share inside the window should **rise** with β and the KL should **fall**: the larger β, the
# more each nat of KL costs, so the encoder trades reconstruction for codes near the origin with
# $\sigma$ near 1. At β = 0 nothing holds the codes in place, so many of them land outside the
# window, and the KL is the largest of all: nothing stops $\sigma$ from shrinking towards 0 (the
# noise only hurts reconstruction), and a tiny $\sigma$ is far from $\mathcal{N}(0, I)$.
# ### END SOLUTION

# %%
rows = beta.family_metrics(models, x_test, judge)
print(beta.beta_table(rows))
print()
for key in beta.TRENDS:
    print(f"as beta grows, {key} {beta.trend(rows, key)}")

# %% [markdown]
# Columns: reconstruction and KL on the test images (nats per image); the share of test codes inside
# $[-4, 4]^2$; the share of the 441 sweep cells that hold at least one test code; and what a judge
# calibrated on real images sees in the sweep: the share of tiles close to some real image
# (*garments*), and the number of classes with at least a few confidently named garment tiles.

# %%
figures.plot_metrics(rows)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Where the codes live, and how wide each posterior is
#
# Each dot is a test image's $\mu$; the ellipses are $\mu \pm \sigma$ for 150 of them: the patch of
# latent space the decoder was shown for that image during training. Look at the axis ranges and at
# the size of the ellipses.

# %%
shown = [beta.beta_model_name(b) for b in (0.0, 1.0, 4.0)] + [labvae.config.FIXED_SIGMA_NAME]
fig, axes = plt.subplots(1, 4, figsize=(24, 5.8))
for ax, name in zip(axes, shown):
    codes, sigma = labvae.latent_codes(models[name], x_test), labvae.posterior_std(models[name], x_test)
    analysis.plot_codes(codes, y_test, ax=ax, prior=True, sigma=sigma,
                       title=f"{labvae.LABELS[name]}: median $\\sigma$ {sigma.median():.2g}")
fig.tight_layout()
plt.show()

# %% [markdown]
# Zoom into the middle of the lab's VAE: now the ellipses are visible, and they overlap.

# %%
vae = models["vae"]
fig, ax = plt.subplots(figsize=(7, 7))
analysis.plot_codes(labvae.latent_codes(vae, x_test), y_test, ax=ax, sigma=labvae.posterior_std(vae, x_test),
                   max_ellipses=400, title="VAE (β = 1), centre of the plane")
ax.set_xlim(-1.5, 1.5)
ax.set_ylim(-1.5, 1.5)
plt.show()

# %% [markdown]
# ## One slider over β, next to the sliders over z
#
# All six models were trained above; the β slider only switches which decoder you look at. Park
# $z$ somewhere, then move β: at small β the same $z$ may be far from any code, at large β it is
# inside the crowd. The thumbnail on the right is that model's own sweep with your $z$ marked.

# %% tags=["nbval-ignore-output"]
family = {models[name].config.beta: models[name] for name in beta.family_names(fixed_sigma=False)}
labvae.beta_explorer(family)

# %% [markdown]
# ## What β does
#
# **β = 0: an autoencoder after all.** Without the KL term the noise is still there in principle,
# but nothing stops the encoder from making $\sigma$ tiny, and a tiny $\sigma$ makes reconstruction
# easier. So it does: the median $\sigma$ falls by orders of magnitude below the lab VAE's, the
# ellipses vanish, and the model behaves like an AE. Its codes spread far beyond the window, so
# $[-4, 4]^2$ shows only a corner of its space, with dark empty tiles where no code lies; the judge
# finds the fewest garments in it. Its KL is the largest of all, almost entirely from the tiny
# $\sigma$. Its reconstruction is among the best: nothing is traded away for the prior.
#
# **Small β already places the codes.** The share inside the window climbs quickly: by β = 0.5
# nearly every code is inside. The KL falls steadily across the whole range.
#
# **Large β pulls the codes together.** From β = 1 to 4 every code is inside, but the cloud
# shrinks towards the origin and $\sigma$ grows, so fewer sweep cells hold a code and reconstruction
# gets worse. The sweep is now almost all garments: the window is covered by the prior's disc, and
# the outer tiles are extensions of the garments at its rim. From β = 0.5 on, the number of classes
# the judge names stays about the same: in a 2-d latent space, the classes that look alike (tops,
# shirts, pullovers, coats) blend into each other at every β.
#
# **No posterior collapse yet.** At β = 4 the KL is smaller than at β = 1, but not 0: both
# dimensions still carry information, and the sweep still changes along both axes. Collapse — the
# KL near 0 and a dimension the decoder ignores, so that whole rows or columns of the sweep look
# the same — needs a much larger β here (see *Try next*).
#
# **Fixed σ: the prior places, the noise fills.** With $\sigma$ fixed at 0.01, the KL still pulls
# $\mu$ towards the origin, so every code is inside the window, like β = 1: **placing the codes is
# the prior's work**. But its codes form tighter clusters that hit fewer sweep cells than the lab's
# VAE, and its sweep is harsher, with saturated shapes where no code lies. In this 2-d space the decoder, a smooth MLP, still draws garment-like tiles
# in the gaps, so the judge rates its sweep as highly as β = 2's: on this data, the noise's job of
# filling the gaps is smaller than the usual story suggests, while placing the codes is what makes
# the window $[-4, 4]^2$ the right place to sweep.

# %%
b0, b1, b4, fixed = (rows[name] for name in shown)
print(f"median posterior sigma: beta=0 {b0['sigma_median']:.2g}, beta=1 {b1['sigma_median']:.2g}, "
      f"beta=4 {b4['sigma_median']:.2g}, fixed {fixed['sigma_median']:.2g}")
print(f"codes inside the window: beta=0 {b0['frac_codes_inside']:.0%}, beta=1 {b1['frac_codes_inside']:.0%}, "
      f"beta=4 {b4['frac_codes_inside']:.0%}, fixed sigma {fixed['frac_codes_inside']:.0%}")
print(f"sweep cells holding a code: beta=1 {b1['frac_cells_hit']:.0%}, beta=4 {b4['frac_cells_hit']:.0%}, "
      f"fixed sigma {fixed['frac_cells_hit']:.0%}")
print(f"tiles judged garments: beta=0 {b0['frac_garment']:.0%}, beta=1 {b1['frac_garment']:.0%}, "
      f"beta=4 {b4['frac_garment']:.0%}, fixed sigma {fixed['frac_garment']:.0%}")

# %% [markdown]
# ## Summary
#
# - β weighs the KL term: β = 1 is the lab's VAE, β = 0 has no prior, larger β pulls harder.
# - Without a prior (β = 0) the encoder switches the noise off by itself and the model becomes an
#   autoencoder: codes outside the window and empty regions in the sweep.
# - As β grows, more codes land inside the window and the KL falls; reconstruction gets worse and,
#   past β = 1, the codes crowd into a smaller disc.
# - Fixing σ small shows the two jobs apart: the prior places the codes; the noise makes the
#   decoder cover the gaps, which on this data matters less than where the codes are.
#
# **Try next:** train `labvae.VAE(beta=64)` with `labvae.fit` and decode its sweep: does one
# dimension collapse, so that the sweep changes along one axis only? Try a fixed σ of 0.1 (about
# what the lab's VAE learns) and of 0.001 with `labvae.VAE(posterior_sigma=...)`. Sweep the β = 0
# model over the window its codes actually occupy.
