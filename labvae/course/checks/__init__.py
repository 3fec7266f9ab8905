"""The lab's exercises and their self-checks: each check prints one line (pass, not done yet, or what is wrong).

The notebooks import this package (`from labvae.course import checks`). Its map:
  exercises       the registry: each exercise's key, notebook, variable, marks and check
  checking        how a check calls student code: collect (run it on chosen inputs) and verdict (judge
                  what came back against the specification), one line of report
  formula_checks  01: reparameterize, the KL term, the VAE loss
  sweep_checks    02 and 03: the latent grid and the sweep images (with probe, a decoder that writes z
                  into its pixels)
  ae_check        2.1a, the retrained AE: ae_probe collects the student's tensors, ae_verdict judges them
                  against labvae's own lab AE
  guard           per exercise, labvae's own solutions (SOLUTIONS) and what the student may call (ALLOWED)
  watch           what runs while a check calls student code: a solution, or a copy of its code, is caught
                  when it runs, however it was reached; for 2.1a, what train_ae trained
  fallbacks       torch's and labvae's own functions the later cells use until an answer passes
"""

from __future__ import annotations

from .ae_check import as_ae, check_ae
from .checking import Check, CheckResult, Unfinished, attempt, mark, use
from .formula_checks import check_kl, check_loss, check_reparameterize
from .sweep_checks import check_ae_sweep, check_latent_grid, check_sweep

__all__ = ["Check", "CheckResult", "Unfinished", "as_ae", "attempt", "check_ae", "check_ae_sweep", "check_kl",
           "check_latent_grid", "check_loss", "check_reparameterize", "check_sweep", "mark", "use"]
