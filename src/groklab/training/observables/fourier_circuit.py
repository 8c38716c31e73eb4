"""Nanda et al.'s circuit measures over all pairs of an operation, in its own basis: restricted
and excluded loss, and the neurons' key-group fraction (definitions: observables.fourier)."""

from __future__ import annotations

import torch

from groklab.training.observables.fourier import (
    DUAL, OpGrid, embedding, kept_rows, key_groups, key_rows, per_operation,
)
from groklab.training.observables.bases import pair_element
from groklab.training.observables.registry import observable


def grid_run(probe, grid: OpGrid) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(logits (E, N, C) float64, last MLP activations (E, N, d_mlp) or None) on every pair of
    the operation; one forward per operation and observation, shared by the three measures."""
    memo = probe.__dict__.setdefault("_fourier_grid", {})
    if grid.op not in memo:
        with torch.no_grad():
            logits, cache = probe.model.run_with_cache(grid.tokens.to(probe.x.device))
        posts = sorted(k for k in cache if k.endswith("mlp.hook_post"))
        h = cache[posts[-1]] if posts else None
        if h is not None and h.dim() == 4:                                  # transformer: (Tq, E, N, d_mlp)
            h = h[-1]
        memo[grid.op] = (logits.double(), None if h is None else h.double())
    return memo[grid.op]


def orthonormal(D: torch.Tensor) -> torch.Tensor:
    """(N, m) -> (N, r) orthonormal basis of its column span (r = numerical rank)."""
    if D.shape[1] == 0:
        return D
    Q, R = torch.linalg.qr(D)
    keep = R.diagonal().abs() > 1e-9 * R.diagonal().abs().max().clamp_min(1e-300)
    return Q[:, keep]


def split_logits(grid: OpGrid, logits: torch.Tensor, W_E: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (E, N, C) -> (kept part, key part), each (E, N, C): projections of each class's
    logits over the pairs on the always-kept directions (constant, residue 0) and on what the
    model's key groups add to them."""
    dirs = grid.basis.matrix.to(logits.device)[:, grid.element.to(logits.device)].T   # (N, n): every vector at e(a, b)
    Q_keep = orthonormal(dirs[:, kept_rows(grid.basis)])
    keys = key_groups(grid.basis, W_E).tolist()
    kept, key = torch.empty_like(logits), torch.empty_like(logits)
    for e, groups in enumerate(keys):
        D = dirs[:, key_rows(grid.basis, groups)]
        Q_key = orthonormal(D - Q_keep @ (Q_keep.T @ D))
        kept[e] = Q_keep @ (Q_keep.T @ logits[e])
        key[e] = Q_key @ (Q_key.T @ logits[e])
    return kept, key


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """logits (E, N, C), y (N,) -> (E,) mean cross-entropy."""
    logp = torch.log_softmax(logits, 2)
    return -logp.gather(2, y.view(1, -1, 1).expand(logits.shape[0], -1, 1)).squeeze(2).mean(1)


def training_rows(probe, grid: OpGrid) -> torch.Tensor:
    """Grid rows of the probe's training examples of this operation."""
    x = probe.x.cpu()
    mine = x[:, 1] == grid.tokens[0, 1]
    n = grid.basis.n
    return grid.row_of[x[mine, 0] * n + x[mine, 2]]


def grid_split(probe, grid: OpGrid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits, kept part, key part), each (E, N, C) float64: split_logits of the grid's forward,
    once per grid and observation (restricted and excluded loss both read it). Keyed by the grid
    object, which the memo keeps alive: the split depends on the grid's basis, not only its operation."""
    memo = probe.__dict__.setdefault("_fourier_split", {})
    if id(grid) not in memo:
        logits, _ = grid_run(probe, grid)
        memo[id(grid)] = (grid, logits, *split_logits(grid, logits, embedding(probe, grid)))
    return memo[id(grid)][1:]


def _restricted(probe, grid: OpGrid) -> torch.Tensor:
    logits, kept, key = grid_split(probe, grid)
    return cross_entropy(kept + key, grid.y.to(logits.device))


def _excluded(probe, grid: OpGrid) -> torch.Tensor:
    logits, _, key = grid_split(probe, grid)
    rows = training_rows(probe, grid).to(logits.device)
    return cross_entropy((logits - key)[:, rows], grid.y.to(logits.device)[rows])


@observable("fourier.restricted_loss", "loss on all pairs with each class's logits kept only along the key groups' "
            "terms at the pair's group element (a+b, a-b, a*b, a/b, a o b), the constant and the residue-0 "
            "indicator", unit="nats", cost="expensive")
def restricted_loss(probe):
    return per_operation(probe, _restricted)


@observable("fourier.excluded_loss", "training loss with the key groups' terms at the pair's group element removed "
            "from the logits", unit="nats", cost="expensive")
def excluded_loss(probe):
    return per_operation(probe, _excluded)


def neuron_directions(grid: OpGrid, rows: list[int], inside: torch.Tensor) -> torch.Tensor:
    """(M, m): the key rows' basis vectors at a, at b, at e(a, b) and (cyclic groups) at the dual
    combination, over the M pairs `inside` the group."""
    a, b = grid.a[inside], grid.b[inside]
    points = [a, b, grid.element[inside]]
    if grid.op in DUAL:
        points.append(pair_element(DUAL[grid.op], grid.p, a, b))
    M = grid.basis.matrix[rows]                                                   # (m, n)
    return torch.cat([M[:, pt].T for pt in points], 1)


def _neuron_fraction(probe, grid: OpGrid) -> torch.Tensor:
    _, h = grid_run(probe, grid)
    if h is None:
        return torch.full((probe.E,), float("nan"))
    inside = (grid.a != 0) & (grid.b != 0) if grid.basis.group == "Z_p^*" else torch.ones_like(grid.a, dtype=torch.bool)
    h = h[:, inside.to(h.device)]
    h = h - h.mean(1, keepdim=True)                                               # (E, M, d_mlp)
    out = []
    for e, groups in enumerate(key_groups(grid.basis, embedding(probe, grid)).tolist()):
        Q = orthonormal(neuron_directions(grid, key_rows(grid.basis, groups), inside).to(h.device))
        out.append((Q.T @ h[e]).pow(2).sum() / h[e].pow(2).sum().clamp_min(1e-300))
    return torch.stack(out)


@observable("fourier.neuron_key_fraction", "fraction of the last MLP layer's activation variance over the pairs "
            "inside the group in the key groups' vectors at a, b, the pair's element and (cyclic) the dual "
            "combination (a-b for add, a/b for mul, ...)", cost="expensive")
def neuron_key_fraction(probe):
    return per_operation(probe, _neuron_fraction)
