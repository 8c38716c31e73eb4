"""Nanda et al. (2023) progress measures, each operation in its own basis (observables.bases).

add, sub over the characters of Z_p; mul, div over the characters of Z_p^* (the discrete log
to a primitive root turns a*b into log a + log b); s5 over its seven irreps (Chughtai et al.
2023). A *group* of basis rows is one frequency k (cos k, sin k) or one irrep (its d^2
entries). The constant (k = 0, the trivial irrep) and, for mul/div, the indicator of the
residue 0 (outside Z_p^*) are never key groups and are left out of every norm and Gini: they
say nothing about which circuit the model uses.

Per model, the key groups are its N_KEY[group] groups of largest embedding norm. Over all
pairs (a, b) of the operation, the logits of each class are projected on the key groups'
basis vectors evaluated at the pair's group element e(a, b) (a+b, a-b, g^(log a +- log b),
a o b):
    restricted: keep the constant, the residue-0 indicator (mul: a or b is 0; div: a is 0;
                the answer 0 is a lookup outside the group) and the key terms; loss on all pairs;
    excluded:   remove the key terms (what they add beyond the always-kept directions); loss on
                the training pairs.
Neuron key fraction: the share of the last MLP layer's activation variance, over the pairs
inside the group (mul/div: a, b != 0), in the key groups' vectors at a, at b, at e(a, b), and
for the cyclic groups at the other combination (a - b for add, a + b for sub, a/b for mul, a*b
for div): cos k a cos k b = (cos k(a+b) + cos k(a-b)) / 2 spans both.

A single-operation cell writes `fourier.<measure>`; a cell of several operations writes one
column per operation, `fourier.<measure>/<op>`, on that operation's pairs and training rows.
Operations without a basis (bases.NO_BASIS) give NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from groklab.training.data import operation_table
from groklab.training.observables.bases import S5_PARTITIONS, Basis, basis_for, group_norms, pair_element
from groklab.training.observables.registry import observable

N_KEY = {"Z_p": 5, "Z_p^*": 5, "S5": 2}      # Nanda's 5 key frequencies (p = 113); S5: 2 of 6 irreps
CONSTANT = {"Z_p": "0", "Z_p^*": "0", "S5": "(5)"}
ZERO = "zero"
DUAL = {"add": "sub", "sub": "add", "mul": "div", "div": "mul"}


def gini(x: torch.Tensor) -> torch.Tensor:
    """Gini coefficient of non-negative rows x (E, n): 0 when all equal, (n - 1) / n for one-hot."""
    n = x.shape[1]
    xs = x.sort(dim=1).values
    ranks = torch.arange(1, n + 1, dtype=xs.dtype, device=xs.device)
    return ((2 * ranks - n - 1) * xs).sum(1) / (n * xs.sum(1).clamp_min(1e-300))


# ---- one operation's basis, pairs and training rows ---------------------------------------

@dataclass(frozen=True)
class OpGrid:
    """Every pair of one operation of a cell, in operation_table's order.

    tokens (N, 4) [a, op token, b, =]; y (N,); element (N,) token of e(a, b); row_of (n*n,)
    int64 grid row of pair (a, b) at a * n + b (-1 when the pair is not in the table, div b = 0).
    """
    op: str
    p: int
    basis: Basis
    tokens: torch.Tensor
    y: torch.Tensor
    element: torch.Tensor
    row_of: torch.Tensor

    @property
    def a(self) -> torch.Tensor:
        return self.tokens[:, 0]

    @property
    def b(self) -> torch.Tensor:
        return self.tokens[:, 2]


@lru_cache(maxsize=32)
def op_grid(op: str, k: int, p: int, n_numbers: int, n_ops: int) -> OpGrid | None:
    """Operation number k of a cell of n_ops operations; None when it has no basis."""
    basis = basis_for(op, p)
    if basis is None:
        return None
    a, b, c = operation_table(op, p)
    tokens = torch.stack([a, torch.full_like(a, n_numbers + k), b, torch.full_like(a, n_numbers + n_ops)], 1)
    row_of = torch.full((n_numbers * n_numbers,), -1, dtype=torch.int64)
    row_of[a * n_numbers + b] = torch.arange(len(a))
    return OpGrid(op, p, basis, tokens, c, pair_element(op, p, a, b), row_of)


def cell_grids(probe) -> list[tuple[str, OpGrid | None]]:
    """(column suffix, grid or None) for each operation of the probe's cell."""
    t = probe.cell.task
    if t.operations == ("parity",):
        return [("", None)]
    n = len(t.operations)
    return [(f"/{op}" if n > 1 else "", op_grid(op, k, t.p, t.n_numbers, n)) for k, op in enumerate(t.operations)]


def per_operation(probe, measure) -> dict[str, torch.Tensor]:
    """{suffix: measure(probe, grid) (E,)} with NaN for operations without a basis."""
    nan = torch.full((probe.E,), float("nan"))
    return {s: (nan if g is None else measure(probe, g).float().cpu()) for s, g in cell_grids(probe)}


# ---- norms and key groups -----------------------------------------------------------------

def character_groups(basis: Basis) -> torch.Tensor:
    """int64 indices (into basis.group_names) of the groups that can be key: not constant or zero."""
    skip = {CONSTANT[basis.group], ZERO}
    return torch.tensor([i for i, g in enumerate(basis.group_names) if g not in skip])


def character_norms(basis: Basis, W: torch.Tensor) -> torch.Tensor:
    """W (E, n, d), one row per token -> (E, G') norm in each character group (character_groups)."""
    return group_norms(basis, W)[:, character_groups(basis).to(W.device)]


def key_groups(basis: Basis, W_E: torch.Tensor) -> torch.Tensor:
    """(E, N_KEY) group indices (into basis.group_names) of each model's largest embedding groups."""
    norms = character_norms(basis, W_E)
    top = norms.topk(min(N_KEY[basis.group], norms.shape[1]), dim=1).indices
    return character_groups(basis).to(W_E.device)[top]


def embedding(probe, grid: OpGrid) -> torch.Tensor:
    return probe.params["W_E"][:, : grid.basis.n]                               # (E, n, d)


def key_rows(basis: Basis, groups: list[int]) -> list[int]:
    """Basis rows of the given group indices."""
    ids = basis.group_ids.tolist()
    wanted = set(groups)
    return [r for r, g in enumerate(ids) if g in wanted]


def kept_rows(basis: Basis) -> list[int]:
    """Rows every restricted logit keeps: the constant and the residue-0 indicator."""
    return [r for r, g in enumerate(basis.groups) if g in (CONSTANT[basis.group], ZERO)]


# ---- the cheap measures: embedding and unembedding --------------------------------------

@observable("fourier.embed_gini", "Gini coefficient of the embedding's norms over the frequencies (irreps for s5) "
            "of the operation's own basis (1 = one frequency); per operation in a multi-task cell")
def embed_gini(probe):
    return per_operation(probe, lambda pr, g: gini(character_norms(g.basis, embedding(pr, g))))


@observable("fourier.unembed_gini", "Gini coefficient of the unembedding's norms over the frequencies (irreps) "
            "of the operation's basis, over the answer tokens (transformer only)")
def unembed_gini(probe):
    if "W_U" not in probe.params:                  # the MLP has no unembedding into d_model
        return per_operation(probe, lambda pr, g: torch.full((pr.E,), float("nan")))
    return per_operation(probe, lambda pr, g: gini(character_norms(g.basis, pr.params["W_U"].transpose(1, 2))))


def _key_fraction(probe, grid: OpGrid) -> torch.Tensor:
    power = character_norms(grid.basis, embedding(probe, grid)) ** 2           # (E, G')
    top = power.topk(min(N_KEY[grid.basis.group], power.shape[1]), dim=1).values
    return top.sum(1) / power.sum(1).clamp_min(1e-300)


@observable("fourier.key_fraction", "fraction of the embedding's power (constant and residue 0 left out) in its "
            "key groups: the top 5 frequencies of Z_p or Z_p^*, the top 2 irreps of S5")
def key_fraction(probe):
    return per_operation(probe, _key_fraction)


def _top_group(probe, grid: OpGrid) -> torch.Tensor:
    """The largest group: the frequency k for Z_p / Z_p^*, the irrep's index in S5_PARTITIONS for s5."""
    top = key_groups(grid.basis, embedding(probe, grid))[:, 0]
    name = [grid.basis.group_names[i] for i in top.tolist()]
    value = [S5_PARTITIONS.index(tuple(map(int, n.strip("()").split(",")))) if grid.basis.group == "S5" else int(n)
             for n in name]
    return torch.tensor(value, dtype=torch.float32)


@observable("fourier.top_frequency", "the embedding's largest group: frequency k (1..(p-1)/2 over Z_p, 1..(p-1)/2 "
            "over Z_p^*), or for s5 the irrep's index 1..6 in (5),(1,1,1,1,1),(4,1),(2,1,1,1),(3,2),(2,2,1),(3,1,1)")
def top_frequency(probe):
    return per_operation(probe, _top_group)


@observable("fourier.irrep_norm", "s5 only: norm of the embedding in each irreducible representation of S5 "
            "(site = partition; Plancherel-normalised, Chughtai et al. 2023)", sites="irrep")
def irrep_norm(probe):
    t = probe.cell.task
    if t.operations != ("s5",):
        return {"": torch.full((probe.E,), float("nan"))}
    grid = op_grid("s5", 0, t.p, t.n_numbers, 1)
    norms = group_norms(grid.basis, embedding(probe, grid)).float().cpu()      # (E, 7)
    return {name: norms[:, i] for i, name in enumerate(grid.basis.group_names)}
