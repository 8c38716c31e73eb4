import numpy as np
import pandas as pd

from groklab.analysis.events import cell_events, model_events, run_events, run_grok_step


def test_events_from_known_curves():
    steps = np.array([0, 10, 20, 30, 40, 50])
    train = np.array([0.1, 0.995, 1.0, 1.0, 1.0, 1.0])
    test = np.array([0.0, 0.1, 0.2, 0.96, 0.97, 0.99])
    ev = model_events(steps, train, test, budget=100, memorise_threshold=0.99, grok_threshold=0.95)
    assert (ev["memorisation_step"], ev["grok_step"], ev["delay"]) == (10, 30, 20)
    assert (ev["grok_pct"], ev["delay_pct"]) == (30.0, 20.0)
    assert ev["grokked"] and ev["stable"] and ev["final_test_acc"] == 0.99


def test_fall_back_is_unstable_and_never_grokked_is_nan():
    steps = np.array([0, 10, 20, 30])
    ev = model_events(steps, np.ones(4), np.array([0.0, 0.96, 0.5, 0.97]), 30, 0.99, 0.95)
    assert ev["grok_step"] == 10 and not ev["stable"]
    ev = model_events(steps, np.ones(4), np.zeros(4), 30, 0.99, 0.95)
    assert np.isnan(ev["grok_step"]) and np.isnan(ev["delay"]) and not ev["grokked"] and not ev["stable"]


def test_cell_events_per_operation_and_scaled_budget():
    config = {"task": {"operations": ["add", "div"], "scale_steps_by_tasks": True},
              "training": {"steps": 50, "eval_every": 50, "memorise_threshold": 0.99, "grok_threshold": 0.95}}
    m = pd.DataFrame({
        "seed": [0] * 3, "step": [0, 50, 100], "train_acc": [0, 1, 1], "test_acc": [0, 0.5, 1],
        "train_acc/add": [0, 1, 1], "test_acc/add": [0, 1, 1],
        "train_acc/div": [0, 1, 1], "test_acc/div": [0, 0, 1], "diverged": [False] * 3,
    })
    ev = cell_events(m, config).set_index("operation")
    assert ev.loc["add", "grok_step"] == 50 and ev.loc["div", "grok_step"] == 100
    assert ev.loc["div", "budget"] == 100 and ev.loc["add", "grok_pct"] == 50.0


def test_a_run_groks_when_its_last_operation_does_and_not_at_all_if_one_never_does():
    assert run_grok_step([30.0, 50.0]) == 50 and run_grok_step(np.array([40.0])) == 40
    assert np.isnan(run_grok_step([30.0, float("nan")])) and np.isnan(run_grok_step([float("nan")]))
    assert np.isnan(run_grok_step([]))
    nan = float("nan")
    runs = pd.DataFrame({"cell": ["a"] * 4 + ["b"], "seed": [0, 0, 1, 1, 0], "operation": ["add", "div"] * 2 + ["add"],
                         "budget": [200] * 4 + [100], "memorisation_step": [10.0, 20.0, 10.0, nan, 5.0],
                         "grok_step": [30.0, nan, 30.0, 80.0, nan]})
    ev = run_events(runs)
    assert list(ev.columns) == ["cell", "seed", "budget", "memorisation_step", "grok_step", "grokked"]
    assert list(zip(ev.cell, ev.seed)) == [("a", 0), ("a", 1), ("b", 0)]
    assert np.isnan(ev.grok_step[0]) and ev.grok_step[1] == 80 and np.isnan(ev.grok_step[2])
    assert ev.grokked.tolist() == [False, True, False] and ev.budget.tolist() == [200, 200, 100]
    assert ev.memorisation_step.tolist() == [20.0, 10.0, 5.0]    # the last operation to memorise

