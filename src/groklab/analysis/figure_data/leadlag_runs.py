"""The data of the leadlag-runs figure (drawn by groklab.paper.plots.leadlag_runs)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from groklab.analysis.collect import grokked_events, observable_definitions
from groklab.analysis.figure_data import frame
from groklab.analysis.mechanics import ALL


LEADLAG_TOP = 4          # observables drawn
LEADLAG_BINS = 60        # time bins per run


def compute(inputs, cells: dict[str, str]) -> pd.DataFrame:
    """The top lead-lag observables run by run: (kind, observable, row, x, value); kind "panel" one
    row per observable drawn, "edge" the time-bin edges (x), "grok" each grokked run's row (sorted
    by grok step) and grok step (x), "z" the observable z-scored within the run at each bin centre
    (NaN beyond the run's last eval or where it is constant). Without a grokked run only the panels."""
    ranking = pd.read_parquet(inputs.leadlag)
    top = ranking[ranking["study"] == ALL]["observable"].head(LEADLAG_TOP).tolist()
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values())).sort_values("grok_step")
    events = events.reset_index(drop=True)
    rows = [("panel", col, -1, math.nan, math.nan) for col in top]
    if top and not events.empty:
        edges = np.linspace(0, min(obs["step"].max(), 2 * events["grok_step"].max()), LEADLAG_BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        rows += [("edge", "", -1, float(e), math.nan) for e in edges]
        rows += [("grok", "", i, float(g), math.nan) for i, g in enumerate(events["grok_step"])]
        for col in top:
            for i, ev in enumerate(events.itertuples()):
                run = obs[(obs["cell"] == ev.cell) & (obs["seed"] == ev.seed)][["step", col]].dropna()
                z = np.full(len(centres), np.nan)
                if len(run) >= 2 and run[col].std() != 0:
                    zs = ((run[col] - run[col].mean()) / run[col].std()).to_numpy()
                    # interpolated between evals; blank beyond the run's last eval (it stopped early)
                    z = np.interp(centres, run["step"], zs, left=np.nan, right=np.nan)
                rows += [("z", col, i, float(x), float(v)) for x, v in zip(centres, z)]
    return frame(rows, ["kind", "observable", "row", "x", "value"])
