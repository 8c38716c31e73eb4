"""Grok events per model and operation: memorisation step, grok step, delay, stability, divergence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.config.cells import step_budget
from groklab.vocabulary import reached


# The transition's start: the first eval where test accuracy reaches RISE_FROM. Grokking is sharp
# when the rise from there to the grok threshold takes a small fraction of the delay
# (`transition_fraction` = (grok - rise) / delay); issue #20's calibration criteria read it.
RISE_FROM = 0.5

# step events also counted in examples of the operation seen (cell_events)
EXAMPLE_EVENTS = {"memorisation_step": "memorisation_examples", "grok_step": "grok_examples",
                  "delay": "delay_examples", "budget": "budget_examples"}


def delay_ratio(delay, memorisation_step):
    """delay / memorisation step, elementwise (scalars or arrays): how long a model waited after
    memorising compared with how long memorising took (the seed's baseline: ~166). NaN where it
    never memorised or memorised at step 0."""
    mem = np.asarray(memorisation_step, dtype=float)
    positive = mem > 0
    return np.where(positive, np.asarray(delay, dtype=float) / np.where(positive, mem, 1.0), np.nan)


def first_step(steps: np.ndarray, reached: np.ndarray) -> float:
    """First step where `reached` holds, NaN if never."""
    hit = np.flatnonzero(reached)
    return float(steps[hit[0]]) if len(hit) else float("nan")


def model_events(steps: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray, budget: int,
                 memorise_threshold: float, grok_threshold: float) -> dict:
    """One model's (one operation's) accuracy curves, sorted by step -> its events.

    Steps are also given in % of the budget (the seed paper's unit: its "18x" is a ratio of
    percentages). `stable`: test accuracy never fell below the threshold after the grok step.
    """
    mem = first_step(steps, reached(train_acc, memorise_threshold))
    grok = first_step(steps, reached(test_acc, grok_threshold))
    rise = first_step(steps, reached(test_acc, min(RISE_FROM, grok_threshold)))
    grokked = bool(np.isfinite(grok))
    after = test_acc[steps >= grok] if grokked else test_acc[:0]
    return {
        "budget": budget,
        "last_step": int(steps[-1]),
        "memorisation_step": mem,
        "grok_step": grok,
        "delay": grok - mem,
        "delay_ratio": float(delay_ratio(grok - mem, mem)),
        "rise_step": rise,
        "transition_fraction": (grok - rise) / (grok - mem) if grok > mem else float("nan"),
        "memorisation_pct": 100 * mem / budget,
        "grok_pct": 100 * grok / budget,
        "delay_pct": 100 * (grok - mem) / budget,
        "grokked": grokked,
        "stable": grokked and bool(reached(after, grok_threshold).all()),
        "final_train_acc": float(train_acc[-1]),
        "final_test_acc": float(test_acc[-1]),
        "best_test_acc": float(np.nanmax(test_acc)),
    }


def budget_of(config: dict) -> int:
    """Total training steps of a resolved cell config (scaled by the number of operations if asked):
    the rule of `CellConfig.total_steps` (groklab.config.cells.step_budget), read off a config dict."""
    task = config["task"]
    return step_budget(config["training"]["steps"], len(task["operations"]), bool(task.get("scale_steps_by_tasks")))


def run_grok_step(grok_steps) -> float:
    """A run's grok step from its operations' grok steps: the step its last operation grokked (the
    max), NaN (not grokked; censored at the budget where censoring applies) if any operation never
    grokked. The one rule for a multi-task run; a single-task run's is its operation's."""
    s = np.asarray(grok_steps, dtype=float)
    return float(s.max()) if len(s) and not np.isnan(s).any() else float("nan")


def run_events(runs: pd.DataFrame) -> pd.DataFrame:
    """runs.parquet rows (one per model and operation) -> one row per run (cell, seed), in (cell, seed)
    order: budget, memorisation_step (the last operation to memorise), grok_step (`run_grok_step`)
    and grokked (every operation grokked)."""
    g = runs.groupby(["cell", "seed"], as_index=False).agg(
        budget=("budget", "first"), memorisation_step=("memorisation_step", "max"),
        grok_step=("grok_step", run_grok_step))
    return g.assign(grokked=g["grok_step"].notna())


def examples_per_step_of(config: dict) -> dict[str, float]:
    """Operation -> its training examples per step, for a resolved cell config dict (the rule of
    groklab.training.batches.examples_per_step)."""
    from groklab.config.cells import CellConfig
    from groklab.training.packs import task_examples_per_step

    return task_examples_per_step(CellConfig.from_dict(config))


def cell_events(metrics: pd.DataFrame, config: dict) -> pd.DataFrame:
    """metrics.parquet of one cell + its resolved config -> one row per (seed, operation).

    The step events are also given in examples of that operation seen (`*_examples`: steps times
    `examples_per_step`), the unit in which cells of different batch modes and task counts compare."""
    tr, ops = config["training"], config["task"]["operations"]
    budget, rows, per_step = budget_of(config), [], examples_per_step_of(config)
    for seed, m in metrics.sort_values("step").groupby("seed", sort=True):
        steps = m["step"].to_numpy()
        diverged = m["diverged"].to_numpy() if "diverged" in m else np.zeros(len(m), bool)
        rules = [c for c in m.columns if c.startswith("intervention/")]
        # did any of the cell's intervention rules fire for this model (NaN: the cell has none)
        fired = float(m[rules].to_numpy(bool).any()) if rules else float("nan")
        for op in ops:
            suffix = f"/{op}" if len(ops) > 1 else ""
            ev = model_events(steps, m[f"train_acc{suffix}"].to_numpy(), m[f"test_acc{suffix}"].to_numpy(),
                              budget, tr["memorise_threshold"], tr["grok_threshold"])
            rows.append({"seed": int(seed), "operation": op, "n_operations": len(ops),
                         "eval_every": tr["eval_every"], **ev, "examples_per_step": per_step[op],
                         **{name: ev[k] * per_step[op] for k, name in EXAMPLE_EVENTS.items()},
                         "diverged": bool(diverged.any()), "diverged_step": first_step(steps, diverged),
                         "intervention_fired": fired})
    return pd.DataFrame(rows)
