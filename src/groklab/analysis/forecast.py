"""Forecast the grok step from early training: features of the observables up to a cut-off
(a fraction of the budget), scikit-learn models, leave-one-cell-out cross-validation.

Targets per run (cell, seed): log10 of the grok step (runs that grokked; a multi-task run's
last operation) and whether the run groks within its budget. Feature sets: "observables"
(each observable definition's value at the cut-off and its slope over the second half of
the window), "train_accuracy" (train accuracy and loss at the cut-off, the memorisation
step or the cut-off if not yet memorised) and "hmm_occupancy" (the fraction of the run up to
the cut-off spent in each state of a training map, and the state at the cut-off; the map is
refitted in every fold without the held-out cell, see `fold_maps`). Baseline "median": the
training folds' median.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from groklab.analysis.events import run_events
from groklab.analysis.hmm import build_sequences, fit_ordered
from groklab.maps.decode import Scaler, prefix_occupancy

CUTOFFS = (0.1, 0.2, 0.3)
HMM = "hmm:"       # prefix of the state-occupancy feature columns


def run_targets(runs: pd.DataFrame) -> pd.DataFrame:
    """runs.parquet -> (cell, seed, budget, grokked, log_grok) per run (all operations grokked;
    the run's grok step is `groklab.analysis.events.run_grok_step`)."""
    g = run_events(runs)
    return g[["cell", "seed", "budget", "grokked"]].assign(log_grok=np.log10(g["grok_step"]))


def _window_features(window: pd.DataFrame, columns: list[str]) -> dict:
    last = window.iloc[-1]
    half = window[window["step"] >= window["step"].iloc[-1] / 2]
    out = {}
    for col in columns:
        out[f"{col}@cut"] = last[col]
        y = half[col].to_numpy(float)
        ok = np.isfinite(y)
        out[f"{col}/slope"] = np.polyfit(half["step"].to_numpy(float)[ok], y[ok], 1)[0] if ok.sum() >= 2 else np.nan
    return out


def features(obs: pd.DataFrame, metrics: pd.DataFrame, targets: pd.DataFrame, cutoff: float,
             columns: list[str], memorise_threshold: float) -> pd.DataFrame:
    """One row per run: identifiers, targets, observable features and train-accuracy features."""
    rows = []
    for t in targets.itertuples():
        limit = cutoff * t.budget
        o = obs[(obs["cell"] == t.cell) & (obs["seed"] == t.seed) & (obs["step"] <= limit)].sort_values("step")
        m = metrics[(metrics["cell"] == t.cell) & (metrics["seed"] == t.seed) & (metrics["step"] <= limit)]
        m = m.sort_values("step")
        if o.empty or m.empty:
            continue
        mem = m.loc[m["train_acc"] >= memorise_threshold, "step"]
        rows.append({"cell": t.cell, "seed": t.seed, "grokked": t.grokked, "log_grok": t.log_grok,
                     **_window_features(o, columns),
                     "acc:train_acc@cut": m["train_acc"].iloc[-1], "acc:train_loss@cut": np.log10(m["train_loss"].iloc[-1] + 1e-12),
                     "acc:memorised_by": (mem.iloc[0] if len(mem) else limit) / t.budget})
    return pd.DataFrame(rows)


def observable_columns(table: pd.DataFrame) -> list[str]:
    """Observable features defined for every run (an observable some cells lack, e.g. attention in
    an MLP, would otherwise be imputed and extrapolated from)."""
    return [c for c in table.columns if ("@cut" in c or "/slope" in c) and not c.startswith("acc:")
            and table[c].notna().all() and np.isfinite(table[c].to_numpy(float)).all()]


# keep_empty_features: an all-NaN column (an observable this task never defines) stays, as 0,
# so coefficients line up with the feature names
def _regressor():
    return make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 13)))


def _classifier():
    return make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler(),
                         LogisticRegression(C=0.5, max_iter=2000))


def _cross_validate(X_of, y: np.ndarray, groups: np.ndarray, make, kind: str) -> np.ndarray:
    """Leave-one-cell-out predictions; X_of(held-out cell) -> X (rows of y) for that fold. A fold
    whose training labels are all one class (or too few rows) falls back to the training folds'
    median / majority."""
    pred = np.full(len(y), np.nan)
    for train, test in LeaveOneGroupOut().split(y, y, groups):
        X = X_of(groups[test[0]])
        one_class = kind == "classify" and len(np.unique(y[train])) < 2
        model = make() if len(train) >= 4 and not one_class else (
            DummyClassifier(strategy="most_frequent") if kind == "classify" else DummyRegressor(strategy="median"))
        pred[test] = model.fit(X[train], y[train]).predict(X[test])
        if kind == "regress":   # no forecast outside the grok steps seen in training
            pred[test] = np.clip(pred[test], y[train].min(), y[train].max())
    return pred


ERROR_COLUMNS = ["features", "target", "metric", "value", "runs", "cells"]


def evaluate_forecasts(table: pd.DataFrame, hmm_folds: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Cross-validated error of each feature set and the median baseline, for both targets
    (a target with fewer than 3 runs or 2 cells is left out). hmm_folds: held-out cell -> the
    hmm: features of every run under the map fitted without that cell (`hmm_fold_features`)."""
    if table.empty:
        return pd.DataFrame(columns=ERROR_COLUMNS)
    sets = {"observables": observable_columns(table), "train_accuracy": [c for c in table.columns if c.startswith("acc:")]}
    if hmm_folds:
        sets["hmm_occupancy"] = sorted({c for f in hmm_folds.values() for c in f.columns if c.startswith(HMM)})
    out = []
    reg = table[table["grokked"]]
    for name, cols in [("median", []), *sets.items()]:
        for kind, data, target in (("regress", reg, "log_grok"), ("classify", table, "grokked")):
            if len(data) < 3 or data["cell"].nunique() < 2:
                continue
            y = data[target].to_numpy(float if kind == "regress" else int)
            make = (_regressor if kind == "regress" else _classifier) if cols else (
                (lambda: DummyRegressor(strategy="median")) if kind == "regress" else (lambda: DummyClassifier(strategy="most_frequent")))
            pred = _cross_validate(_fold_matrix(data, name, cols, hmm_folds), y, data["cell"].to_numpy(), make, kind)
            err = np.abs(pred - y).mean() if kind == "regress" else (pred == y).mean()
            out.append({"features": name, "target": target, "metric": "mae_log10" if kind == "regress" else "accuracy",
                        "value": float(err), "runs": len(data), "cells": int(data["cell"].nunique())})
    return pd.DataFrame(out, columns=ERROR_COLUMNS)


def _fold_matrix(data: pd.DataFrame, name: str, cols: list[str], hmm_folds):
    """X_of(held-out cell) for one feature set: the same matrix in every fold, except the HMM
    occupancy, which each fold reads off its own map (a run without features gets NaN: imputed)."""
    if not cols:
        X = np.zeros((len(data), 1))
        return lambda held: X
    if name != "hmm_occupancy":
        X = data[cols].to_numpy(float)
        return lambda held: X
    keys = data[["cell", "seed"]]

    def X_of(held):
        fold = hmm_folds.get(held, pd.DataFrame(columns=["cell", "seed", *cols]))
        return keys.merge(fold, on=["cell", "seed"], how="left").reindex(columns=cols).to_numpy(float)

    return X_of


def fold_maps(hmm_obs: pd.DataFrame, cfg: dict, K: int) -> dict[str, tuple]:
    """Per cell: the K-state training map (pooled normalisation) fitted on every other cell's runs,
    as (GaussianHMM, Scaler). hmm_obs: cell, seed, step and the map's features (raw values)."""
    out = {}
    for held in sorted(hmm_obs["cell"].unique()):
        seq = build_sequences(hmm_obs[hmm_obs["cell"] != held], cfg["features"], "pooled")
        n_obs = sum(len(x) for x in seq.X)
        if n_obs >= K:
            model, _, _ = fit_ordered(seq, K, cfg)
            out[held] = (model, seq.scaler)
    return out


def hmm_fold_features(hmm_obs: pd.DataFrame, targets: pd.DataFrame, cutoff: float, features: list[str],
                      maps: dict[str, tuple]) -> dict[str, pd.DataFrame]:
    """Per fold (held-out cell): every run's occupancy of each state up to the cut-off and its state
    at the cut-off (`hmm_decode.prefix_occupancy`), decoded from the prefix alone."""
    budget = targets.set_index(["cell", "seed"])["budget"]
    prefixes = {}
    for (cell, seed), run in hmm_obs.sort_values("step").groupby(["cell", "seed"]):
        if (cell, seed) in budget.index:
            values = run.loc[run["step"] <= cutoff * budget[(cell, seed)], features].to_numpy(float)
            prefixes[(cell, seed)] = values[~np.isnan(values).any(1)]        # expensive-only rows: not observed
    out = {}
    for held, (model, scaler) in maps.items():
        K = model.n_components
        names = [f"{HMM}occupancy/{k}" for k in range(K)] + [f"{HMM}state_at_cut/{k}" for k in range(K)]
        rows = [{"cell": c, "seed": s, **dict(zip(names, _occupancy(model, scaler, v)))} for (c, s), v in prefixes.items()]
        out[held] = pd.DataFrame(rows, columns=["cell", "seed", *names])
    return out


def _occupancy(model, scaler: Scaler, values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():            # a diverged prefix has no place on the map
        return np.full(2 * model.n_components, np.nan)
    return prefix_occupancy(model, scaler.transform(values))


def feature_weights(table: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The regression's standardised coefficients (fit on every grokked run): largest |weight| first."""
    if table.empty:
        return pd.DataFrame(columns=["feature", "weight"])
    cols = observable_columns(table)
    data = table[table["grokked"]]
    if len(data) < 4 or not cols:
        return pd.DataFrame(columns=["feature", "weight"])
    model = _regressor().fit(data[cols].to_numpy(float), data["log_grok"].to_numpy(float))
    w = pd.DataFrame({"feature": cols, "weight": model[-1].coef_})
    return w.reindex(w["weight"].abs().sort_values(ascending=False).index).head(top).reset_index(drop=True)
