"""Compiled steps (training.compile): exact within a pack, deterministic, and close to eager.

Compiling is slow on 2 cores (tens of seconds a graph, cold), so the cells here share one shape and
the module shares one inductor cache directory.
"""

import os

import pandas as pd
import pytest
import torch

from conftest import tiny_cell
from groklab.training import compiled, optimizer
from groklab.training.job import CellJob, train_pack

pytestmark = pytest.mark.skipif(compiled.unavailable_reason("cpu") is not None,
                                reason=f"cannot compile here: {compiled.unavailable_reason('cpu')}")
EMA = {"kind": "grokfast_ema", "alpha": 0.9, "lamb": 2.0}


@pytest.fixture(scope="module", autouse=True)
def inductor_cache(tmp_path_factory):
    old = os.environ.get(compiled.CACHE_ENV)
    os.environ[compiled.CACHE_ENV] = str(tmp_path_factory.mktemp("inductor"))
    compiled.configure()
    yield
    if old is None:
        os.environ.pop(compiled.CACHE_ENV, None)
    else:
        os.environ[compiled.CACHE_ENV] = old


def cells(compile_=True):
    """Three cells of one shape that differ per model (lr, decay, betas, init, filter, budget, split)."""
    on = {"compile": compile_}
    return {
        "a": tiny_cell(training=on),
        "b": tiny_cell(training=on, optimizer={"lr": 0.003, "weight_decay": 0.3, "betas": [0.8, 0.95],
                                               "filters": [EMA]}, init={"scheme": "sparse", "sparsity": 0.5}),
        "c": tiny_cell(training=on | {"steps": 40}, task={"operations": ["sub"]}),
    }


def train(c, names, tmp_path, tag):
    jobs = [CellJob(c[n], tmp_path / tag / n, n, n) for n in names]
    out = train_pack(jobs, tmp_path / tag / "pack", progress=False)
    return {n: out[str(tmp_path / tag / n)] for n in names}


def test_compiled_cells_train_in_a_pack_exactly_as_alone(tmp_path):
    c = cells()
    packed = train(c, ["a", "b", "c"], tmp_path, "pack")       # c leaves at 40: the pack shrinks to E = 6
    for n in ("a", "b", "c"):
        alone = train(c, [n], tmp_path, f"alone-{n}")
        pd.testing.assert_frame_equal(packed[n], alone[n], check_exact=True)


def test_compiled_training_is_deterministic(tmp_path):
    c = cells()
    first, second = train(c, ["a", "b"], tmp_path, "one"), train(c, ["a", "b"], tmp_path, "two")
    for n in ("a", "b"):
        pd.testing.assert_frame_equal(first[n], second[n], check_exact=True)


def test_compile_is_part_of_the_identity_and_the_pack_signature():
    from groklab.training.packs import signature

    eager, comp = cells(False)["a"], cells(True)["a"]
    assert eager.hash != comp.hash and signature(eager) != signature(comp)


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_compiled_update_matches_the_eager_update(name):
    """SGD's fused update is bitwise the eager one; Adam's moments m are bitwise, while its v and
    parameters may differ by the last bit or two (inductor's vectorised sqrt rounds 1 ulp away from
    eager's in about a fifth of the elements): within 2 ulp of each value, measured <= 1.3."""
    g = torch.Generator().manual_seed(0)
    shapes = [(5, 7, 33), (5, 33), (5, 3, 4, 17)]

    def state():
        r = torch.Generator().manual_seed(1)
        return [[torch.randn(s, generator=r) for s in shapes], [torch.randn(s, generator=r) for s in shapes],
                [torch.rand(s, generator=r) for s in shapes]]

    grads = [torch.randn(s, generator=g) for s in shapes]
    rows = lambda v: [v.view(-1, *([1] * (len(s) - 1))) for s in shapes]  # noqa: E731
    e = torch.rand(5, generator=g)
    f = {"decay": rows(1 - 0.01 * e), "b1": rows(0.9 + 0 * e), "1-b1": rows(0.1 + 0 * e), "b2": rows(0.98 + 0 * e),
         "1-b2": rows(0.02 + 0 * e), "bc2_sqrt": rows(0.3 + e), "eps": rows(1e-8 + 0 * e), "step_size": rows(0.01 * e),
         "lr": rows(0.1 * e), "momentum": rows(0.9 * e)}
    eager, comp = state(), state()
    for step in range(3):
        f["first"] = step == 0
        optimizer.update(name, eager[0], grads, eager[1], eager[2], f, False)
        compiled.compiled_update()(name, comp[0], grads, comp[1], comp[2], f, False)
    exact = eager[0] + eager[1] + eager[2] if name == "sgd" else eager[1]
    for a, b in zip(exact, comp[0] + comp[1] + comp[2] if name == "sgd" else comp[1]):
        assert torch.equal(a, b)
    if name != "sgd":
        ulp = torch.finfo(torch.float32).eps
        for a, b in zip(eager[0] + eager[2], comp[0] + comp[2]):
            assert ((a - b).abs() <= 2 * ulp * a.abs()).all(), ((a - b).abs() / a.abs()).max() / ulp


@pytest.mark.slow
def test_compiled_and_eager_agree_on_the_grok_step(tmp_path):
    """Rounding differs in the last bits, and training amplifies it: the two are compared as runs.
    The same seeds grok within the budget, the fast grokkers (by step 500) at the same eval, and final
    test accuracy within 0.02 (docs/training.md). Measured here: seeds 1 and 2 at 150 and 325 in both,
    seed 0 at 1,675 eager and 2,100 compiled. A slow grok is where a last-bit difference moves the
    step most, so its step is not compared: in CI (another CPU, and Adam's update run eagerly after
    dynamo's recompile limit, since raised) seed 0 had not grokked by 3,000, hence 8,000 steps."""
    from groklab.analysis.events import cell_events

    spec = {"task": {"p": 23, "train_fraction": 0.8}, "model": {"d_model": 32, "n_heads": 2, "d_mlp": 64},
            "optimizer": {"lr": 0.01, "weight_decay": 1.0}}       # the old p = 23 default's regime

    def cell(on):
        return tiny_cell(**spec, training={"steps": 8000, "eval_every": 25, "checkpoint_every": 4000, "compile": on,
                                           "early_stop_evals": 8})
    events = {on: cell_events(train({"x": cell(on)}, ["x"], tmp_path, f"c{on}")["x"], cell(on).to_dict())
              for on in (False, True)}
    eager, comp = events[False].set_index("seed"), events[True].set_index("seed")
    assert eager["grokked"].all() and comp["grokked"].all(), (eager["grok_step"], comp["grok_step"])
    fast = eager["grok_step"] <= 500
    assert fast.sum() >= 2 and (comp["grok_step"][fast] == eager["grok_step"][fast]).all(), (
        eager["grok_step"], comp["grok_step"])
    assert (eager["final_test_acc"] - comp["final_test_acc"]).abs().max() <= 0.02
