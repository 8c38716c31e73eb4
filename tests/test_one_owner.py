"""One owner per fact (issue #15 item 4): a run's grok step, the first step a condition holds, the
step budget, the division check and the run-directory reader are each computed in one place, and
every stage that needs one gets the same answer from it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from groklab.analysis import collect, events, forecast, hmm, mechanics, phases
from groklab.config.cells import CellConfig, ConfigError

ROOT = Path(__file__).resolve().parents[1]
NAN = float("nan")


def multi_task_runs() -> pd.DataFrame:
    """runs.parquet rows of one two-operation cell: seed 0 grokked add only (div never), seed 1 both,
    seed 2 neither."""
    rows = []
    for seed, steps in enumerate([(400.0, NAN), (300.0, 600.0), (NAN, NAN)]):
        for op, g in zip(("add", "div"), steps):
            rows.append({"cell": "m", "seed": seed, "operation": op, "budget": 2000, "grokked": bool(np.isfinite(g)),
                         "memorisation_step": 50.0, "grok_step": g})
    return pd.DataFrame(rows)


def test_every_stage_gets_a_runs_grok_step_from_run_grok_step():
    runs = multi_task_runs()
    want = pd.Series([NAN, 600.0, NAN], index=pd.Index([0, 1, 2], name="seed"), name="grok_step")
    pd.testing.assert_series_equal(collect.grok_steps(runs, "m"), want)
    ev = collect.grokked_events(runs, ["m"])
    assert ev[["seed", "grok_step"]].values.tolist() == [[1, 600.0]]
    t = forecast.run_targets(runs)
    np.testing.assert_array_equal(t["log_grok"].to_numpy(), np.log10(want.to_numpy()))
    assert t["grokked"].tolist() == [False, True, False]
    # hmm_fit's detour table: the add-only run enters at the budget, as a run that never grokked
    paths = pd.DataFrame({"cell": "m", "seed": np.repeat([0, 1, 2], 4), "step": np.tile(np.arange(4), 3),
                          "state": [0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1]})
    got = hmm.run_detours(paths, runs, 2)
    censored = pd.DataFrame({"cell": "m", "seed": [0, 1, 2], "grok_step": [2000.0, 600.0, 2000.0], "budget": 2000})
    pd.testing.assert_frame_equal(got, hmm.detour_table(paths, censored, 2))


def test_one_first_step():
    assert phases.first_step is events.first_step
    steps = np.array([0, 10, 20])
    assert events.first_step(steps, steps >= 10) == 10 and np.isnan(events.first_step(steps, steps > 20))


@pytest.mark.parametrize("task, budget", [({"operations": ["add"]}, 400), ({"operations": ["add", "div"]}, 400),
                                          ({"operations": ["add", "sub", "div"], "scale_steps_by_tasks": True}, 1200)])
def test_one_step_budget(task, budget):
    """The analysis reads the budget off config.json (a dict), training off the CellConfig: one rule."""
    cell = CellConfig.from_dict({"task": {"p": 13, **task}, "training": {"steps": 400}})
    assert events.budget_of(cell.to_dict()) == cell.total_steps == budget


def test_one_division_check():
    from groklab.training.data import operation_table

    with pytest.raises(ConfigError) as cell_error:
        CellConfig.from_dict({"task": {"p": 12, "operations": ["div"]}})
    with pytest.raises(ConfigError) as data_error:
        operation_table("div", 12)
    assert str(cell_error.value) == "cell." + str(data_error.value)
    assert len(operation_table("div", 13)[0]) == 13 * 12


def test_one_run_directory_reader(tmp_path):
    for cell_id, seed in (("id_a", 0), ("id_b", 1)):
        (tmp_path / cell_id).mkdir()
        pd.DataFrame({"seed": [seed], "step": [0], "train_acc": [0.5]}).to_parquet(tmp_path / cell_id / "metrics.parquet")
    paths = [str(tmp_path / c / "metrics.parquet") for c in ("id_b", "id_a")]
    cells = {"id_a": "A", "id_b": "B"}
    table = collect.cell_table(paths, cells)
    assert table["cell"].tolist() == ["B", "A"] and table["seed"].tolist() == [1, 0]
    pd.testing.assert_frame_equal(mechanics.load_inputs([], paths, cells)[1], table)      # the mechanics' metrics
    # nowhere else is a cell named by its file's directory
    places = [p for d in ("src/groklab/analysis", "src/groklab/paper", "workflow/scripts")
              for p in (ROOT / d).rglob("*.py") if ".parent.name" in p.read_text()]
    assert places == [ROOT / "src/groklab/analysis/collect.py"]
