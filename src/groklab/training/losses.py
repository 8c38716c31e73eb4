"""Per-model losses of an ensemble: logits (E, B, C) -> each example's loss (E, B) or each model's mean (E,)."""

from __future__ import annotations

import torch
import torch.nn.functional as Fn

LOSSES = ("cross_entropy", "stablemax")


def per_example_loss(logits: torch.Tensor, y: torch.Tensor, kind: str = "cross_entropy") -> torch.Tensor:
    """logits (E, B, C), y (B,) shared or (E, B) per model -> loss of every example (E, B), logits' dtype."""
    return _per_example(logits, y, kind).to(logits.dtype)


def per_model_loss(logits: torch.Tensor, y: torch.Tensor, kind: str = "cross_entropy") -> torch.Tensor:
    """logits (E, B, C), y (B,) or (E, B) -> each model's mean loss (E,), logits' dtype."""
    # stablemax averages in float64 before the cast; cross_entropy stays in the logits' dtype
    return _per_example(logits, y, kind).mean(1).to(logits.dtype)


def _per_example(logits: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    E, B, C = logits.shape
    y = y.expand(E, B) if y.dim() == 1 else y
    if kind == "cross_entropy":
        return Fn.cross_entropy(logits.reshape(E * B, C), y.reshape(-1), reduction="none").view(E, B)
    if kind == "stablemax":
        logp = stablemax_log_probs(logits.double())                      # (E, B, C) float64
        return -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)             # (E, B)
    raise ValueError(f"training.loss: unknown loss {kind!r}; allowed: {list(LOSSES)}")


def stablemax_log_probs(x: torch.Tensor) -> torch.Tensor:
    """log StableMax over the last dim (Prieto et al. 2025), s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0)."""
    # Each branch sees only the inputs it is valid for, so the unused branch's gradient
    # is finite (1 / (1 - x) at x = 1 would give inf * 0 = nan through torch.where).
    s = torch.where(x >= 0, x.clamp(min=0) + 1, 1 / (1 - x.clamp(max=0)))
    return s.log() - s.sum(-1, keepdim=True).log()
