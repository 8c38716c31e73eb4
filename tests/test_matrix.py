"""matrix.exclude, matrix.include and studies: what they expand to, and every error they raise."""

import copy

import pytest

import groklab.config.cells as config_module
from groklab.config.cells import CellConfig, ConfigError
from groklab.config.matrix import Study, cell_record, expand, studies

AXES = {
    "op": {"key": "task.operations", "values": {"add": ["add"], "x2_plus_y2": ["x2_plus_y2"], "div": ["div"]}},
    "lr": {"key": "optimizer.lr", "values": [0.001, 0.003]},
    "wd": {"key": "optimizer.weight_decay", "values": [0.0, 1.0]},
}


def matrix(**extra) -> dict:
    """A 3 x 2 x 2 matrix on p = 13, plus top-level or matrix keys given as keyword arguments."""
    config = {"cell": {"task": {"p": 13}}, "matrix": {"axes": copy.deepcopy(AXES)}}
    for key in ("exclude", "include"):
        if key in extra:
            config["matrix"][key] = extra.pop(key)
    return {**config, **extra}


def names(cells) -> list[str]:
    return [c.name for c in cells]


def test_exclude_drops_every_cell_matching_all_pairs_of_an_entry():
    cells = expand(matrix(exclude=[{"op": "div", "wd": "0"}, {"op": "add", "lr": "0.003", "wd": "1"}]))
    assert len(cells) == 12 - 2 - 1
    assert not any(n.startswith("op~div") and n.endswith("wd~0") for n in names(cells))
    assert "op~add__lr~0.003__wd~1" not in names(cells) and "op~add__lr~0.003__wd~0" in names(cells)
    full = names(expand(matrix()))
    assert names(cells) == [n for n in full if n in names(cells)]  # order of the cross product kept


def test_exclude_labels_may_be_spelled_as_written_in_the_config():
    # x2_plus_y2 is the mapping key (its label is x2-plus-y2); "1.0" and "1e-3" are numbers spelled otherwise.
    cells = expand(matrix(exclude=[{"op": "x2_plus_y2"}, {"wd": "1.0", "lr": "1e-3"}]))
    assert not any("x2-plus-y2" in n for n in names(cells))
    assert not any(n.endswith("lr~0.001__wd~1") for n in names(cells)) and len(cells) == 12 - 4 - 2


def test_excluded_cells_are_never_validated():
    # div needs a prime p: excluding the div cells of p = 12 is how a matrix leaves them out.
    config = matrix(exclude=[{"p": "12", "op": "div"}])
    config["matrix"]["axes"]["p"] = {"key": "task.p", "values": [12, 13]}
    cells = expand(config)
    assert len(cells) == 24 - 4 and "op~div__lr~0.001__wd~0__p~13" in names(cells)


def test_include_adds_named_cells_after_the_cross_product():
    include = [
        {"name": "sgd", "set": {"optimizer.name": "sgd", "optimizer.lr": 0.1, "optimizer.momentum": 0.9}},
        {"name": "grokfast", "set": {"optimizer.filters": [{"kind": "grokfast_ema"}]}},
    ]
    cells = expand(matrix(include=include))
    assert names(cells)[:12] == names(expand(matrix())) and names(cells)[12:] == ["sgd", "grokfast"]
    sgd, grokfast = cells[12].config, cells[13].config
    base = CellConfig.from_dict({"task": {"p": 13}})
    assert sgd.optimizer.name == "sgd" and sgd.optimizer.momentum == 0.9 and sgd.task == base.task
    assert grokfast.optimizer.filters == ({"kind": "grokfast_ema", "alpha": 0.98, "lamb": 2.0},)
    assert cells[12].id == f"sgd-{sgd.hash[:8]}"


def test_include_without_axes_adds_to_the_base_cell():
    cells = expand({"matrix": {"include": [{"name": "wd0", "set": {"optimizer.weight_decay": 0.0}}]}})
    assert names(cells) == ["base", "wd0"] and cells[1].config.optimizer.weight_decay == 0.0


def test_include_alone_may_follow_an_entirely_excluded_cross_product():
    config = matrix(exclude=[{"lr": "0.001"}, {"lr": "0.003"}], include=[{"name": "only", "set": {"task.p": 17}}])
    assert names(expand(config)) == ["only"]


def test_cells_equal_the_whole_cell_path_and_ids_are_deterministic():
    """Cells built section by section are exactly CellConfig.from_dict of the merged cell."""
    config = matrix(include=[{"name": "cos", "set": {"optimizer.schedule": {"kind": "cosine", "warmup_steps": 10}}}])
    config["matrix"]["axes"]["op"]["values"].pop("x2_plus_y2")  # labels below are the mapping keys
    filters = {"none": [], "ma": [{"kind": "grokfast_ma"}]}
    config["matrix"]["axes"]["filters"] = {"key": "optimizer.filters", "values": filters}
    config["matrix"]["axes"]["rank"] = {"key": "init.rank", "values": [2, 8]}
    config["cell"]["init"] = {"scheme": "low_rank"}  # the only scheme that reads init.rank
    cells = expand(copy.deepcopy(config))
    for cell in cells:
        raw = copy.deepcopy(config["cell"])
        overrides = {}
        if cell.name == "cos":
            overrides = config["matrix"]["include"][0]["set"]
        else:
            for part in cell.name.split("__"):
                axis, label = part.split("~")
                values = config["matrix"]["axes"][axis]["values"]
                value = values[label] if isinstance(values, dict) else next(v for v in values if f"{v:g}" == label)
                overrides[config["matrix"]["axes"][axis]["key"]] = value
        for dotted, value in overrides.items():
            section, leaf = dotted.split(".")
            raw.setdefault(section, {})[leaf] = value
        slow = CellConfig.from_dict(raw)
        assert cell.config == slow and cell.id == f"{cell.name}-{slow.hash[:8]}"
        assert cell_record(cell)["hash"] == slow.hash
    again = expand(copy.deepcopy(config))
    assert [c.id for c in again] == [c.id for c in cells] and len({c.id for c in cells}) == len(cells) == 33


def test_each_distinct_section_is_validated_once(monkeypatch):
    # The schema validation of whole cells was most of expand's time; keep it per section.
    calls = []
    real = config_module.validate
    monkeypatch.setattr(config_module, "validate", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    config = matrix()
    config["matrix"]["axes"]["seed"] = {"key": "task.split_seed", "values": list(range(10))}
    assert len(expand(config)) == 120
    assert len(calls) < 3 + 30 + 4  # base, task sections (op x seed), optimizer sections (lr x wd)


def test_studies_resolve_cell_names():
    config = matrix(
        include=[{"name": "sgd", "set": {"optimizer.name": "sgd", "optimizer.lr": 0.1}}],
        studies={
            "optimizer": {"baseline": "op~add__lr~0.001__wd~1", "variants": ["sgd"], "description": "AdamW vs SGD"},
            "wd": {"baseline": "op~div__lr~0.001__wd~1", "variants": ["op~div__lr~0.001__wd~0"]},
        },
    )
    cells = expand(config)
    found = studies(config, cells)
    assert [s.name for s in found] == ["optimizer", "wd"] and all(isinstance(s, Study) for s in found)
    assert found[0].baseline.name == "op~add__lr~0.001__wd~1" and [v.name for v in found[0].variants] == ["sgd"]
    assert found[0].description == "AdamW vs SGD" and found[1].description == ""
    assert found[1].variants[0].config.optimizer.weight_decay == 0.0


def test_no_studies_is_an_empty_list():
    config = matrix()
    assert studies(config, expand(config)) == []


TOO_MANY = [{"lr": "0.001"}, {"lr": "0.003"}]
SET_P = {"task.p": 17}


@pytest.mark.parametrize(
    "config, key, also",
    [
        (matrix(exclude=[{"op": "add"}, {"opp": "add"}]), "matrix.exclude[1]: unknown axis 'opp'",
         ["did you mean 'op'", "axes: op, lr, wd"]),
        (matrix(exclude=[{"op": "mull"}]), "matrix.exclude[0].op: axis op has no label 'mull'",
         ["labels: add, x2-plus-y2, div"]),
        (matrix(exclude=[{"lr": "0.01"}]), "matrix.exclude[0].lr: axis lr has no label '0.01'", ["0.001, 0.003"]),
        ({"matrix": {"exclude": [{"op": "add"}]}}, "matrix.exclude[0]: unknown axis 'op'", ["axes: (none)"]),
        (matrix(exclude=[{"lr": 0.001}]), "matrix.exclude[0].lr", ["is not of type 'string'"]),
        (matrix(exclude=[{}]), "matrix.exclude[0]", []),
        (matrix(exclude=TOO_MANY), "matrix: every cell excluded", []),
        (matrix(include=[{"name": "op~add__lr~0.001__wd~0", "set": SET_P}]), "matrix.include[0].name",
         ["already the name of a cell of matrix.axes"]),
        (matrix(include=[{"name": "a", "set": SET_P}, {"name": "a", "set": {"task.p": 19}}]),
         "matrix.include[1].name", ["already the name of matrix.include[0]"]),
        ({"matrix": {"include": [{"name": "base", "set": SET_P}]}}, "matrix.include[0].name", []),
        (matrix(include=[{"name": "same", "set": {"optimizer.weight_decay": 1.0}}]), "matrix.include[0]: cell same",
         ["same config as cell", "duplicate"]),
        ({"matrix": {"include": [{"name": "a", "set": {}}]}}, "matrix.include[0]: cell a", ["cell base"]),
        (matrix(include=[{"name": "bad", "set": {"optimizer.lr": -1}}]), "cell.optimizer.lr", ["[matrix cell bad]"]),
        (matrix(include=[{"name": "np", "set": {"task.p": 15, "task.operations": ["div"]}}]),
         "cell.task.p: 15 is not prime", ["[matrix cell np]"]),
        (matrix(include=[{"name": "bad name", "set": SET_P}]), "matrix.include[0].name", []),
        (matrix(include=[{"name": "x", "set": {"optimizr.lr": 0.1}}]), "matrix.include[0].set", []),
        (matrix(include=[{"name": "x"}]), "matrix.include[0]", ["'set' is a required property"]),
        (matrix(studies={"s": {"baseline": "op~ad__lr~0.001__wd~1", "variants": ["op~div__lr~0.001__wd~1"]}}),
         "studies.s.baseline: no cell named 'op~ad__lr~0.001__wd~1'",
         ["did you mean 'op~add__lr~0.001__wd~1'", "the matrix has 12 cells"]),
        (matrix(studies={"s": {"baseline": "op~add__lr~0.001__wd~1", "variants": ["op~div__lr~0.001__wd~0", "zzz"]}}),
         "studies.s.variants[1]: no cell named 'zzz'", ["the matrix has 12 cells"]),
        (matrix(studies={"s": {"baseline": "op~add__lr~0.001__wd~1", "variants": ["op~div__lr~0.001__wd~1",
                                                                                "op~add__lr~0.001__wd~1"]}}),
         "studies.s.variants[1]: 'op~add__lr~0.001__wd~1' is the study's baseline", []),
        (matrix(studies={"s": {"baseline": "op~add__lr~0.001__wd~1", "variants": []}}), "studies.s.variants", []),
        (matrix(studies={"s": {"baseline": "x", "variants": ["y"], "note": ""}}), "studies.s: unknown key 'note'", []),
        ({"matrix": {"axes": {"op": {"key": "task.operations", "values": {"a b": ["add"], "a-b": ["sub"]}}}}},
         "matrix.axes.op.values: two values have the label 'a-b'", []),
        ({"matrix": {"axes": {"op": {"key": "task.operations", "values": {"a": ["add"], "b": ["add"]}}}}},
         "matrix.axes: cells op~a and op~b resolve to the same config", ["duplicate axis values"]),
    ],
)
def test_errors_are_one_line_naming_the_key(config, key, also):
    with pytest.raises(ConfigError) as err:
        expand(config)
    msg = str(err.value)
    assert msg.startswith(key) and "\n" not in msg, msg
    for text in also:
        assert text in msg, msg


def test_a_cell_id_in_a_study_is_explained():
    config = matrix()
    cells = expand(config)
    config["studies"] = {"s": {"baseline": cells[0].id, "variants": [cells[1].name]}}
    with pytest.raises(ConfigError, match=r"that is the id of cell 'op~add__lr~0\.001__wd~0'; studies name cells"):
        studies(config, cells)


def test_the_first_failing_cell_of_the_cross_product_is_reported():
    config = {"matrix": {"axes": {
        "p": {"key": "task.p", "values": [12, 13]},
        "op": {"key": "task.operations", "values": [["add"], ["div"]]},
        "lr": {"key": "optimizer.lr", "values": [0.001, -1]},
    }}}
    with pytest.raises(ConfigError, match=r"^cell\.optimizer\.lr: -1 .*\[matrix cell p~12__op~add__lr~-1\]$"):
        expand(config)
    config["matrix"]["axes"]["lr"]["values"] = [0.001]
    with pytest.raises(ConfigError, match=r"^cell\.task\.p: 12 is not prime.*\[matrix cell p~12__op~div__lr~0\.001\]$"):
        expand(config)


def test_checks_across_sections_run_per_cell():
    # Each value is valid on its own; only warmup 500 with 300 steps is not.
    config = {"cell": {"training": {"eval_every": 10}}, "matrix": {"axes": {
        "steps": {"key": "training.steps", "values": [1000, 300]},
        "warmup": {"key": "optimizer.schedule", "values": {"w0": {}, "w500": {"warmup_steps": 500}}},
    }}}
    expected = r"^cell\.optimizer\.schedule\.warmup_steps: 500 .*\[matrix cell steps~300__warmup~w500\]$"
    with pytest.raises(ConfigError, match=expected):
        expand(config)
    config["matrix"]["exclude"] = [{"steps": "300", "warmup": "w500"}]
    assert len(expand(config)) == 3


# -- the delay ladder's rungs and the robustness replicate: copies of the claims' studies ---------------

def claimed(**extra) -> dict:
    """Two studies on p = 13, one named by a claim (s: op~add vs op~div), one not (t: op~add vs sgd)."""
    config = {"cell": {"task": {"p": 13}, "training": {"steps": 100, "eval_every": 10, "seeds": [0, 1]}},
              "matrix": {"axes": {"op": {"key": "task.operations", "values": {"add": ["add"], "div": ["div"]}}},
                         "include": [{"name": "sgd", "set": {"optimizer.name": "sgd", "optimizer.lr": 0.1}}]},
              "studies": {"s": {"baseline": "op~add", "variants": ["op~div"], "description": "add vs div"},
                          "t": {"baseline": "op~add", "variants": ["sgd"]}},
              "paper": {"claims": [{"name": "x", "study": "s", "variant": "op~div", "metric": "delay", "claimed": 8}]}}
    return config | extra


def test_the_default_ladder_is_one_rung_and_copies_nothing():
    config = claimed()
    cells = expand(config)
    assert names(cells) == ["op~add", "op~div", "sgd"] and [s.name for s in studies(config, cells)] == ["s", "t"]
    assert config["ladder"] == {"key": "optimizer.weight_decay", "rungs": {"x1": 1}, "stretch_budget": True,
                                "target_delay": None}
    assert config["robustness"] is None


def test_rungs_copy_the_claimed_studies_with_the_key_multiplied():
    config = claimed(ladder={"rungs": {"slow": 0.3, "x1": 1, "slower": 0.1}})
    cells = expand(config)
    by = {c.name: c for c in cells}
    # only the cells of s (the claimed study), per rung but the primary, in rung order
    assert names(cells) == ["op~add", "op~div", "sgd", "op~add--slow", "op~div--slow", "op~add--slower", "op~div--slower"]
    assert by["op~div--slow"].config.optimizer.weight_decay == pytest.approx(0.3)
    assert by["op~add--slower"].config.optimizer.weight_decay == pytest.approx(0.1)
    assert by["op~div--slow"].config.task.operations == ("div",) and by["op~div--slow"].axis_labels == ()
    # everything but the key is the original's
    copy_ = by["op~div--slow"].config.to_dict()
    copy_["optimizer"]["weight_decay"] = 1.0
    # ...but the budget, stretched by 1 / 0.3 to whole evals (ladder.stretch_budget)
    every = by["op~div"].config.training.eval_every
    assert copy_["training"]["steps"] == -(-by["op~div"].config.training.steps * 10 // 3 // every) * every
    copy_["training"]["steps"] = by["op~div"].config.training.steps
    assert copy_ == by["op~div"].config.to_dict()
    assert len({c.config_hash for c in cells}) == len(cells)
    found = {s.name: s for s in studies(config, cells)}
    assert list(found) == ["s", "t", "s--slow", "s--slower"]
    assert found["s--slow"].baseline.name == "op~add--slow" and [v.name for v in found["s--slow"].variants] == ["op~div--slow"]
    assert found["s--slower"].description == "add vs div (ladder rung slower: optimizer.weight_decay x 0.1, training.steps / 0.1)"
    assert cell_record(by["op~div--slow"])["id"] == by["op~div--slow"].id


def test_an_integer_key_stays_an_integer():
    cells = expand(claimed(ladder={"key": "training.steps", "rungs": {"x1": 1, "long": 3}}))
    steps = {c.name: c.config.training.steps for c in cells}
    assert steps["op~div--long"] == 300 and isinstance(steps["op~div--long"], int)
    with pytest.raises(ConfigError, match=r"^ladder\.rungs\.odd: factor 0\.333 makes the integer key training\.steps "
                                          r"33\.3 in cell op~add$"):
        expand(claimed(ladder={"key": "training.steps", "rungs": {"x1": 1, "odd": 0.333}}))


def test_the_replicate_copies_the_primary_rung_with_fresh_seeds_and_split():
    config = claimed(ladder={"rungs": {"x1": 1, "slow": 0.3}}, robustness={"seeds": [5, 6, 7], "split_seed": 3})
    cells = expand(config)
    by = {c.name: c for c in cells}
    assert names(cells)[-2:] == ["op~add--replicate", "op~div--replicate"]
    rep = by["op~div--replicate"].config
    assert rep.training.seeds == (5, 6, 7) and rep.task.split_seed == 3
    assert rep.optimizer.weight_decay == by["op~div"].config.optimizer.weight_decay     # the primary rung's
    found = {s.name: s for s in studies(config, cells)}
    assert list(found) == ["s", "t", "s--slow", "s--replicate"]
    assert [v.name for v in found["s--replicate"].variants] == ["op~div--replicate"]
    assert "robustness replicate: seeds [5, 6, 7], split seed 3" in found["s--replicate"].description


def test_a_claim_whose_study_is_not_in_the_matrix_copies_nothing():
    config = claimed(ladder={"rungs": {"x1": 1, "slow": 0.3}}, robustness={"seeds": [5], "split_seed": 3})
    config["paper"]["claims"][0]["study"] = "elsewhere"
    assert names(expand(config)) == ["op~add", "op~div", "sgd"]


RUNGS = {"x1": 1, "slow": 0.3}


@pytest.mark.parametrize("extra, key, also", [
    ({"ladder": {"rungs": {"slow": 0.3}}}, "ladder.rungs: exactly one rung must have factor 1", ["not 0"]),
    ({"ladder": {"rungs": {"a": 1, "b": 1.0}}}, "ladder.rungs: exactly one rung must have factor 1", ["not 2 (a, b)"]),
    ({"ladder": {"rungs": {"x1": 1, "a": 0.3, "b": 0.3}}}, "ladder.rungs.b: factor 0.3 is also the factor of rung a", []),
    ({"ladder": {"rungs": {"x1": 1, "replicate": 0.3}}}, "ladder.rungs.replicate: the label is taken", []),
    ({"ladder": {"rungs": {"x1": 1, "x0.3": 0.3}}}, "ladder.rungs: 'x0.3' does not match", []),
    ({"ladder": {"rungs": {"x1": 1, "z": 0}}}, "ladder.rungs.z: 0 is less than or equal to the minimum of 0", []),
    ({"ladder": {"rungs": {}}}, "ladder.rungs: {} should be non-empty", []),
    ({"ladder": {"key": "lr", "rungs": RUNGS}}, "ladder.key: 'lr' does not match", []),
    ({"ladder": {"key": "optimizer.wd", "rungs": RUNGS}}, "ladder.key: 'optimizer.wd' is not a cell key",
     ["optimizer has: betas, eps, filters, lr, momentum, name, nesterov, schedule, weight_decay"]),
    ({"ladder": {"key": "optimizer.weight_decy", "rungs": RUNGS}}, "ladder.key: 'optimizer.weight_decy' is not a cell key",
     ["(did you mean 'weight_decay'?)"]),
    ({"ladder": {"key": "optimizer.name", "rungs": RUNGS}}, "ladder.key: optimizer.name is 'adamw' in cell op~add, not a number", []),
    ({"ladder": {"key": "model.d_head", "rungs": RUNGS}}, "ladder.key: model.d_head is None in cell op~add", []),
    ({"ladder": {"target_delay": 0}}, "ladder.target_delay: 0 is less than or equal to the minimum of 0", []),
    ({"robustness": {"seeds": [1, 5], "split_seed": 3}}, "robustness.seeds: [1, 5] share [1] with the seeds [0, 1] of cell op~add",
     ["fresh seeds"]),
    ({"robustness": {"seeds": [5], "split_seed": 0}}, "robustness.split_seed: 0 is the split seed of cell op~add", []),
    ({"robustness": {"seeds": [5]}}, "robustness: 'split_seed' is a required property", []),
    ({"robustness": {"seeds": [], "split_seed": 1}}, "robustness.seeds: [] should be non-empty", []),
    ({"robustness": {"seeds": [5], "split_seed": 1, "steps": 3}}, "robustness: unknown key 'steps'", []),
])
def test_ladder_and_robustness_errors_are_one_line_naming_the_key(extra, key, also):
    with pytest.raises(ConfigError) as err:
        expand(claimed(**extra))
    msg = str(err.value)
    assert msg.startswith(key) and "\n" not in msg, msg
    for text in also:
        assert text in msg, msg


def test_copies_that_clash_with_the_matrix_are_refused():
    clash = claimed(ladder={"rungs": RUNGS})
    clash["matrix"]["include"].append({"name": "op~div--slow", "set": {"optimizer.lr": 0.5}})
    with pytest.raises(ConfigError, match=r"^ladder\.rungs\.slow: the copy of cell op~div would be named op~div--slow, "
                                          r"the name of another cell"):
        expand(clash)
    study = claimed(ladder={"rungs": RUNGS})
    study["studies"]["s--slow"] = {"baseline": "op~add", "variants": ["sgd"]}
    with pytest.raises(ConfigError, match=r"^ladder\.rungs\.slow: the copy of study s would be named s--slow"):
        expand(study)
    # weight decay 0 in a copied cell: every factor leaves it as it was
    zero = claimed(ladder={"rungs": RUNGS, "stretch_budget": False})
    zero["cell"]["optimizer"] = {"weight_decay": 0.0}
    with pytest.raises(ConfigError, match=r"^ladder\.rungs\.slow: the copy op~add--slow resolves to the same config as "
                                          r"cell op~add"):
        expand(zero)
    bad = claimed(ladder={"key": "training.eval_every", "rungs": {"x1": 1, "rare": 20}})
    with pytest.raises(ConfigError, match=r"^cell\.training\.eval_every: 200 exceeds .*\[matrix cell op~add--rare, "
                                          r"made by ladder\.rungs\.rare\]$"):
        expand(bad)
