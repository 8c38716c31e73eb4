import pytest

from groklab.config.cells import CellConfig, ConfigError, load_cell_file, validate
from groklab.config.matrix import expand


def test_defaults_are_filled_from_the_schema():
    cell = CellConfig.from_dict({})
    assert cell.task.p == 97 and cell.task.operations == ("add",)
    assert cell.optimizer.betas == (0.9, 0.98) and cell.training.batch_size is None
    assert cell.model.head_dim == 32 and cell.task.vocab_size == 99


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"task": {"operations": ["pow"]}}, "cell.task.operations[0]"),
        ({"task": {"train_fraction": 0.0}}, "cell.task.train_fraction"),
        ({"task": {"train_fraction": 1.0}}, "cell.task.train_fraction"),
        ({"task": {"p": 2}}, "cell.task.p"),
        ({"task": {"p": 12, "operations": ["div"]}}, "cell.task.p"),
        ({"task": {"pp": 5}}, "cell.task"),
        ({"optimizer": {"lr": -1}}, "cell.optimizer.lr"),
        ({"training": {"ensemble_size": 0}}, "cell.training.ensemble_size"),
        ({"training": {"seeds": []}}, "cell.training.seeds"),
        ({"model": {"d_model": 10, "n_heads": 4}}, "cell.model.n_heads"),
        ({"training": {"steps": 10, "eval_every": 100}}, "cell.training.eval_every"),
        ({"task": {"operations": ["s5", "add"]}}, "cell.task.operations"),
        ({"task": {"operations": ["parity"], "parity_bits": 4, "parity_k": 5}}, "cell.task.parity_k"),
        ({"optimizer": {"filters": [{"kind": "grokfast_ma", "window": 500}]}, "training": {"steps": 100, "eval_every": 10}},
         "cell.optimizer.filters[0].window"),
        ({"optimizer": {"filters": [{"kind": "grokfast_ema", "window": 5}]}}, "cell.optimizer.filters[0]"),
        ({"optimizer": {"filters": [{"kind": "lion"}]}}, "cell.optimizer.filters[0].kind"),
        ({"optimizer": {"name": "sgd", "nesterov": True}}, "cell.optimizer.nesterov"),
        ({"optimizer": {"name": "rmsprop"}}, "cell.optimizer.name"),
        ({"optimizer": {"schedule": {"kind": "cosine", "warmup_steps": 20000}}}, "cell.optimizer.schedule.warmup_steps"),
        ({"init": {"scheme": "low_rank", "rank": 1000}}, "cell.init.rank"),
        ({"training": {"loss": "hinge"}}, "cell.training.loss"),
    ],
)
def test_bad_cell_values_name_the_key(raw, key):
    with pytest.raises(ConfigError) as err:
        CellConfig.from_dict(raw)
    msg = str(err.value)
    assert msg.startswith(key) and "\n" not in msg, msg


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match=r"unknown key 'lrr' \(did you mean 'lr'\?\)"):
        CellConfig.from_dict({"optimizer": {"lrr": 0.1}})
    with pytest.raises(ConfigError, match=r"top level: unknown key 'matrx' \(did you mean 'matrix'\?\)"):
        validate({"matrx": {}})


def test_matrix_expands_cross_product_with_stable_ids():
    config = {
        "cell": {"task": {"p": 13}},
        "matrix": {"axes": {
            "op": {"key": "task.operations", "values": {"add": ["add"], "div": ["div"]}},
            "lr": {"key": "optimizer.lr", "values": [0.001, 0.003]},
        }},
    }
    cells = expand(config)
    assert [c.name for c in cells] == ["op~add__lr~0.001", "op~add__lr~0.003", "op~div__lr~0.001", "op~div__lr~0.003"]
    assert cells[2].config.task.operations == ("div",) and cells[3].config.optimizer.lr == 0.003
    again = expand({**config})
    assert [c.id for c in cells] == [c.id for c in again]
    assert len({c.id for c in cells}) == 4


def test_matrix_errors_name_the_cell_and_key():
    bad = {"cell": {"task": {"p": 12}}, "matrix": {"axes": {"op": {"key": "task.operations", "values": [["div"]]}}}}
    with pytest.raises(ConfigError, match=r"^cell\.task\.p: 12 is not prime.*\[matrix cell op~div\]$"):
        expand(bad)
    dup = {"matrix": {"axes": {"lr": {"key": "optimizer.lr", "values": [0.001, 1.0e-3]}}}}
    with pytest.raises(ConfigError, match="duplicate"):
        expand(dup)
    with pytest.raises(ConfigError, match=r"matrix\.axes\.lr\.values"):
        expand({"matrix": {"axes": {"lr": {"key": "optimizer.lr", "values": []}}}})


def test_cell_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_cell_file(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("task:\n  p: [1,\n")
    with pytest.raises(ConfigError, match="YAML syntax error at line"):
        load_cell_file(str(bad))


@pytest.mark.parametrize("name", ["config.yaml", "config/extended.yaml", "config/calibration.yaml",
                                  "config/delay-ladder.yaml", "config/delay-ladder-cpu.yaml", "config/robustness.yaml", "config/paper-full.yaml", "config/nanda2023.yaml",
                                  "config/phase-diagram.yaml"])
def test_every_shipped_config_passes_the_workflow_checks(name):
    """Each config the README and docs tell researchers to run is checked the way the workflow
    checks it (groklab.checks.check_config): a renamed key or study breaks this test, not a run."""
    from pathlib import Path

    from groklab.checks import check_config, load_workflow_config

    path = Path(__file__).resolve().parents[1] / name
    matrix = check_config(load_workflow_config(path))
    assert matrix.cells


@pytest.mark.parametrize("name, own", [("config/delay-ladder.yaml", ("results_dir", "ladder")),
                                       ("config/delay-ladder-cpu.yaml", ("ladder",)),
                                       ("config/robustness.yaml", ("robustness",))])
def test_ladder_and_replicate_configs_are_the_default_matrix_plus_their_section(name, own):
    """config/delay-ladder.yaml, config/delay-ladder-cpu.yaml and config/robustness.yaml repeat
    config.yaml (a --configfile replaces config.yaml): only their own sections may differ, so the ladder's x1 rung and the
    replicate's primary are the default paper's matrix."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    default, other = (yaml.safe_load((root / n).read_text()) for n in ("config.yaml", name))
    for key in own:
        default.pop(key, None), other.pop(key)
    assert other == default


def test_ladder_rungs_stretch_the_budget_unless_told_not_to():
    import copy

    from groklab.checks import check_config

    base = {"cell": {"task": {"p": 7, "operations": ["div"]}, "training": {"steps": 100, "eval_every": 10}},
            "matrix": {"include": [{"name": "v", "set": {"optimizer.lr": 0.002}}]},
            "studies": {"s": {"baseline": "base", "variants": ["v"]}},
            "paper": {"claims": [{"name": "x", "study": "s", "variant": "v", "metric": "grok_step", "claimed": 2}]},
            "ladder": {"rungs": {"x1": 1, "x0p3": 0.3}}}
    cells = {c.name: c.config for c in check_config(copy.deepcopy(base)).cells.values()}
    # 100 / 0.3 = 333.3 steps, rounded up to whole evals of 10: 340
    assert cells["v--x0p3"].training.steps == 340 and cells["v--x0p3"].optimizer.weight_decay == 0.3
    assert cells["v"].training.steps == 100
    base["ladder"]["stretch_budget"] = False
    cells = {c.name: c.config for c in check_config(base).cells.values()}
    assert cells["v--x0p3"].training.steps == 100
