"""Packs: cells of one shape trained as one ensemble give each cell exactly the numbers it gets alone.

Tiny cells (p = 13, d = 16) that differ in everything per model: lr, weight decay, betas,
init, Grokfast filter, intervention, data split (add vs sub), budget and early stop.
"""

import copy
import json

import pandas as pd
import pytest
import torch
import yaml

from conftest import ROOT, tiny_cell
from groklab.config.matrix import expand
from groklab.training.data import make_split
from groklab.training.job import CellJob, pack_key, plan_groups, train_pack
from groklab.training.loop import PackRun
from groklab.training.member import Member
from groklab.training.packs import form_packs, pack_capacity, signature

CPU = torch.device("cpu")
EMA = {"kind": "grokfast_ema", "alpha": 0.9, "lamb": 2.0}


def cells():
    """Four cells of one shape, every per-model difference the pack must keep apart."""
    return {
        "a": tiny_cell(),
        "b": tiny_cell(optimizer={"lr": 0.003, "weight_decay": 0.3, "betas": [0.8, 0.95], "filters": [EMA]},
                       init={"scheme": "sparse", "sparsity": 0.5}),
        "c": tiny_cell(task={"operations": ["sub"]}, training={"steps": 40, "early_stop_evals": 1,
                                                               "grok_threshold": 0.01,
                                                               "interventions": [{"when": "train_acc", "above": 0.0,
                                                                                  "set": {"lr": 0.002}}]}),
        "d": tiny_cell(training={"steps": 80, "seeds": [5]}, optimizer={"schedule": {"kind": "cosine", "warmup_steps": 5}}),
    }


def train(names, tmp_path, tag):
    c = cells()
    jobs = [CellJob(c[n], tmp_path / tag / n, n, n) for n in names]
    out = train_pack(jobs, tmp_path / tag / "pack", progress=False, pack={"id": tag})
    frames = {n: out[str(tmp_path / tag / n)] for n in names}
    observed = {n: pd.read_parquet(tmp_path / tag / n / "observables.parquet") for n in names}
    return frames, observed


def test_cells_train_in_a_pack_exactly_as_alone(tmp_path):
    names = ["a", "b", "c", "d"]
    assert len({signature(cell) for cell in cells().values()}) == 1
    packed, packed_obs = train(names, tmp_path, "pack")
    for n in names:
        alone, alone_obs = train([n], tmp_path, f"alone-{n}")
        pd.testing.assert_frame_equal(packed[n], alone[n], check_exact=True)
        pd.testing.assert_frame_equal(packed_obs[n], alone_obs[n], check_exact=True)
    # c's models stopped early (threshold 0.01, one eval) and left; d trained its own 80 steps
    assert packed["c"].step.max() < 40 and packed["d"].step.max() == 80 and packed["a"].step.max() == 60
    assert not packed["a"].equals(packed["b"])


def test_adding_a_cell_to_the_pack_changes_no_other_cell(tmp_path):
    two, _ = train(["a", "b"], tmp_path, "two")
    three, _ = train(["a", "b", "c"], tmp_path, "three")
    for n in ("a", "b"):
        pd.testing.assert_frame_equal(two[n], three[n], check_exact=True)


def test_minibatch_pack_with_different_data_equals_alone(tmp_path):
    c = {"add": tiny_cell(training={"batch_size": 16}), "sub": tiny_cell(task={"operations": ["sub"]},
                                                                       training={"batch_size": 16})}
    jobs = [CellJob(cell, tmp_path / "pack" / n, n) for n, cell in c.items()]
    packed = train_pack(jobs, tmp_path / "pack" / "state", progress=False)
    for n, cell in c.items():
        alone = train_pack([CellJob(cell, tmp_path / n, n)], tmp_path / n / "state", progress=False)
        pd.testing.assert_frame_equal(packed[str(tmp_path / "pack" / n)], alone[str(tmp_path / n)], check_exact=True)


def test_finished_models_leave_the_live_tensors(tmp_path):
    c = cells()
    members = [Member(c[n], list(c[n].training.seeds), make_split(c[n].task), CPU, tmp_path / n) for n in ("a", "c", "d")]
    run = PackRun(members, CPU, tmp_path / "state", "test")
    sizes = []
    run.evaluate(force=True)
    while run.E:
        run.train_step()
        run.evaluate()
        sizes.append(run.E)
    assert sizes[0] == 7 and sizes[-1] == 0 and sizes == sorted(sizes, reverse=True)
    assert 4 in sizes and 1 in sizes                  # c left early; then a at 60; d alone until 80
    assert all(p.shape[0] == 1 for p in run.opt.m) or run.E == 0
    finals = {(m.cell.training.steps, f["seed"]): f["step"] for m in members for f in m.finals}
    assert finals[(60, 0)] == 60 and finals[(80, 5)] == 80 and max(v for (s, _), v in finals.items() if s == 40) < 40


def test_pack_records_its_members_in_each_config_json(tmp_path):
    train(["a", "b"], tmp_path, "rec")
    record = json.loads((tmp_path / "rec" / "a" / "config.json").read_text())
    assert record["provenance"]["pack"] == {"id": "rec"} and record["hash"] == cells()["a"].hash
    final = torch.load(tmp_path / "rec" / "a" / "final.pt", weights_only=False)
    assert [m["seed"] for m in final["models"]] == [0, 1, 2] and all(m["step"] == 60 for m in final["models"])


def test_default_matrix_packs_by_shape():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    by_id = {c.id: c.config for c in expand(config)}
    packs = form_packs(by_id)
    assert sorted(c for p in packs for c in p.cells) == sorted(by_id)            # every cell, once
    assert form_packs(dict(reversed(list(by_id.items())))) == packs              # deterministic
    for p in packs:
        assert len({signature(by_id[c]) for c in p.cells}) == 1 and list(p.cells) == sorted(p.cells)
        assert p.models <= pack_capacity([by_id[c] for c in p.cells], "cpu")
    readers = {c for c, cfg in by_id.items() if cfg.reads_training_map}
    assert all(set(p.cells) <= readers or not set(p.cells) & readers for p in packs)
    sgd = next(p for p in packs if any(c.startswith("sgd") for c in p.cells))
    assert all(by_id[c].optimizer.name == "sgd" for c in sgd.cells)
    # a smaller cap splits a signature group, in cell-id order
    cap = max(len(cfg.training.seeds) for cfg in by_id.values())
    small = form_packs({k: v.replace_training(pack_models=cap) for k, v in by_id.items()})
    assert max(p.models for p in small) == cap and len(small) > len(packs)


def test_pack_models_is_not_part_of_a_cells_identity():
    cell = tiny_cell()
    assert cell.replace_training(pack_models=2).hash == cell.hash
    assert cell.replace_training(steps=61).hash != cell.hash


def test_groups_keep_whole_cells_and_split_only_a_cell_above_the_cap():
    c = cells()
    jobs = [CellJob(c[n], ROOT / n, n) for n in ("a", "b", "d")]           # 3 + 3 + 1 models
    assert [[(j.name, s) for j, s in g] for g in plan_groups(jobs, 4)] == [
        [("a", [0, 1, 2])], [("b", [0, 1, 2]), ("d", [5])]]
    big = CellJob(tiny_cell(training={"seeds": list(range(10))}), ROOT / "big", "big")
    assert [s for g in plan_groups([big], 4) for _, s in g] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert pack_key(jobs) != pack_key(jobs[:2])


def test_cells_of_different_shapes_are_refused_as_one_pack(tmp_path):
    from groklab.config.cells import ConfigError
    jobs = [CellJob(tiny_cell(), tmp_path / "a", "a"), CellJob(tiny_cell(model={"d_mlp": 64}), tmp_path / "b", "b")]
    with pytest.raises(ConfigError, match="differ in shape"):
        train_pack(jobs, tmp_path / "state", progress=False)
    assert not (tmp_path / "a" / "metrics.parquet").exists()


DRIVER = """
import sys
from pathlib import Path
import yaml
from groklab.config.cells import CellConfig
from groklab.training.job import CellJob, train_pack
root = Path(sys.argv[1])
jobs = [CellJob(CellConfig.from_dict(yaml.safe_load((root / f"{n}.yaml").read_text())), root / n, n) for n in ("a", "b")]
train_pack(jobs, root / "state", progress=False)
"""


def test_killed_pack_resumes_to_the_uninterrupted_metrics(tmp_path):
    """SIGKILL a two-cell pack after its first checkpoint (one cell's models have left by then,
    the other's leave later); the resumed pack writes exactly the uninterrupted metrics."""
    import signal
    import subprocess
    import sys
    import time
    base = {"task": {"p": 31}, "model": {"d_model": 64, "d_mlp": 256}}
    a = tiny_cell(**base, training={"steps": 100, "eval_every": 10, "checkpoint_every": 150, "batch_size": 64})
    b = tiny_cell(**base, optimizer={"lr": 0.003}, training={"steps": 600, "eval_every": 10, "checkpoint_every": 150,
                                                            "batch_size": 64, "seeds": [3, 4]})
    reference = train_pack([CellJob(a, tmp_path / "ref" / "a", "a"), CellJob(b, tmp_path / "ref" / "b", "b")],
                           tmp_path / "ref" / "state", progress=False)
    run = tmp_path / "run"
    run.mkdir()
    for name, cell in (("a", a), ("b", b)):
        (run / f"{name}.yaml").write_text(yaml.safe_dump(cell.to_dict()))
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(run)])
    deadline = time.time() + 120
    while time.time() < deadline and not list((run / "state").glob("*/checkpoint.pt")) and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the pack finished before its first checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "b" / "metrics.parquet").exists()
    state = torch.load(next((run / "state").glob("*/checkpoint.pt")), weights_only=False)
    assert [len(m["finals"]) for m in state["members"]] == [3, 0]       # a's models left before it
    resumed = train_pack([CellJob(a, run / "a", "a"), CellJob(b, run / "b", "b")], run / "state", progress=False)
    for n in ("a", "b"):
        pd.testing.assert_frame_equal(resumed[str(run / n)], reference[str(tmp_path / "ref" / n)], check_exact=True)


def test_a_rerun_retrains_the_pack_and_through_the_matrix_map_its_readers():
    from groklab.training.packs import Pack, describe_rerun, retrained_with

    packs = [Pack("pack-a", "a", ("add", "sub"), 6, "cpu"), Pack("pack-b", "b", ("div",), 3, "cpu"),
             Pack("pack-c", "c", ("map-wd",), 3, "cpu")]
    fitted, readers = {"add", "sub", "div"}, {"map-wd"}
    assert [p.id for p in retrained_with("sub", packs, fitted, readers)] == ["pack-a", "pack-c"]
    assert [p.id for p in retrained_with("map-wd", packs, fitted, readers)] == ["pack-c"]
    assert [p.id for p in retrained_with("div", packs, set(), set())] == ["pack-b"]
    text = describe_rerun(retrained_with("add", packs, fitted, readers))
    assert text == ("Snakemake then retrains pack-a (cells add, sub) and, as the matrix map is refitted, "
                    "pack-c (cells map-wd), and rebuilds what reads their runs")


def test_copies_pack_apart_so_adding_them_changes_no_existing_pack():
    """A replicate (or ladder rung) added to config.yaml trains only its copies: the packs of the
    matrix as written, and so their Snakemake jobs, stay exactly as they were."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    before = form_packs({c.id: c.config for c in expand(copy.deepcopy(config))})
    config["robustness"] = {"seeds": [50, 51], "split_seed": 7}
    after = form_packs({c.id: c.config for c in expand(config)})
    assert set(before) <= set(after) and len(after) > len(before)
    assert all(all("--" in c for c in p.cells) for p in set(after) - set(before))
