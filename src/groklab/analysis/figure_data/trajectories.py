"""The data of the trajectories figure (drawn by groklab.paper.plots.trajectories)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from groklab.analysis.collect import grokked_events, observable_definitions
from groklab.analysis.leadlag import progress_table


TRAJECTORY_BINS = np.linspace(-0.5, 2.0, 51)


def compute(inputs, cells: dict[str, str], observables: list[str]) -> pd.DataFrame:
    """(observable, kind, cell, seed, bin, progress): kind "panel" one row per drawn observable
    (the ones recorded), "run" each grokked run's normalised progress per bin, "median" the median."""
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values()))
    cols = [c for c in observables if c in obs.columns]
    table = progress_table(obs, events, cols, TRAJECTORY_BINS)
    parts = [pd.DataFrame({"observable": cols, "kind": "panel", "cell": "", "seed": math.nan, "bin": math.nan,
                           "progress": math.nan})]
    if not table.empty:
        parts.append(table.assign(kind="run", seed=table["seed"].astype(float))[
            ["observable", "kind", "cell", "seed", "bin", "progress"]])
        med = table.groupby(["observable", "bin"], sort=False)["progress"].median().reset_index()
        parts.append(med.assign(kind="median", cell="", seed=math.nan))
    out = pd.concat(parts, ignore_index=True)[["observable", "kind", "cell", "seed", "bin", "progress"]]
    return out.astype({"observable": str, "kind": str, "cell": str, "seed": float, "bin": float, "progress": float})
