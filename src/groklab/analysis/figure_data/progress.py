"""The data of the progress figure (drawn by groklab.paper.plots.progress)."""

from __future__ import annotations

import math

import pandas as pd

from groklab.analysis.figure_data import frame
from groklab.analysis.phases import PHASES, locate_phases


PROGRESS_COLUMNS = ("train_loss", "test_loss", "fourier.restricted_loss", "fourier.excluded_loss", "weights.sum_sq",
                    "fourier.embed_gini", "fourier.key_fraction")


def compute(inputs, seed: int, thresholds: dict) -> pd.DataFrame:
    """One seed of the progress cell: (kind, name, step, value); kind "curve" the progress measures
    (name = column, NaNs dropped), "phase" the step each phase ends (name = phase, step NaN if not
    reached), "evidence" the Fourier evidence (groklab.analysis.phases.EVIDENCE; value = the step or 0/1)."""
    m, obs = pd.read_parquet(inputs.metrics[0]), pd.read_parquet(inputs.observables[0])
    m, obs = m[m.seed == seed].sort_values("step"), obs[obs.seed == seed].sort_values("step")
    data = m.merge(obs, on=["seed", "step"], how="outer").sort_values("step")
    found = locate_phases(m, obs, thresholds)
    rows = [("phase", key, float(found[key]), math.nan) for key in PHASES]
    rows += [("evidence", key, math.nan, float(v)) for key, v in found.items() if key not in PHASES]
    for col in PROGRESS_COLUMNS:
        if col in data:
            s = data[["step", col]].dropna()
            rows += [("curve", col, float(t), float(v)) for t, v in zip(s["step"], s[col])]
    return frame(rows, ["kind", "name", "step", "value"])
