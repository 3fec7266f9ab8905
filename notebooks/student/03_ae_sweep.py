# ---
# jupyter:
#   jupytext:
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
# # 3 · The autoencoder's latent plane
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/student/03_ae_sweep.ipynb)
#
# **What you will learn**
# - how to sweep a plain autoencoder's 2-d code space exactly like the VAE's;
# - where the AE actually puts the codes of real images, compared with the window we sweep;
# - why an AE's sweep can be full of images that look like nothing, and why nothing in an AE makes
#   $\mathcal{N}(0, I)$ a place to draw codes from.
#
# **Exercise 2.1 (2 marks)** is in this notebook: retrain the lab's AE with a 2-d code (1 mark) and draw
# its sweep (1 mark). Each is followed by a check that prints ✓, *not done yet*, or what is wrong with a
# hint; until a check passes, the notebook uses labvae's own version, so every cell still runs.
#
# **Time:** about 13 s of computing, most of it training your AE (measured with
# `benchmarks/bench_notebooks.py --full-scale`: real mode, fp32, 2 threads on an otherwise idle 2-core
# AMD EPYC, the data tiled to the full 60,000 training images).

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
from labvae.course import checks, reference

# %% [markdown]
# ## Load (or train) the two autoencoders
#
# - **lab AE**: the lab's model, one linear layer each way (784→2, 2→784, then a sigmoid);
# - **AE, 512 hidden**: the VAE's shape (784→512→2→512→784) without the VAE's noise and KL term, so
#   the comparison with the VAE is not only about model size.
#
# On Colab, where each notebook is a machine of its own, both are trained here (and your lab AE of
# exercise 2.1 too).

# %% tags=["nbval-ignore-output"]
cfg = labvae.lab_config()
x_train, y_train, x_test, y_test = cfg.load_data()
ae512 = cfg.model("ae512", x_train, x_test)


# %% [markdown]
# **Exercise 2.1a (1 mark).** The lab's AE had a larger code; retrain it with a **2-d code**. Write
# `train_ae(x_train, x_test)`: build the lab's AE, linear 784→2 and 2→784 with a sigmoid
# (`labvae.Autoencoder(latent_dim=2)`), train it with the lab's settings (`labvae.fit` with
# `epochs=cfg.epochs`, `batch_size=cfg.batch_size`, `lr=cfg.lr`) and return the trained model.

# %% nbgrader={"grade": false, "grade_id": "2_1-ae", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_ae(x_train, x_test):
    """The lab's linear AE with a 2-d code, trained with the lab's settings."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% tags=["nbval-ignore-output"]
my_ae = checks.attempt(train_ae, x_train, x_test)  # your model, or a note of what went wrong

# %% nbgrader={"grade": false, "grade_id": "2_1-ae-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
ae_check = checks.check_ae(my_ae)
ae = checks.use(my_ae, cfg.model("ae", x_train, x_test), ae_check, "lab AE")
autoencoders = {"lab AE (linear)": ae, "AE, 512 hidden": ae512}

# %% nbgrader={"grade": true, "grade_id": "2_1-ae-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Graded (1 mark): when the notebook is marked, this cell runs the check on my_ae again and fails unless it passes.
checks.mark(checks.check_ae, my_ae)


# %% [markdown]
# ## The same sweep
#
# Exactly the VAE's sweep: 21 values per dimension from −4 to +4, $z = [-4, 4]$ top-left,
# $z = [4, -4]$ bottom-right.
#
# **Exercise 2.1b (1 mark).** Write `sweep_model(model, n=21, limit=4.0)`: the lab's sweep of any
# model with a 2-d code, as one `(1, 28n, 28n)` image with $z = [-$`limit`$, $`limit`$]$ top-left. You
# wrote the two steps in notebook 2; here you may use `labvae.latent_grid` for the codes, then decode
# them with `model.decode` in one batch and lay the tiles edge to edge.

# %% nbgrader={"grade": false, "grade_id": "2_1-ae-sweep", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sweep_model(model, n=21, limit=4.0):
    """The n x n sweep of model's decoder over [-limit, limit]^2 as one (1, 28n, 28n) image."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": false, "grade_id": "2_1-ae-sweep-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
sweep_check = checks.check_ae_sweep(sweep_model)

# %% [markdown]
# Both autoencoders' sweeps, drawn by your function (the lab AE is the one you trained):

# %%
sweep_fn = checks.use(sweep_model, reference.sweep_model, sweep_check)
fig, axes = plt.subplots(1, 2, figsize=(15, 7.5))
for ax, (name, model) in zip(axes, autoencoders.items()):
    labvae.show_grid(sweep_fn(model), ax=ax, limit=4.0, title=f"{name}: sweep over $z \\in [-4, 4]^2$")
plt.show()
path = labvae.save_grid(sweep_fn(ae), cfg.out / "ae_grid.png")
print("saved", path)

# %% nbgrader={"grade": true, "grade_id": "2_1-ae-sweep-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Graded (1 mark): when the notebook is marked, this cell runs the check on sweep_model again and fails unless it passes.
checks.mark(checks.check_ae_sweep, sweep_model)

# %% [markdown]
# ## Where do the codes actually live?
#
# The AE's loss only asks for good reconstructions; nothing says codes should lie in $[-4, 4]^2$ or
# anywhere in particular.

# %% [markdown]
# **Predict before you run:** almost all of the VAE's test codes lie inside the window. What share of
# the lab AE's test codes will: nearly all, about three quarters, or hardly any? And will they fill
# the window?

# %% [markdown] tags=["predict-03"]
# YOUR ANSWER HERE

# %% [markdown]
# Encode the test set and look: each dot is one test image, coloured by class; the black square is
# the window we swept, the grey dots its 441 sweep points.

# %%
fig, axes = plt.subplots(1, 2, figsize=(16, 7))
for ax, (name, model) in zip(axes, autoencoders.items()):
    codes = labvae.latent_codes(model, x_test)  # (N, 784) -> (N, 2)
    stats = analysis.code_stats(codes)
    analysis.plot_codes(codes, y_test, ax=ax, title=f"{name}: {stats['frac_codes_inside']:.0%} of test codes inside the window")
fig.tight_layout()
plt.show()

# %%
for name, model in autoencoders.items():
    s = analysis.code_stats(labvae.latent_codes(model, x_test))
    print(f"{name:16s} codes inside window: {s['frac_codes_inside']:5.1%}   sweep cells with a test code: "
          f"{s['frac_cells_hit']:5.1%}   z1 range [{s['code_min'][0]:6.1f}, {s['code_max'][0]:5.1f}]   "
          f"z2 range [{s['code_min'][1]:6.1f}, {s['code_max'][1]:5.1f}]")

# %% [markdown]
# **Reading the pictures.** Where the sweep passes through codes of real images, the AE decodes what it
# learned to reconstruct for the images whose codes lie there, as good or as poor as its reconstructions
# in notebook 1; elsewhere it decodes whatever its decoder happens to produce there, which no training
# image ever asked it to make good. The empty regions between and around the coloured clouds
# are the *holes* of the AE's latent space. The size and position of the clouds depend on the
# initialisation and training run, not on any prior: change the seed and they move.

# %% [markdown]
# ## Explore with sliders
#
# One pair of sliders drives both autoencoders. Try the regions the scatter shows as empty.

# %% tags=["nbval-ignore-output"]
explorer = labvae.z_explorer(autoencoders)
explorer

# %%
explorer.set_z(-2.0, 3.0)
print({name: round(img.mean().item(), 3) for name, img in explorer.decoded().items()}, "mean pixel value at z = [-2, 3]")

# %% [markdown]
# ## Random codes
#
# Decoding draws from $\mathcal{N}(0, I)$ is what a VAE does to generate. An AE's codes were never
# asked to follow that distribution, so whether a prior draw lands among its codes depends on where
# training happened to put them: compare the draws below with the scatters above. Notebook 4 counts
# what they decode to.

# %%
torch.manual_seed(0)
z_prior = torch.randn(16, 2)
fig, axes = plt.subplots(2, 1, figsize=(12, 2.6))
for ax, (name, model) in zip(axes, autoencoders.items()):
    with torch.no_grad():
        labvae.show_images(model.decode(z_prior), nrow=16, ax=ax, title=f"{name}: decode(z), z ~ N(0, I)")
plt.show()

# %% [markdown]
# ## Summary
#
# - The AE's sweep over $[-4, 4]^2$ shows the AE's decoder where it was trained *and* where it was not;
#   the scatter shows which is which.
# - An AE's codes go wherever training happens to put them: often outside the window, often in thin
#   clusters with holes between them.
# - Whether random codes from $\mathcal{N}(0, I)$ decode to plausible items depends on where training put
#   an AE's codes, not on its design.
#
# **Try next:**
# - sweep a window that holds the codes, e.g. `labvae.show_grid(sweep_fn(ae, limit=8), limit=8)`:
#   expect its best images only where the scatter shows codes (no better there than its reconstructions
#   in notebook 1) and speckled noise everywhere else,
#   since the decoder was only ever asked about the codes of training images;
# - retrain with another seed, `ae1 = cfg.with_seed(1).model("ae", x_train, x_test)` (saved in
#   `seed1/` beside the others, and reused by notebook 4 on the same machine), and draw its codes: expect the band to move
#   and turn, and the sweep to change with it;
# - then open **04_comparison**.
