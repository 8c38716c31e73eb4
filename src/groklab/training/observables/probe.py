"""One snapshot of an ensemble for the observables: parameters, a fresh training gradient,
activations, optimizer state. Built without touching the training loop's state or RNG."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from groklab.config.cells import CellConfig
from groklab.training.losses import per_example_loss


@dataclass
class Probe:
    cell: CellConfig
    step: int
    params: dict[str, torch.Tensor]            # name -> (E, ...) detached
    init: dict[str, torch.Tensor]              # parameters at step 0
    prev: dict[str, torch.Tensor] | None       # parameters at the previous probe
    prev_step: int | None
    grads: dict[str, torch.Tensor]             # gradient of each model's mean training loss
    x: torch.Tensor                            # (B, T) probe examples (training set)
    y: torch.Tensor                            # (B,)
    logits: torch.Tensor                       # (E, B, C) detached
    cache: dict[str, torch.Tensor]             # hook activations on x, detached
    opt_state: dict[str, dict]                 # name -> torch-style optimizer state of that parameter
    lr: torch.Tensor                           # (E,) each model's lr for its next step (schedule, interventions)
    model: torch.nn.Module = field(repr=False)

    @property
    def E(self) -> int:
        return self.logits.shape[0]

    def matrices(self) -> dict[str, torch.Tensor]:
        """Weight matrices as (E, rows, cols): every parameter with two or more dims per model."""
        return {n: w.reshape(w.shape[0], -1, w.shape[-1]) for n, w in self.params.items() if w.dim() >= 3}


def make_probe(model, opt, cell: CellConfig, step: int, x, y, init, prev, prev_step) -> Probe:
    """Forward with cache and a backward on the probe examples, into fresh tensors (never p.grad)."""
    named = dict(model.named_weights())
    with torch.enable_grad():
        logits, cache = model.run_with_cache(x)
        loss = per_example_loss(logits, y, cell.training.loss).mean(1).sum()   # sum of per-model means
        grads = torch.autograd.grad(loss, list(named.values()), allow_unused=True)
    grads = {n: (g if g is not None else torch.zeros_like(w)).detach() for (n, w), g in zip(named.items(), grads)}
    opt_state = {n: opt.state_of(i) for i, n in enumerate(named)}
    return Probe(cell, step, {n: w.detach() for n, w in named.items()}, init, prev, prev_step, grads, x, y,
                 logits.detach(), {k: v.detach() for k, v in cache.items()}, opt_state,
                 opt.current_lr().float(), model)
