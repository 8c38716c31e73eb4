"""Nanda et al. (2023) Fourier progress measures for modular tasks.

Fourier basis over Z_p: for k = 1..(p-1)/2 the pair cos(2 pi k x / p), sin(2 pi k x / p).
Key frequencies are each model's `N_KEY` largest frequencies of the embedding. Restricted
and excluded loss are defined for addition, where the circuit's logits depend on
(a + b): the logits over the full p x p grid are projected on cos/sin(2 pi k (a + b) / p)
for the key k (restricted: keep those terms and the per-class constant, loss on all
pairs; excluded: remove those terms, loss on the training pairs). Other operations
return NaN for the two losses.
"""

from __future__ import annotations

import math

import torch

from groklab.training.observables.registry import observable, undefined

N_KEY = 5


def fourier_basis(p: int) -> torch.Tensor:
    """(2K, p) orthonormal rows: cos_1, sin_1, ..., cos_K, sin_K with K = (p - 1) // 2."""
    x = torch.arange(p, dtype=torch.float64)
    rows = []
    for k in range(1, (p - 1) // 2 + 1):
        rows += [torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)]
    B = torch.stack(rows)
    return B / B.norm(dim=1, keepdim=True)


def frequency_norms(W: torch.Tensor) -> torch.Tensor:
    """W (E, p, d) (one row per number token) -> (E, K) norm of each frequency's cos/sin components."""
    p = W.shape[1]
    coef = torch.einsum("fp,epd->efd", fourier_basis(p).to(W.device), W.double())   # (E, 2K, d)
    return coef.pow(2).sum(2).view(W.shape[0], -1, 2).sum(2).sqrt()                # (E, K)


def gini(x: torch.Tensor) -> torch.Tensor:
    """Gini coefficient of non-negative rows x (E, n): 0 when all equal, (n - 1) / n for one-hot."""
    n = x.shape[1]
    xs = x.sort(dim=1).values
    ranks = torch.arange(1, n + 1, dtype=xs.dtype, device=xs.device)
    return ((2 * ranks - n - 1) * xs).sum(1) / (n * xs.sum(1).clamp_min(1e-300))


def _modular(probe) -> bool:
    t = probe.cell.task
    return t.operations[0] not in ("s5", "parity") and len(t.operations) == 1


def _embed(probe) -> torch.Tensor:
    return probe.params["W_E"][:, : probe.cell.task.p]                            # (E, p, d)


@observable("fourier.embed_gini", "Gini coefficient of the embedding's frequency norms (1 = one frequency)")
def embed_gini(probe):
    return {"": gini(frequency_norms(_embed(probe))).float()} if _modular(probe) else undefined(probe)


@observable("fourier.unembed_gini", "Gini coefficient of the unembedding's frequency norms (transformer only)")
def unembed_gini(probe):
    if not _modular(probe) or "W_U" not in probe.params:      # the MLP has no unembedding into d_model
        return undefined(probe)
    return {"": gini(frequency_norms(probe.params["W_U"].transpose(1, 2))).float()}


@observable("fourier.key_fraction", f"fraction of the embedding's Fourier power in its top {N_KEY} frequencies")
def key_fraction(probe):
    if not _modular(probe):
        return undefined(probe)
    power = frequency_norms(_embed(probe)) ** 2
    return {"": (power.topk(min(N_KEY, power.shape[1]), dim=1).values.sum(1) / power.sum(1)).float()}


@observable("fourier.top_frequency", "the embedding's largest frequency k (in 1..(p-1)/2)")
def top_frequency(probe):
    if not _modular(probe):
        return undefined(probe)
    return {"": (frequency_norms(_embed(probe)).argmax(1) + 1).float()}


def _grid_tokens(probe) -> torch.Tensor:
    """[a, op, b, =] for every pair (a, b) of a single-operation modular cell, row a * p + b: (p*p, 4)."""
    p = probe.cell.task.p
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    x = torch.stack([a.reshape(-1), torch.full((p * p,), p), b.reshape(-1), torch.full((p * p,), p + 1)], 1)
    return x.to(probe.x.device)


def _grid_logits(probe) -> torch.Tensor:
    """Logits (E, p*p, p) on every pair; computed once per observation (restricted and excluded loss share it)."""
    if not hasattr(probe, "_grid_logits"):
        with torch.no_grad():
            probe._grid_logits = probe.model(_grid_tokens(probe)).double()
    return probe._grid_logits


def _key_terms(probe, logits: torch.Tensor) -> torch.Tensor:
    """The logits' components along cos/sin(2 pi k (a + b) / p) for each model's key frequencies."""
    p = probe.cell.task.p
    s = (torch.arange(p).view(-1, 1) + torch.arange(p).view(1, -1)).reshape(-1).double()   # a + b, (p*p,)
    K = (p - 1) // 2
    k = torch.arange(1, K + 1, dtype=torch.float64)
    dirs = torch.cat([torch.cos(2 * math.pi * s[:, None] * k / p), torch.sin(2 * math.pi * s[:, None] * k / p)], 1)
    dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(logits.device)             # (p*p, 2K) orthonormal
    coef = torch.einsum("nf,enc->efc", dirs, logits)                               # (E, 2K, p)
    key = frequency_norms(_embed(probe)).topk(N_KEY, dim=1).indices               # (E, N_KEY)
    mask = torch.zeros(logits.shape[0], K, dtype=torch.float64, device=logits.device).scatter_(1, key, 1.0)
    return torch.einsum("nf,efc->enc", dirs, coef * mask.repeat(1, 2).unsqueeze(2))


def _ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -torch.log_softmax(logits, 2).gather(2, y.view(1, -1, 1).expand(logits.shape[0], -1, 1)).squeeze(2).mean(1)


def _add_grid(probe):
    p = probe.cell.task.p
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    return ((a + b) % p).reshape(-1).to(probe.x.device)


@observable("fourier.restricted_loss", "loss on all pairs with the logits restricted to the key-frequency "
            "(a+b) terms plus each class's mean (addition only)", unit="nats", cost="expensive")
def restricted_loss(probe):
    if probe.cell.task.operations != ("add",):
        return undefined(probe)
    logits = _grid_logits(probe)
    restricted = logits.mean(1, keepdim=True) + _key_terms(probe, logits)
    return {"": _ce(restricted, _add_grid(probe)).float()}


@observable("fourier.excluded_loss", "training loss with the key-frequency (a+b) terms removed from the logits "
            "(addition only)", unit="nats", cost="expensive")
def excluded_loss(probe):
    if probe.cell.task.operations != ("add",):
        return undefined(probe)
    logits = _grid_logits(probe)
    excluded = logits - _key_terms(probe, logits)
    p = probe.cell.task.p
    rows = probe.x[:, 0] * p + probe.x[:, 2]                                       # training pairs
    return {"": _ce(excluded[:, rows], probe.y).float()}


@observable("fourier.neuron_key_fraction", "fraction of the last MLP's activation variance over all (a, b) pairs "
            "in the key frequencies' terms cos/sin of k·a, k·b, k·(a+b), k·(a-b) (addition only)", cost="expensive")
def neuron_key_fraction(probe):
    if probe.cell.task.operations != ("add",) or probe.cell.model.arch != "transformer":
        return undefined(probe)
    p = probe.cell.task.p
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    with torch.no_grad():
        _, cache = probe.model.run_with_cache(_grid_tokens(probe))
    h = cache[sorted(k for k in cache if k.endswith("mlp.hook_post"))[-1]][-1].double()   # (E, p*p, d_mlp)
    h = h - h.mean(1, keepdim=True)
    key = frequency_norms(_embed(probe)).topk(N_KEY, dim=1).indices + 1                     # (E, N_KEY)
    A, B = a.reshape(-1).double().to(h.device), b.reshape(-1).double().to(h.device)
    out = []
    for e in range(h.shape[0]):
        dirs = []
        for k in key[e].tolist():
            for arg in (A, B, A + B, A - B):
                dirs += [torch.cos(2 * math.pi * k * arg / p), torch.sin(2 * math.pi * k * arg / p)]
        Q, _ = torch.linalg.qr(torch.stack(dirs, 1))                                        # (p*p, 8*N_KEY)
        explained = (Q.T @ h[e]).pow(2).sum()
        out.append(explained / h[e].pow(2).sum().clamp_min(1e-300))
    return {"": torch.stack(out).float()}
