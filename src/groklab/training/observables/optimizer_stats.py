"""Optimizer statistics from torch's own per-parameter state (Adam moments, SGD momentum)."""

from __future__ import annotations

import torch

from groklab.training.observables.registry import observable, undefined


def _states(probe, key):
    return [(n, s[key]) for n, s in probe.opt_state.items() if key in s]


@observable("optimizer.lr", "learning rate of this step (after warmup/schedule and any per-model lr intervention)")
def lr(probe):
    return {"": probe.lr.clone()}                          # (E,): each model's own lr


@observable("optimizer.adam_m_norm", "L2 norm of Adam's first moment over all parameters")
def adam_m_norm(probe):
    m = _states(probe, "exp_avg")
    return {"": torch.sqrt(sum((t.flatten(1) ** 2).sum(1) for _, t in m))} if m else undefined(probe)


@observable("optimizer.adam_v_mean", "mean of Adam's second moment over all parameters")
def adam_v_mean(probe):
    v = _states(probe, "exp_avg_sq")
    if not v:
        return undefined(probe)
    return {"": sum(t.flatten(1).sum(1) for _, t in v) / sum(t[0].numel() for _, t in v)}


@observable("optimizer.effective_step", "mean over entries of lr / (sqrt(v_hat) + eps), Adam's per-entry step size")
def effective_step(probe):
    v = _states(probe, "exp_avg_sq")
    if not v:
        return undefined(probe)
    o = probe.cell.optimizer
    steps = {n: float(probe.opt_state[n]["step"]) for n, _ in v}
    total = sum((1 / ((t / (1 - o.betas[1] ** max(steps[n], 1))).sqrt() + o.eps)).flatten(1).sum(1) for n, t in v)
    # the step is linear in lr: each model's own lr (E,)
    return {"": total / sum(t[0].numel() for _, t in v) * probe.lr.to(total)}


@observable("optimizer.momentum_norm", "L2 norm of SGD's momentum buffer over all parameters")
def momentum_norm(probe):
    m = _states(probe, "momentum_buffer")
    m = [(n, t) for n, t in m if t is not None]
    return {"": torch.sqrt(sum((t.flatten(1) ** 2).sum(1) for _, t in m))} if m else undefined(probe)
