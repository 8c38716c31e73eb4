"""Gradient and update statistics: per-matrix norms, gradient-weight cosine, update-to-weight
ratio, and the gradient's signal-to-noise ratio across minibatches."""

from __future__ import annotations

import torch

from groklab.training.losses import per_example_loss
from groklab.training.observables.registry import observable


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)                                      # (E, n)


@observable("gradients.norm", "L2 norm of the training-loss gradient of the matrix", sites="matrix")
def grad_norm(probe):
    return {n: _flat(probe.grads[n]).norm(dim=1) for n in probe.matrices()}


@observable("gradients.total_norm", "L2 norm of the gradient over all parameters")
def total_norm(probe):
    return {"": torch.sqrt(sum((_flat(g) ** 2).sum(1) for g in probe.grads.values()))}


@observable("gradients.cos_weight", "cosine between the matrix's gradient and its weights", sites="matrix")
def cos_weight(probe):
    out = {}
    for n in probe.matrices():
        g, w = _flat(probe.grads[n]), _flat(probe.params[n])
        out[n] = (g * w).sum(1) / (g.norm(dim=1) * w.norm(dim=1)).clamp_min(1e-30)
    return out


@observable("gradients.update_ratio", "||W_t - W_prev|| / ||W_t|| per step since the previous observation",
            unit="1/step", sites="matrix")
def update_ratio(probe):
    if probe.prev is None or probe.step == probe.prev_step:
        return {n: torch.full((probe.E,), float("nan")) for n in probe.matrices()}
    steps = probe.step - probe.prev_step
    return {n: _flat(probe.params[n] - probe.prev[n]).norm(dim=1) / _flat(probe.params[n]).norm(dim=1).clamp_min(1e-30) / steps
            for n in probe.matrices()}


SNR_CHUNKS = 8


@observable("gradients.snr", f"||mean minibatch gradient|| / RMS deviation over {SNR_CHUNKS} disjoint minibatches of "
            "the probe set", cost="expensive")
def grad_snr(probe):
    model, kind = probe.model, probe.cell.training.loss
    params = [p for _, p in model.named_weights()]
    chunks = torch.arange(len(probe.y)).chunk(SNR_CHUNKS)
    per_chunk = []
    with torch.enable_grad():
        for idx in chunks:
            loss = per_example_loss(model(probe.x[idx]), probe.y[idx], kind).mean(1).sum()
            gs = torch.autograd.grad(loss, params, allow_unused=True)
            per_chunk.append(torch.cat([_flat(g) for g in gs if g is not None], dim=1))   # (E, n)
    G = torch.stack(per_chunk)                                            # (K, E, n)
    mean = G.mean(0)
    noise = ((G - mean) ** 2).sum(2).mean(0).sqrt()                       # (E,)
    return {"": mean.norm(dim=1) / noise.clamp_min(1e-30)}
