import json
import shutil

import pandas as pd
import pytest
import yaml

import groklab
from groklab.config.cells import load_cell_file

from conftest import run_cli, tiny_cell


def test_groklab_train_outside_snakemake(tmp_path):
    cfg = tmp_path / "cell.yaml"
    cfg.write_text(yaml.safe_dump(tiny_cell().to_dict()))
    out = run_cli("groklab", "train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--name", "tiny")
    assert out.returncode == 0, out.stderr
    assert "best_test_acc" in out.stderr          # the progress bar
    metrics = pd.read_parquet(tmp_path / "run" / "metrics.parquet")
    assert set(metrics.seed) == {0, 1, 2} and metrics.step.max() == 60


def test_groklab_train_bad_config_is_one_line(tmp_path):
    cfg = tmp_path / "cell.yaml"
    cfg.write_text("task: {p: 12, operations: [div]}\n")
    out = run_cli("groklab", "train", "--config", str(cfg), "--out", str(tmp_path / "run"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "task.p: 12 is not prime" in out.stderr
    assert not (tmp_path / "run").exists()


def test_groklab_cells_lists_the_matrix(root, tmp_path):
    out = run_cli("groklab", "cells", "--config", str(root / "tests" / "data" / "tiny.yaml"),
                  "--results", str(tmp_path))
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0 and lines[0].split() == ["cell", "axes", "seeds", "status"]
    assert [line.split()[1:] for line in lines[1:4]] == [
        ["op=add", "0,1", "missing"], ["op=div", "0,1", "missing"], ["include", "map-wd", "0,1", "missing"]]
    assert lines[4].endswith(": 0 done, 0 partial, 3 missing, 0 damaged")


@pytest.mark.slow
def test_groklab_cells_reads_the_state_of_each_run(tiny_run, tmp_path):
    """done / partial / damaged from a real run's directories: one cell left as trained, one cut
    short (a truncated metrics.parquet), one interrupted (only checkpoints under .partial)."""
    shutil.copytree(tiny_run / "results" / "runs", tmp_path / "runs")
    done, damaged, partial = sorted(p for p in (tmp_path / "runs").iterdir())
    metrics = damaged / "metrics.parquet"
    metrics.write_bytes(metrics.read_bytes()[:100])
    shutil.rmtree(partial)
    (partial / ".partial" / "pack-x").mkdir(parents=True)
    (partial / ".partial" / "pack-x" / "checkpoint.pt").write_bytes(b"x")
    out = run_cli("groklab", "cells", "--config", str(tiny_run / "tiny.yaml"), "--results", str(tmp_path))
    status = {line.split()[0]: line.split()[-1] for line in out.stdout.splitlines()[1:4]}
    assert status == {done.name: "done", damaged.name: "damaged", partial.name: "partial"}
    assert out.returncode == 1
    # the same line, naming what Snakemake retrains, that the workflow stops with before any job
    assert out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith(f"groklab: results error: {metrics}: truncated or not a Parquet file; delete "
                                 f"{damaged} and rerun (Snakemake then retrains pack-")
    assert damaged.name in out.stderr.split("retrains", 1)[1]


def test_train_set_overrides_are_the_same_as_the_file(tmp_path):
    """--set KEY=VALUE (value read as YAML; 1e-3 is a number) gives the cell of the edited file."""
    cfg, edited = tmp_path / "cell.yaml", tmp_path / "edited.yaml"
    cfg.write_text(yaml.safe_dump(tiny_cell().to_dict()))
    cell = tiny_cell(optimizer={"lr": 0.001}, training={"seeds": [0, 1], "steps": 10, "eval_every": 5})
    edited.write_text(yaml.safe_dump(cell.to_dict()))
    sets = ["--set", "optimizer.lr=1e-3", "--set", "training.seeds=[0,1]", "--set", "training.eval_every=5"]
    out = run_cli("groklab", "train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet",
                  "--steps", "10", *sets)
    assert out.returncode == 0, out.stderr
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["config"]["optimizer"]["lr"] == 0.001 and record["config"]["training"]["seeds"] == [0, 1]
    assert record["hash"] == load_cell_file(str(edited)).hash


@pytest.mark.parametrize("override, says", [
    ("optimizer.lrr=1", "optimizer: unknown key 'lrr' (did you mean 'lr'?)"),
    ("training.steps=4.5", "training.steps: 4.5 is not of type 'integer'"),
    ("training.steps=5", "training.eval_every: 10 exceeds training.steps=5"),
    ("lr", "--set lr: expected KEY=VALUE"),
    ("task.p.x=1", "task.p.x: p is a value, not a mapping of keys"),
    ("training.seeds=[0,", "--set training.seeds=[0,: the value is not valid YAML"),
])
def test_train_bad_set_is_one_line_before_any_work(tmp_path, override, says):
    cfg = tmp_path / "cell.yaml"
    cfg.write_text(yaml.safe_dump(tiny_cell().to_dict()))
    out = run_cli("groklab", "train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--set", override)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr
    assert says in out.stderr
    assert not (tmp_path / "run").exists()


def test_version(root):
    out = run_cli("groklab", "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"groklab {groklab.__version__}"


def test_train_reads_a_json_cell_with_exponent_numbers(tmp_path, root):
    """config.json records hold numbers like 1e-08, which YAML 1.1 would read as strings."""
    import json

    cell = tiny_cell(optimizer={"eps": 1e-08}, training={"steps": 10, "eval_every": 5, "seeds": [0]})
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(cell.to_dict()))
    assert "1e-08" in path.read_text()
    out = run_cli("groklab", "train", "--config", str(path), "--out", str(tmp_path / "out"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "out" / "config.json").read_text())["config"]["optimizer"]["eps"] == 1e-08
