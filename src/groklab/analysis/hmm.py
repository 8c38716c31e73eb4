"""HMM training maps (Hu et al. 2024, "Latent State Models of Training Dynamics").

Each run (cell, seed) is a sequence of feature vectors, one per evaluation step, on one pooled
scale for all runs (hmm.normalise: pooled, the default, and always for the matrix map, which
groklab.maps.decode applies to runs while they train) or z-scored within each run (`run`, as Hu
et al.: that shifts a state's position by run whenever runs spend very different times in a
phase, and over-splits states; tests/test_hmm_recovery.py). A diagonal-covariance `hmmlearn.hmm.GaussianHMM` is fitted for K = 1..k_max
with seeded restarts; K is chosen by a rule (lowest BIC by default), states are put in a
canonical order, and each run gets a Viterbi path. From the paths: the training map
(states and the transitions that occur) and the detour table (does visiting a state go
with a later grok step?).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM
from scipy import stats

from groklab.analysis.events import run_events
from groklab.maps.decode import Scaler
from groklab.maps.features import MIN_STD, feature_matrix
from groklab.vocabulary import HMM_BOUNDARY

log = logging.getLogger("groklab.analysis.hmm")
# hmmlearn logs EM's rounding-size log-likelihood dips ("Model is not converging") and the zero
# transition rows that fit_one makes absorbing; truly_converged reports real non-convergence
logging.getLogger("hmmlearn").setLevel(logging.ERROR)


@dataclass
class Sequences:
    runs: pd.DataFrame          # one row per kept run: cell, seed, length
    X: list[np.ndarray]         # per run (T_r, D), z-scored within the run or by `scaler`
    steps: list[np.ndarray]     # per run (T_r,)
    features: list[str]
    dropped: pd.DataFrame       # cell, seed, reason
    scaler: Scaler | None = None   # pooled normalisation (None: within each run)


def build_sequences(obs: pd.DataFrame, features: list[str], normalise: str = "pooled",
                    scaler: Scaler | None = None) -> Sequences:
    """obs: observables rows with columns cell, seed, step and the observables of every run.

    normalise "run": z-score each run within itself; "pooled": one Scaler for all runs, fitted
    on them unless `scaler` is given (a held-out run put on a training map's scale)."""
    raw, steps, kept, dropped = [], [], [], []
    for (cell, seed), run in obs.sort_values("step").groupby(["cell", "seed"], sort=True):
        F = feature_matrix(run, features)
        rows = F.notna().all(axis=1).to_numpy()            # expensive-only columns leave NaN rows
        values = F.to_numpy(dtype=float)[rows]
        if not np.isfinite(values).all():
            dropped.append((cell, seed, "non-finite feature values (diverged run)"))
            continue
        if len(values) < 2:
            dropped.append((cell, seed, f"only {len(values)} observation(s)"))
            continue
        raw.append(values)
        steps.append(run["step"].to_numpy()[rows])
        kept.append((cell, seed, len(values)))
    for cell, seed, reason in dropped:
        log.warning("hmm: dropped run %s seed %s: %s", cell, seed, reason)
    if normalise == "pooled":
        scaler = scaler or (Scaler.fit(np.concatenate(raw)) if raw else None)
        X = [scaler.transform(v) for v in raw]
    else:
        X = [_zscore(v) for v in raw]
    return Sequences(pd.DataFrame(kept, columns=["cell", "seed", "length"]), X, steps, list(features),
                     pd.DataFrame(dropped, columns=["cell", "seed", "reason"]), scaler if normalise == "pooled" else None)


def _zscore(values: np.ndarray) -> np.ndarray:
    std = values.std(0)
    # a constant feature carries no information within the run: z-score to 0, not NaN
    return (values - values.mean(0)) / np.where(std < MIN_STD, 1.0, std)


def truly_converged(model: GaussianHMM, tol: float, n_iter: int) -> bool:
    """hmmlearn's `converged` is also True when EM merely hit n_iter: check the last gain."""
    h = model.monitor_.history
    return model.monitor_.iter < n_iter or (len(h) >= 2 and abs(h[-1] - h[-2]) < tol)


def fit_one(X: list[np.ndarray], K: int, seed: int, n_iter: int, tol: float) -> GaussianHMM:
    model = GaussianHMM(n_components=K, covariance_type="diag", n_iter=n_iter, tol=tol,
                        random_state=seed, min_covar=1e-3)
    with np.errstate(invalid="ignore", divide="ignore"):   # an emptied state: NaN, caught by fit_best
        model.fit(np.concatenate(X), [len(x) for x in X])
    # EM leaves a zero row for a state no sequence ever leaves (e.g. the last state of the runs
    # that end in it): that state is absorbing, not undefined
    stuck = model.transmat_.sum(1) == 0
    if stuck.any():
        model.transmat_ = np.where(stuck[:, None], np.eye(K), model.transmat_)
    return model


def fit_best(X, K, restarts, seed, n_iter, tol) -> tuple[GaussianHMM, int, float, list[dict]]:
    """Best of `restarts` seeded fits by training log-likelihood: (model, restart index, ll, and
    per restart {ll, converged, em_iterations})."""
    best, tried = None, []
    for r in range(restarts):
        try:
            model = fit_one(X, K, seed * 1000 + 97 * K + r, n_iter, tol)
            ll = model.score(np.concatenate(X), [len(x) for x in X])
        except ValueError:     # EM emptied a state (more states than the data has): NaN parameters
            tried.append({"ll": -np.inf, "converged": False, "em_iterations": n_iter})
            continue
        tried.append({"ll": float(ll), "converged": truly_converged(model, tol, n_iter),
                      "em_iterations": int(model.monitor_.iter)})
        if best is None or ll > best[2]:
            best = (model, r, ll)
    if best is None:
        raise ValueError(f"hmm: every EM restart at K = {K} emptied a state")
    return (*best, tried)


def select_k(seq: Sequences, cfg: dict) -> tuple[pd.DataFrame, int]:
    """The selection curve over K = 1..k_max and the chosen K."""
    n = len(seq.X)
    rng = np.random.default_rng(cfg["seed"])
    n_held = int(round(cfg["held_out_fraction"] * n)) if n > 1 else 0
    held = set(rng.permutation(n)[:n_held].tolist())
    train = [x for i, x in enumerate(seq.X) if i not in held]
    test = [x for i, x in enumerate(seq.X) if i in held]
    n_obs = sum(len(x) for x in train)
    rows = []
    for K in range(1, cfg["k_max"] + 1):
        if K > n_obs:
            break
        try:
            model, restart, ll, tried = fit_best(train, K, cfg["restarts"], cfg["seed"], cfg["n_iter"], cfg["tol"])
        except ValueError as exc:      # no K-state fit exists: neither does a larger one
            log.warning("%s; model selection stops at K = %d", exc, K - 1)
            break
        Xt, Lt = np.concatenate(train), [len(x) for x in train]
        held_ll = model.score(np.concatenate(test), [len(x) for x in test]) / sum(map(len, test)) if test else np.nan
        rows.append({"K": K, "train_ll": ll, "heldout_ll_per_obs": held_ll, "aic": model.aic(Xt, Lt),
                     "bic": model.bic(Xt, Lt), "best_restart": restart, "em_iterations": model.monitor_.iter,
                     "converged": truly_converged(model, cfg["tol"], cfg["n_iter"]),
                     # every restart of this K: did EM converge, in how many iterations
                     "restart_converged": [t["converged"] for t in tried],
                     "restart_em_iterations": [t["em_iterations"] for t in tried]})
    curve = pd.DataFrame(rows)
    if cfg["criterion"] == "heldout" and n_held:
        best = curve["heldout_ll_per_obs"].idxmax()
    else:   # with no held-out runs the held-out rule falls back to BIC
        best = curve["aic" if cfg["criterion"] == "aic" else "bic"].idxmin()
    K = int(curve.loc[best, "K"])
    # what each criterion alone would choose, and whether the choice sits at the top of the range
    curve["chosen"] = curve["K"] == K
    curve["bic_choice"] = int(curve.loc[curve["bic"].idxmin(), "K"])
    curve["heldout_choice"] = int(curve.loc[curve["heldout_ll_per_obs"].idxmax(), "K"]) if n_held else -1
    curve["boundary"] = curve["chosen"] & (curve["K"] == cfg["k_max"])
    curve["note"] = np.where(curve["boundary"], HMM_BOUNDARY, "")
    if K == cfg["k_max"]:
        log.warning("hmm: chose K = k_max = %d: %s", K, HMM_BOUNDARY)
    return curve, K





def canonical_order(model: GaussianHMM, paths: list[np.ndarray], features: list[str], order_by: str) -> np.ndarray:
    """Permutation old -> rank so labels do not depend on EM's arbitrary numbering."""
    K = model.n_components
    if order_by == "first_visit":
        key = []
        for k in range(K):
            firsts = [np.flatnonzero(p == k)[0] / max(len(p) - 1, 1) for p in paths if (p == k).any()]
            key.append(np.mean(firsts) if firsts else np.inf)
    else:
        key = list(model.means_[:, features.index(order_by)])
    order = np.lexsort((np.arange(K), np.asarray(key)))               # new index i holds old state order[i]
    return order


def permute(model: GaussianHMM, order: np.ndarray) -> GaussianHMM:
    """Relabel the states of a fitted model: new state i is old state order[i]."""
    model.startprob_ = model.startprob_[order]
    model.transmat_ = model.transmat_[np.ix_(order, order)]
    covars = model._covars_[order]
    model.means_ = model.means_[order]
    model._covars_ = covars
    return model


@dataclass
class StudyMap:
    selection: pd.DataFrame     # K, train_ll, heldout_ll_per_obs, aic, bic, best_restart, em_iterations, converged
    K: int
    model: GaussianHMM
    paths: pd.DataFrame         # cell, seed, step, state
    edges: pd.DataFrame         # source, target, probability, count (transitions that occur)
    states: pd.DataFrame        # state, occupancy, runs_visiting, first_visit_step, feature means
    dropped: pd.DataFrame
    converged: bool
    scaler: Scaler | None = None   # pooled normalisation (the matrix map), None: within each run


def fit_study(obs: pd.DataFrame, cfg: dict, normalise: str = "pooled") -> StudyMap:
    """Select K, refit on all runs, order states, decode every run, build the map."""
    seq = build_sequences(obs, cfg["features"], normalise)
    if not seq.X:
        raise ValueError("hmm: no usable run (every run dropped: " + "; ".join(seq.dropped["reason"]) + ")")
    curve, K = select_k(seq, cfg)
    model, paths, converged = fit_ordered(seq, K, cfg)
    path_df = pd.concat([pd.DataFrame({"cell": c, "seed": s, "step": st, "state": p})
                         for (c, s), st, p in zip(seq.runs[["cell", "seed"]].itertuples(index=False), seq.steps, paths)],
                        ignore_index=True)
    return StudyMap(curve, K, model, path_df, transition_edges(model, paths), state_table(model, paths, seq),
                    seq.dropped, converged, seq.scaler)


def fit_ordered(seq: Sequences, K: int, cfg: dict) -> tuple[GaussianHMM, list[np.ndarray], bool]:
    """K states fitted on every run of `seq` (best seeded restart), in canonical order, and each
    run's Viterbi path: (model, paths, converged)."""
    model, _, _, _ = fit_best(seq.X, K, cfg["restarts"], cfg["seed"], cfg["n_iter"], cfg["tol"])
    converged = truly_converged(model, cfg["tol"], cfg["n_iter"])
    if not converged:
        log.warning("hmm: K=%d fit did not converge within %d EM iterations", K, cfg["n_iter"])
    raw_paths = [model.predict(x) for x in seq.X]
    order = canonical_order(model, raw_paths, seq.features, cfg["order_by"])
    model = permute(model, order)
    relabel = np.argsort(order)                                        # old label -> new label
    return model, [relabel[p] for p in raw_paths], converged


def transition_edges(model: GaussianHMM, paths: list[np.ndarray]) -> pd.DataFrame:
    """Edges between different states that some Viterbi path actually takes, with the model's probability."""
    counts: dict[tuple[int, int], int] = {}
    for p in paths:
        for a, b in zip(p[:-1], p[1:]):
            if a != b:
                counts[(int(a), int(b))] = counts.get((int(a), int(b)), 0) + 1
    rows = [{"source": a, "target": b, "probability": float(model.transmat_[a, b]), "count": n}
            for (a, b), n in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["source", "target", "probability", "count"])


def state_table(model: GaussianHMM, paths: list[np.ndarray], seq: Sequences) -> pd.DataFrame:
    rows = []
    for k in range(model.n_components):
        visits = [st[np.flatnonzero(p == k)[0]] for p, st in zip(paths, seq.steps) if (p == k).any()]
        occ = np.mean([np.mean(p == k) for p in paths])
        row = {"state": k, "occupancy": occ, "runs_visiting": len(visits),
               "mean_first_visit_step": float(np.mean(visits)) if visits else np.nan,
               "self_transition": float(model.transmat_[k, k])}
        row |= {f"mean:{f}": float(model.means_[k, i]) for i, f in enumerate(seq.features)}
        rows.append(row)
    return pd.DataFrame(rows)


def detour_table(paths: pd.DataFrame, grok: pd.DataFrame, K: int, seed: int = 0, n_boot: int = 1000,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Per state: does visiting it (and the fraction of time in it) go with a later grok step?

    grok: cell, seed, grok_step, budget — never-grokked runs enter censored at their budget.
    Pearson correlation (with p-value) of grok step with the visit indicator and with the
    occupancy, and the least-squares line grok_step = intercept + slope * occupancy.

    A detour (Hu et al.) is a state off the main path: some runs visit it, not all, and those that
    do grok later. The test runs over K states, so the visit p-values are corrected
    (Benjamini-Hochberg, p_adj_visit), and r_visit gets a seeded percentile bootstrap interval over
    runs (r_lo, r_hi); `detour` is True where both agree: p_adj_visit < alpha and r_lo > 0. A state
    every run passes through is never a detour, however long some runs stay in it (a plateau
    that varies in length is the main path, not a branch).
    """
    g = grok.assign(grok_at=grok["grok_step"].fillna(grok["budget"]))
    occ = paths.groupby(["cell", "seed"])["state"].apply(lambda s: np.bincount(s, minlength=K) / len(s))
    df = pd.DataFrame(occ.tolist(), index=occ.index).reset_index().merge(g, on=["cell", "seed"])
    y = df["grok_at"].to_numpy(dtype=float)
    boot = np.random.default_rng(seed).integers(0, len(df), size=(n_boot, len(df)))   # resampled runs
    rows = []
    for k in range(K):
        x = df[k].to_numpy()
        visited = (x > 0).astype(float)
        row = {"state": k, "runs": len(df), "runs_visiting": int(visited.sum()), "mean_occupancy": float(x.mean())}
        row |= _assoc("visit", visited, y) | _assoc("occupancy", x, y) | _boot_interval(visited, y, boot)
        if np.ptp(x) > 0 and len(x) > 2:
            fit = stats.linregress(x, y)
            row |= {"slope": fit.slope, "intercept": fit.intercept, "r2": fit.rvalue**2}
        else:
            row |= {"slope": np.nan, "intercept": np.nan, "r2": np.nan}
        rows.append(row)
    table = pd.DataFrame(rows)
    p = table["p_visit"].to_numpy(dtype=float)
    adj = np.full(len(p), np.nan)
    if np.isfinite(p).any():
        adj[np.isfinite(p)] = stats.false_discovery_control(p[np.isfinite(p)], method="bh")
    table["p_adj_visit"] = adj
    table["detour"] = ((table["runs_visiting"] < table["runs"]) & (table["r_visit"] > 0)
                       & (table["p_adj_visit"] < alpha) & (table["r_lo"] > 0))
    return table


def _boot_interval(x: np.ndarray, y: np.ndarray, boot: np.ndarray, level: float = 0.95) -> dict:
    """Percentile bootstrap interval of Pearson r(x, y) over resampled runs (boot: (n_boot, n) indices;
    a resample where x or y is constant has no r and is left out)."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"r_lo": np.nan, "r_hi": np.nan}
    xb, yb = x[boot], y[boot]                                          # (n_boot, n)
    xc, yc = xb - xb.mean(1, keepdims=True), yb - yb.mean(1, keepdims=True)
    den = np.sqrt((xc**2).sum(1) * (yc**2).sum(1))
    r = np.where(den > 0, (xc * yc).sum(1) / np.where(den > 0, den, 1), np.nan)
    lo, hi = np.nanquantile(r, [(1 - level) / 2, (1 + level) / 2]) if np.isfinite(r).any() else (np.nan, np.nan)
    return {"r_lo": float(lo), "r_hi": float(hi)}


def run_detours(paths: pd.DataFrame, runs: pd.DataFrame, K: int, seed: int = 0) -> pd.DataFrame:
    """`detour_table` from runs.parquet rows (one per model and operation): each run's grok step is
    `groklab.analysis.events.run_grok_step`, so a multi-task run in which an operation never
    grokked enters censored at its budget. `seed`: the bootstrap's (the workflow passes hmm.seed)."""
    return detour_table(paths, run_events(runs)[["cell", "seed", "grok_step", "budget"]], K, seed=seed)


def detour_state(detours: pd.DataFrame) -> int | None:
    """The map's detour state: of the states detour_table calls detours (corrected p and bootstrap
    interval agree), the one whose visit goes with the latest grok steps (largest r_visit); None
    when no state qualifies."""
    hits = detours[detours["detour"]]
    return int(hits.loc[hits["r_visit"].idxmax(), "state"]) if len(hits) else None


def _assoc(name: str, x: np.ndarray, y: np.ndarray) -> dict:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {f"r_{name}": np.nan, f"p_{name}": np.nan}     # undefined: constant input
    r, p = stats.pearsonr(x, y)
    return {f"r_{name}": float(r), f"p_{name}": float(p)}


def model_record(sm: StudyMap, features: list[str]) -> dict:
    m = sm.model
    boundary = bool(sm.selection["boundary"].any())
    record = {"K": sm.K, "boundary": boundary, "k_max": int(sm.selection["K"].max()) if boundary else None,
              "features": features, "converged": sm.converged, "startprob": m.startprob_.tolist(),
              "transmat": m.transmat_.tolist(), "means": m.means_.tolist(), "covars": m._covars_.tolist(),
              "normalise": "run" if sm.scaler is None else "pooled"}
    return record | ({"scaler": sm.scaler.to_dict()} if sm.scaler is not None else {})
