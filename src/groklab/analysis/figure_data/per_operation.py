"""The data of the per-operation figure (drawn by groklab.paper.plots.per_operation)."""

from __future__ import annotations

import math

import pandas as pd

from groklab.analysis.collect import cell_frames
from groklab.analysis.figure_data import frame


def compute(inputs, cells: dict[str, str]) -> pd.DataFrame:
    """(cell, operation, kind, step, value): kind "mean" the test accuracy per operation (mean over
    seeds), "grok" the operation's mean grok step (step; value NaN), absent if no seed grokked."""
    runs = pd.read_parquet(inputs.runs)
    rows = []
    for cell, m in cell_frames(inputs.metrics, cells).items():
        for op in [c.split("/", 1)[1] for c in m.columns if c.startswith("test_acc/")]:
            mean = m.groupby("step")[f"test_acc/{op}"].mean()
            rows += [(cell, op, "mean", float(t), float(v)) for t, v in mean.items()]
            grok = runs[(runs["cell"] == cell) & (runs["operation"] == op)]["grok_step"].mean()
            if pd.notna(grok):
                rows.append((cell, op, "grok", float(grok), math.nan))
    return frame(rows, ["cell", "operation", "kind", "step", "value"])
