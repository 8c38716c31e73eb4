"""The data of the lead-heatmap figure (drawn by groklab.paper.plots.lead_heatmap)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.analysis.collect import grokked_events, observable_definitions
from groklab.analysis.leadlag import progress_table


LEAD_HEATMAP_BINS = np.linspace(0.0, 1.5, 31)


def compute(inputs, cells: dict[str, str], max_rows: int = 40) -> pd.DataFrame:
    """(observable, rank, bin, progress): the median normalised progress per bin of the `max_rows`
    observables that change first (rank 0 = smallest median half time). Empty: no grokked run."""
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values()))
    cols = [c for c in obs.columns if c not in ("cell", "seed", "step")]
    table = progress_table(obs, events, cols, LEAD_HEATMAP_BINS)
    if table.empty:
        return pd.DataFrame({"observable": pd.Series(dtype=str), "rank": pd.Series(dtype=int),
                             "bin": pd.Series(dtype=float), "progress": pd.Series(dtype=float)})
    order = table.groupby("observable")["half_time"].median().sort_values().index[:max_rows]
    heat = table.groupby(["observable", "bin"])["progress"].median().reset_index()
    rank = {name: i for i, name in enumerate(order)}
    heat = heat[heat["observable"].isin(rank)].assign(rank=lambda d: d["observable"].map(rank))
    return heat.sort_values(["rank", "bin"])[["observable", "rank", "bin", "progress"]].reset_index(drop=True)
