"""Weight statistics per matrix (Hu et al. 2024's per-matrix set) and global weight norms.

Each matrix is (E, rows, cols); every statistic reduces over (rows, cols) only, so it is
per model. Singular values come from one batched Gram eigendecomposition per matrix and are shared by the
statistics that need them (cached on the probe for the duration of one observation).
"""

from __future__ import annotations

import torch

from groklab.training.observables.registry import gram_eigenvalues, observable, per_model_finite


def singular_values(m: torch.Tensor) -> torch.Tensor:
    """(E, r, c) -> (E, min(r, c)) float32 singular values, descending, from the float64 Gram matrix:
    faster than float32 svdvals and more accurate (~1e-14 of the top value against its ~5e-7; one
    near 0 is off by at most ~sqrt(eps64) = 1e-8 of the top one)."""
    return gram_eigenvalues(m).sqrt().float()


def _svals(probe) -> dict[str, torch.Tensor]:
    if not hasattr(probe, "_svals"):
        probe._svals = {n: per_model_finite(singular_values, w) for n, w in probe.matrices().items()}   # (E, k)
    return probe._svals


def _per_matrix(f):
    return lambda probe: {n: f(w) for n, w in probe.matrices().items()}


def _per_matrix_sv(f):
    return lambda probe: {n: f(s) for n, s in _svals(probe).items()}


observable("weights.l1", "sum of |w| over the matrix", sites="matrix")(_per_matrix(lambda w: w.abs().sum((1, 2))))
observable("weights.l2", "Frobenius norm of the matrix", sites="matrix")(_per_matrix(lambda w: w.norm(dim=(1, 2))))
observable("weights.spectral_norm", "largest singular value", sites="matrix")(_per_matrix_sv(lambda s: s[:, 0]))
observable("weights.trace_norm", "sum of singular values (nuclear norm; Hu et al.'s 'trace')", sites="matrix")(
    _per_matrix_sv(lambda s: s.sum(1)))
observable("weights.code_sparsity", "L1 / L2 of the entries (lower = sparser code)", sites="matrix")(
    _per_matrix(lambda w: w.abs().sum((1, 2)) / w.norm(dim=(1, 2)).clamp_min(1e-30)))
observable("weights.computational_sparsity", "trace norm / spectral norm (lower = fewer directions used)",
           sites="matrix")(_per_matrix_sv(lambda s: s.sum(1) / s[:, 0].clamp_min(1e-30)))
observable("weights.sv_mean", "mean singular value", sites="matrix")(_per_matrix_sv(lambda s: s.mean(1)))
observable("weights.sv_var", "variance of the singular values", sites="matrix")(
    _per_matrix_sv(lambda s: s.var(1, unbiased=False)))
observable("weights.stable_rank", "||W||_F^2 / spectral norm^2", sites="matrix")(
    _per_matrix_sv(lambda s: (s**2).sum(1) / (s[:, 0] ** 2).clamp_min(1e-30)))
observable("weights.mean", "mean entry", sites="matrix")(_per_matrix(lambda w: w.mean((1, 2))))
observable("weights.median", "median entry", sites="matrix")(_per_matrix(lambda w: w.flatten(1).median(1).values))
observable("weights.var", "variance of the entries", sites="matrix")(_per_matrix(lambda w: w.var((1, 2), unbiased=False)))


@observable("weights.sum_sq", "sum of squared weights over all parameters (Nanda et al.'s weight norm)")
def sum_sq(probe):
    return {"": sum((w.flatten(1) ** 2).sum(1) for w in probe.params.values())}


@observable("weights.dist_from_init", "Frobenius distance of the matrix from its initial value", sites="matrix")
def dist_from_init(probe):
    return {n: (w - probe.init[n].reshape(w.shape)).norm(dim=(1, 2)) for n, w in probe.matrices().items()}


@observable("weights.total_dist_from_init", "distance of all parameters from their initial values")
def total_dist(probe):
    return {"": torch.sqrt(sum(((w - probe.init[n]).flatten(1) ** 2).sum(1) for n, w in probe.params.items()))}
