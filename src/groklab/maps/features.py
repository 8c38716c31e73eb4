"""The HMM's view of a run: observables rows -> the feature columns a training map is fitted on.
Shared by the online decoder in training and by map fitting in analysis."""

from __future__ import annotations

import pandas as pd

MIN_STD = 1e-8      # z-score floor: a feature constant over the data is left unscaled, not divided by ~0


def feature_sources(columns, feature: str) -> list[str]:
    """The observables columns a feature reads: itself if it is a column, else its sites `feature[...]`."""
    if feature in columns:
        return [feature]
    return [c for c in columns if c.startswith(feature + "[")]


def feature_matrix(obs: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Columns for `features`: a full column as is, a definition name as the mean over its sites."""
    out = {}
    for f in features:
        if f in obs.columns:
            out[f] = obs[f]
            continue
        sites = feature_sources(obs.columns, f)
        if not sites:
            raise KeyError(f"hmm.features: no observable column {f!r} (nor {f}[site]) in the observables")
        out[f] = obs[sites].mean(axis=1)
    return pd.DataFrame(out)
