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
# # 2 · Walking the VAE's latent plane
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/labvae/labvae/blob/main/notebooks/student/02_vae_sweep.ipynb)
#
# **What you will learn**
# - how to decode a systematic sweep of the latent space: 21 values per dimension from −4 to +4,
#   441 codes drawn as one 588×588 image;
# - how to read that image: which corner is which $z$, and why the codes sit where they do;
# - how to explore the plane interactively with two sliders;
# - where samples from the prior $\mathcal{N}(0, I)$ land, and what they decode to.
#
# **Exercise 1.1 (2 marks):** list the sweep's codes in order (1.1a) and decode them into the 588×588
# image (1.1b); until your answers pass their checks, labvae's run.
#
# **Time:** about 5 s of computing with the VAE loaded from notebook 1 (measured at full scale, 60,000
# images, on an idle 2-core CPU); opened alone on Colab's CPU, about 1 min (estimated); longer on a
# busy shared server.
#
# **Hand in** `02_vae_sweep.ipynb` with the other marked notebooks (02–04), run top to bottom and
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
# ## Load (or train) the VAE
#
# From notebook 1's checkpoint, or trained here if it is missing (always, on Colab).

# %% tags=["nbval-ignore-output"]
cfg = labvae.lab_config()
x_train, y_train, x_test, y_test = cfg.load_data()
vae = cfg.model("vae", x_train, x_test)

# %% [markdown]
# ## The window, in units of the prior
#
# The KL term pulls every $q(z\mid x)$ towards $\mathcal{N}(0, I)$, so $z$ is measured in **prior
# standard deviations**, and the lab's window "from −4σ to 4σ" is $[-4, 4]^2$. It holds this much of the prior:

# %%
inside_1d = torch.special.erf(torch.tensor(4.0) / 2**0.5).item()  # P(|z_j| <= 4) for z_j ~ N(0, 1)
print(f"prior mass inside [-4, 4]^2: {inside_1d**2:.3%}  (outside: about 1 draw in {1 / (1 - inside_1d**2):,.0f})")

# %% [markdown]
# **Predict before you run:** the encoder gives each test image its own Gaussian
# $q(z\mid x) = \mathcal{N}(\mu, \sigma^2)$. How wide is a typical one, in these units: about 1 (as wide
# as the prior), about 0.4 (one step of the sweep) or about 0.1?

# %% [markdown] tags=["predict-02"]
# YOUR ANSWER HERE

# %%
with torch.no_grad():
    mu, logvar = vae.encode(x_test)  # (N, 2) each
sigma = torch.exp(0.5 * logvar)
q10, q50, q90 = sigma.quantile(torch.tensor([0.1, 0.5, 0.9])).tolist()
print(f"posterior sigma over all test images and both dimensions: median {q50:.3f}, "
      f"10% below {q10:.3f}, 10% above {q90:.3f}  (prior: 1, sweep step: 0.4)")
stats = analysis.code_stats(mu)
print(f"test codes (mu) inside the window: {stats['frac_codes_inside']:.1%}; "
      f"sweep cells (0.4 x 0.4) holding at least one test code: {stats['frac_cells_hit']:.0%}")
analysis.plot_codes(mu, y_test, prior=True, title="VAE: every test image's mu")
plt.show()


# %% [markdown]
# ## The sweep
#
# 21 values per dimension, 0.4 apart, listed **row by row from the top-left**: $z_1$ grows left to
# right, $z_2$ **bottom to top**. So the point $(z_1, z_2) = (-4, 4)$ is the top-left tile (listed
# first) and $(4, -4)$ the bottom-right (listed last).
#
# **Exercise 1.1a (1 mark).** Write `latent_grid(n=21, limit=4.0)`: an `(n*n, 2)` float tensor of codes
# $(z_1, z_2)$ in that order, from $-$`limit` to `limit` in each dimension. Hint: `torch.linspace` and
# `torch.meshgrid(..., indexing="ij")`.

# %% nbgrader={"grade": false, "grade_id": "1_1-grid", "locked": false, "schema_version": 3, "solution": true, "task": false}
def latent_grid(n=21, limit=4.0):
    """(n*n, 2) codes (z1, z2), row by row from the top-left point (-limit, limit)."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": false, "grade_id": "1_1-grid-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
grid_check = checks.check_latent_grid(latent_grid)

# %%
grid_fn = checks.use(latent_grid, fallbacks.latent_grid, grid_check)
z = grid_fn(21, 4.0)  # (441, 2), columns (z1, z2)
print("shape:", tuple(z.shape))
print("first (top-left):    ", z[0].tolist())
print("end of first row:    ", z[20].tolist())
print("last (bottom-right): ", z[-1].tolist())

# %% nbgrader={"grade": true, "grade_id": "1_1-grid-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Graded (1 mark): when the notebook is marked, this cell runs the check on latent_grid again and fails unless it passes.
checks.mark(checks.check_latent_grid, latent_grid)


# %% [markdown]
# **Exercise 1.1b (1 mark).** Write `sweep_image(decode, z, n)`: decode the `n*n` codes `z` in **one**
# batched call (`decode` maps `(B, 2)` to `(B, 1, 28, 28)` images in [0, 1]) and lay the tiles edge to
# edge, row by row, into one `(1, 28n, 28n)` image: 21 × 28 = 588 pixels a side. Hint: reshape the
# tiles to `(n, n, 28, 28)` (tile row, tile column, pixel row, pixel column), then `permute` so the
# pixel rows of a whole row of tiles come together; `torch.no_grad()` saves memory.

# %% nbgrader={"grade": false, "grade_id": "1_1-sweep", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sweep_image(decode, z, n):
    """Decode n*n codes (row-major, top-left first) into one (1, 28n, 28n) image."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": false, "grade_id": "1_1-sweep-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
sweep_check = checks.check_sweep(sweep_image)

# %% [markdown]
# The VAE's sweep, drawn by your two functions:

# %%
sweep_fn = checks.use(sweep_image, fallbacks.sweep_image, sweep_check)
grid = sweep_fn(vae.decode, z, 21)
print("image:", tuple(grid.shape))
fig, ax = plt.subplots(figsize=(9, 9))
labvae.show_grid(grid, ax=ax, limit=4.0, title="VAE: decoded sweep over $z \\in [-4, 4]^2$")
plt.show()

# %% nbgrader={"grade": true, "grade_id": "1_1-sweep-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Graded (1 mark): when the notebook is marked, this cell runs the check on sweep_image again and fails unless it passes.
checks.mark(checks.check_sweep, sweep_image)

# %%
path = labvae.save_grid(grid, cfg.out / "vae_grid.png")
print("saved", path)

# %% [markdown]
# **Reading the picture.** Put it next to the scatter above. The decoder is a smooth function of $z$,
# and the printed share of cells holding a test code says how much of the window the codes reach. Find
# a region of the scatter with no code: what does the sweep show at the same place?

# %% [markdown]
# ## Explore with the latent pad
#
# Drag, click or use the arrow keys on the square, the sweep's window ($z = (-4, 4)$ top-left); beside
# it, the decoded $z$. Dots: test codes ($\mu$) by class. Your browser decodes from the weights.

# %% tags=["nbval-ignore-output"]
pad = labvae.latent_pad({"VAE": vae}, x_test, y_test)
pad

# %% [markdown]
# Or from code (`pad.decoded()`: torch's decode of the pad's $z$):

# %%
pad.set_z(1.5, -0.5)
shown = pad.decoded()["VAE"]
direct = vae.decode(torch.tensor([[1.5, -0.5]]))[0]
print(f"the pad's (z1, z2) = ({pad.z[0]:g}, {pad.z[1]:g}) | torch's decode of it: {torch.equal(shown, direct)}")
print(pad.summary())

# %% [markdown]
# ## Samples from the prior
#
# A VAE is a generative model: draw $z \sim \mathcal{N}(0, I)$ and decode. How many of the 32 look like clothing?

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
# - The 21×21 sweep shows the window $[-4, 4]^2$ of the 2-d latent space at once: $(z_1, z_2) = (-4, 4)$ top-left,
#   $(4, -4)$ bottom-right, $z_2$ growing upwards.
# - $z$ is measured in prior standard deviations; the window $[-4, 4]^2$ holds 99.99% of the prior.
# - The printed σ and the share of cells holding a code say how much of the plane training ever showed the decoder.
#
# **Try next:**
# - sweep a wider window: `labvae.show_grid(labvae.decode_grid(vae.decode, limit=8), limit=8)`: what
#   does the decoder draw far from the codes?
# - move the $z_1$ slider slowly with $z_2 = 0$: where does one garment turn into another?
# - then open **03_ae_sweep** to do the same with a plain autoencoder.
