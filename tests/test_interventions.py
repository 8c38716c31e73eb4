"""Interventions on training signals: a rule fires at the first eval where its condition holds, for
exactly the models where it holds, and changes only those models, from the next step on. One test
per kind of trigger (a metric, a metric of one operation, an observable, the training map's state)
and of setting (weight decay, learning rate, Grokfast strength, data mix)."""

import json

import pandas as pd
import pytest
import yaml

from conftest import kill_after_first_checkpoint, tiny_cell
from groklab.config.cells import ConfigError
from groklab.training.job import train_cell


def cell(task=None, optimizer=None, **training):
    return tiny_cell(task={"p": 13, "train_fraction": 0.5, **(task or {})}, model={"d_model": 16, "d_mlp": 32},
                     optimizer={"lr": 0.01, "weight_decay": 1.0, **(optimizer or {})},
                     training={"steps": 120, "eval_every": 10, "checkpoint_every": 40, "seeds": [0, 1, 2, 3],
                               "observables": {"enabled": True}, **training})


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    train_cell(cell(), out, progress=False)
    return out


@pytest.fixture(scope="module")
def reference(reference_dir):
    return pd.read_parquet(reference_dir / "metrics.parquet")


def threshold_between_models(signal: pd.DataFrame) -> float:
    """A level of `signal` (seed, step, value) that the models cross at different evals: the middle
    of the widest spread across seeds at one eval (there, some models have crossed and some not)."""
    wide = signal.pivot(index="step", columns="seed", values="value")
    step = (wide.max(axis=1) - wide.min(axis=1)).idxmax()
    values = wide.loc[step].sort_values()
    assert values.iloc[0] < values.iloc[-1], "the tiny models must differ to test a per-model trigger"
    return float((values.iloc[len(values) // 2 - 1] + values.iloc[len(values) // 2]) / 2)


def metric(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[["seed", "step"]].assign(value=frame[column])


def assert_fires_at_crossing(reference: pd.DataFrame, run: pd.DataFrame, signal: pd.DataFrame, x: float,
                             changed: str = "train_loss", strict: bool = False) -> int:
    """Per seed: the rule fired at the reference's first eval with signal >= x (> x if strict; or
    never, and then the run equals the reference bit for bit), the run equals the reference up to
    that eval, and `changed` differs after it. Returns each model's firing step (None: never); the
    tests want them to differ, so that at some eval the rule fired for some models and not others."""
    fired = {}
    for seed, ref in reference.groupby("seed"):
        got = run[run.seed == seed].reset_index(drop=True)
        ref = ref.reset_index(drop=True)
        extra = [c for c in got.columns if c not in ref.columns]
        s = signal[signal.seed == seed].set_index("step")["value"]
        crossed = s[s > x] if strict else s[s >= x]
        fired[seed] = None if crossed.empty else int(crossed.index[0])
        if crossed.empty:
            assert not got["intervention/0"].any()
            pd.testing.assert_frame_equal(got.drop(columns=extra), ref, check_exact=True)
            continue
        fired_at = crossed.index[0]
        assert got.loc[got["intervention/0"], "step"].min() == fired_at
        before = got.step <= fired_at                  # the change applies from the next step on
        pd.testing.assert_frame_equal(got[before].drop(columns=extra), ref[before], check_exact=True)
        assert not got[~before][changed].equals(ref[~before][changed])
    assert any(fired.values()), "the rule never fired"
    return fired


def differ(fired: dict) -> bool:
    return len(set(fired.values())) > 1


@pytest.mark.parametrize("setting", [{"weight_decay": 8.0}, {"lr": 0.05}])
def test_metric_trigger_fires_at_the_crossing_for_exactly_the_affected_models(reference, tmp_path, setting):
    x = threshold_between_models(metric(reference, "train_acc"))
    m = train_cell(cell(interventions=[{"when": "train_acc", "above": x, "set": setting}]), tmp_path, progress=False)
    fired = assert_fires_at_crossing(reference, m, metric(reference, "train_acc"), x)
    assert differ(fired)


def test_an_observable_trigger_and_ensemble_equals_one_by_one(tmp_path):
    rule = {"when": "weights.sum_sq", "below": 1e9, "set": {"weight_decay": 3.0}}   # fires at step 0 for all
    # (as in test_train: batched kernels round differently at E=4 and E=1, so a short run and 1e-4)
    together = train_cell(cell(interventions=[rule], ensemble_size=4, steps=40), tmp_path / "e4", progress=False)
    alone = train_cell(cell(interventions=[rule], ensemble_size=1, steps=40), tmp_path / "e1", progress=False)
    pd.testing.assert_frame_equal(together, alone, atol=1e-4, rtol=1e-4)
    assert together.groupby("seed")["intervention/0"].all().all()


def test_grokfast_switched_on_by_a_rule(reference, tmp_path):
    """A Grokfast filter at lamb 0 leaves training exactly as without it; a rule raising lamb changes
    only the models where it fired."""
    off = {"filters": [{"kind": "grokfast_ema", "alpha": 0.9, "lamb": 0.0}]}
    idle = train_cell(cell(optimizer=off), tmp_path / "idle", progress=False)
    pd.testing.assert_frame_equal(idle, reference, check_exact=True)
    x = threshold_between_models(metric(reference, "train_acc"))
    rule = {"when": "train_acc", "above": x, "set": {"filter_lamb": 5.0}}
    m = train_cell(cell(optimizer=off, interventions=[rule]), tmp_path / "on", progress=False)
    assert differ(assert_fires_at_crossing(reference, m, metric(reference, "train_acc"), x))


def test_data_mix_on_one_operations_signal(tmp_path):
    """Drop subtraction from the loss of the models whose addition train accuracy crossed x. The
    reference carries a rule that never fires, so both train with the same (weighted) loss code."""
    two = {"operations": ["add", "sub"]}
    never = {"when": "train_acc/add", "above": 2.0, "set": {"data_mix": {"sub": 0.0}}}
    ref = train_cell(cell(task=two, interventions=[never]), tmp_path / "ref", progress=False)
    x = threshold_between_models(metric(ref, "train_acc/add"))
    rule = {**never, "above": x}
    m = train_cell(cell(task=two, interventions=[rule]), tmp_path / "mix", progress=False)
    fired = assert_fires_at_crossing(ref.drop(columns="intervention/0"), m, metric(ref, "train_acc/add"), x,
                                     changed="train_loss/sub")
    assert differ(fired)


def threshold_map(feature: str, threshold: float, below: bool = False) -> dict:
    """A 2-state pooled training map whose filtered state is 1 exactly when `feature` > threshold
    (< threshold if below): uniform transitions (no memory), equal variances, means at z = -1 and
    +1 around the threshold."""
    return {"K": 2, "features": [feature], "normalise": "pooled",
            "scaler": {"log": [False], "mean": [threshold], "std": [1.0]},
            "startprob": [0.5, 0.5], "transmat": [[0.5, 0.5], [0.5, 0.5]],
            "means": [[1.0], [-1.0]] if below else [[-1.0], [1.0]], "covars": [[1.0], [1.0]]}


def site_mean(obs: pd.DataFrame, name: str) -> pd.DataFrame:
    sites = [c for c in obs.columns if c.startswith(name + "[")]
    return obs[["seed", "step"]].assign(value=obs[sites].mean(axis=1))


def test_hmm_state_trigger_fires_when_the_map_enters_the_state(reference, reference_dir, tmp_path):
    l2 = site_mean(pd.read_parquet(reference_dir / "observables.parquet"), "weights.l2")
    x = threshold_between_models(l2)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(threshold_map("weights.l2", x)))
    rule = {"when": "hmm_state", "state": 1, "set": {"weight_decay": 8.0}}
    m = train_cell(cell(interventions=[rule]), tmp_path / "run", progress=False, hmm_map=path)
    assert differ(assert_fires_at_crossing(reference, m, l2, x, strict=True))
    # the decoded state is recorded at every eval: 1 exactly where the feature is above x (until the
    # rule fires; after that the model and its feature differ from the reference's)
    d = m.merge(l2, on=["seed", "step"])
    first = d[d["intervention/0"]].groupby("seed")["step"].min()
    same = d[d.step <= d.seed.map(first).fillna(d.step.max())]
    assert ((same["value"] > x) == (same["hmm_state"] == 1)).all()
    provenance = json.loads((tmp_path / "run" / "config.json").read_text())["provenance"]["hmm_map"]
    assert provenance["path"] == str(path) and len(provenance["sha256"]) == 64


def test_detour_state_rule_reads_the_maps_detour_state(reference, reference_dir, tmp_path):
    """`state: detour` is the state the map's detour table names; a map without one never fires."""
    l2 = site_mean(pd.read_parquet(reference_dir / "observables.parquet"), "weights.l2")
    x = threshold_between_models(l2)
    rule = {"when": "hmm_state", "state": "detour", "set": {"weight_decay": 8.0}}
    for detour, fires in ((1, True), (None, False)):
        path = tmp_path / f"map-{detour}.json"
        path.write_text(json.dumps(threshold_map("weights.l2", x) | {"detour_state": detour}))
        m = train_cell(cell(interventions=[rule]), tmp_path / f"run-{detour}", progress=False, hmm_map=path)
        if fires:
            assert differ(assert_fires_at_crossing(reference, m, l2, x, strict=True))
        else:
            assert not m["intervention/0"].any()
            pd.testing.assert_frame_equal(m.drop(columns=["intervention/0", "hmm_state"]), reference, check_exact=True)


def test_hmm_state_rule_needs_a_pooled_map_of_enough_states(tmp_path):
    rule = {"when": "hmm_state", "state": 1, "set": {"lr": 0.02}}
    with pytest.raises(ConfigError, match="no training map was given"):
        train_cell(cell(interventions=[rule]), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="training map not found"):
        train_cell(cell(interventions=[rule]), tmp_path / "b", progress=False, hmm_map=tmp_path / "missing.json")
    per_run = tmp_path / "study.json"
    per_run.write_text(json.dumps(threshold_map("weights.l2", 0.0) | {"normalise": "run"}))
    with pytest.raises(ConfigError, match="z-scores each run within itself"):
        train_cell(cell(interventions=[rule]), tmp_path / "c", progress=False, hmm_map=per_run)
    small = tmp_path / "small.json"
    small.write_text(json.dumps(threshold_map("weights.l2", 0.0)))
    with pytest.raises(ConfigError, match=r"interventions\[0\].state: 3, but the training map"):
        train_cell(cell(interventions=[{**rule, "state": 3}]), tmp_path / "d", progress=False, hmm_map=small)
    assert not any((tmp_path / d).exists() for d in "abcd")     # checked before any training


def test_killed_run_with_map_and_data_mix_rules_resumes_to_identical_metrics(tmp_path):
    """The trigger state (fired rules, the decoder's filtered posterior, loss weights) is checkpointed."""
    path = tmp_path / "map.json"
    path.write_text(json.dumps(threshold_map("weights.l2", 5.0, below=True)))    # l2 falls below 5 at ~100
    rules = [{"when": "hmm_state", "state": 1, "set": {"weight_decay": 3.0}},
             {"when": "train_acc/add", "above": 0.08, "set": {"data_mix": {"sub": 0.2}}}]
    c = tiny_cell(task={"p": 31, "operations": ["add", "sub"]}, model={"d_model": 64, "d_mlp": 256},
                  optimizer={"lr": 0.01, "weight_decay": 1.0},
                  training={"steps": 200, "eval_every": 20, "checkpoint_every": 40, "batch_size": 64,
                            "interventions": rules})
    reference = train_cell(c, tmp_path / "ref", progress=False, hmm_map=path)
    for rule in ("intervention/0", "intervention/1"):      # each fires mid-run, after the first checkpoint
        assert reference.loc[reference[rule], "step"].min() > 40, rule
    cfg, out = tmp_path / "cell.yaml", tmp_path / "run"
    cfg.write_text(yaml.safe_dump(c.to_dict()))
    kill_after_first_checkpoint(cfg, out, "--hmm-map", str(path))
    resumed = train_cell(c, out, progress=False, hmm_map=path)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
