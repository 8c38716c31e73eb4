"""Loss-landscape geometry: top Hessian eigenvalue (Lanczos on Hessian-vector products)
and the Jacobian norm of the logits with respect to the token embeddings."""

from __future__ import annotations

import torch

from groklab.training.losses import per_example_loss
from groklab.seeding import generator
from groklab.training.observables.registry import observable

GEOMETRY_ROWS = 512     # probe examples of the Jacobian norm (evenly spaced over the probe set)
HESSIAN_ROWS = 256      # those of the Hessian: each Lanczos step is a double backward over them
LANCZOS_STEPS = 10
JACOBIAN_PROBES = 4


def spread_rows(n_total: int, n: int) -> torch.Tensor:
    """n row indices evenly spaced over 0..n_total-1 (all rows when n >= n_total): every operation of
    a multi-task cell is represented (the probe set is ordered by operation)."""
    if n >= n_total:
        return torch.arange(n_total)
    return torch.linspace(0, n_total - 1, n).round().long()


def _loss_and_params(probe, rows=HESSIAN_ROWS):
    params = [p for _, p in probe.model.named_weights()]
    idx = spread_rows(len(probe.y), rows).to(probe.y.device)
    x, y = probe.x[idx], probe.y[idx]
    loss = per_example_loss(probe.model(x), y, probe.cell.training.loss).mean(1).sum()   # sum of per-model means
    return loss, params


def _per_model_dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    return sum((u * v).flatten(1).sum(1) for u, v in zip(a, b))                # (E,)


def per_model_random(shape, seeds, purpose: str, rademacher: bool = False) -> torch.Tensor:
    """(E, *shape[1:]) with row e drawn from its own generator(seeds[e], purpose): independent of the ensemble."""
    rows = []
    for seed in seeds:
        g = generator(seed, purpose)
        rows.append(torch.randint(0, 2, shape[1:], generator=g) * 2.0 - 1 if rademacher else torch.randn(shape[1:], generator=g))
    return torch.stack(rows)


def _axpy(alpha: torch.Tensor, x: list[torch.Tensor], y: list[torch.Tensor]) -> list[torch.Tensor]:
    """y + alpha x with one coefficient per model (alpha (E,))."""
    return [v + alpha.view(-1, *[1] * (u.dim() - 1)) * u for u, v in zip(x, y)]


def top_hessian_eigenvalue(probe, iterations: int = LANCZOS_STEPS) -> torch.Tensor:
    """(E,) largest-magnitude Hessian eigenvalue of each model's training loss, by Lanczos.

    The loss is a sum of per-model losses, so the Hessian is block diagonal over models: one
    Hessian-vector product of the stacked vector gives every model's product. Each model runs
    its own Lanczos recursion (its own coefficients, full reorthogonalisation within its block);
    its tridiagonal matrix's extreme Ritz value converges far faster than power iteration
    (10 products here against 20 before, and closer to the true value). A model whose Krylov
    space closes early (beta ~ 0) keeps the Ritz values of the steps before.
    """
    seeds = probe.model.seeds
    E = probe.E
    with torch.enable_grad():
        loss, params = _loss_and_params(probe)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        q = [per_model_random(p.shape, seeds, f"hessian:{i}").to(p.device) for i, p in enumerate(params)]
        q = [t / _per_model_dot(q, q).sqrt().view(-1, *[1] * (t.dim() - 1)) for t in q]
        basis, alphas, betas = [q], [], []
        alive = torch.ones(E, dtype=torch.bool, device=probe.x.device)
        steps = torch.zeros(E, dtype=torch.int64)
        for _ in range(iterations):
            w = [t.detach() for t in torch.autograd.grad(grads, params, grad_outputs=q, retain_graph=True)]
            alpha = _per_model_dot(q, w)
            for u in basis:                                                    # full reorthogonalisation
                w = _axpy(-_per_model_dot(u, w), u, w)
            beta = _per_model_dot(w, w).sqrt()
            alphas.append(alpha)
            steps += alive.cpu()
            alive = alive & (beta > 1e-8 * alpha.abs().clamp_min(1e-30))
            betas.append(torch.where(alive, beta, torch.zeros_like(beta)))
            if not bool(alive.any()):
                break
            q = [t / torch.where(alive, beta, torch.ones_like(beta)).view(-1, *[1] * (t.dim() - 1)) for t in w]
            basis.append(q)
    return _extreme_ritz(torch.stack(alphas, 1).double().cpu(), torch.stack(betas, 1).double().cpu(), steps)


def _extreme_ritz(alphas: torch.Tensor, betas: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """alphas, betas (E, k) -> (E,) the largest-magnitude eigenvalue of each model's own k_e x k_e
    tridiagonal Lanczos matrix."""
    out = []
    for a, b, k in zip(alphas, betas, steps.tolist()):
        T = torch.diag(a[:k]) + torch.diag(b[: k - 1], 1) + torch.diag(b[: k - 1], -1)
        lam = torch.linalg.eigvalsh(T)
        out.append(lam[lam.abs().argmax()])
    return torch.stack(out).float().to(alphas.device)


@observable("geometry.hessian_top_eig", f"largest-magnitude Hessian eigenvalue of the training loss ({LANCZOS_STEPS} "
            f"Lanczos steps on {HESSIAN_ROWS} evenly spaced training examples)", cost="expensive")
def hessian_top_eig(probe):
    return {"": top_hessian_eigenvalue(probe)}


@observable("geometry.jacobian_norm", "Frobenius norm of d logits / d token embeddings per example (Hutchinson "
            f"estimate, {JACOBIAN_PROBES} Rademacher probes)", cost="expensive")
def jacobian_norm(probe):
    W_E = probe.model.p("W_E")
    x = probe.x[spread_rows(len(probe.x), GEOMETRY_ROWS).to(probe.x.device)]
    total = torch.zeros(probe.E, device=x.device)
    with torch.enable_grad():
        logits = probe.model(x)                                                   # (E, B, C)
        for j in range(JACOBIAN_PROBES):
            r = per_model_random(logits.shape, probe.model.seeds, f"jacobian:{j}", rademacher=True).to(logits)
            (grad,) = torch.autograd.grad(logits, W_E, grad_outputs=r, retain_graph=True)
            total += (grad.flatten(1) ** 2).sum(1)
    return {"": (total / JACOBIAN_PROBES / len(x)).sqrt()}
