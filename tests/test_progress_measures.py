"""Nanda et al.'s progress measures on models built by hand, no training: an embedding that is
exactly a chosen set of the task's characters (irreps for S5) and logits that are exactly the
trigonometric circuit in that basis. The measures must recover the chosen groups and find the
circuit (restricted loss ~ 0, excluded loss high, neurons in the key groups), and fail to when
they are computed in the wrong basis."""

import dataclasses
import math
from types import SimpleNamespace

import pytest
import torch

from groklab.config.cells import CellConfig
from groklab.training.observables import fourier as F
from groklab.training.observables import fourier_circuit as FC
from groklab.training.observables.bases import basis_for, pair_element

P = 23
# chosen key groups: Z_p and Z_p^* frequencies (1 is coprime to p - 1 = 22, so the circuit's
# argmax is unique), or two faithful irreps of S5
CASES = {"add": ["3", "7", "10"], "sub": ["2", "5", "9"], "mul": ["1", "4", "8"], "div": ["1", "6", "9"],
         "s5": ["(4,1)", "(3,2)"]}


class Circuit(torch.nn.Module):
    """logit(a, b, c) = scale * sum over key rows r of M[r, e(a, b)] M[r, c] (+ the residue-0
    lookup): for Z_p, sum_k cos(k (a + b - c)) up to normalisation; for S5 the characters
    sum_rho d_rho chi_rho(e c^-1) / 120. Neurons: the key vectors at e(a, b), and for cyclic
    groups the products of the per-token vectors at a and at b within each frequency."""

    def __init__(self, grid, rows, scale):
        super().__init__()
        self.grid, self.M, self.scale = grid, grid.basis.matrix, scale
        self.rows = rows
        self.zero = [r for r, g in enumerate(grid.basis.groups) if g == "zero"]

    def run_with_cache(self, tokens):
        a, b = tokens[:, 0], tokens[:, 2]
        e = pair_element(self.grid.op, self.grid.p, a, b)
        at_e = self.M[self.rows + self.zero][:, e].T                              # (N, m)
        logits = self.scale * at_e @ self.M[self.rows + self.zero]                # (N, C)
        neurons = [at_e]
        if self.grid.basis.group != "S5":
            for g in dict.fromkeys(self.grid.basis.groups[r] for r in self.rows):    # one frequency at a time
                Mg = self.M[[r for r in self.rows if self.grid.basis.groups[r] == g]]
                neurons.append((Mg[:, a].T.unsqueeze(2) * Mg[:, b].T.unsqueeze(1)).flatten(1))
        return logits.unsqueeze(0).float(), {"mlp.hook_post": torch.cat(neurons, 1).unsqueeze(0).float()}

    def forward(self, tokens):
        return self.run_with_cache(tokens)[0]


def constructed(op, groups, scale=None):
    p = 5 if op == "s5" else P
    cell = CellConfig.from_dict({"task": {"p": p, "operations": [op], "train_fraction": 0.5}})
    t = cell.task
    grid = F.op_grid(op, 0, t.p, t.n_numbers, 1)
    basis = grid.basis
    rows = [r for r, g in enumerate(basis.groups) if g in groups]
    zero = [r for r, g in enumerate(basis.groups) if g == "zero"]
    W_E = torch.zeros(1, t.vocab_size, len(rows) + len(zero))
    W_E[0, : basis.n] = basis.matrix[rows + zero].T.float()                       # exactly the chosen vectors
    scale = scale or (400.0 if op == "s5" else 40.0 * P)
    model = Circuit(grid, rows, scale)
    train = torch.randperm(len(grid.y), generator=torch.Generator().manual_seed(0))[: len(grid.y) // 2]
    params = {"W_E": W_E, "W_U": basis.matrix[rows + zero].unsqueeze(0).float()}  # (1, m, C)
    probe = SimpleNamespace(cell=cell, E=1, params=params, model=model, x=grid.tokens[train], y=grid.y[train])
    return probe, grid


def measures(probe, grid):
    return {"key": [grid.basis.group_names[i] for i in F.key_groups(grid.basis, F.embedding(probe, grid))[0].tolist()],
            "key_fraction": F._key_fraction(probe, grid).item(),
            "embed_gini": F.gini(F.character_norms(grid.basis, F.embedding(probe, grid))).item(),
            "restricted": FC._restricted(probe, grid).item(), "excluded": FC._excluded(probe, grid).item(),
            "neurons": FC._neuron_fraction(probe, grid).item(),
            "full": FC.cross_entropy(FC.grid_run(probe, grid)[0], grid.y).item()}


@pytest.mark.parametrize("op", list(CASES))
def test_measures_recover_a_constructed_circuit(op):
    probe, grid = constructed(op, CASES[op])
    m = measures(probe, grid)
    assert set(CASES[op]) <= set(m["key"])                      # the chosen groups are the key groups
    assert m["key_fraction"] == pytest.approx(1.0, abs=1e-6)
    assert m["full"] < 1e-3                                    # the circuit is exact ...
    assert m["restricted"] < 1e-3                              # ... and lives in the key groups
    assert m["excluded"] > math.log(grid.basis.n) - 0.5        # nothing left once they are removed
    assert m["neurons"] == pytest.approx(1.0, abs=1e-6)
    n_groups = len(F.character_groups(grid.basis))
    assert m["embed_gini"] > 1 - len(CASES[op]) / n_groups - 0.2


@pytest.mark.parametrize("op, wrong", [("div", "add"), ("mul", "sub"), ("add", "mul"), ("sub", "div")])
def test_the_wrong_basis_misses_the_circuit(op, wrong):
    """The same constructed model read in another operation's basis (as if it were `wrong`)."""
    probe, grid = constructed(op, CASES[op])
    a, b = grid.a, grid.b
    other = dataclasses.replace(grid, basis=basis_for(wrong, P), element=pair_element(wrong, P, a, b))
    m = measures(probe, other)
    assert m["key_fraction"] < 0.9 and m["restricted"] > 1.0 and m["neurons"] < 0.9


def test_s5_wrong_irreps_miss_the_circuit():
    """Key irreps chosen as the two the circuit does not use: the restricted loss is high."""
    probe, grid = constructed("s5", CASES["s5"])
    logits, _ = FC.grid_run(probe, grid)
    unused = [g for g in F.character_groups(grid.basis).tolist() if grid.basis.group_names[g] not in CASES["s5"]][:2]
    D = grid.basis.matrix.to(logits.dtype)[:, grid.element].T
    Q = FC.orthonormal(D[:, F.key_rows(grid.basis, unused) + F.kept_rows(grid.basis)])
    assert FC.cross_entropy(Q @ (Q.T @ logits), grid.y).item() > math.log(120) - 0.5


def test_zero_pairs_are_kept_by_restriction():
    """mul: every pair with a or b = 0 answers 0; the residue-0 indicator is always kept, so a
    circuit that handles 0 by lookup keeps its restricted loss near zero on those pairs too."""
    probe, grid = constructed("mul", CASES["mul"])
    zero = (grid.a == 0) | (grid.b == 0)
    assert int(zero.sum()) == 2 * P - 1
    logits, _ = FC.grid_run(probe, grid)
    kept, key = FC.split_logits(grid, logits, F.embedding(probe, grid))
    assert FC.cross_entropy((kept + key)[:, zero], grid.y[zero]).item() < 1e-3
    assert FC.cross_entropy(kept[:, ~zero], grid.y[~zero]).item() > math.log(P) - 0.5


def test_multi_task_cells_write_one_column_per_operation():
    import sys
    sys.path.insert(0, "tests")
    from test_observables import probe_for
    from groklab.training.observables import observe

    cell = CellConfig.from_dict({"task": {"p": 23, "operations": ["div", "add", "x2_plus_y2"]},
                                 "model": {"d_model": 16, "n_heads": 2, "d_mlp": 32}})
    obs = observe(probe_for(cell, [0, 1]), expensive=True)
    for measure in ("embed_gini", "key_fraction", "restricted_loss", "excluded_loss", "neuron_key_fraction"):
        assert f"fourier.{measure}" not in obs
        assert torch.isfinite(obs[f"fourier.{measure}/div"]).all() and torch.isfinite(obs[f"fourier.{measure}/add"]).all()
        assert torch.isnan(obs[f"fourier.{measure}/x2_plus_y2"]).all()      # no basis (bases.NO_BASIS)
    # each operation in its own basis: the shared embedding reads differently
    assert not torch.equal(obs["fourier.key_fraction/div"], obs["fourier.key_fraction/add"])


def test_a_real_division_run_builds_its_circuit_in_the_log_basis(tmp_path):
    """p = 23 division, the default model and optimizer, trained until it groks (~10 s): the
    measures in the Z_p^* basis are finite, and the key fraction of the grokked model is far
    above its value at initialisation (0.5 there: 5 of 11 frequencies)."""
    import pandas as pd

    from groklab.training.job import train_cell

    cell = CellConfig.from_dict({
        "task": {"p": 23, "operations": ["div"], "train_fraction": 0.8},
        "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 1.0, "betas": [0.9, 0.98]},
        "training": {"steps": 3000, "eval_every": 50, "seeds": [0], "early_stop_evals": 8,
                     "observables": {"expensive_every": 4}}})
    metrics = train_cell(cell, tmp_path, progress=False)
    assert metrics["test_acc"].iloc[-1] >= 0.95                                    # it grokked
    obs = pd.read_parquet(tmp_path / "observables.parquet").sort_values("step")
    late = obs.dropna(subset=["fourier.restricted_loss"]).iloc[-1]
    assert all(math.isfinite(late[c]) for c in ("fourier.restricted_loss", "fourier.excluded_loss",
                                                 "fourier.neuron_key_fraction", "fourier.key_fraction"))
    assert late["fourier.key_fraction"] > obs["fourier.key_fraction"].iloc[0] + 0.25
    assert late["fourier.restricted_loss"] < 0.5 < late["fourier.excluded_loss"]
    # runs.parquet carries the phases and their Fourier evidence, located in the Z_p^* measures
    from groklab.analysis.aggregate import summarise_runs

    row = summarise_runs([tmp_path]).iloc[0]
    assert row["phase_memorisation_end"] == row["memorisation_step"]
    assert math.isfinite(row["phase_circuit_formation_end"]) and math.isfinite(row["phase_restricted_fall"])
    assert row["phase_restricted_leads"] in (0.0, 1.0)
    # the excluded-loss verdict needs two expensive evals inside circuit formation, which a fast grok may not leave
    assert row["phase_excluded_rises"] in (0.0, 1.0) or math.isnan(row["phase_excluded_rises"])


def test_runs_table_has_phases_per_operation(tmp_path):
    from conftest import tiny_cell
    from groklab.analysis.aggregate import summarise_runs
    from groklab.training.job import train_cell

    cell = tiny_cell(task={"operations": ["add", "mul"]}, training={"observables": {"expensive_every": 1}})
    train_cell(cell, tmp_path, progress=False)
    runs = summarise_runs([tmp_path])
    assert sorted(set(runs["operation"])) == ["add", "mul"] and len(runs) == 6
    for col in ("phase_memorisation_end", "phase_circuit_formation_end", "phase_cleanup_end", "phase_restricted_fall",
                "phase_test_fall", "phase_restricted_leads", "phase_excluded_peak", "phase_excluded_rises"):
        assert col in runs
