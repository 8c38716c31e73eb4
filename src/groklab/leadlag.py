"""Which observables move before grokking: each run's trajectory between memorisation and its
grok step, on a normalised clock.

Normalised time: tau = (step - memorisation) / (grok - memorisation), so 0 is memorisation
and 1 the grok step in every run. Normalised progress of an observable: its smoothed value
(rolling median over `window` evals) rescaled so that 0 is its value at memorisation and 1
its value at the grok step. Its *half time* is the first tau where the progress reaches 0.5:
an observable with a small half time has done most of its change well before the model
generalises.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW = 5


def smoothed(values: np.ndarray, window: int = WINDOW) -> np.ndarray:
    return pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()


def normalised_progress(steps: np.ndarray, values: np.ndarray, mem: float, grok: float) -> tuple[np.ndarray, np.ndarray]:
    """One run's observable (steps sorted) -> (tau, progress); empty when it does not change."""
    ok = np.isfinite(values)
    steps, v = steps[ok], smoothed(values[ok])
    if len(v) < 2 or not grok > mem:
        return np.array([]), np.array([])
    at = lambda s: np.interp(s, steps, v)   # noqa: E731
    span = at(grok) - at(mem)
    if abs(span) < 1e-12 * max(1.0, abs(at(mem))):
        return np.array([]), np.array([])
    return (steps - mem) / (grok - mem), (v - at(mem)) / span


def half_time(tau: np.ndarray, progress: np.ndarray) -> float:
    """First normalised time (>= 0) at which the progress reaches 0.5; NaN if never."""
    hit = np.flatnonzero((tau >= 0) & (progress >= 0.5))
    return float(tau[hit[0]]) if len(hit) else float("nan")


def progress_table(obs: pd.DataFrame, events: pd.DataFrame, columns: list[str], bins: np.ndarray) -> pd.DataFrame:
    """obs: observables rows (cell, seed, step, columns); events: (cell, seed, memorisation_step,
    grok_step) of grokked runs -> long table (observable, cell, seed, bin, progress, half_time)."""
    rows = []
    for ev in events.itertuples():
        run = obs[(obs["cell"] == ev.cell) & (obs["seed"] == ev.seed)].sort_values("step")
        for col in columns:
            tau, prog = normalised_progress(run["step"].to_numpy(), run[col].to_numpy(float),
                                            ev.memorisation_step, ev.grok_step)
            if not len(tau):
                continue
            ht = half_time(tau, prog)
            binned = np.interp(bins, tau, prog, left=np.nan, right=np.nan)
            rows += [(col, ev.cell, ev.seed, b, p, ht) for b, p in zip(bins, binned)]
    return pd.DataFrame(rows, columns=["observable", "cell", "seed", "bin", "progress", "half_time"])
