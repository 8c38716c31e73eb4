import pytest
import pandas as pd
import yaml

from groklab.config.cells import ConfigError
from groklab.training.job import train_cell
from conftest import kill_after_first_checkpoint, tiny_cell


def test_ensemble_equals_models_trained_one_by_one(tmp_path):
    cell = tiny_cell()
    together = train_cell(cell.replace_training(ensemble_size=3), tmp_path / "e3", progress=False)
    alone = train_cell(cell.replace_training(ensemble_size=1), tmp_path / "e1", progress=False)
    assert list(together.columns) == list(alone.columns) and len(together) == 3 * 7
    pd.testing.assert_frame_equal(together, alone, atol=1e-4, rtol=1e-4)
    assert together.groupby("seed").train_loss.last().nunique() == 3   # the seeds really differ


def test_minibatch_ensemble_equals_one_by_one(tmp_path):
    cell = tiny_cell(training={"batch_size": 16})
    together = train_cell(cell.replace_training(ensemble_size=3), tmp_path / "e3", progress=False)
    alone = train_cell(cell.replace_training(ensemble_size=1), tmp_path / "e1", progress=False)
    pd.testing.assert_frame_equal(together, alone, atol=1e-4, rtol=1e-4)


def test_same_config_and_seed_gives_identical_metrics(tmp_path):
    cell = tiny_cell(training={"batch_size": 16})
    a = train_cell(cell, tmp_path / "a", progress=False)
    b = train_cell(cell, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert pd.read_parquet(tmp_path / "a" / "metrics.parquet").equals(a)
    assert not (tmp_path / "a" / ".partial").exists()


def test_outputs_and_resolved_config(tmp_path):
    import json
    cell = tiny_cell()
    train_cell(cell, tmp_path, progress=False, name="tiny")
    record = json.loads((tmp_path / "config.json").read_text())
    assert record["hash"] == cell.hash and record["name"] == "tiny" and record["config"]["task"]["p"] == 13
    assert (tmp_path / "final.pt").stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp"))


def write_cell(path, cell):
    path.write_text(yaml.safe_dump(cell.to_dict()))
    return path


def test_killed_after_checkpoint_resumes_to_identical_metrics(tmp_path):
    cell = tiny_cell(task={"p": 31}, model={"d_model": 64, "d_mlp": 256},
                     training={"steps": 400, "eval_every": 20, "checkpoint_every": 50, "batch_size": 64})
    reference = train_cell(cell, tmp_path / "ref", progress=False)
    cfg, out = write_cell(tmp_path / "cell.yaml", cell), tmp_path / "run"
    kill_after_first_checkpoint(cfg, out)
    resumed = train_cell(cell, out, progress=False)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)


def test_smoke_cell_groks_and_stops_early(tmp_path, root):
    from groklab.config.cells import load_cell_file
    cell = load_cell_file(str(root / "tests" / "data" / "smoke.yaml"))
    m = train_cell(cell, tmp_path, progress=False)
    last = m.groupby("seed").tail(4)
    assert (last.test_acc >= 0.95).all(), last
    assert m.step.max() < cell.training.steps          # early stop after stable generalisation
    first_mem = m[m.train_acc >= 0.99].groupby("seed").step.min()
    first_grok = m[m.test_acc >= 0.95].groupby("seed").step.min()
    assert (first_grok >= first_mem).all()


def test_multitask_balanced_minibatch_reports_each_operation(tmp_path):
    from groklab.training.batches import Batches
    cell = tiny_cell(task={"operations": ["add", "div"]}, training={"batch_size": 20, "steps": 40})
    m = train_cell(cell, tmp_path, progress=False)
    for col in ("train_acc/add", "test_acc/div", "train_loss/div", "test_loss/add"):
        assert col in m.columns
    b = Batches([0, 1], [169, 156], 20)
    idx = b.next()
    assert idx.shape == (2, 20) and ((idx < 169).sum(1) == 10).all()     # 10 examples of each op per model
    from groklab.analysis.aggregate import summarise_runs
    runs = summarise_runs([tmp_path])
    assert sorted(runs.operation.unique()) == ["add", "div"] and len(runs) == 6


def test_scaled_budget_trains_steps_times_operations(tmp_path):
    # a minibatch shared by the operations (full batch refuses the scaling: groklab.training.packs)
    cell = tiny_cell(task={"operations": ["add", "sub"], "scale_steps_by_tasks": True},
                     training={"steps": 30, "batch_size": 16})
    m = train_cell(cell, tmp_path, progress=False)
    assert cell.total_steps == 60 and m.step.max() == 60
    full = tiny_cell(task={"operations": ["add", "sub"], "scale_steps_by_tasks": True}, training={"steps": 30})
    with pytest.raises(ConfigError, match="scale_steps_by_tasks: true with full batch"):
        train_cell(full, tmp_path / "full", progress=False)


def test_diverged_model_is_flagged_and_the_others_are_untouched(tmp_path):
    import torch
    from groklab.training.data import make_split
    from groklab.training.loop import PackRun
    from groklab.training.member import Member
    cell = tiny_cell(training={"steps": 40})
    split = make_split(cell.task)
    runs = {}
    for name, poison in (("clean", False), ("poisoned", True)):
        member = Member(cell, [0, 1, 2], split, torch.device("cpu"), tmp_path / name)
        run = PackRun([member], torch.device("cpu"), tmp_path / name, "test")
        run.evaluate(force=True)
        for step in range(40):
            if poison and step == 15:          # model 1's weights blow up, as with a huge lr
                with torch.no_grad():
                    run.model.p("W_U")[1].fill_(float("inf"))
            run.train_step()
            run.evaluate()                     # a diverged model leaves the pack at its next eval
        steps = {f["seed"]: f["step"] for f in member.finals}
        assert run.E == 0 and steps == ({0: 40, 1: 20, 2: 40} if poison else {0: 40, 1: 40, 2: 40})
        runs[name] = pd.DataFrame(member.parts.rows["metrics"])
    clean, poisoned = runs["clean"], runs["poisoned"]
    flagged = poisoned.groupby("seed").diverged.any()
    assert flagged.to_dict() == {0: False, 1: True, 2: False}
    assert (poisoned[poisoned.seed == 1].test_acc.iloc[-1]) == 0.0
    others = lambda m: m[m.seed != 1].reset_index(drop=True)   # noqa: E731
    pd.testing.assert_frame_equal(others(poisoned), others(clean), check_exact=True)


def test_huge_learning_rate_is_recorded_as_diverged(tmp_path):
    cell = tiny_cell(optimizer={"name": "sgd", "lr": 1.0e12, "weight_decay": 0.0}, training={"steps": 20})
    m = train_cell(cell, tmp_path, progress=False)
    from groklab.analysis.aggregate import summarise_runs
    runs = summarise_runs([tmp_path])
    assert runs.diverged.all() and m.diverged.iloc[-1]
