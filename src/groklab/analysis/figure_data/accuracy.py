"""The data of the accuracy figure (drawn by groklab.paper.plots.accuracy)."""

from __future__ import annotations

import math

import pandas as pd

from groklab.analysis.collect import cell_frames, grok_steps
from groklab.analysis.figure_data import frame


ACCURACY_CURVES = ("train_acc", "test_acc")


def compute(inputs, cells: dict[str, str]) -> pd.DataFrame:
    """(cell, kind, curve, seed, step, value): kind "seed" one row per eval of each seed, "mean"
    the mean over seeds (seed NaN), "grok" each seed's grok step (curve "grok_step", value NaN)."""
    runs = pd.read_parquet(inputs.runs)
    rows = []
    for cell, m in cell_frames(inputs.metrics, cells).items():
        for col in ACCURACY_CURVES:
            rows += [(cell, "seed", col, float(s), float(t), float(v)) for s, t, v in zip(m["seed"], m["step"], m[col])]
            mean = m.groupby("step")[col].mean()
            rows += [(cell, "mean", col, math.nan, float(t), float(v)) for t, v in mean.items()]
        rows += [(cell, "grok", "grok_step", float(s), float(g), math.nan) for s, g in grok_steps(runs, cell).dropna().items()]
    return frame(rows, ["cell", "kind", "curve", "seed", "step", "value"])
