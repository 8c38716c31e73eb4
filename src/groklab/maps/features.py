"""The HMM's view of a run: observables rows -> the feature columns a training map is fitted on.
Shared by the online decoder in training and by map fitting in analysis."""

from __future__ import annotations

import pandas as pd

MIN_STD = 1e-8      # z-score floor: a feature constant over the data is left unscaled, not divided by ~0


def feature_matrix(obs: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Columns for `features`: a full column as is, a definition name as the mean over its sites."""
    out = {}
    for f in features:
        if f in obs.columns:
            out[f] = obs[f]
            continue
        sites = [c for c in obs.columns if c.startswith(f + "[")]
        if not sites:
            raise KeyError(f"hmm.features: no observable column {f!r} (nor {f}[site]) in the observables")
        out[f] = obs[sites].mean(axis=1)
    return pd.DataFrame(out)
