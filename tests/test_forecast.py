"""The forecast on synthetic runs with a known relation: an observable at the cut-off sets the
grok step, so the observables model must beat the median baseline under leave-one-cell-out CV."""

import numpy as np
import pandas as pd

from groklab.forecast import evaluate_forecasts, feature_weights, features, run_targets


def synthetic(n_cells=6, seeds=4):
    rng = np.random.default_rng(0)
    obs, metrics, runs = [], [], []
    steps = np.arange(0, 1000, 10)
    for c in range(n_cells):
        for s in range(seeds):
            speed = rng.uniform(0.5, 2.0)                    # the hidden cause
            grok = int(200 + 600 / speed)
            obs.append(pd.DataFrame({"cell": f"c{c}", "seed": s, "step": steps, "signal": speed * steps / 1000,
                                     "noise": rng.normal(0, 1, len(steps))}))
            metrics.append(pd.DataFrame({"cell": f"c{c}", "seed": s, "step": steps, "train_acc": np.minimum(1, steps / 50),
                                         "train_loss": np.exp(-steps / 100)}))
            runs.append({"cell": f"c{c}", "seed": s, "operation": "add", "budget": 1000, "grokked": True,
                         "grok_step": grok})
    return pd.concat(obs), pd.concat(metrics), pd.DataFrame(runs)


def test_forecast_beats_the_median_baseline_on_a_known_relation():
    obs, metrics, runs = synthetic()
    table = features(obs, metrics, run_targets(runs), 0.2, ["signal", "noise"], 0.99)
    assert len(table) == 24 and table["log_grok"].notna().all()
    result = evaluate_forecasts(table).set_index(["features", "target"])["value"]
    assert result[("observables", "log_grok")] < 0.5 * result[("median", "log_grok")]
    top = feature_weights(table).iloc[0]
    assert top.feature.startswith("signal")


def test_mechanics_tables_without_any_grokked_run_are_empty_not_errors():
    from groklab.mechanics import forecast_tables, leadlag_tables

    obs, metrics, runs = synthetic(n_cells=2, seeds=2)
    runs = runs.assign(grokked=False, grok_step=float("nan"), memorisation_step=50.0)
    changes, ranking = leadlag_tables(obs, runs, {"s": ["c0", "c1"]})
    assert changes.empty and ranking.empty and "observable" in ranking.columns
    errors, weights = forecast_tables(obs, metrics, runs, 0.99)
    assert set(errors.features) <= {"median", "observables", "train_accuracy"} and weights.empty
