"""Nanda et al.'s three phases of grokking, located in one model's curves from the data, and the
progress measures' evidence for them (in each operation's own basis: observables.fourier).

Phase ends:
- memorisation ends at the first eval with train accuracy >= memorise_threshold;
- circuit formation ends (cleanup begins) when the test loss has fallen `DROP` (10%) of the
  way from its highest value after memorisation to its final value: the sharp test-loss drop
  that Nanda et al. identify with cleanup;
- cleanup ends when the sum of squared weights has completed `SETTLE` (90%) of its fall from
  the start of cleanup to its lowest later value (the weight norm stops shrinking).
Evidence from the Fourier measures (Nanda et al.'s signature of circuit formation):
- restricted_fall: first step after memorisation at which the restricted loss has fallen
  `HALF` of the way from its value at memorisation to its lowest later value; test_fall the
  same for the test loss; restricted_leads: restricted_fall < test_fall (the circuit is in
  place before the model generalises);
- excluded_peak: the step of the highest excluded loss from memorisation to the end of circuit
  formation; excluded_rises: that peak is `RISE` (10%) above the excluded loss at memorisation
  (the memorising solution is being replaced by the circuit).
A boundary the run never reaches is NaN; a verdict without the data for it is NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.analysis.events import first_step

PHASES = ("memorisation", "circuit_formation", "cleanup")
EVIDENCE = ("restricted_fall", "test_fall", "restricted_leads", "excluded_peak", "excluded_rises")
DROP, SETTLE, HALF, RISE = 0.1, 0.9, 0.5, 0.1


def _curve(frame: pd.DataFrame, col: str, start: float) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one column from `start` on, NaNs dropped (expensive measures are sparse)."""
    if col not in frame or np.isnan(start):
        return np.array([]), np.array([])
    s = frame.loc[frame["step"] >= start, ["step", col]].dropna()
    return s["step"].to_numpy(float), s[col].to_numpy(float)


def fall_step(steps: np.ndarray, values: np.ndarray, fraction: float) -> float:
    """First step at which values have fallen `fraction` of the way from values[0] to their minimum."""
    if len(values) < 2 or not values[0] > values.min():
        return float("nan")
    return first_step(steps, values <= values[0] - fraction * (values[0] - values.min()))


def _phase_ends(m: pd.DataFrame, w: pd.DataFrame, thresholds: dict, sfx: str) -> dict:
    nan = float("nan")
    steps = m["step"].to_numpy()
    mem = first_step(steps, m[f"train_acc{sfx}"].to_numpy() >= thresholds["memorise_threshold"])
    out = {"memorisation": mem, "circuit_formation": nan, "cleanup": nan}
    t, loss = _curve(m, f"test_loss{sfx}", mem)
    if not len(loss) or not np.nanmax(loss) > loss[-1]:
        return out
    top = int(np.nanargmax(loss))
    peak, final = loss[top], loss[-1]
    circuit = first_step(t[top:], loss[top:] <= peak - DROP * (peak - final))
    out["circuit_formation"] = circuit
    ws, norm = _curve(w, "weights.sum_sq", circuit)       # observables off: no weight norm, no cleanup
    if len(norm) >= 2 and norm[0] > norm.min():
        out["cleanup"] = first_step(ws, norm <= norm[0] - SETTLE * (norm[0] - norm.min()))
    return out


def _evidence(m: pd.DataFrame, w: pd.DataFrame, ends: dict, sfx: str) -> dict:
    mem, circuit = ends["memorisation"], ends["circuit_formation"]
    rf = fall_step(*_curve(w, f"fourier.restricted_loss{sfx}", mem), HALF)
    tf = fall_step(*_curve(m, f"test_loss{sfx}", mem), HALF)
    leads = float(rf < tf) if np.isfinite(rf) and np.isfinite(tf) else float("nan")
    es, ex = _curve(w, f"fourier.excluded_loss{sfx}", mem)
    if np.isfinite(circuit):
        es, ex = es[es <= circuit], ex[es <= circuit]
    peak, rises = float("nan"), float("nan")
    if len(ex) >= 2:
        peak = float(es[int(np.argmax(ex))])
        rises = float(ex.max() > (1 + RISE) * ex[0])
    return {"restricted_fall": rf, "test_fall": tf, "restricted_leads": leads, "excluded_peak": peak,
            "excluded_rises": rises}


def locate_phases(metrics: pd.DataFrame, observables: pd.DataFrame, thresholds: dict, operation: str = "") -> dict:
    """One model's metrics rows (step, train_acc, test_loss; `/<op>` columns in a multi-task cell)
    and observables rows (step, weights.sum_sq, fourier.*) -> {phase: step at which it ends,
    evidence: step or 0/1} (PHASES + EVIDENCE). `operation`: the operation of a multi-task cell."""
    sfx = f"/{operation}" if operation else ""
    m = metrics.sort_values("step")
    w = observables.sort_values("step") if "step" in observables else pd.DataFrame({"step": []})
    ends = _phase_ends(m, w, thresholds, sfx)
    return ends | _evidence(m, w, ends, sfx)


def phase_columns(metrics: pd.DataFrame, observables: pd.DataFrame, thresholds: dict, seed: int,
                  operation: str) -> dict:
    """The runs.parquet columns of one (model, operation): phase_<phase>_end and phase_<evidence>."""
    obs = observables[observables["seed"] == seed] if "seed" in observables else observables
    found = locate_phases(metrics[metrics["seed"] == seed], obs, thresholds, operation)
    return {(f"phase_{k}_end" if k in PHASES else f"phase_{k}"): v for k, v in found.items()}
