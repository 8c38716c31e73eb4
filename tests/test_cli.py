import pandas as pd
import yaml

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


def test_groklab_cells_lists_the_matrix(root):
    out = run_cli("groklab", "cells", "--config", str(root / "tests" / "data" / "tiny.yaml"))
    assert out.returncode == 0 and len(out.stdout.strip().splitlines()) == 3


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
