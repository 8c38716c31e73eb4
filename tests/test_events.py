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
    # p = 97, train fraction 0.3: add 2823 and div 2794 training examples; a shared minibatch of
    # 512 in blocks takes 256 of each per step
    config = {"task": {"operations": ["add", "div"], "scale_steps_by_tasks": True},
              "training": {"steps": 50, "eval_every": 50, "batch_size": 512, "memorise_threshold": 0.99,
                           "grok_threshold": 0.95}}
    m = pd.DataFrame({
        "seed": [0] * 3, "step": [0, 50, 100], "train_acc": [0, 1, 1], "test_acc": [0, 0.5, 1],
        "train_acc/add": [0, 1, 1], "test_acc/add": [0, 1, 1],
        "train_acc/div": [0, 1, 1], "test_acc/div": [0, 0, 1], "diverged": [False] * 3,
    })
    ev = cell_events(m, config).set_index("operation")
    assert ev.loc["add", "grok_step"] == 50 and ev.loc["div", "grok_step"] == 100
    assert ev.loc["div", "budget"] == 100 and ev.loc["add", "grok_pct"] == 50.0
    assert ev.loc["div", "examples_per_step"] == 256 and ev.loc["div", "grok_examples"] == 256 * 100
    assert ev.loc["add", "budget_examples"] == 256 * 100 and ev.loc["add", "delay_examples"] == 0


def test_examples_per_step_follow_the_batch_mode():
    from groklab.training.batches import Batches, examples_per_step

    assert examples_per_step([400], None, True) == [400.0]                    # full batch
    assert examples_per_step([400, 420], 1000, True) == [400.0, 420.0]        # a batch above the set: full
    assert examples_per_step([400, 420], 128, True) == [64.0, 64.0]           # blocks: B / N each
    assert examples_per_step([300, 100], 128, False) == [96.0, 32.0]          # one block: B times the share
    assert examples_per_step([10, 400], 128, True) == [10.0, 64.0]            # a block smaller than its take
    batch = Batches([0, 1], [400, 420], 128).next()                          # what the trainer draws
    assert ((batch < 400).sum(dim=1) == 64).all() and ((batch >= 400).sum(dim=1) == 64).all()


def test_scaling_steps_by_tasks_is_refused_with_full_batch_only():
    import pytest

    from groklab.config.cells import CellConfig, ConfigError
    from groklab.training.packs import check_step_scaling

    def cell(**training):
        return CellConfig.from_dict({"task": {"p": 13, "operations": ["add", "div"], "scale_steps_by_tasks": True},
                                     "training": training})
    with pytest.raises(ConfigError, match=r"cell.task.scale_steps_by_tasks: true with full batch gives each of the 2 "
                                          r"operations 2x the examples"):
        check_step_scaling(cell())
    with pytest.raises(ConfigError, match="with full batch"):
        check_step_scaling(cell(batch_size=10_000))          # larger than the training set: full batch
    check_step_scaling(cell(batch_size=64))                   # a shared minibatch: each task as in a single-task run
    check_step_scaling(CellConfig.from_dict({"task": {"p": 13, "operations": ["div"], "scale_steps_by_tasks": True}}))


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



def test_delay_ratio_and_transition_sharpness():
    # memorised at 10, test accuracy reaches 0.5 (RISE_FROM) at 80 and 0.95 at 90: the delay is
    # 80 steps, 8x memorisation, and the rise takes 10 of them (0.125 of the delay)
    steps = np.arange(0, 110, 10)
    train = np.where(steps >= 10, 1.0, 0.0)
    test = np.array([0, 0.05, 0.05, 0.1, 0.1, 0.2, 0.3, 0.4, 0.6, 0.96, 0.99])
    ev = model_events(steps, train, test, budget=100, memorise_threshold=0.99, grok_threshold=0.95)
    assert (ev["rise_step"], ev["delay_ratio"], ev["transition_fraction"]) == (80, 8.0, 0.125)
    never = model_events(steps, train, np.zeros(len(steps)), 100, 0.99, 0.95)
    assert np.isnan(never["delay_ratio"]) and np.isnan(never["transition_fraction"])
