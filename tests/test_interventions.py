"""Observable-triggered interventions: the rule fires at the first eval where the signal crosses
its threshold, for exactly the models where it crossed, and changes only those models."""

import pandas as pd
import pytest

from conftest import tiny_cell
from groklab.train import train_cell


def cell(**training):
    return tiny_cell(task={"p": 13, "train_fraction": 0.5}, model={"d_model": 16, "d_mlp": 32},
                     optimizer={"lr": 0.01, "weight_decay": 1.0},
                     training={"steps": 120, "eval_every": 10, "checkpoint_every": 40, "seeds": [0, 1, 2, 3],
                               "observables": {"enabled": True}, **training})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return train_cell(cell(), tmp_path_factory.mktemp("ref"), progress=False)


def threshold_between_models(reference: pd.DataFrame) -> float:
    """A train-accuracy level that the models cross at different evals: the middle of the widest
    spread across seeds at one eval (there, some models have crossed and some have not)."""
    acc = reference.pivot(index="step", columns="seed", values="train_acc")
    step = (acc.max(axis=1) - acc.min(axis=1)).idxmax()
    values = acc.loc[step].sort_values()
    assert values.iloc[0] < values.iloc[-1], "the tiny models must differ to test a per-model trigger"
    return float((values.iloc[len(values) // 2 - 1] + values.iloc[len(values) // 2]) / 2)


@pytest.mark.parametrize("setting", [{"weight_decay": 8.0}, {"lr": 0.05}])
def test_trigger_fires_at_the_crossing_for_exactly_the_affected_models(reference, tmp_path, setting):
    x = threshold_between_models(reference)
    rule = {"when": "train_acc", "above": x, "set": setting}
    m = train_cell(cell(interventions=[rule]), tmp_path, progress=False)
    for seed, ref in reference.groupby("seed"):
        run = m[m.seed == seed].reset_index(drop=True)
        ref = ref.reset_index(drop=True)
        crossed = ref[ref.train_acc >= x]
        if crossed.empty:       # never fired: bit-identical to the run without the rule
            assert not run["intervention/0"].any()
            pd.testing.assert_frame_equal(run.drop(columns="intervention/0"), ref, check_exact=True)
            continue
        fired_at = crossed.step.iloc[0]
        assert run.loc[run["intervention/0"], "step"].min() == fired_at
        before = run.step <= fired_at              # the change applies from the next step on
        pd.testing.assert_frame_equal(run[before].drop(columns="intervention/0"), ref[before], check_exact=True)
        assert not run[~before].train_loss.equals(ref[~before].train_loss)


def test_an_observable_trigger_and_ensemble_equals_one_by_one(tmp_path):
    rule = {"when": "weights.sum_sq", "below": 1e9, "set": {"weight_decay": 3.0}}   # fires at step 0 for all
    # (as in test_train: batched kernels round differently at E=4 and E=1, so a short run and 1e-4)
    together = train_cell(cell(interventions=[rule], ensemble_size=4, steps=40), tmp_path / "e4", progress=False)
    alone = train_cell(cell(interventions=[rule], ensemble_size=1, steps=40), tmp_path / "e1", progress=False)
    pd.testing.assert_frame_equal(together, alone, atol=1e-4, rtol=1e-4)
    assert together.groupby("seed")["intervention/0"].all().all()
