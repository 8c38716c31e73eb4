"""Learning mechanics over the whole matrix (liu-108-tricks.txt's observe -> analyse loop):
which observables change before grokking (groklab.leadlag), and how well early observables
forecast the grok step (groklab.forecast)."""

from __future__ import annotations

import pandas as pd

from .collect import grokked_events, observable_definitions
from .forecast import CUTOFFS, evaluate_forecasts, feature_weights, features, run_targets
from .leadlag import rank_observables, run_changes

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


def forecast_tables(obs: pd.DataFrame, metrics: pd.DataFrame, runs: pd.DataFrame,
                    memorise_threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cross-validated errors per cut-off, feature weights per cut-off) over every run."""
    cols, targets = observable_columns(obs), run_targets(runs)
    errors, weights = [], []
    for cutoff in CUTOFFS:
        table = features(obs, metrics, targets, cutoff, cols, memorise_threshold)
        errors.append(evaluate_forecasts(table).assign(cutoff=cutoff))
        weights.append(feature_weights(table).assign(cutoff=cutoff))
    return pd.concat(errors, ignore_index=True), pd.concat(weights, ignore_index=True)


def load_inputs(observables: list[str], metrics: list[str], cells: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-cell files (results/runs/<id>/...) -> (observable definitions, metrics) with a cell column."""
    from pathlib import Path

    obs = observable_definitions(observables, cells)
    m = pd.concat([pd.read_parquet(p).assign(cell=cells[Path(p).parent.name]) for p in metrics], ignore_index=True)
    return obs, m
