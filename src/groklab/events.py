"""Grok events per model: memorisation step, grok step, delay, final accuracies."""

from __future__ import annotations

import numpy as np
import pandas as pd


def first_step(steps: np.ndarray, reached: np.ndarray) -> float:
    """First step where `reached` holds, NaN if never."""
    hit = np.flatnonzero(reached)
    return float(steps[hit[0]]) if len(hit) else float("nan")


def model_events(m: pd.DataFrame, budget: int, memorise_threshold: float, grok_threshold: float) -> dict:
    """m: one model's metrics rows sorted by step -> its events (steps and % of the budget)."""
    steps = m["step"].to_numpy()
    mem = first_step(steps, m["train_acc"].to_numpy() >= memorise_threshold)
    grok = first_step(steps, m["test_acc"].to_numpy() >= grok_threshold)
    last = m.iloc[-1]
    return {
        "budget": budget,
        "last_step": int(last["step"]),
        "memorisation_step": mem,
        "grok_step": grok,
        "delay": grok - mem,
        "memorisation_pct": 100 * mem / budget,
        "grok_pct": 100 * grok / budget,
        "delay_pct": 100 * (grok - mem) / budget,
        "grokked": bool(np.isfinite(grok)),
        "final_train_acc": float(last["train_acc"]),
        "final_test_acc": float(last["test_acc"]),
        "best_test_acc": float(m["test_acc"].max()),
    }


def cell_events(metrics: pd.DataFrame, config: dict) -> pd.DataFrame:
    """metrics.parquet of one cell + its resolved config -> one row of events per seed."""
    tr = config["training"]
    rows = []
    for seed, m in metrics.sort_values("step").groupby("seed", sort=True):
        ev = model_events(m, tr["steps"], tr["memorise_threshold"], tr["grok_threshold"])
        rows.append({"seed": int(seed), **ev})
    return pd.DataFrame(rows)
