"""Self-checks for the lab's exercises: each prints one line (pass, not done yet, or what is wrong and a hint).

Each check is a checking.Check: collect (runs the student's function on chosen inputs) and verdict
(judges what came back against the exercise's specification: torch.distributions, torch's BCE,
labvae's own grid, labvae's own lab AE for check_ae). The notebooks import this module; the checks live in formula_checks (01),
sweep_checks (02, 03) and ae_check (the retrained AE).
"""

from __future__ import annotations

from .ae_check import as_ae, check_ae
from .checking import Check, CheckResult, Unfinished, attempt, mark, use
from .formula_checks import check_kl, check_loss, check_reparameterize
from .sweep_checks import check_ae_sweep, check_latent_grid, check_sweep

__all__ = ["Check", "CheckResult", "Unfinished", "as_ae", "attempt", "check_ae", "check_ae_sweep", "check_kl",
           "check_latent_grid", "check_loss", "check_reparameterize", "check_sweep", "mark", "use"]
