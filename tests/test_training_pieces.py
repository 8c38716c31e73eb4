"""The pieces groklab.training.loop.PackRun drives: its checkpoint state, the objective, the
Parquet parts, the evaluation schedule, and the per-model learning rate the observables report."""


import pandas as pd
import pytest
import torch

from conftest import tiny_cell
from groklab.training.data import make_split
from groklab.training.job import train_cell
from groklab.training.loop import PackRun
from groklab.training.member import Member
from groklab.training.losses import per_model_loss
from groklab.training.observables import make_probe, observe

CPU = torch.device("cpu")


def group(cell, tmp_path, seeds=(0, 1, 2)):
    """A pack of one cell, and that cell's view (what its evaluation reads)."""
    member = Member(cell, list(seeds), make_split(cell.task), CPU, tmp_path / "parts")
    return PackRun([member], CPU, tmp_path, "test"), member


def test_checkpoint_holds_exactly_the_state_dict_keys(tmp_path):
    cell = tiny_cell(training={"observables": {"enabled": True}})
    run, member = group(cell, tmp_path)
    run.run(progress=False)
    saved = torch.load(run.ckpt_path, weights_only=False)
    assert set(saved) == {"format", "owner"} | set(run.state_dict())
    assert set(run.state_dict()) == {"step", "model", "optimizer", "batches", "members"}
    assert set(saved["members"][0]) == {"seeds", "n_parts", "streak", "last_eval", "diverged", "prev", "prev_step",
                                        "triggers", "loss_weights", "finals", "board"}
    assert saved["members"][0]["seeds"] == [] and [f["seed"] for f in saved["members"][0]["finals"]] == [0, 1, 2]


def test_load_state_dict_restores_a_run_mid_training(tmp_path):
    cell = tiny_cell(training={"batch_size": 16, "observables": {"enabled": True}})
    a, ma = group(cell, tmp_path / "a")
    for _ in range(25):
        a.train_step()
    a.evaluate(force=True)
    a.save()
    b, mb = group(cell, tmp_path / "b")
    b.dir = a.dir
    assert b.resume()                                      # through the file: no tensor shared with a
    assert b.step == 25 and mb.evaluation.last_eval == 25 and mb.evaluation.probes.prev_step == 25
    for run in (a, b):
        for _ in range(5):
            run.train_step()
        run.evaluate(force=True)
    rows = [pd.DataFrame(m.parts.rows["metrics"]).tail(3).reset_index(drop=True) for m in (ma, mb)]
    pd.testing.assert_frame_equal(*rows, check_exact=True)


def test_objective_is_the_plain_loss_without_a_data_mix_rule(tmp_path):
    _, run = group(tiny_cell(), tmp_path)
    x, y = run.data["train_x"], run.data["train_y"]
    logits = run.model(x)                                                # (E, B, C)
    assert run.objective.weights is None and run.objective.op_slices is None
    assert torch.equal(run.objective(logits, y, run.data["train_op"]), per_model_loss(logits, y))


def test_balanced_objective_weighs_each_operation_equally(tmp_path):
    _, run = group(tiny_cell(task={"operations": ["add", "div"]}), tmp_path)
    x, y, ops = run.data["train_x"], run.data["train_y"], run.data["train_op"]
    logits = run.model(x)
    means = [per_model_loss(logits[:, ops == k], y[ops == k]) for k in (0, 1)]   # each (E,)
    torch.testing.assert_close(run.objective(logits, y, ops), (means[0] + means[1]) / 2)


def test_parts_flush_and_resume_drop_the_unrecorded_parts(tmp_path):
    from groklab.training.parts import Parts
    parts = Parts(tmp_path)
    parts.add("observables", [{"seed": 0, "step": 0}])
    parts.flush()                                          # observables only: nothing to write yet
    assert parts.n_parts == 0 and not list(tmp_path.iterdir())
    for step in (0, 10, 20):
        parts.add("metrics", [{"seed": 0, "step": step}])
        parts.add("observables", [{"seed": 0, "step": step}])
        parts.flush()
    assert parts.n_parts == 3 and parts.table("metrics").step.tolist() == [0, 10, 20]
    assert parts.table("observables").step.tolist() == [0, 0, 10, 20]
    resumed = Parts(tmp_path)
    resumed.n_parts = 2                                    # the checkpoint covered the first two parts
    resumed.drop_unrecorded()
    assert resumed.table("metrics").step.tolist() == [0, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "metrics-00000.parquet", "metrics-00001.parquet", "observables-00000.parquet", "observables-00001.parquet"]


def test_evals_are_due_at_their_interval_and_the_budget(tmp_path):
    run, member = group(tiny_cell(training={"steps": 55, "eval_every": 10, "checkpoint_every": 20}), tmp_path)
    assert [s for s in range(1, 56) if member.evaluation.due(s)] == [10, 20, 30, 40, 50, 55]
    run.run(progress=False)
    assert member.parts.table("metrics").step.unique().tolist() == [0, 10, 20, 30, 40, 50, 55]


def observables_now(run):
    d, probes = run.data, run.evaluation.probes
    probe = make_probe(run.model, run.opt, run.cell, run.step, d["train_x"], d["train_y"], probes.init, None, None)
    return observe(probe, expensive=False)


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_lr_observables_report_each_models_own_lr(tmp_path, name):
    cell = tiny_cell(optimizer={"name": name, "lr": 0.01})
    pack, run = group(cell, tmp_path)
    for _ in range(3):
        pack.train_step()                                  # Adam's moments exist
    run.model.load_rows(pack.model, run.rows)
    before = observables_now(run)
    run.opt.set_hyperparameters(torch.tensor([False, True, False]), lr=0.0025)
    after = observables_now(run)
    torch.testing.assert_close(after["optimizer.lr"], torch.tensor([0.01, 0.0025, 0.01]))
    torch.testing.assert_close(after["optimizer.effective_step"],
                               before["optimizer.effective_step"] * torch.tensor([1.0, 0.25, 1.0]))
    for k in before:                                       # nothing else changes with the lr
        if k not in ("optimizer.lr", "optimizer.effective_step"):
            assert torch.equal(before[k], after[k]) or (before[k].isnan() == after[k].isnan()).all(), k


def test_lr_intervention_shows_in_the_observables(tmp_path):
    rule = {"when": "train_acc", "above": 0.0, "set": {"lr": 0.003}}        # fires at the step-0 eval
    cell = tiny_cell(optimizer={"lr": 0.01}, training={"interventions": [rule], "observables": {"enabled": True}})
    train_cell(cell, tmp_path, progress=False)
    obs = pd.read_parquet(tmp_path / "observables.parquet")
    assert obs[obs.step == 0]["optimizer.lr"].to_numpy() == pytest.approx(0.01)       # observed before the rule fired
    assert obs[obs.step > 0]["optimizer.lr"].to_numpy() == pytest.approx(0.003)
