"""Loss-landscape geometry: top Hessian eigenvalue (power iteration on Hessian-vector products)
and the Jacobian norm of the logits with respect to the token embeddings."""

from __future__ import annotations

import torch

from groklab.training.losses import per_example_loss
from groklab.seeding import generator
from groklab.training.observables.registry import observable

GEOMETRY_ROWS = 512     # probe examples used (a fixed prefix)
POWER_ITERATIONS = 20
JACOBIAN_PROBES = 4


def _loss_and_params(probe, rows=GEOMETRY_ROWS):
    params = [p for _, p in probe.model.named_weights()]
    x, y = probe.x[:rows], probe.y[:rows]
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


def top_hessian_eigenvalue(probe, iterations: int = POWER_ITERATIONS) -> torch.Tensor:
    """(E,) largest-magnitude Hessian eigenvalue of each model's training loss.

    The loss is a sum of per-model losses, so the Hessian is block diagonal over models:
    one Hessian-vector product of the stacked vector gives every model's product, and the
    power iteration normalises each model's block separately.
    """
    seeds = probe.model.seeds
    with torch.enable_grad():
        loss, params = _loss_and_params(probe)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        v = [per_model_random(p.shape, seeds, f"hessian:{i}").to(p.device) for i, p in enumerate(params)]
        eig = torch.zeros(probe.E, device=probe.x.device)
        for _ in range(iterations):
            norm = _per_model_dot(v, v).sqrt().clamp_min(1e-30)
            v = [t / norm.view(-1, *[1] * (t.dim() - 1)) for t in v]
            hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
            eig = _per_model_dot(v, hv)                                           # Rayleigh quotient
            v = [t.detach() for t in hv]
    return eig.detach()


@observable("geometry.hessian_top_eig", f"largest Hessian eigenvalue of the training loss ({POWER_ITERATIONS} "
            f"power iterations on {GEOMETRY_ROWS} examples)", cost="expensive")
def hessian_top_eig(probe):
    return {"": top_hessian_eigenvalue(probe)}


@observable("geometry.jacobian_norm", "Frobenius norm of d logits / d token embeddings per example (Hutchinson "
            f"estimate, {JACOBIAN_PROBES} Rademacher probes)", cost="expensive")
def jacobian_norm(probe):
    W_E = probe.model.p("W_E")
    x = probe.x[:GEOMETRY_ROWS]
    total = torch.zeros(probe.E, device=x.device)
    with torch.enable_grad():
        logits = probe.model(x)                                                   # (E, B, C)
        for j in range(JACOBIAN_PROBES):
            r = per_model_random(logits.shape, probe.model.seeds, f"jacobian:{j}", rademacher=True).to(logits)
            (grad,) = torch.autograd.grad(logits, W_E, grad_outputs=r, retain_graph=True)
            total += (grad.flatten(1) ** 2).sum(1)
    return {"": (total / JACOBIAN_PROBES / len(x)).sqrt()}
