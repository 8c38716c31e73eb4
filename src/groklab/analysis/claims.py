"""The claims table: each seed headline (8x SGD, 18x task diversity, 316x sparse init, 119x
division+multiplication, and the pairings that were slower) with our ratio, its interval and a
verdict computed from them."""

from __future__ import annotations

import math

import pandas as pd

from groklab.analysis.speedup import UNITS

UNIT_NAMES = ("examples", "steps", "pct")     # the order of each UNITS family

NOT_RUN = "not run"
REPRODUCED = "reproduced"
SMALLER = "same direction, smaller"
NO_EFFECT = "no effect"
OPPOSITE = "opposite"
INCONCLUSIVE = "inconclusive: the baseline never grokked"
VERDICTS = (REPRODUCED, SMALLER, NO_EFFECT, OPPOSITE)


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
                      "variant_value": math.nan, "grokked_fraction": math.nan, "verdict": NOT_RUN}
    v, b = var.iloc[0], base.iloc[0]
    r, lo, hi = v[f"speedup_{m}"], v[f"speedup_{m}_lo"], v[f"speedup_{m}_hi"]
    return row | {"ratio": r, "ratio_lo": lo, "ratio_hi": hi, "n_seeds": int(v["n_seeds"]),
                  **{f"ratio_{u}": v[f"speedup_{col}"] for u, col in zip(UNIT_NAMES, UNITS[family])},
                  "baseline": b[m], "variant_value": v[m], "grokked_fraction": v["grokked_fraction"],
                  "verdict": verdict(r, lo, hi, claim["claimed"], within, b["grokked_fraction"])}


def claims_table(claims: list[dict], speedups: pd.DataFrame, within: float) -> pd.DataFrame:
    if speedups.empty:      # a matrix without studies: every claim is "not run"
        speedups = pd.DataFrame(columns=["study", "operation", "cell", "role"])
    return pd.DataFrame([claim_row(c, speedups, within) for c in claims])


def check_paper(paper: dict, studies: dict, cells: set[str], axes: list[str]) -> None:
    """The paper section against the matrix: a claim may name a study this matrix does not run
    (it is then 'not run'), but a study it does run must contain the variant; named cells and
    phase-diagram axes must exist. Raises ConfigError."""
    from groklab.config.cells import ConfigError

    names = [c["name"] for c in paper["claims"]]
    for i, c in enumerate(paper["claims"]):
        if c["name"] in names[:i]:
            raise ConfigError(f"paper.claims[{i}].name: '{c['name']}' is used by more than one claim")
        if c["study"] in studies and c["variant"] not in studies[c["study"]]:
            raise ConfigError(f"paper.claims[{i}].variant: '{c['variant']}' is not a variant of study "
                              f"'{c['study']}' (its variants: {', '.join(studies[c['study']])})")
    diagram = paper.get("phase_diagram")
    for key, axis in (diagram or {}).items():
        if axis is not None and axis not in axes:
            raise ConfigError(f"paper.phase_diagram.{key}: '{axis}' is not a matrix axis (axes: {', '.join(axes) or 'none'})")
    for key in ("baseline", "progress_cell", "progress_division_cell"):
        if paper[key] is not None and paper[key] not in cells:
            raise ConfigError(f"paper.{key}: no cell named '{paper[key]}'; the matrix has {len(cells)} cells")
