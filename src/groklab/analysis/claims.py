"""The claims table: each seed headline (8x SGD, 18x task diversity, 316x sparse init, 119x
division+multiplication, and the pairings that were slower) with our ratio, its interval and a
verdict computed from them; with `robustness` set, the replicate's ratio and verdict beside them
(a claim whose two verdicts differ is `unstable`); and the baseline's delay ratio (delay /
memorisation step) beside the seed's."""

from __future__ import annotations

import math

import pandas as pd

from groklab.analysis.speedup import UNITS
from groklab.config.matrix import copy_name

UNIT_NAMES = ("examples", "steps", "pct")     # the order of each UNITS family

NOT_RUN = "not run"
REPRODUCED = "reproduced"
SMALLER = "same direction, smaller"
NO_EFFECT = "no effect"
OPPOSITE = "opposite"
INCONCLUSIVE = "inconclusive: the baseline never grokked"
VERDICTS = (REPRODUCED, SMALLER, NO_EFFECT, OPPOSITE)
UNSTABLE = "unstable"     # the primary's and the replicate's verdicts differ: "unstable (<primary> vs <replicate>)"


def unstable(primary: str, replicate: str) -> str:
    return f"{UNSTABLE} ({primary} vs {replicate})"


def combined_verdict(primary: str, replicate: str) -> str:
    """The verdict the table prints: the primary's, or `unstable (<primary> vs <replicate>)` where the
    replicate measured the claim too (both verdicts of VERDICTS) and came to another verdict. A
    replicate that is not run or inconclusive leaves the primary's verdict as it is."""
    if primary in VERDICTS and replicate in VERDICTS and primary != replicate:
        return unstable(primary, replicate)
    return primary


def seed_grok_step(seed: dict) -> float:
    """The seed baseline's grok step (paper.seed_baseline: grok_pct % of the budget), in steps."""
    return seed["grok_pct"] / 100 * seed["budget"]


def seed_memorisation_step(seed: dict) -> float:
    """The seed baseline's memorisation step: its grok step less its delay (about 2,000)."""
    return seed_grok_step(seed) - seed["delay"]


def seed_delay_ratio(seed: dict) -> float:
    """The seed baseline's delay / memorisation step (about 332,000 / 2,000 = 166)."""
    return seed["delay"] / seed_memorisation_step(seed)


def verdict(ratio: float, lo: float, hi: float, claimed: float | None, within: float,
            baseline_grokked: float) -> str:
    """Our ratio (baseline / variant) and its interval against a claimed speedup: one of VERDICTS.

    A claimed speedup S: the interval above 1 is `reproduced` when the ratio is at least
    S / within, else `same direction, smaller`; an interval below 1 is `opposite`; one that
    contains 1 is `no effect`. claimed=None means the claim is that the variant is *slower*
    (ratio < 1): an interval below 1 reproduces it, one above 1 is `opposite`. A baseline that
    never grokked is censored at the budget, so no speedup can be measured.
    """
    if not math.isfinite(ratio):
        return NOT_RUN
    if baseline_grokked == 0:
        return INCONCLUSIVE
    faster, slower = lo > 1, hi < 1
    if claimed is None:
        return REPRODUCED if slower else OPPOSITE if faster else NO_EFFECT
    if faster:
        return REPRODUCED if ratio >= claimed / within else SMALLER
    return OPPOSITE if slower else NO_EFFECT


def claim_row(claim: dict, speedups: pd.DataFrame, within: float) -> dict:
    """One claim (config paper.claims entry) + the speedup table -> its claims-table row: the ratio
    in the claim's metric with its interval and verdict, and the same quantity in the other two
    units (UNITS: examples seen, steps, % of budget) beside it."""
    m = claim["metric"]
    family = next(f for f, units in UNITS.items() if m in units)
    sel = speedups[(speedups["study"] == claim["study"]) & (speedups["operation"] == claim["operation"])]
    var, base = sel[sel["cell"] == claim["variant"]], sel[sel["role"] == "baseline"]
    row = {"claim": claim["name"], "description": claim["description"], "study": claim["study"],
           "variant": claim["variant"], "operation": claim["operation"], "metric": m,
           "claimed": claim["claimed"] if claim["claimed"] is not None else math.nan}
    if var.empty or base.empty:
        return row | {"ratio": math.nan, "ratio_lo": math.nan, "ratio_hi": math.nan, "n_seeds": 0,
                      **{f"ratio_{u}": math.nan for u in UNIT_NAMES}, "baseline": math.nan,
                      "variant_value": math.nan, "grokked_fraction": math.nan, "baseline_grokked_fraction": math.nan,
                      "baseline_delay": math.nan, "baseline_delay_ratio": math.nan, "verdict": NOT_RUN}
    v, b = var.iloc[0], base.iloc[0]
    r, lo, hi = v[f"speedup_{m}"], v[f"speedup_{m}_lo"], v[f"speedup_{m}_hi"]
    return row | {"ratio": r, "ratio_lo": lo, "ratio_hi": hi, "n_seeds": int(v["n_seeds"]),
                  **{f"ratio_{u}": v[f"speedup_{col}"] for u, col in zip(UNIT_NAMES, UNITS[family])},
                  "baseline": b[m], "variant_value": v[m], "grokked_fraction": v["grokked_fraction"],
                  "baseline_grokked_fraction": b["grokked_fraction"],
                  # the baseline's median delay in steps (censored: speedup.censor) and delay / memorisation
                  "baseline_delay": b["delay_median"], "baseline_delay_ratio": b["delay_ratio_median"],
                  "verdict": verdict(r, lo, hi, claim["claimed"], within, b["grokked_fraction"])}


def copied_claim(claim: dict, name) -> dict:
    """The claim read from a copy of its study: `name` maps a study or cell name to the copy's
    (groklab.config.matrix: Rung.name, copy_name)."""
    return claim | {"study": name(claim["study"]), "variant": name(claim["variant"])}


def claims_table(claims: list[dict], speedups: pd.DataFrame, within: float, replicate: str | None = None,
                 seed_baseline: dict | None = None) -> pd.DataFrame:
    """One row per claim (claim_row) with the replicate's ratio and verdict (read from the copies
    labelled `replicate`, groklab.config.matrix.copy_name; None: not run), `verdict_primary`, the
    printed `verdict` (combined_verdict), and the seed's delay ratio (paper.seed_baseline)."""
    if speedups.empty:      # a matrix without studies: every claim is "not run"
        speedups = pd.DataFrame(columns=["study", "operation", "cell", "role"])
    rows = []
    for c in claims:
        row = claim_row(c, speedups, within)
        rep = (claim_row(copied_claim(c, lambda n: copy_name(n, replicate)), speedups, within) if replicate
               else {"ratio": math.nan, "ratio_lo": math.nan, "ratio_hi": math.nan, "verdict": NOT_RUN, "n_seeds": 0})
        rows.append(row | {"verdict_primary": row["verdict"], "verdict_replicate": rep["verdict"],
                           "ratio_replicate": rep["ratio"], "ratio_replicate_lo": rep["ratio_lo"],
                           "ratio_replicate_hi": rep["ratio_hi"], "n_seeds_replicate": rep["n_seeds"],
                           "verdict": combined_verdict(row["verdict"], rep["verdict"]),
                           "seed_delay_ratio": seed_delay_ratio(seed_baseline) if seed_baseline else math.nan})
    return pd.DataFrame(rows)


def _filled_default_claims(schema: dict) -> list[dict]:
    """paper.claims' default as validation leaves it (each claim's own defaults filled)."""
    props = schema["$defs"]["claim"]["properties"]
    defaults = {k: v["default"] for k, v in props.items() if "default" in v}
    return [defaults | c for c in schema["properties"]["paper"]["properties"]["claims"]["default"]]


def check_paper(paper: dict, studies: dict, cells: set[str], axes: list[str]) -> None:
    """The paper section against the matrix: a claim may name a study this matrix does not run
    (it is then 'not run'), but a study it does run must contain the variant; named cells and
    phase-diagram axes must exist. Raises ConfigError."""
    import difflib

    from groklab.config.cells import ConfigError, load_schema

    names = [c["name"] for c in paper["claims"]]
    # the default claims are the seed paper's, listed 'not run' in a matrix without their studies;
    # a claim written in the config must name one of its studies
    written = paper["claims"] != _filled_default_claims(load_schema())
    for i, c in enumerate(paper["claims"]):
        if c["name"] in names[:i]:
            raise ConfigError(f"paper.claims[{i}].name: '{c['name']}' is used by more than one claim")
        if written and c["study"] not in studies:
            close = difflib.get_close_matches(c["study"], list(studies), n=1, cutoff=0.6)
            raise ConfigError(f"paper.claims[{i}].study: no study named '{c['study']}'"
                              + (f" (did you mean '{close[0]}'?)" if close else "")
                              + f"; the config's studies: {', '.join(studies) or '(none)'}")
        if c["study"] in studies and c["variant"] not in studies[c["study"]]:
            raise ConfigError(f"paper.claims[{i}].variant: '{c['variant']}' is not a variant of study "
                              f"'{c['study']}' (its variants: {', '.join(studies[c['study']])})")
    diagram = paper.get("phase_diagram")
    for key, axis in (diagram or {}).items():
        if axis is not None and axis not in axes:
            raise ConfigError(f"paper.phase_diagram.{key}: '{axis}' is not a matrix axis (axes: {', '.join(axes) or 'none'})")
    seed = paper["seed_baseline"]
    if seed_memorisation_step(seed) <= 0:
        raise ConfigError(f"paper.seed_baseline.delay: {seed['delay']:g} steps is not below the grok step, "
                          f"grok_pct x budget = {seed_grok_step(seed):g}, so the seed baseline never memorised before it")
    for key in ("baseline", "progress_cell", "progress_division_cell"):
        if paper[key] is not None and paper[key] not in cells:
            raise ConfigError(f"paper.{key}: no cell named '{paper[key]}'; the matrix has {len(cells)} cells")
