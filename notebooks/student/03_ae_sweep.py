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
# # 3 · The autoencoder's latent plane
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/student/03_ae_sweep.ipynb)
#
# **What you will learn**
# - how to sweep a plain autoencoder's 2-d code space exactly like the VAE's;
# - where the AE actually puts the codes of real images, compared with the window we sweep;
# - why nothing in an AE makes $\mathcal{N}(0, I)$ a place to draw codes from.
#
# **Exercise 2.1 (2 marks):** retrain the lab's AE with a 2-d code (2.1a) and draw its sweep (2.1b);
# until your answers pass their checks, labvae's run.
#
# **Time:** about 13 s of computing, most of it training your AE (measured at full scale, 60,000
# images, on an idle 2-core CPU); opened alone on Colab's CPU, about 1 min (estimated); longer on a
# busy shared server.
#
# **Hand in** `03_ae_sweep.ipynb` with the other marked notebooks (02–04), run top to bottom and
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
from labvae.course import checks
from labvae.course.checks import fallbacks

# %% [markdown]
# ## Load (or train) the two autoencoders
#
# - **lab AE**: the lab's model, one linear layer each way (784→2, 2→784, then a sigmoid);
# - **AE, 512 hidden**: the VAE's shape (784→512→2→512→784) without its noise and KL term.

# %% tags=["nbval-ignore-output"]
cfg = labvae.lab_config()
x_train, y_train, x_test, y_test = cfg.load_data()
ae512 = cfg.model("ae512", x_train, x_test)


# %% [markdown]
# **Exercise 2.1a (1 mark).** The lab's AE had a larger code; retrain it with a **2-d code**. Write
# `train_ae(x_train, x_test)`: build the lab's AE, train it on `x_train`, and return the trained model.
#
# - **Model:** the lab's AE, with no hidden layer: one linear layer from the 784 pixels to a 2-d code,
#   one linear layer from the code back to 784 pixels, then a sigmoid, so each pixel is in [0, 1].
# - **Training:** the lab's settings, `cfg.epochs` epochs of Adam with learning rate `cfg.lr` on batches
#   of `cfg.batch_size` training images, minimising the binary cross-entropy between each image and its
#   reconstruction (summed over an image's pixels, averaged over the batch). Write the training loop
#   yourself, or use `labvae.fit` (read `help(labvae.fit)`); `x_test` is there only to measure the
#   model, never to train it.
# - **Return:** the trained model, with `encode(x)` giving a `(B, 2)` code per image and `decode(z)`
#   giving images in [0, 1]: the cells below sweep and plot it with these. `labvae`'s models have both;
#   a model class of your own needs both too.
#
# The check judges what your model computes and how well it reconstructs the test images against what
# the lab's settings reach: any way of training that gets there passes.

# %% nbgrader={"grade": false, "grade_id": "2_1-ae", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_ae(x_train, x_test):
    """The lab's linear AE with a 2-d code, trained on x_train with the lab's settings; returns the model."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% tags=["nbval-ignore-output"]
my_ae = checks.attempt(train_ae, x_train, x_test)  # your model, or a note of what went wrong

# %% nbgrader={"grade": false, "grade_id": "2_1-ae-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
ae_check = checks.check_ae(my_ae)
ae = checks.use(checks.as_ae(my_ae), cfg.model("ae", x_train, x_test), ae_check, "lab AE")
autoencoders = {"lab AE (linear)": ae, "AE, 512 hidden": ae512}

# %% nbgrader={"grade": true, "grade_id": "2_1-ae-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Graded (1 mark): when the notebook is marked, this cell runs the check on my_ae (what your train_ae
# returned) again and fails unless it passes.
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
sweep_fn = checks.use(sweep_model, fallbacks.sweep_model, sweep_check)
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
# The AE's loss only asks for good reconstructions, not for codes in any particular place.

# %% [markdown]
# **Predict before you run:** almost all of the VAE's test codes lie inside the window. What share of
# the lab AE's test codes will: write down a percentage. And will they fill the window?

# %% [markdown] tags=["predict-03"]
# YOUR ANSWER HERE

# %% [markdown]
# Each dot is one test image's code, coloured by class; the black square is the swept window.

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
# **Reading the pictures.** Where the sweep passes through codes of real images, the decoder was
# trained; elsewhere no training image asked anything of it. The empty regions between and around the
# clouds are the *holes* of the latent space. Compare what the sweep shows in both.

# %% [markdown]
# ## Explore with the latent pad
#
# One pad drives both autoencoders. Try the regions where the dots (test codes) are sparse.

# %% tags=["nbval-ignore-output"]
pad = labvae.latent_pad(autoencoders, x_test, y_test)
pad

# %%
pad.set_z(-2.0, 3.0)
for name, img in pad.decoded().items():
    print(f"{name:16s} mean pixel value of decode((z1, z2) = (-2, 3)): {img.mean().item():.3f}")
print(pad.summary())

# %% [markdown]
# ## Random codes
#
# An AE's codes were never asked to follow $\mathcal{N}(0, I)$: compare these prior draws with the scatters above.

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
# - The AE's sweep over $[-4, 4]^2$ shows its decoder where it was trained *and* where it was not;
#   the scatter shows which is which.
# - An AE's codes go wherever training puts them: the printed shares say how much of the window they reach.
#
# **Try next:**
# - sweep a window that holds every code: `lim = 1.05 * labvae.latent_codes(ae, x_test).abs().max().item()`,
#   then `labvae.show_grid(sweep_fn(ae, limit=lim), limit=lim)`: what is drawn away from the codes?
# - retrain with another seed, `ae1 = cfg.with_seed(1).model("ae", x_train, x_test)`, and draw its
#   codes: do they land in the same place?
# - then open **04_comparison**.
