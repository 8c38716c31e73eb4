"""Bad input beyond single keys: cross-key checks of the HMM and paper sections, YAML syntax
errors with their line, and the workflow refusing such a config before any job."""

import pytest

from groklab.checks import check_config

from conftest import copy_workflow, run_cli
from groklab.analysis.claims import check_paper
from groklab.config.cells import ConfigError, load_yaml_file, validate
from groklab.config.matrix import check_hmm, expand, studies


def config(**top):
    base = {"cell": {"task": {"p": 13}, "training": {"steps": 100, "eval_every": 10, "seeds": [0]}},
            "matrix": {"axes": {"op": {"key": "task.operations", "values": {"add": ["add"], "sub": ["sub"]}}}},
            "studies": {"s": {"baseline": "op~add", "variants": ["op~sub"]}}}
    return base | top


def paper_error(paper: dict) -> str:
    cfg = validate(config(paper=paper))
    cells = expand(cfg)
    found = {s.name: [v.name for v in s.variants] for s in studies(cfg, cells)}
    with pytest.raises(ConfigError) as err:
        check_paper(cfg["paper"], found, {c.name for c in cells}, list(cfg["matrix"]["axes"]))
    return str(err.value)


def test_hmm_k_max_larger_than_the_evaluations_of_a_run():
    cfg = config(hmm={"k_max": 12})
    with pytest.raises(ConfigError, match=r"^hmm\.k_max: 12 states need at least 12 evaluations per run, but cell "
                                          r"op~add of study s has 11 "):
        check_hmm(cfg, studies(cfg, expand(cfg)))
    check_hmm(config(hmm={"k_max": 11}), studies(config(), expand(config())))


@pytest.mark.parametrize("paper, message", [
    ({"claims": [{"name": "x", "study": "s", "variant": "op~mul", "metric": "delay"}]},
     "paper.claims[0].variant: 'op~mul' is not a variant of study 's' (its variants: op~sub)"),
    ({"claims": [{"name": "x", "study": "s", "variant": "op~sub", "metric": "delay"}] * 2},
     "paper.claims[1].name: 'x' is used by more than one claim"),
    ({"baseline": "op~div"}, "paper.baseline: no cell named 'op~div'"),
    ({"phase_diagram": {"x": "lr", "y": "op"}}, "paper.phase_diagram.x: 'lr' is not a matrix axis (axes: op)"),
])
def test_paper_section_errors_name_the_key(paper, message):
    assert paper_error(paper).startswith(message)


@pytest.mark.parametrize("paper, key", [
    ({"claims": [{"name": "Sgd", "study": "s", "variant": "op~sub", "metric": "delay"}]}, "paper.claims[0].name"),
    ({"claims": [{"name": "x", "study": "s", "variant": "op~sub", "metric": "speed"}]}, "paper.claims[0].metric"),
    ({"confidence": 1.5}, "paper.confidence"),
    ({"bootstrap": 10}, "paper.bootstrap"),
    ({"dirr": "x"}, "paper: unknown key 'dirr'"),
])
def test_paper_values_are_validated(paper, key):
    with pytest.raises(ConfigError) as err:
        validate(config(paper=paper))
    assert str(err.value).startswith(key) and "\n" not in str(err.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cell:\n  task: {p: 23\n  model: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: YAML syntax error at line 3, column \d+: "):
        load_yaml_file(str(bad))
    out = run_cli("groklab", "cells", "--config", str(bad))
    assert out.returncode == 2 and "YAML syntax error at line 3" in out.stderr


@pytest.mark.slow
def test_workflow_refuses_a_config_yaml_with_a_syntax_error_before_any_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "config.yaml").write_text("cell:\n  task: {p: 23\n")
    out = run_cli("snakemake", "-n", "--cores", "1", cwd=workdir)
    assert out.returncode != 0 and "groklab: config error: config.yaml: YAML syntax error at line" in out.stderr
    assert not (workdir / "results").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished run directory of a tiny cell (copied per test before it is damaged)."""
    from conftest import tiny_cell
    from groklab.training.job import train_cell

    cell = tiny_cell(training={"steps": 20, "eval_every": 10, "seeds": [0]})
    out = tmp_path_factory.mktemp("run") / "cell"
    train_cell(cell, out, progress=False)
    return cell, out


def flip(data: bytes) -> bytes:
    """The same bytes with one in the middle changed: same size, Parquet magic and zip end intact."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "metrics.parquet").write_bytes((d / "metrics.parquet").read_bytes()[:-40]),
     "metrics.parquet: truncated or not a Parquet file; delete"),
    (lambda d: (d / "observables.parquet").write_bytes(b"not parquet"), "observables.parquet: truncated"),
    (lambda d: (d / "config.json").write_text("{"), "config.json: missing or not valid JSON"),
    (lambda d: (d / "config.json").write_text((d / "config.json").read_text().replace('"hash": "', '"hash": "ff')),
     "config.json: results of another cell config"),
    (lambda d: (d / "config.json").write_text((d / "config.json").read_text().replace('"format": 2', '"format": 1')),
     "written by an older groklab (results format 1"),
    (lambda d: (d / "final.pt").write_bytes(bytes(range(256)) * 64), "final.pt: damaged or truncated"),
    (lambda d: (d / "final.pt").write_bytes((d / "final.pt").read_bytes()[:-100]), "final.pt: damaged or truncated"),
    (lambda d: (d / "final.pt").write_bytes(flip((d / "final.pt").read_bytes())), "final.pt: damaged or changed since training"),
    (lambda d: (d / "metrics.parquet").write_bytes(flip((d / "metrics.parquet").read_bytes())),
     "metrics.parquet: damaged or changed since training"),
    (lambda d: (d / "observables.parquet").unlink(), "observables.parquet: missing (config.json records it)"),
])
def test_damaged_run_directories_are_named_with_the_fix(trained, tmp_path, damage, message):
    import shutil

    from groklab.training.rundir import run_dir_problem

    cell, src = trained
    run = tmp_path / "cell"
    shutil.copytree(src, run)
    assert run_dir_problem(run, cell.hash) is None
    damage(run)
    problem = run_dir_problem(run, cell.hash)
    assert problem is not None and message in problem and "\n" not in problem
    assert problem.endswith(f"delete {run} and rerun (Snakemake retrains the pack that cell trained in, "
                            "`groklab packs` lists it, and what reads its runs)")


def test_checksums_hash_only_what_changed_and_audit_hashes_everything(trained, tmp_path):
    """The pre-flight check hashes a file only where its size or mtime changed (a touched file is
    rehashed and passes); a same-size change with the old mtime is caught by the full check, which
    `groklab audit --all` runs on every run directory."""
    import json
    import os
    import shutil

    from groklab.cli import _damaged_runs
    from groklab.training.rundir import run_dir_problem

    cell, src = trained
    run = tmp_path / "runs" / "cell"
    shutil.copytree(src, run)
    os.utime(run / "final.pt")                     # touched: hashed again, still sound
    assert run_dir_problem(run, cell.hash) is None and _damaged_runs(tmp_path / "runs") == []
    final = run / "final.pt"
    recorded = json.loads((run / "config.json").read_text())["files"]["final.pt"]["mtime_ns"]
    final.write_bytes(flip(final.read_bytes()))
    os.utime(final, ns=(recorded, recorded))                  # the mtime config.json recorded
    assert run_dir_problem(run, cell.hash) is None            # the cheap check trusts size and mtime
    assert "final.pt: damaged or changed since training" in run_dir_problem(run, cell.hash, full=True)
    (problem,) = _damaged_runs(tmp_path / "runs")
    assert problem.startswith(f"{final}: damaged or changed since training")


@pytest.mark.parametrize("rule, message", [
    ({"when": "hmm_state", "set": {"lr": 0.1}}, "interventions[0]: an hmm_state rule gives `state`"),
    ({"when": "hmm_state", "state": 1, "above": 0.5, "set": {"lr": 0.1}}, "interventions[0]: an hmm_state rule gives"),
    ({"when": "train_acc", "above": 0.5, "state": 1, "set": {"lr": 0.1}}, "interventions[0].state: only for"),
    ({"when": "train_acc", "set": {"lr": 0.1}}, "interventions[0]: give exactly one of above / below"),
    ({"when": "train_acc/mul", "above": 0.5, "set": {"lr": 0.1}}, "interventions[0].when: 'train_acc/mul': this cell has no operation 'mul'"),
    ({"when": "train_accc", "above": 0.5, "set": {"lr": 0.1}}, "interventions[0].when: 'train_accc' is neither"),
    ({"when": "train_acc", "above": 0.5, "set": {"filter_lamb": 2.0}}, "interventions[0].set.filter_lamb: sets the strength of a Grokfast filter"),
    ({"when": "train_acc", "above": 0.5, "set": {"data_mix": {"add": 0.0}}}, "interventions[0].set.data_mix: weighs the operations of a multi-task cell"),
    ({"when": "train_acc", "above": 0.5, "set": {"data_mix": {"x": 0.0}}}, "interventions[0].set.data_mix.x: not an operation"),
    ({"when": "train_acc", "above": 0.5, "set": {"data_mix": {"add": 0.0, "sub": 0.0}}}, "every operation's weight is 0"),
    ({"when": "train_acc", "above": 0.5, "set": {"data_mix": {"add": -1.0}}}, "interventions[0].set.data_mix.add"),
    ({"when": "train_acc", "above": 0.5, "set": {"wd": 1.0}}, "interventions[0].set: unknown key 'wd'"),
])
def test_intervention_rules_are_checked_naming_the_key(rule, message):
    two_ops = message.startswith("interventions[0].set.data_mix.") or "every operation" in message
    cfg = config(matrix={"include": [{"name": "r", "set": {"training.interventions": [rule],
                                                           **({"task.operations": ["add", "sub"]} if two_ops else {})}}]})
    with pytest.raises(ConfigError) as err:
        check_config(cfg)      # the one validation path (the observables registry is checked there)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "[matrix cell r]" in str(err.value) or "matrix.include" in str(err.value) or message.startswith("interventions")


def test_hmm_state_rules_are_checked_against_the_matrix_map():
    from groklab.config.matrix import check_map_states, map_cells

    rule = {"when": "hmm_state", "state": 6, "set": {"weight_decay": 3.0}}
    cfg = config(matrix={"axes": {}, "include": [{"name": "b", "set": {"training.interventions": [rule]}}]}, studies={})
    cells = expand(cfg)
    with pytest.raises(ConfigError, match=r"interventions\[0\].state: 6, but the matrix map has at most hmm.k_max=6 states"):
        check_map_states(cfg, cells)
    assert [c.name for c in map_cells(cells)] == ["base"]
    only = config(matrix={"axes": {}}, studies={})
    only["cell"]["training"]["interventions"] = [rule]
    with pytest.raises(ConfigError, match="cell base has an hmm_state rule, but no cell is left to fit the matrix"):
        map_cells(expand(only))


def test_workflow_refuses_an_hmm_state_rule_out_of_range_before_any_job(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(
        "cell: {task: {p: 13}, training: {steps: 100, eval_every: 10, seeds: [0]}}\n"
        "matrix: {include: [{name: b, set: {training.interventions: "
        "[{when: hmm_state, state: 9, set: {lr: 0.1}}]}}]}\n")
    out = run_cli("snakemake", "--cores", "1", "--configfile", "bad.yaml", cwd=workdir)
    errors = [l for l in out.stderr.splitlines() if l.startswith("groklab: config error:")]
    assert out.returncode != 0 and len(errors) == 1 and "interventions[0].state: 9" in errors[0], out.stderr
    assert not (workdir / "results").exists()


# The second round of bad configs (#19) is the table of tests/bad_configs.py (test_bad_configs.py).


def test_integer_valued_floats_elsewhere_stay_floats():
    """Only keys the schema types as integer are refused: a float key may hold 1 or 1.0."""
    cfg = validate(config(cell={"task": {"p": 13}, "optimizer": {"lr": 1, "weight_decay": 1.0}}))
    assert cfg["cell"]["optimizer"]["lr"] == 1


# -- #37, third round: the memory bound, results_dir, the checks that span sections ----------------

def tiny_cell(**sections):
    from groklab.config.cells import CellConfig

    base = {"task": {"p": 13, "operations": ["add"]}, "training": {"steps": 100, "eval_every": 10, "seeds": [0]}}
    return CellConfig.from_dict({**base, **sections})


def test_memory_estimate_adds_the_dataset_the_state_and_the_activations():
    from groklab.config.cells import _n_params, memory_estimate

    cell = tiny_cell()
    parts = memory_estimate(cell)
    assert set(parts) == {"dataset", "state", "activations"}
    assert parts["dataset"] == 13 * 13 * (4 + 1) * 8                        # p^2 examples of [a, op, b, =] + label, int64
    assert parts["state"] == _n_params(cell.task, cell.model) * (3 + 2) * 4  # weights, grads, init + Adam's two moments
    three = memory_estimate(tiny_cell(training={"steps": 100, "eval_every": 10, "seeds": [0, 1, 2]}))
    assert three["dataset"] == parts["dataset"]
    assert three["state"] == 3 * parts["state"] and three["activations"] == 3 * parts["activations"]
    sgd = memory_estimate(tiny_cell(optimizer={"name": "sgd", "betas": [0.9, 0.98]}))
    assert sgd["state"] == parts["state"] * 3 // 5                           # no moments without momentum
    batch = memory_estimate(tiny_cell(training={"steps": 100, "eval_every": 10, "seeds": [0], "batch_size": 8}))
    assert batch["activations"] < parts["activations"]


def test_every_shipped_config_is_far_below_the_memory_limit():
    from pathlib import Path

    from groklab.checks import load_workflow_config
    from groklab.config.cells import MEMORY_LIMIT_BYTES, memory_estimate

    root = Path(__file__).resolve().parents[1]
    for path in [root / "config.yaml", *sorted((root / "config").glob("*.yaml"))]:
        for cell in expand(load_workflow_config(str(path))):
            assert sum(memory_estimate(cell.config).values()) < MEMORY_LIMIT_BYTES / 16, (path.name, cell.name)


def test_the_memory_bound_comes_before_the_primality_test_and_names_the_key():
    import time

    from groklab.config.cells import check_memory

    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^cell\.task\.p: 1000000000000000000000039 makes the cell need about "):
        tiny_cell(task={"p": 10**24 + 39, "operations": ["div"]})
    assert time.perf_counter() - start < 5
    with pytest.raises(ConfigError, match=r"^x\.model\.d_mlp: 4096 makes .* over the limit of 1 MiB; lower model\.d_mlp$"):
        check_memory(tiny_cell(model={"d_mlp": 4096}), "x", limit=2**20)
    with pytest.raises(ConfigError, match=r"^cell\.training\.seeds: 64 seeds makes "):
        check_memory(tiny_cell(training={"steps": 100, "eval_every": 10, "seeds": list(range(64))}), limit=2**20)
    check_memory(tiny_cell(), limit=2**30)


@pytest.mark.parametrize("given, outside, message", [
    ("results.txt", False, "results_dir: 'results.txt' is an existing file, not a directory"),
    ("link-to-file", False, "results_dir: 'link-to-file' is an existing file, not a directory"),
    ("src/../docs/out", False, "results_dir: 'src/../docs/out' is inside the source tree (docs/)"),
    ("{tmp}/elsewhere", False, "results_dir: '{tmp}/elsewhere' is outside the working directory {tmp}/work; set results_dir_outside: true"),
    ("{tmp}", True, "results_dir: '{tmp}' is a directory above the working directory"),
    ("{tmp}/work/src/out", True, "results_dir: '{tmp}/work/src/out' is inside the source tree (src/)"),
    ("{tmp}/work", True, "results_dir: '{tmp}/work' is the working directory"),
])
def test_results_dir_is_checked_against_the_working_directory(tmp_path, monkeypatch, given, outside, message):
    from groklab.checks import check_results_dir

    work = tmp_path / "work"
    work.mkdir()
    (work / "results.txt").write_text("not a directory")
    (work / "link-to-file").symlink_to(work / "results.txt")
    monkeypatch.chdir(work)
    cfg = validate(config(results_dir=given.format(tmp=tmp_path), results_dir_outside=outside))
    with pytest.raises(ConfigError) as err:
        check_results_dir(cfg)
    assert str(err.value).startswith(message.format(tmp=tmp_path)), err.value
    assert sorted(p.name for p in work.iterdir()) == ["link-to-file", "results.txt"]   # nothing made, nothing deleted


@pytest.mark.parametrize("given, outside", [("results", False), ("out/run-1", False), ("./results-x", False),
                                            ("{tmp}/elsewhere", True), ("../shared-results", True)])
def test_results_dir_accepts_a_directory_of_its_own(tmp_path, monkeypatch, given, outside):
    from groklab.checks import check_results_dir

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    check_results_dir(validate(config(results_dir=given.format(tmp=tmp_path), results_dir_outside=outside)))


def test_heldout_selection_needs_held_out_runs():
    cfg = config(hmm={"criterion": "heldout", "held_out_fraction": 0})
    with pytest.raises(ConfigError, match=r"^hmm\.criterion: heldout .* hmm\.held_out_fraction is 0"):
        check_hmm(cfg, studies(cfg, expand(cfg)))
    for ok in ({"criterion": "heldout", "held_out_fraction": 0.25}, {"criterion": "bic", "held_out_fraction": 0}):
        cfg = config(hmm=ok)
        check_hmm(cfg, studies(cfg, expand(cfg)))


def test_a_written_claim_must_name_a_study_of_the_config_but_the_default_claims_need_not():
    assert paper_error({"claims": [{"name": "x", "study": "t", "variant": "op~sub", "metric": "delay"}]}).startswith(
        "paper.claims[0].study: no study named 't'; the config's studies: s")
    check_config(config())     # the default claims name the seed paper's studies: 'not run' here


def test_early_stop_within_the_budget_is_accepted():
    tiny_cell(training={"steps": 100, "eval_every": 10, "seeds": [0], "early_stop_evals": 11})
    with pytest.raises(ConfigError, match=r"^cell\.training\.early_stop_evals: 12 consecutive evaluations, but the budget allows 11"):
        tiny_cell(training={"steps": 100, "eval_every": 10, "seeds": [0], "early_stop_evals": 12})
