"""The calibration table: per cell of a sweep (config/calibration.yaml), its grok events over
seeds and whether its division baseline meets issue #20's criteria for a regime in which the
seed's speedups could show:

* at least CRITERIA["min_seeds"] seeds, and every one of them groks;
* sharp: the rise from RISE_FROM test accuracy to the grok threshold takes at most
  CRITERIA["max_transition"] of the delay (`transition_fraction`, median over seeds);
* a long delay: at least CRITERIA["min_delay_ratio"] times the memorisation step (median);
* the grok lands inside the budget's CRITERIA["grok_pct"] window (median % of budget).

Medians, so one seed cannot carry a cell; the table prints the ranges beside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.analysis.events import RISE_FROM

CRITERIA = {"min_seeds": 5, "max_transition": 0.25, "min_delay_ratio": 20.0, "grok_pct": (40.0, 90.0)}


def _range(values: pd.Series, digits: int = 0) -> str:
    v = values.dropna()
    return "-" if v.empty else f"{v.min():.{digits}f}-{v.max():.{digits}f}"


def cell_row(runs: pd.DataFrame) -> dict:
    """One (cell, operation)'s rows of runs.parquet -> its calibration row."""
    lo, hi = CRITERIA["grok_pct"]
    seeds, grokked = len(runs), int(runs["grokked"].sum())
    row = {"seeds": seeds, "grokked": grokked,
           "memorised": float(runs["memorisation_step"].median()),
           "grok_step": float(runs["grok_step"].median()), "grok_range": _range(runs["grok_step"]),
           "delay_ratio": float(runs["delay_ratio"].median()), "delay_ratio_range": _range(runs["delay_ratio"], 1),
           "transition": float(runs["transition_fraction"].median()),
           "transition_range": _range(runs["transition_fraction"], 2),
           "grok_pct": float(runs["grok_pct"].median()), "grok_pct_range": _range(runs["grok_pct"]),
           "budget": int(runs["budget"].iloc[0]), "final_test_acc": float(runs["final_test_acc"].median())}
    every = seeds >= CRITERIA["min_seeds"] and grokked == seeds
    # a seed that never grokked has NaN events: the medians are then over the seeds that did,
    # and the cell fails on `every` anyway
    checks = {"all_grok": every,
              "sharp": bool(row["transition"] <= CRITERIA["max_transition"]),
              "long_delay": bool(row["delay_ratio"] >= CRITERIA["min_delay_ratio"]),
              "in_budget": bool(lo <= row["grok_pct"] <= hi)}
    return row | checks | {"meets_all": all(checks.values())}


def calibration_table(runs: pd.DataFrame) -> pd.DataFrame:
    """runs.parquet (or `summarise_runs`) -> one row per (cell, operation), cells in name order."""
    rows = [{"cell": cell, "operation": op, **cell_row(g)}
            for (cell, op), g in runs.groupby(["cell", "operation"], sort=True)]
    return pd.DataFrame(rows)


def criteria_text() -> str:
    """The criteria in words, for the header of config/calibration-results.md."""
    lo, hi = CRITERIA["grok_pct"]
    return (f"Criteria (groklab.analysis.calibration.CRITERIA): at least {CRITERIA['min_seeds']} seeds and every "
            f"seed groks (all_grok); sharp: the rise from {RISE_FROM:.0%} test accuracy to the grok threshold "
            f"takes at most {CRITERIA['max_transition']:.0%} of the delay (transition, median over seeds); "
            f"the delay is at least {CRITERIA['min_delay_ratio']:.0f}x the memorisation step (delay_ratio, "
            f"median); the grok lands at {lo:.0f}-{hi:.0f}% of the budget (grok_pct, median). "
            f"Steps are medians over seeds, ranges over the seeds that grokked.")


def chosen(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that meet every criterion."""
    return table[table["meets_all"].astype(bool)] if len(table) else table


def as_markdown(table: pd.DataFrame) -> str:
    shown = table.copy()
    for col in ("all_grok", "sharp", "long_delay", "in_budget", "meets_all"):
        shown[col] = np.where(shown[col].astype(bool), "yes", "no")
    return shown.round(3).to_markdown(index=False)
