"""Learning mechanics over the whole matrix (liu-108-tricks.txt's observe -> analyse loop):
which observables change before grokking (groklab.analysis.leadlag), and how well early observables
forecast the grok step (groklab.analysis.forecast)."""

from __future__ import annotations

import pandas as pd

from groklab.analysis.collect import cell_frames, cell_table, grokked_events, observable_definitions
from groklab.maps.features import feature_matrix
from groklab.analysis.forecast import CUTOFFS, evaluate_forecasts, feature_weights, features, fold_maps, hmm_fold_features, run_targets
from groklab.analysis.leadlag import rank_observables, run_changes

ALL = "all studies"


def observable_columns(obs: pd.DataFrame) -> list[str]:
    return [c for c in obs.columns if c not in ("cell", "seed", "step")]


def leadlag_tables(obs: pd.DataFrame, runs: pd.DataFrame, studies: dict[str, list[str]],
                   all_cells: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-run changes, ranking per study and over `all_cells`: by default every cell of every study)."""
    cols = observable_columns(obs)
    all_cells = sorted(all_cells or {c for cells in studies.values() for c in cells})
    changes = run_changes(obs, grokked_events(runs, all_cells), cols)
    rankings = [rank_observables(changes[changes["cell"].isin(cells)]).assign(study=name)
                for name, cells in [(ALL, all_cells), *studies.items()]]
    return changes, pd.concat(rankings, ignore_index=True)


def forecast_tables(obs: pd.DataFrame, metrics: pd.DataFrame, runs: pd.DataFrame, memorise_threshold: float,
                    hmm: dict | None = None, hmm_obs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cross-validated errors per cut-off, feature weights per cut-off) over every run.

    hmm: the hmm config with "K" (the matrix map's number of states) and hmm_obs (cell, seed, step
    and the map's features) add the state-occupancy feature set; without them it is left out."""
    cols, targets = observable_columns(obs), run_targets(runs)
    maps = fold_maps(hmm_obs, hmm, hmm["K"]) if hmm is not None and hmm_obs is not None and len(hmm_obs) else {}
    errors, weights = [], []
    for cutoff in CUTOFFS:
        table = features(obs, metrics, targets, cutoff, cols, memorise_threshold)
        folds = hmm_fold_features(hmm_obs, targets, cutoff, hmm["features"], maps) if maps else None
        errors.append(evaluate_forecasts(table, folds).assign(cutoff=cutoff))
        weights.append(feature_weights(table).assign(cutoff=cutoff))
    return pd.concat(errors, ignore_index=True), pd.concat(weights, ignore_index=True)


def load_inputs(observables: list[str], metrics: list[str], cells: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-cell files (results/runs/<id>/...) -> (observable definitions, metrics) with a cell column."""
    obs = observable_definitions(observables, cells)
    return obs, cell_table(metrics, cells)


def hmm_inputs(observables: list[str], cells: dict[str, str], features: list[str]) -> pd.DataFrame:
    """Per-cell observables.parquet -> (cell, seed, step, one column per HMM feature), raw values.
    A cell that records no observables is left out (its runs get no occupancy features: imputed)."""
    frames = [pd.concat([obs[["seed", "step"]], feature_matrix(obs, features)], axis=1).assign(cell=cell)
              for cell, obs in cell_frames(observables, cells).items() if len(obs.columns) > 2]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["cell", "seed", "step", *features])
