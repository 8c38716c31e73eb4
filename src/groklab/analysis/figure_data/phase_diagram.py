"""The data of the phase-diagram figure (drawn by groklab.paper.plots.phase_diagram)."""

from __future__ import annotations

import pandas as pd

from groklab.analysis.speedup import censor


def compute(inputs, axes: dict, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Per cell: (cell, grok, grokked, x, y, facet): mean steps to grok over seeds with never-grokked
    seeds censored at the budget, whether any seed grokked, and the cell's value label on each axis
    of paper.phase_diagram (`labels`: cell name -> Cell.labels; facet "" without a facet axis)."""
    runs = censor(pd.read_parquet(inputs.runs))
    per_cell = runs.groupby("cell").agg(grok=("grok_step_c", "mean"), grokked=("grokked", "any")).reset_index()
    for key in ("x", "y", "facet"):
        axis = axes.get(key)
        per_cell[key] = per_cell["cell"].map(lambda c: labels[c][axis]) if axis else ""
    per_cell["grokked"] = per_cell["grokked"].astype(bool)
    return per_cell[["cell", "grok", "grokked", "x", "y", "facet"]]
