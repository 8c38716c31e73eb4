"""The data of the hmm-selection figure (drawn by groklab.paper.plots.hmm_selection)."""

from __future__ import annotations

import json

import pandas as pd


def compute(inputs) -> pd.DataFrame:
    """The model-selection curve (K, bic, aic, heldout_ll_per_obs) with the chosen K (chosen_k) and
    whether that choice sits at k_max (boundary, on every row)."""
    sel = pd.read_parquet(inputs.selection)
    chosen_k = json.load(open(inputs.map))["K"]
    boundary = bool(sel["boundary"].any()) if "boundary" in sel else False
    return (sel[["K", "bic", "aic", "heldout_ll_per_obs"]].assign(chosen_k=chosen_k, boundary=boundary)
            .reset_index(drop=True))
