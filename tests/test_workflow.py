"""The real Snakemake DAG on a tiny config: lint, validation before any job, a full run."""

import json
import os
import shutil
import sys

import pandas as pd
import yaml
import pytest

from conftest import ROOT, copy_workflow, run_cli

pytestmark = pytest.mark.slow


def snakemake(*args, cwd=ROOT):
    return run_cli("snakemake", "--cores", "2", *args, cwd=cwd)


@pytest.fixture
def workdir(tmp_path):
    """A copy of the workflow files, so tests never lock or write into the checkout."""
    return copy_workflow(tmp_path)


def test_lint_is_clean():
    out = snakemake("--lint")
    assert out.returncode == 0 and "Congratulations" in out.stdout + out.stderr, out.stdout + out.stderr


def test_default_config_builds_a_dag(workdir):
    out = snakemake("-n", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "aggregate_runs" in out.stdout


@pytest.mark.parametrize(
    "yaml_text, key",
    [
        ("cell:\n  task: {operations: [pow]}\n", "cell.task.operations[0]"),
        ("cell:\n  task: {train_fraction: 1.5}\n", "cell.task.train_fraction"),
        ("cell:\n  task: {p: 2}\n", "cell.task.p"),
        ("cell:\n  task: {p: 15, operations: [div]}\n", "cell.task.p"),
        ("cell:\n  optimizr: {}\n", "cell: unknown key 'optimizr'"),
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(workdir, yaml_text, key):
    (workdir / "bad.yaml").write_text(yaml_text)
    out = snakemake("--configfile", "bad.yaml", cwd=workdir)
    assert out.returncode != 0
    errors = [l for l in out.stderr.splitlines() if l.startswith("groklab: config error:")]
    assert len(errors) == 1 and key in errors[0], out.stderr
    assert not (workdir / "results").exists()


def test_whole_dag_runs_and_writes_runs_parquet(tiny_run):
    workdir = tiny_run
    runs = pd.read_parquet(workdir / "results" / "summary" / "runs.parquet")
    assert len(runs) == 6 and set(runs.cell) == {"op~add", "op~div", "map-wd"}
    expected = {"cell_id", "seed", "memorisation_step", "grok_step", "delay", "final_test_acc", "grok_pct"}
    assert expected <= set(runs.columns)
    for run_dir in (workdir / "results" / "runs").iterdir():
        record = json.loads((run_dir / "config.json").read_text())
        assert run_dir.name == f"{record['name']}-{record['hash'][:8]}"
        assert (run_dir / "final.pt").exists() and not (run_dir / ".partial").exists()
        # the live TensorBoard view of every model: results/tensorboard/<cell id>/seed<k>/
        board = workdir / "results" / "tensorboard" / run_dir.name
        assert sorted(p.name for p in board.iterdir()) == ["seed0", "seed1"]
        assert all(list(p.glob("events.out.tfevents.*")) for p in board.iterdir())
    hmm = workdir / "results" / "hmm" / "division"
    for name in ("selection.parquet", "model.json", "paths.parquet", "map.json", "detours.parquet"):
        assert (hmm / name).stat().st_size > 0, name
    for name in ("hmm-map-division.pdf", "hmm-selection-division.pdf"):
        assert (workdir / "paper" / "generated" / "figures" / name).stat().st_size > 0, name
    assert len(pd.read_parquet(hmm / "detours.parquet")) == json.loads((hmm / "model.json").read_text())["K"]
    # the matrix map: fitted on the two cells without map rules; map-wd decoded its runs with it
    matrix = workdir / "results" / "hmm" / "_matrix"
    record = json.loads((matrix / "model.json").read_text())
    assert record["normalise"] == "pooled" and set(pd.read_parquet(matrix / "paths.parquet").cell) == {"op~add", "op~div"}
    (map_wd,) = (workdir / "results" / "runs").glob("map-wd-*")
    assert (matrix / "model.json").stat().st_mtime < (map_wd / "metrics.parquet").stat().st_mtime
    assert json.loads((map_wd / "config.json").read_text())["provenance"]["hmm_map"]["path"] == "results/hmm/_matrix/model.json"
    m = pd.read_parquet(map_wd / "metrics.parquet")
    assert m["hmm_state"].between(0, record["K"] - 1).all()
    # the rule fires at the first eval where the decoded state is 0 (the map's first-visited state)
    pd.testing.assert_series_equal(m.loc[m.hmm_state == 0].groupby("seed")["step"].min(),
                                   m.loc[m["intervention/0"]].groupby("seed")["step"].min())
    again = snakemake("--configfile", "tiny.yaml", "-n", cwd=workdir)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_switching_the_tensorboard_view_reruns_no_job(tiny_run):
    """training.tensorboard is a view: not in a cell's hash nor in a training rule's params. (The
    file is rewritten with sorted keys, which reorders an intervention's keys: that reruns nothing
    either.)"""
    raw = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    raw["cell"]["training"]["tensorboard"] = {"enabled": False, "observables": []}
    (tiny_run / "tiny-no-view.yaml").write_text(yaml.safe_dump(raw))
    again = snakemake("--configfile", "tiny-no-view.yaml", "-n", cwd=tiny_run)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]


def test_a_damaged_final_pt_is_named_before_any_job(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    (map_wd,) = (workdir / "results" / "runs").glob("map-wd-*")
    # a damaged final.pt of a cell the matrix map is fitted on: named before any job, with what a
    # rerun redoes (its pack, and map-wd's, which decodes the refitted map)
    (add,) = (workdir / "results" / "runs").glob("op~add-*")
    final = add / "final.pt"
    final.write_bytes(os.urandom(final.stat().st_size))
    damaged = snakemake("--configfile", "tiny.yaml", "-n", cwd=workdir)
    errors = [l for l in damaged.stderr.splitlines() if l.startswith("groklab: results error:")]
    assert damaged.returncode != 0 and len(errors) == 1, damaged.stderr[-2000:]
    assert f"results/runs/{add.name}/final.pt: damaged or changed since training" in errors[0]
    assert f"as the matrix map is refitted" in errors[0] and map_wd.name in errors[0]


def test_results_in_a_notebook(tiny_run):
    """groklab.open on the run's results, and docs/explore.ipynb executed on them (nbclient)."""
    import nbformat
    from nbclient import NotebookClient

    import groklab

    workdir = tiny_run
    runs = pd.read_parquet(workdir / "results" / "summary" / "runs.parquet")
    res = groklab.open(workdir / "results")
    cells = res.cells.set_index("cell")
    assert set(cells.index) == {"op~add", "op~div", "map-wd"}
    assert cells.loc["op~div", "op"] == "div" and pd.isna(cells.loc["map-wd", "op"])       # an include has no axis value
    assert cells.loc["op~add", "study.division"] == "baseline" and cells.loc["map-wd", "studies"] == ""
    assert cells.loc["op~div", "task.p"] == 13 and cells.loc["op~div", "task.operations"] == '["div"]'
    assert len(res.runs) == len(runs) and res.runs["optimizer.lr"].notna().all()
    acc = res.metrics(["test_acc"], cell="op~div", seeds=[1])
    (run_dir,) = (workdir / "results" / "runs").glob("op~div-*")
    want = pd.read_parquet(run_dir / "metrics.parquet").query("seed == 1")
    assert set(acc.cell) == {"op~div"} and acc.test_acc.tolist() == want.test_acc.tolist()
    obs = res.observables(["weights.trace_norm", "weights.sum_sq"], where={"task.operations": '["div"]'})
    assert set(obs.cell) == {"op~div", "map-wd"} and obs["weights.sum_sq"].notna().any()
    with pytest.raises(KeyError, match="no selected cell records 'weights.l3'"):
        res.observables(["weights.l3"])
    with pytest.raises(KeyError, match="not a column of the cells table"):
        res.select(lr=0.01)
    nb = nbformat.read(ROOT / "docs" / "explore.ipynb", as_version=4)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{os.path.dirname(sys.executable)}:{path}"      # the kernel: this environment's python
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        os.environ["PATH"] = path
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    ranked = (pd.read_parquet(workdir / "results" / "mechanics" / "leadlag.parquet").study == "all studies").any()
    assert ("earliest-moving observable: " if ranked else "no run grokked, so no observable is ranked") in printed
    assert sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs) == 2
