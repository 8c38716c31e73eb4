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


def change_point(steps: np.ndarray, values: np.ndarray) -> tuple[float, float, float]:
    """The single change point of a two-segment piecewise-constant least-squares fit to the
    smoothed series: (step, signed shift after - before, effect size |shift| / pooled std).

    The split is the one that minimises the within-segment sum of squares (both segments at
    least 3 evals); computed in O(T) from cumulative sums.
    """
    ok = np.isfinite(values)
    steps, v = steps[ok], smoothed(values[ok])
    n = len(v)
    if n < 6 or np.ptp(v) == 0:
        return (np.nan, np.nan, np.nan)
    c1, c2 = np.cumsum(v), np.cumsum(v * v)
    k = np.arange(3, n - 2)                       # first index of the second segment
    sse_left = c2[k - 1] - c1[k - 1] ** 2 / k
    right_sum, right_sq = c1[-1] - c1[k - 1], c2[-1] - c2[k - 1]
    sse_right = right_sq - right_sum ** 2 / (n - k)
    best = int(k[np.argmin(sse_left + sse_right)])
    before, after = v[:best], v[best:]
    pooled = np.sqrt((before.var() * len(before) + after.var() * len(after)) / n)
    shift = after.mean() - before.mean()
    return (float(steps[best]), float(shift), float(abs(shift) / pooled) if pooled > 0 else np.inf)


def run_changes(obs: pd.DataFrame, events: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per (run, observable): change step after memorisation, lead = grok step - change step
    (positive: the observable moved first), the shift's sign and effect size.

    obs: (cell, seed, step, columns); events: (cell, seed, memorisation_step, grok_step)."""
    rows = []
    for ev in events.itertuples():
        run = obs[(obs["cell"] == ev.cell) & (obs["seed"] == ev.seed) & (obs["step"] >= ev.memorisation_step)]
        run = run.sort_values("step")
        for col in columns:
            step, shift, effect = change_point(run["step"].to_numpy(), run[col].to_numpy(float))
            rows.append({"cell": ev.cell, "seed": ev.seed, "observable": col, "change_step": step,
                         "lead": ev.grok_step - step, "lead_fraction": (ev.grok_step - step) / (ev.grok_step - ev.memorisation_step),
                         "sign": np.sign(shift), "effect_size": effect})
    return pd.DataFrame(rows, columns=["cell", "seed", "observable", "change_step", "lead", "lead_fraction", "sign",
                                       "effect_size"])


def rank_observables(changes: pd.DataFrame) -> pd.DataFrame:
    """Per observable across runs: median lead (steps and as a fraction of the delay), fraction of
    runs where it leads, consistency of the shift's sign, median effect size. Best leaders first:
    observables measured in at least half as many runs as the best-covered one (a task-specific
    observable seen in 2 runs cannot top the table), then most often leading, then longest lead."""
    c = changes.dropna(subset=["change_step"])
    if c.empty:
        return pd.DataFrame(columns=["observable", "runs", "median_lead", "median_lead_fraction", "leads_fraction",
                                     "sign_consistency", "median_effect_size"])
    g = c.groupby("observable")
    table = pd.DataFrame({
        "runs": g.size(), "median_lead": g["lead"].median(), "median_lead_fraction": g["lead_fraction"].median(),
        "leads_fraction": g["lead"].apply(lambda s: float((s > 0).mean())),
        "sign_consistency": g["sign"].apply(lambda s: float(max((s > 0).mean(), (s < 0).mean()))),
        "median_effect_size": g["effect_size"].median()}).reset_index()
    table["covered"] = table["runs"] >= table["runs"].max() / 2
    table = table.sort_values(["covered", "leads_fraction", "median_lead"], ascending=False, ignore_index=True)
    return table.drop(columns="covered")
