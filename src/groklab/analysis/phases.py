"""Nanda et al.'s three phases of grokking, located in one model's curves from the data.

- memorisation ends at the first eval with train accuracy >= memorise_threshold;
- circuit formation ends (cleanup begins) when the test loss has fallen `drop` (10%) of the
  way from its highest value after memorisation to its final value: the sharp test-loss drop
  that Nanda et al. identify with cleanup;
- cleanup ends when the sum of squared weights has completed `settle` (90%) of its fall from
  the start of cleanup to its lowest later value (the weight norm stops shrinking).
A phase boundary the run never reaches is NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.analysis.events import first_step

DROP, SETTLE = 0.1, 0.9


def locate_phases(metrics: pd.DataFrame, observables: pd.DataFrame, thresholds: dict) -> dict:
    """One model's metrics rows (step, train_acc, test_loss) and observables rows (step,
    weights.sum_sq) -> {"memorisation": step, "circuit_formation": step, "cleanup": step}:
    the step at which each phase ends."""
    m = metrics.sort_values("step")
    steps, nan = m["step"].to_numpy(), float("nan")
    mem = first_step(steps, m["train_acc"].to_numpy() >= thresholds["memorise_threshold"])
    out = {"memorisation": mem, "circuit_formation": nan, "cleanup": nan}
    if np.isnan(mem):
        return out
    after = m[m["step"] >= mem]
    loss = after["test_loss"].to_numpy()
    peak, final = np.nanmax(loss), loss[-1]
    if not peak > final:
        return out
    top = int(np.nanargmax(loss))
    drop = loss[top:] <= peak - DROP * (peak - final)
    circuit = first_step(after["step"].to_numpy()[top:], drop)
    out["circuit_formation"] = circuit
    if "weights.sum_sq" not in observables:        # observables off: no weight norm, no cleanup
        return out
    w = observables.sort_values("step")
    w = w[w["step"] >= circuit][["step", "weights.sum_sq"]].dropna()
    if len(w) < 2:
        return out
    norm = w["weights.sum_sq"].to_numpy()
    low = norm.min()
    if norm[0] > low:
        out["cleanup"] = first_step(w["step"].to_numpy(), norm <= norm[0] - SETTLE * (norm[0] - low))
    return out
