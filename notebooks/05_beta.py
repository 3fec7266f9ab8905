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
# - how to test the usual story that the **prior places the codes** and the **noise fills the gaps**
#   between them, with a VAE whose posterior σ is fixed small;
# - how to read the posterior σ of every code as an ellipse on the scatter;
# - how reconstruction, KL, the codes inside the window and the quality of the sweep move with β.
#
# **Time:** the first run computes for 1,950 s, nearly all of it training six VAEs (measured with
# `benchmarks/bench_notebooks.py`: fp32, two CPU cores shared with other work, the 8,226-image partial
# training set; at the full 60,000 images the training takes about 7 times longer). Later runs load the
# saved models in seconds.

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
from IPython.display import Markdown, display

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
# - **β = 0**: the KL term is gone from the loss. The encoder still outputs $\mu$ and $\sigma$ and the
#   decoder still sees noisy codes.
# - **0 < β < 1** weights the KL term less than the ELBO does, **β > 1** more.
#
# And one more model: the lab's VAE (β = 1) with $\sigma$ **fixed** at 0.01 for every image, so the
# reparameterisation noise is almost gone and the KL term depends on $\mu$ only. Comparing it with
# the lab's VAE tests what the noise does.
#
# Every model uses the lab's settings (Adam 1e-3, batch 256, 10 epochs) and the same starting
# weights; only the loss differs. β = 1 is the VAE of notebook 1, loaded from its checkpoint. On
# Colab, where each notebook is a machine of its own, all seven VAEs and the classifier are trained
# here.

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
# window, and the KL is larger than at any β > 0: codes far from the origin cost $\mu^2$, and nothing
# stops $\sigma$ from shrinking towards 0 (the noise only hurts reconstruction), which costs
# $-\log\sigma$.
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
# easier. So it does: the median $\sigma$ falls below the lab VAE's (with the lab's settings on
# Fashion-MNIST by orders of magnitude), the ellipses shrink, and the model drifts towards an AE, with
# codes that spread beyond the window, so $[-4, 4]^2$ shows only part of its space. Its KL is the
# largest of the β family; the cell below splits it into the part from $\mu^2$ (codes far from
# the origin) and the part from $\sigma$ (posteriors far narrower than the prior).
#
# **Larger β pulls the codes together.** Every nat of KL costs more, so codes are pulled harder
# towards $\mathcal{N}(0, I)$ and the posteriors are pushed towards $\sigma = 1$: the cloud shrinks
# towards the origin and $\sigma$ grows (the ellipses above), and reconstruction gets worse.
#
# **Posterior collapse** is the KL near 0 and a dimension the decoder ignores, so that whole rows or
# columns of the sweep look the same. Check the β = 4 sweep and its KL: both dimensions still change the
# image there; collapse needs a much larger β (see *Try next*).
#
# **What the fixed σ tests.** With $\sigma$ fixed at 0.01 the KL still pulls $\mu$ towards the origin,
# so the prior still places the codes; the noise that would "fill the gaps" between them is almost
# gone. If the noise filled the gaps, this VAE's sweep would have fewer garments than the lab's VAE's.
# This run's numbers:

# %%
b0, b1, b4, fixed = (rows[name] for name in shown)
mu0, sigma0 = labvae.latent_codes(models[shown[0]], x_test), labvae.posterior_std(models[shown[0]], x_test)
kl_mu = 0.5 * mu0.pow(2).sum(1).mean().item()  # the KL's part from where the codes sit
kl_sigma = 0.5 * (sigma0.pow(2) - 1 - sigma0.pow(2).log()).sum(1).mean().item()  # ... from how narrow they are
more = "more" if fixed["frac_garment"] > b1["frac_garment"] else "fewer" if fixed["frac_garment"] < b1["frac_garment"] else "as many"
display(Markdown(
    f"- β = 0: median σ {b0['sigma_median']:.2g} (lab VAE {b1['sigma_median']:.2g}); "
    f"{b0['frac_codes_inside']:.0%} of its codes inside the window; KL {kl_mu + kl_sigma:.1f} nats = "
    f"{kl_mu:.1f} from μ² + {kl_sigma:.1f} from σ; {b0['frac_garment']:.0%} of its tiles are garments.\n"
    f"- β = 1 → 4: codes inside {b1['frac_codes_inside']:.0%} → {b4['frac_codes_inside']:.0%}, sweep cells holding "
    f"a code {b1['frac_cells_hit']:.0%} → {b4['frac_cells_hit']:.0%}, KL {b1['test_kl']:.2f} → {b4['test_kl']:.2f} "
    f"nats, reconstruction {b1['test_recon']:.1f} → {b4['test_recon']:.1f} nats.\n"
    f"- σ fixed at 0.01: {fixed['frac_codes_inside']:.0%} of codes inside, {fixed['frac_cells_hit']:.0%} of cells hold "
    f"a code; {fixed['frac_garment']:.0%} of its tiles are garments and {fixed['classes']} classes are named, "
    f"{more} garments than the lab VAE's {b1['frac_garment']:.0%} ({b1['classes']} classes)."))

# %% [markdown]
# ## Summary
#
# - β weighs the KL term: β = 1 is the lab's VAE, β = 0 has no prior, larger β pulls harder.
# - Without a prior (β = 0) the encoder shrinks the noise by itself and the model drifts towards an
#   autoencoder: codes outside the window and empty regions in the sweep.
# - As β grows, the KL weighs more: the trends printed above show what it does to the codes inside the
#   window, the KL and the reconstruction.
# - Fixing σ small keeps the prior's work (placing the codes) and removes the noise: compare its sweep's
#   garments with the lab VAE's above before you believe that the noise fills the gaps.
#
# **Try next:** train `labvae.VAE(beta=64)` with `labvae.fit` and decode its sweep: does one
# dimension collapse, so that the sweep changes along one axis only? Try a fixed σ of 0.1 (about
# what the lab's VAE learns) and of 0.001 with `labvae.VAE(posterior_sigma=...)`. Sweep the β = 0
# model over the window its codes actually occupy.
