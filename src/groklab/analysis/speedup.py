"""Speedup tables: per study, each variant's grok step and delay against the baseline's.

Runs that never grokked are *censored at the budget*, not dropped: their grok step counts as
the budget (a lower bound), so a variant that fails to grok can only look slower, never
faster. The delay (grok step - memorisation step) is floored at one eval interval, the
measurement resolution, so a ratio never divides by zero. Ratios are baseline / variant
(above 1 = the variant groks sooner) in three units: examples of that operation seen (steps
times its examples per step: the whole training set for full batch, its share of the batch for
minibatch), raw steps, and % of each cell's budget. Examples seen is the fair unit: with a
minibatch shared by N tasks and the budget scaled by N it equals the seed's % of budget; with
full batch it equals steps, where scaling the budget by N would shrink % of budget N-fold with
no real speedup (groklab.training.packs.check_step_scaling refuses that). Each (study, variant,
operation) row is computed by `speedup_row` alone, with its own seeded bootstrap stream, so an audit can recompute one number from its inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.seeding import derive_seed
from groklab.analysis.events import delay_ratio
from groklab.analysis.stats import mean_ci, ratio_ci

# the censored quantities: in examples of the operation seen (the fair unit across batch modes and
# task counts), in steps and in % of the cell's budget
METRICS = ("grok_examples", "grok_step", "grok_pct", "delay_examples", "delay", "delay_pct")
# each metric's family in the three units (a claim names one; its table shows all three)
UNITS = {"grok": ("grok_examples", "grok_step", "grok_pct"), "delay": ("delay_examples", "delay", "delay_pct")}


def censor(runs: pd.DataFrame) -> pd.DataFrame:
    """runs.parquet rows + censored columns (`<metric>_c`) and the `censored` flag."""
    out = runs.copy()
    grok = out["grok_step"].where(out["grokked"], out["budget"].astype(float))
    delay = np.maximum(grok - out["memorisation_step"], out["eval_every"])   # NaN if never memorised
    out["grok_step_c"], out["delay_c"] = grok, delay
    out["grok_pct_c"] = 100 * grok / out["budget"]
    out["delay_pct_c"] = 100 * delay / out["budget"]
    out["grok_examples_c"] = grok * out["examples_per_step"]
    out["delay_examples_c"] = delay * out["examples_per_step"]
    out["censored"] = ~out["grokked"]
    return out


def cell_stats(rows: pd.DataFrame, confidence: float, n_boot: int, rng: np.random.Generator) -> dict:
    """One cell and operation (one row per seed, censored) -> summary across seeds."""
    out = {"n_seeds": len(rows), "grokked_fraction": rows["grokked"].mean(),
           "stable_fraction": rows["stable"].mean(), "diverged_fraction": rows["diverged"].mean(),
           "memorisation_step": rows["memorisation_step"].mean(), "budget": int(rows["budget"].iloc[0]),
           "final_test_acc": rows["final_test_acc"].mean(),
           # fraction of seeds where an intervention rule fired (NaN: no rules in this cell)
           "intervention_fired_fraction": rows["intervention_fired"].mean() if "intervention_fired" in rows else np.nan}
    for m in METRICS:
        mean, lo, hi = mean_ci(rows[f"{m}_c"], confidence, n_boot, rng)
        out |= {m: mean, f"{m}_lo": lo, f"{m}_hi": hi, f"{m}_median": rows[f"{m}_c"].median()}
    # how long the model waited compared with how long it took to memorise (the seed's baseline: ~166)
    # (events.delay_ratio, on the delay censored as `censor` does)
    out["delay_ratio_median"] = pd.Series(delay_ratio(rows["delay_c"], rows["memorisation_step"])).median()
    return out


def speedup_row(base: pd.DataFrame, variant: pd.DataFrame, key: tuple, confidence: float,
                n_boot: int, seed: int) -> dict:
    """Baseline rows and variant rows of one operation (censored) -> stats and speedup ratios.

    key (study, variant, operation) names the row's own bootstrap stream.
    """
    rng = np.random.default_rng(derive_seed(seed, "bootstrap", *key))
    out = cell_stats(variant, confidence, n_boot, rng)
    for m in METRICS:
        if len(base):
            r, lo, hi = ratio_ci(base[f"{m}_c"], variant[f"{m}_c"], confidence, n_boot, rng)
        else:   # an operation the baseline does not train: no reference
            r = lo = hi = np.nan
        out |= {f"speedup_{m}": r, f"speedup_{m}_lo": lo, f"speedup_{m}_hi": hi}
    return out


def study_table(runs: pd.DataFrame, study: str, baseline: str, variants: list[str], *, confidence: float,
                n_boot: int, seed: int) -> pd.DataFrame:
    """runs.parquet rows (any cells) -> one row per (cell, operation) of the study, baseline first."""
    runs = censor(runs)
    rows = []
    for role, cell in [("baseline", baseline)] + [("variant", v) for v in variants]:
        cell_rows = runs[runs["cell"] == cell]
        for op, var in cell_rows.groupby("operation", sort=True):
            base = runs[(runs["cell"] == baseline) & (runs["operation"] == op)]
            stats = speedup_row(base, var, (study, cell, op), confidence, n_boot, seed)
            rows.append({"study": study, "role": role, "cell": cell, "operation": op, **stats})
    return pd.DataFrame(rows)


def speedup_tables(runs: pd.DataFrame, studies: dict[str, tuple[str, list[str]]], paper: dict) -> pd.DataFrame:
    """Every study (name -> (baseline, variants)) -> the concatenated speedup table."""
    frames = [study_table(runs, name, b, v, confidence=paper["confidence"], n_boot=paper["bootstrap"],
                          seed=paper["bootstrap_seed"]) for name, (b, v) in studies.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
