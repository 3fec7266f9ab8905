"""The lab report's claims about the two latent spaces, each decided by a measure declared in advance.

The thresholds are fixed here, in CLAIMS, in the library's source, before any notebook computes a number;
the appendix prints them (claims_declaration) before the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from .judge import DISTINCT_RMS, MIN_TILES, spread

# The report's claims. Each has ONE primary measure, declared (with its threshold and reason) before
# any number is computed, and a secondary one; when the two disagree the verdict is "mixed".


POWER = 2.0  # standard errors: a margin within two of them is as likely luck as a difference


@dataclass(frozen=True)
class Measure:
    """A metric, the direction in which the AE's value supports the claim, and by how much."""

    key: str  # the metric in a model's results (compare.compare_model)
    name: str  # what it is, in words
    ae_side: str  # "lower" or "higher": the AE's value must be this side of the VAE's
    margin: float  # ... by at least this much, in the metric's own units
    why: str
    # A metric measured with noise (a mean over images) names its standard error here: a difference within
    # POWER standard errors of the threshold cannot be told from the threshold, so the measure says nothing.
    se_key: str | None = None

    def to_threshold(self, vae: dict, ae: dict) -> float | None:
        """How far the AE's difference from the VAE, in the claim's direction, is past the threshold (< 0: short)."""
        v, a = vae.get(self.key), ae.get(self.key)
        if v is None or a is None or v != v or a != a:
            return None
        return (v - a if self.ae_side == "lower" else a - v) - self.margin

    def noise(self, vae: dict, ae: dict) -> float:
        """POWER standard errors of the difference (0 for a measure without noise)."""
        if self.se_key is None:
            return 0.0
        se = [r.get(self.se_key) for r in (vae, ae)]
        return POWER * sum(e * e for e in se if e is not None and e == e) ** 0.5

    def supports(self, vae: dict, ae: dict) -> bool | None:
        """True / False, or None when a value is missing or NaN, or too close to the threshold to tell."""
        past = self.to_threshold(vae, ae)
        if past is None or abs(past) < self.noise(vae, ae):
            return None
        return past >= -1e-9  # float sums: 1.0 - 0.9

    def margin_text(self, vae: dict, ae: dict) -> str:
        """The margin to the threshold, with the noise where it has one: '+0.12 past 0.1' or '-0.3 short of 1 (+-4.8)'."""
        past = self.to_threshold(vae, ae)
        if past is None:
            return "not measurable"
        noise = self.noise(vae, ae)
        return (f"{abs(past):.3g} {'past' if past >= -1e-9 else 'short of'} {self.margin:g}"
                + (f" (noise +-{noise:.2g})" if noise else ""))

    def rule(self) -> str:
        return f"{self.name}: AE {self.ae_side} than the VAE by >= {self.margin:g}"


@dataclass(frozen=True)
class Claim:
    key: str
    text: str
    primary: Measure
    secondary: Measure
    see: str  # the figure that shows it


CLAIMS = (
    Claim("diverse", "The VAE's sweep is more diverse than the AE's",
          Measure("classes", "classes shown", "lower", 2,
                  f"kinds of garment the judge names with >= {MIN_TILES} confident tiles; one class more or "
                  "less can come from a few tiles at a region's edge, two is a difference a reader sees"),
          Measure("effective_classes", "effective number of classes", "lower", 1.0,
                  "exp(entropy) of the classes over confident garment tiles: how evenly the sweep spreads "
                  "over them; 1.0 is one class fewer in equal shares"),
          "sweeps, class maps"),
    Claim("ambiguous", "The AE's images are ambiguous and cannot be deciphered",
          Measure("frac_not_garment", "share of tiles that are not a garment", "higher", 0.10,
                  "a tile the judge refuses to name cannot be deciphered; 0.10 of 441 tiles is 44, "
                  "a 7x7 patch of the sweep, visible by eye"),
          Measure("frac_unsure", "share of garment tiles with max p < 0.5", "higher", 0.10,
                  "ambiguous in the literal sense: it looks like a garment but no class gets half the "
                  "probability; the same 0.10 as the primary"),
          "class maps (white = not a garment, x = unsure)"),
    Claim("less_variation", "The AE's sweep shows less variation",
          Measure("frac_distinct_garments", "distinct garment tiles, share of the sweep", "lower", 0.05,
                  f"different garments the sweep shows: garment tiles left after merging any two closer "
                  f"than RMS {DISTINCT_RMS} (noise is not variation); 0.05 is 22 different images"),
          Measure("garment_spread", "spread of garment tiles, in units of real images' spread", "lower", 0.10,
                  "median RMS of garment tiles from their mean image, divided by the same for real "
                  "images; 0.10 is a tenth of real data's spread"),
          "sweeps"),
    Claim("blurred", "The AE's sweep is more blurred",
          Measure("sharpness_rel", "sharpness of garment tiles / their nearest real image", "lower", 0.10,
                  "only garment tiles count, so noise cannot pass for detail; each is compared with the "
                  "real image it resembles most (1.0 = as sharp); 0.10 is a tenth of real sharpness"),
          Measure("grey_rel", "mid-grey pixel share above the nearest real image's", "higher", 0.05,
                  "blur turns edges into grey ramps; 0.05 is 39 more mid-grey pixels of 784"),
          "sweeps"),
    Claim("transitions", "The AE's transitions are unrealistic",
          Measure("frac_path_garment", "share of interpolation points judged garments", "lower", 0.10,
                  "decode the straight line between the codes of two test images (10 points, pairs within "
                  "and across classes); a point the judge refuses to name is an unrealistic in-between; "
                  "0.10 is one point in ten"),
          Measure("path_reach", "how far a path gets: RMS(last - first point) / RMS(second - first image)", "lower",
                  0.10, "absolute, unlike the judge: a path that hardly moves is no transition at all, however "
                  "even its steps; 0.10 is a tenth of the way between the two real images"),
          "interpolation paths"),
    Claim("window", "The AE's codes are not shaped by a prior: they miss the swept window",
          Measure("frac_codes_inside", "share of test codes inside [-4, 4]^2", "lower", 0.10,
                  "N(0, I) leaves about 0.01% of its mass outside [-4, 4]^2; an AE with a tenth more of "
                  "its codes outside has images the sweep never shows"),
          Measure("frac_cells_hit", "share of the 441 sweep cells holding a test code", "lower", 0.10,
                  "codes inside the window but squeezed into a band still leave most of it empty"),
          "latent scatters"),
    Claim("not_normal", "The AE's latent space does not follow a normal distribution",
          Measure("kl_gauss", "KL(Gaussian fit of the codes || N(0, I)), nats", "higher", 0.5,
                  "how far the codes' mean and covariance are from the prior's (sampled z for the VAE); "
                  "0.5 nats is about a 1.8 times wider spread than the prior's in one dimension"),
          Measure("ks_max", "largest Kolmogorov-Smirnov distance of a code's marginal from N(0, 1)", "higher", 0.10,
                  "the shape, not only the moments: a band or a horseshoe can have the prior's variance; "
                  "0.10 is a tenth of the codes on the wrong side of some value"),
          "aggregate posterior: marginals against N(0, 1)"),
    Claim("overfit", "The VAE is more robust: it overfits less than the AE",
          Measure("fit_gap", "test loss - training loss, final weights (nats)", "higher", 1.0,
                  "overfitting shows as a test loss above the training loss with the same weights; one nat "
                  "per image more is the smallest difference in gap we call a difference; within two "
                  "standard errors of the mean losses of the threshold: cannot tell", se_key="fit_gap_se"),
          Measure("fit_gap_rel", "the same gap / training loss", "higher", 0.005,
                  "the gap as a share of the loss, since the models' losses differ by a hundred nats; "
                  "0.005 is half a percent", se_key="fit_gap_rel_se"),
          "train against test loss"),
)

SEED_DEPENDENT = "depends on the seed"


def verdict(claim: Claim, vae: dict, ae: dict) -> dict:
    """One claim, one AE, one seed: holds / does not hold / mixed (the two measures disagree) / cannot tell."""
    p, s = claim.primary.supports(vae, ae), claim.secondary.supports(vae, ae)
    if p is None:
        word = "cannot tell"  # the primary is not measurable, or too close to its threshold for its noise
    elif s is None or s == p:
        word = "holds" if p else "does not hold"
    else:
        word = "mixed"
    return {"verdict": word, "primary": p, "secondary": s,
            "margin": claim.primary.margin_text(vae, ae), "margin_secondary": claim.secondary.margin_text(vae, ae)}


def over_seeds(verdicts: list[str]) -> str:
    """The verdict if every seed gives the same one, else 'depends on the seed'."""
    return verdicts[0] if len(set(verdicts)) == 1 else SEED_DEPENDENT


def _json(v):
    return None if isinstance(v, float) and v != v else v  # NaN is not JSON: not measurable -> null


def judge_claims(results: dict, vae: str = "VAE", claims=CLAIMS) -> list[dict]:
    """Every claim for every AE in results, seed by seed; results[name] is a list (one dict per seed)."""
    runs = {k: r if isinstance(r, list) else [r] for k, r in results.items()}
    if vae not in runs:
        raise ValueError(f"no results for {vae!r}; the claims compare each AE with it (have: {', '.join(runs)}).")
    aes = [k for k in runs if k != vae]
    for k in aes:
        if len(runs[k]) != len(runs[vae]):
            raise ValueError(f"{k} has {len(runs[k])} seeds and {vae} {len(runs[vae])}; pair them seed by seed.")
    out = []
    for c in claims:
        per_seed = {k: [verdict(c, v, a) for v, a in zip(runs[vae], runs[k])] for k in aes}
        out.append({
            "claim": c.text, "key": c.key, "primary": c.primary.rule(), "secondary": c.secondary.rule(),
            "verdicts": {k: over_seeds([s["verdict"] for s in per_seed[k]]) for k in aes},
            "per_seed": {k: [s["verdict"] for s in per_seed[k]] for k in aes},
            "margins": {k: [(s["margin"], s["margin_secondary"]) for s in per_seed[k]] for k in aes},
            "values": {k: {"primary": [_json(r.get(c.primary.key)) for r in runs[k]],
                           "secondary": [_json(r.get(c.secondary.key)) for r in runs[k]]} for k in runs},
            "see": c.see,
        })
    return out


def claims_declaration(claims=CLAIMS) -> str:
    """The claims with their measures, thresholds and reasons: printed before any number."""
    out = []
    for i, c in enumerate(claims, 1):
        out.append(f"{i}. {c.text}\n   primary:   {c.primary.rule()}\n              why: {c.primary.why}\n"
                   f"   secondary: {c.secondary.rule()}\n              why: {c.secondary.why}")
    return "\n".join(out)


def verdict_table(judged: list[dict]) -> str:
    """Verdicts per AE with the per-seed verdicts and both measures' values, as monospace text."""
    out = []
    for c in judged:
        lines = [f"* {c['claim']}"]
        for ae, word in c["verdicts"].items():
            seeds = " / ".join(c["per_seed"][ae])
            lines.append(f"    {ae}: {word.upper()}" + (f"   (seeds: {seeds})" if len(c["per_seed"][ae]) > 1 else ""))
            for i, (m1, m2) in enumerate(c.get("margins", {}).get(ae, [])):
                seed = f" seed {i}" if len(c["per_seed"][ae]) > 1 else ""
                lines.append(f"        margin to the threshold{seed}: primary {m1}; secondary {m2}")
        for which in ("primary", "secondary"):
            nums = "; ".join(f"{k} {spread([v for v in vals[which] if v is not None])}"
                             for k, vals in c["values"].items())
            lines.append(f"    {which}: {c[which]}\n        {nums}")
        lines.append(f"    see: {c['see']}")
        out.append("\n".join(lines))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# The numbers side by side, with their spread over seeds.

TABLE_ROWS = (  # (key, label, format)
    ("test_loss", "test loss (nats per image)", "{:.1f}"),
    ("frac_codes_inside", "test codes inside [-4, 4]^2", "{:.0%}"),
    ("frac_cells_hit", "sweep cells holding a test code", "{:.0%}"),
    ("frac_garment", "tiles judged garments", "{:.0%}"),
    ("classes", f"classes, >= {MIN_TILES} confident tiles", "{:.0f}"),
    ("effective_classes", "effective number of classes", "{:.1f}"),
    ("frac_confident", "confident garment tiles", "{:.0%}"),
    ("frac_unsure", "garment tiles, max p < 0.5", "{:.0%}"),
    ("frac_distinct_garments", f"distinct garment tiles (RMS >= {DISTINCT_RMS})", "{:.0%}"),
    ("garment_spread", "spread of garment tiles / real", "{:.2f}"),
    ("sharpness_rel", "sharpness / nearest real image", "{:.2f}"),
    ("grey_rel", "mid-grey share - nearest real's", "{:+.2f}"),
    ("frac_off_data_steps", "neighbour steps off the data", "{:.0%}"),
    ("frac_path_garment", "interpolation points judged garments", "{:.0%}"),
    ("path_reach", "interpolation: share of the way it gets", "{:.2f}"),
    ("path_far", "interpolation points far from real images", "{:.0%}"),
    ("path_jump_share", "largest step / path (even morph 0.11)", "{:.2f}"),
    ("garment_in_code_cells", "garment tiles, cells holding codes", "{:.0%}"),
    ("garment_in_empty_cells", "garment tiles, cells holding none", "{:.0%}"),
    ("kl_gauss", "codes' Gaussian fit: KL to N(0, I), nats", "{:.2f}"),
    ("ks_max", "codes' marginals: KS distance to N(0, 1)", "{:.2f}"),
    ("frac_prior_far", "prior draws with no test code within 0.2", "{:.0%}"),
    ("train_loss_final", "training loss, final weights (nats)", "{:.1f}"),
    ("fit_gap", "test - training loss (nats)", "{:+.1f}"),
    ("tile_step_max", "max pixel change, neighbour tiles", "{:.3f}"),
    ("distinct_tiles", f"distinct tiles, noise too (RMS >= {DISTINCT_RMS})", "{:.0f}"),
    ("nearest_real_median", "tile -> nearest real image (RMS)", "{:.3f}"),
)


def metrics_table(results: dict, rows=TABLE_ROWS) -> str:
    """Models side by side; results[name] is one metrics dict or a list of them (one per seed)."""
    names = list(results)
    runs = {k: r if isinstance(r, list) else [r] for k, r in results.items()}
    width = max(24, *(len(n) + 2 for n in names))
    lines = [f"{'':42s}" + "".join(f"{n:>{width}s}" for n in names)]
    for key, label, fmt in rows:
        if all(key not in r for rs in runs.values() for r in rs):
            continue
        cells = [spread([r.get(key) for r in runs[n]], fmt) for n in names]
        lines.append(f"{label:42s}" + "".join(f"{c:>{width}s}" for c in cells))
    seeds = max(len(rs) for rs in runs.values())
    if seeds > 1:
        lines.append(f"(mean over {seeds} seeds, min..max in brackets)")
    return "\n".join(lines)


# The one compact table of the lesson (notebook 4's core): one row per question the claims ask.
COMPACT_ROWS = tuple(r for r in TABLE_ROWS if r[0] in (
    "test_loss", "fit_gap", "frac_codes_inside", "frac_cells_hit", "frac_garment", "classes", "sharpness_rel",
    "frac_path_garment", "path_reach", "garment_in_code_cells", "garment_in_empty_cells", "kl_gauss", "ks_max"))


def verdict_summary(judged: list[dict]) -> str:
    """One line per claim and AE: its verdict and the primary measure's margin to its threshold (first seed)."""
    lines = []
    for c in judged:
        lines.append(c["claim"])
        for a, word in c["verdicts"].items():
            margin = c.get("margins", {}).get(a, [("", "")])[0][0]
            lines.append(f"    {a:18s}{word:22s}primary {c['primary'].split(':')[0]}: {margin}")
    return "\n".join(lines)
