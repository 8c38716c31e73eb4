"""The calibration table's criteria (issue #20) on runs with known events."""

import numpy as np
import pandas as pd

from groklab.analysis.calibration import CRITERIA, calibration_table, chosen


def _runs(cell: str, grok: list[float], mem: float = 100.0, rise_gap: float = 200.0, budget: int = 8000) -> pd.DataFrame:
    g = np.array(grok, float)
    return pd.DataFrame({
        "cell": cell, "operation": "div", "seed": range(len(g)), "budget": budget,
        "memorisation_step": mem, "grok_step": g, "grokked": np.isfinite(g),
        "delay_ratio": (g - mem) / mem, "transition_fraction": rise_gap / (g - mem),
        "grok_pct": 100 * g / budget, "final_test_acc": np.where(np.isfinite(g), 1.0, 0.1)})


def test_only_the_cell_that_meets_every_criterion_is_chosen():
    runs = pd.concat([
        _runs("good", [4000, 4200, 4500, 5000, 3800]),
        _runs("one-never", [4000, 4200, 4500, 5000, np.nan]),          # a seed never grokked
        _runs("few-seeds", [4000, 4200, 4500]),                         # fewer than min_seeds
        _runs("creeping", [4000, 4200, 4500, 5000, 3800], rise_gap=2000),   # rise takes ~half the delay
        _runs("short", [1200, 1300, 1500, 1400, 1250]),                 # delay ~12x memorisation
        _runs("late", [7600, 7700, 7800, 7900, 7500]),                  # grok at ~96% of the budget
    ])
    table = calibration_table(runs).set_index("cell")
    assert list(chosen(table.reset_index())["cell"]) == ["good"]
    assert not table.loc["one-never", "all_grok"] and not table.loc["few-seeds", "all_grok"]
    assert not table.loc["creeping", "sharp"] and table.loc["creeping", "long_delay"]
    assert not table.loc["short", "long_delay"]
    assert not table.loc["late", "in_budget"] and table.loc["late", "sharp"]
    assert table.loc["good", "seeds"] == CRITERIA["min_seeds"] and table.loc["good", "grok_step"] == 4200
