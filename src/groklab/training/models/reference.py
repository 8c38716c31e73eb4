"""A straightforward single-model, full-sequence transformer in the style of the public grokking code.

It embeds every position, runs attention, MLP and unembedding on all four positions and
then keeps the last one. Used as an independent check of EnsembleTransformer's maths
(tests load one ensemble member into it) and as the benchmark's baseline.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn
from torch import nn

from groklab.config.cells import ModelConfig


class ReferenceTransformer(nn.Module):
    def __init__(self, weights: dict[str, torch.Tensor], cfg: ModelConfig):
        """weights: one model's tensors, named as EnsembleTransformer's without the E dimension."""
        super().__init__()
        self.cfg = cfg
        self.w = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(v.detach().clone()) for k, v in weights.items()})
        self.act = Fn.relu if cfg.act == "relu" else Fn.gelu

    @classmethod
    def from_ensemble(cls, ensemble, e: int) -> "ReferenceTransformer":
        return cls({n: t[e] for n, t in ensemble.named_weights()}, ensemble.cfg)

    def _get(self, name):
        return self.w[name.replace(".", "__")]

    def _ln(self, name, x):
        if not self.cfg.layernorm:
            return x
        return Fn.layer_norm(x, x.shape[-1:], self._get(name + ".w"), self._get(name + ".b"))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) -> logits (B, n_out) at the last position."""
        B, T = tokens.shape
        H, dh = self.cfg.n_heads, self.cfg.d_head or self.cfg.d_model // self.cfg.n_heads
        x = self._get("W_E")[tokens] + self._get("W_pos")[:T]                    # (B, T, d)
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        for l in range(self.cfg.n_layers):
            b = f"blocks.{l}."
            h = self._ln(b + "ln1", x)
            q = (h @ self._get(b + "W_Q")).view(B, T, H, dh).transpose(1, 2)      # (B, H, T, dh)
            k = (h @ self._get(b + "W_K")).view(B, T, H, dh).transpose(1, 2)
            v = (h @ self._get(b + "W_V")).view(B, T, H, dh).transpose(1, 2)
            scores = (q @ k.transpose(-1, -2) / math.sqrt(dh)).masked_fill(causal, float("-inf"))
            z = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * dh)   # (B, T, F)
            x = x + z @ self._get(b + "W_O")
            h = self._ln(b + "ln2", x)
            x = x + self.act(h @ self._get(b + "W_in") + self._get(b + "b_in")) @ self._get(b + "W_out") + self._get(b + "b_out")
        logits = self._ln("ln_final", x) @ self._get("W_U")                       # (B, T, n_out)
        return logits[:, -1]
