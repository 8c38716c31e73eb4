"""The forecast on synthetic runs with a known relation: an observable at the cut-off sets the
grok step, so the observables model must beat the median baseline under leave-one-cell-out CV."""

import numpy as np
import pandas as pd

from groklab.analysis.forecast import evaluate_forecasts, feature_weights, features, run_targets


def memorised_run(cell: str, seed: int, steps: np.ndarray, grok: float) -> tuple[pd.DataFrame, dict]:
    """One single-task run that memorises by step 50 and groks at `grok`: (metrics rows, runs.parquet row)."""
    metrics = pd.DataFrame({"cell": cell, "seed": seed, "step": steps, "train_acc": np.minimum(1, steps / 50),
                            "train_loss": np.exp(-steps / 100)})
    return metrics, {"cell": cell, "seed": seed, "operation": "add", "budget": 1000, "grokked": True,
                     "memorisation_step": 50.0, "grok_step": grok}


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
            m, run = memorised_run(f"c{c}", s, steps, grok)
            metrics.append(m)
            runs.append(run)
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
    from groklab.analysis.mechanics import forecast_tables, leadlag_tables

    obs, metrics, runs = synthetic(n_cells=2, seeds=2)
    runs = runs.assign(grokked=False, grok_step=float("nan"), memorisation_step=50.0)
    changes, ranking = leadlag_tables(obs, runs, {"s": ["c0", "c1"]})
    assert changes.empty and ranking.empty and "observable" in ranking.columns
    errors, weights = forecast_tables(obs, metrics, runs, 0.99)
    assert set(errors.features) <= {"median", "observables", "train_accuracy"} and weights.empty


def two_regime_runs(n_cells=6, seeds=4):
    """Each run sits in regime A (f0 ~ 0) for n_A evals, then in regime B (f0 ~ 5) for good; its grok
    step grows with n_A. At the cut-off every run is in B, so only the time spent in A (the HMM
    state occupancy) tells the runs apart."""
    rng = np.random.default_rng(1)
    obs, metrics, runs = [], [], []
    steps = np.arange(0, 1000, 10)
    for c in range(n_cells):
        for s in range(seeds):
            n_a = int(rng.integers(3, 25))
            f0 = np.where(np.arange(len(steps)) < n_a, 0.0, 5.0) + rng.normal(0, 0.3, len(steps))
            obs.append(pd.DataFrame({"cell": f"c{c}", "seed": s, "step": steps, "f0": f0,
                                     "f1": rng.normal(0, 1, len(steps))}))
            m, run = memorised_run(f"c{c}", s, steps, 300 + 25 * n_a)
            metrics.append(m)
            runs.append(run)
    return pd.concat(obs, ignore_index=True), pd.concat(metrics, ignore_index=True), pd.DataFrame(runs)


def test_hmm_state_occupancy_forecasts_what_the_cut_off_values_cannot():
    from groklab.config.cells import validate
    from groklab.analysis.mechanics import forecast_tables

    obs, metrics, runs = two_regime_runs()
    hmm = {**validate({})["hmm"], "features": ["f0", "f1"], "restarts": 2, "K": 2}
    errors, _ = forecast_tables(obs, metrics, runs, 0.99, hmm, obs)
    e = errors[(errors.cutoff == 0.3) & (errors.target == "log_grok")].set_index("features")["value"]
    assert e["hmm_occupancy"] < 0.5 * e["median"]
    assert e["hmm_occupancy"] < 0.5 * e["observables"]       # the values at the cut-off carry no signal


def test_fold_maps_never_see_the_held_out_cell():
    from groklab.config.cells import validate
    from groklab.analysis.forecast import fold_maps

    obs, _, _ = two_regime_runs(n_cells=3, seeds=2)
    hmm = {**validate({})["hmm"], "features": ["f0", "f1"], "restarts": 1}
    shifted = obs.assign(f0=np.where(obs.cell == "c0", obs.f0 + 1000, obs.f0))   # c0 far away from the others
    maps = fold_maps(shifted, hmm, 2)
    assert set(maps) == {"c0", "c1", "c2"}
    assert abs(maps["c0"][1].mean[0] - maps["c1"][1].mean[0]) > 100    # only folds that include c0 see it
    assert maps["c0"][1].mean[0] < 10


def test_a_multi_task_run_with_an_operation_that_never_grokked_is_not_a_grokked_target():
    # one run of two operations: add grokked at 400, div never; the other run grokked both (last at 600)
    nan = float("nan")
    runs = pd.DataFrame([
        {"cell": "m", "seed": 0, "operation": "add", "budget": 2000, "grokked": True, "memorisation_step": 50.0, "grok_step": 400.0},
        {"cell": "m", "seed": 0, "operation": "div", "budget": 2000, "grokked": False, "memorisation_step": 60.0, "grok_step": nan},
        {"cell": "m", "seed": 1, "operation": "add", "budget": 2000, "grokked": True, "memorisation_step": 50.0, "grok_step": 300.0},
        {"cell": "m", "seed": 1, "operation": "div", "budget": 2000, "grokked": True, "memorisation_step": 70.0, "grok_step": 600.0},
    ])
    t = run_targets(runs).set_index("seed")
    assert not t.loc[0, "grokked"] and np.isnan(t.loc[0, "log_grok"])    # not add's 400
    assert t.loc[1, "grokked"] and t.loc[1, "log_grok"] == np.log10(600)
    assert list(t.columns) == ["cell", "budget", "grokked", "log_grok"] and (t["budget"] == 2000).all()
