import math

import pandas as pd
import pytest
import torch

from groklab.config.cells import CellConfig
from groklab.training.data import make_split
from groklab.training.losses import per_model_loss
from groklab.training.models import build_model
from groklab.training.observables import REGISTRY, distinct_count, make_probe, observe
from groklab.training.observables.fourier import gini
from groklab.training.observables.geometry import top_hessian_eigenvalue
from groklab.training.optimizer import EnsembleOptimizer
from groklab.training.job import train_cell
from conftest import tiny_cell


def probe_for(cell, seeds, steps=3):
    split = make_split(cell.task)
    model = build_model(cell, seeds)
    opt = EnsembleOptimizer(list(model.parameters()), cell.optimizer, seeds, 100)
    init = {n: w.detach().clone() for n, w in model.named_weights()}
    for _ in range(steps):
        per_model_loss(model(split.train_x), split.train_y).sum().backward()
        opt.step()
        opt.zero_grad()
    return make_probe(model, opt, cell, steps, split.train_x, split.train_y, init, None, None)


def test_at_least_100_distinct_observables_documented():
    probe = probe_for(tiny_cell(), [0])
    columns = list(observe(probe, expensive=True))
    definitions, distinct = distinct_count(columns)
    assert distinct >= 100 and definitions == len(REGISTRY)
    for obs in REGISTRY.values():
        assert obs.definition and obs.cost in ("cheap", "expensive")


def test_spectral_norm_matches_torch():
    probe = probe_for(tiny_cell(), [0, 1])
    values = observe(probe, expensive=False)
    for name, w in probe.matrices().items():
        expect = torch.linalg.matrix_norm(w, ord=2)
        torch.testing.assert_close(values[f"weights.spectral_norm[{name}]"], expect, rtol=1e-5, atol=1e-6)


def test_gram_spectra_match_svdvals_for_tall_wide_and_rank_deficient_matrices():
    """The Gram route gives every singular value (not only the top one) of tall, wide and
    rank-deficient matrices, in descending order, as float64 svdvals does."""
    from groklab.training.observables.registry import gram_eigenvalues
    from groklab.training.observables.weights import singular_values

    g = torch.Generator().manual_seed(0)
    low_rank = torch.randn(3, 40, 2, generator=g) @ torch.randn(3, 2, 24, generator=g)         # rank 2
    for m in (torch.randn(3, 61, 16, generator=g), torch.randn(3, 16, 59, generator=g), low_rank):
        expect = torch.linalg.svdvals(m.double())                                             # (E, k)
        torch.testing.assert_close(gram_eigenvalues(m), expect**2, rtol=1e-10, atol=1e-10 * float(expect.max()) ** 2)
        got = singular_values(m)
        assert got.dtype == torch.float32 and got.shape == expect.shape
        torch.testing.assert_close(got.double(), expect, rtol=1e-6, atol=1e-6 * float(expect.max()))


def test_gini_closed_forms():
    assert gini(torch.tensor([[0.0, 0.0, 1.0, 0.0]])).item() == pytest.approx(0.75)
    assert gini(torch.ones(1, 7)).item() == pytest.approx(0.0)


def test_hessian_top_eigenvalue_matches_dense_hessian():
    cell = CellConfig.from_dict({"task": {"p": 5}, "model": {"arch": "mlp", "d_model": 3, "d_mlp": 4}})
    probe = probe_for(cell, [0, 1], steps=5)
    eig = top_hessian_eigenvalue(probe, iterations=300)
    model, (x, y) = probe.model, (probe.x, probe.y)
    names = [n for n, _ in model.named_weights()]
    for e in range(2):
        shapes = [probe.params[n][e].shape for n in names]
        flat0 = torch.cat([probe.params[n][e].reshape(-1) for n in names]).double()

        def loss_of(theta):
            tensors, i = {}, 0
            for n, shape in zip(names, shapes):
                k = math.prod(shape)
                full = probe.params[n].double().clone()
                full[e] = theta[i : i + k].view(shape)
                tensors[n.replace(".", "__")] = full
                i += k
            logits = torch.func.functional_call(model.double(), tensors, (x,))
            return per_model_loss(logits, y)[e]

        H = torch.autograd.functional.hessian(loss_of, flat0)
        lam = torch.linalg.eigvalsh(H)
        top = lam[lam.abs().argmax()].item()
        model.float()
        assert eig[e].item() == pytest.approx(top, rel=1e-3)


def test_observables_are_per_model():
    cell = tiny_cell()
    together = observe(probe_for(cell, [0, 1]), expensive=True)
    alone = observe(probe_for(cell, [1]), expensive=True)
    for name, v in together.items():
        torch.testing.assert_close(v[1:], alone[name], rtol=2e-3, atol=2e-5, equal_nan=True, msg=name)


def test_observables_do_not_change_training(tmp_path):
    cell = tiny_cell(training={"batch_size": 16})
    on = train_cell(cell, tmp_path / "on", progress=False)
    off_cell = CellConfig.from_dict({**cell.to_dict(), "training": {**cell.to_dict()["training"], "observables": {"enabled": False}}})
    off = train_cell(off_cell, tmp_path / "off", progress=False)
    pd.testing.assert_frame_equal(on, off, check_exact=True)
    obs = pd.read_parquet(tmp_path / "on" / "observables.parquet")
    assert len(obs) == len(on) and "weights.sum_sq" in obs.columns
    assert obs["geometry.hessian_top_eig"].notna().sum() > 0                   # expensive ones at some evals
    assert len(pd.read_parquet(tmp_path / "off" / "observables.parquet")) == 0


@pytest.mark.parametrize("rows", [16384, 200])          # one chunk; chunks of 66 examples (E = 3)
def test_training_metrics_from_the_probes_logits_equal_a_fresh_forward(rows):
    """Evaluation scores the probe's logits on the training set instead of a second forward; the
    numbers must be those of the chunked no-grad forward, exactly."""
    from groklab.training.evaluation import evaluate
    cell = tiny_cell(task={"operations": ["add", "mul"]})
    probe = probe_for(cell, [0, 1, 2])
    split = make_split(cell.task)
    fresh = evaluate(probe.model, split.train_x, split.train_y, split.train_op, 2, rows=rows)
    shared = evaluate(probe.model, split.train_x, split.train_y, split.train_op, 2, rows=rows, logits=probe.logits)
    for field in ("loss", "acc", "op_loss", "op_acc"):
        assert torch.equal(getattr(fresh, field), getattr(shared, field)), field


def test_observables_doc_is_up_to_date(root):
    from groklab.training.observables.doc import render
    assert (root / "docs" / "observables.md").read_text() == render(), "run: groklab observables-doc"


def test_neuron_key_fraction_is_a_fraction_in_each_basis_and_nan_without_one():
    from groklab.training.observables.fourier_circuit import neuron_key_fraction
    for op in ("add", "div", "mul"):
        probe = probe_for(CellConfig.from_dict({"task": {"p": 13, "operations": [op]},
                                                "model": {"d_model": 16, "n_heads": 2, "d_mlp": 32}}), [0, 1])
        v = neuron_key_fraction(probe)[""]
        assert ((v > 0) & (v <= 1 + 1e-6)).all(), op
    poly = probe_for(CellConfig.from_dict({"task": {"p": 13, "operations": ["x2_plus_y2"]},
                                           "model": {"d_model": 16, "n_heads": 2, "d_mlp": 32}}), [0])
    assert torch.isnan(neuron_key_fraction(poly)[""]).all()


def test_a_diverged_model_gets_nan_observables_and_the_others_do_not_change():
    cell = tiny_cell()
    probe = probe_for(cell, [0, 1])
    clean = observe(probe, expensive=True)
    probe = probe_for(cell, [0, 1])
    probe.params["W_U"][1] = float("nan")                     # model 1 diverged
    for attr in ("_svals",):
        if hasattr(probe, attr):
            delattr(probe, attr)
    poisoned = observe(probe, expensive=False)
    assert torch.isnan(poisoned["weights.spectral_norm[W_U]"][1])
    for name, v in poisoned.items():
        torch.testing.assert_close(v[0], clean[name][0], equal_nan=True, msg=name)


def test_an_mlp_cell_records_every_observable_without_error(tmp_path):
    """The MLP (grokking-thread.txt's example) has no attention or unembedding: those observables are NaN."""
    import pandas as pd

    from conftest import tiny_cell
    from groklab.training.job import train_cell

    cell = tiny_cell(model={"arch": "mlp", "d_mlp": 32},
                     training={"steps": 20, "eval_every": 10, "observables": {"expensive_every": 1}})
    train_cell(cell, tmp_path, progress=False)
    obs = pd.read_parquet(tmp_path / "observables.parquet")
    assert obs["weights.sum_sq"].notna().all() and obs["fourier.unembed_gini"].isna().all()
