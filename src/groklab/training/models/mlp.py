"""MLP on concatenated token embeddings, E models at once: [emb(a), emb(op), emb(b), emb(=)] -> hidden -> logits.

concat(emb) @ W_in equals the sum over positions t of W_E[token_t] @ W_in[t], so each
position's contribution comes from a small (E, V, hidden) table gathered per example.
Shapes: E models, B examples, T positions, V vocabulary, d = d_model, h = d_mlp.
"""

from __future__ import annotations

import math

import torch

from groklab.config.cells import InitConfig, ModelConfig, TaskConfig
from groklab.training.models.ensemble import EnsembleModule, ParamSpec, flat_token_index, gather_positions, hook
from groklab.training.models.transformer import activation


class EnsembleMLP(EnsembleModule):
    def __init__(self, model: ModelConfig, task: TaskConfig, seeds: list[int], init: InitConfig | None = None):
        self.cfg, self.vocab, self.n_out, self.seq_len = model, task.vocab_size, task.n_classes, task.seq_len
        super().__init__(seeds, init)
        self.act = activation(model.act)

    def param_specs(self) -> dict[str, ParamSpec]:
        d, h = self.cfg.d_model, self.cfg.d_mlp
        return {
            "W_E": ParamSpec((self.vocab, d), "weight", 1 / math.sqrt(d)),
            "W_in": ParamSpec((self.seq_len, d, h), "weight", 1 / math.sqrt(self.seq_len * d)),
            "b_in": ParamSpec((h,), "zeros"),
            "W_out": ParamSpec((h, self.n_out), "weight", 1 / math.sqrt(h)),
            "b_out": ParamSpec((self.n_out,), "zeros"),
        }

    def forward(self, tokens: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """tokens (B, T) shared or (E, B, T) per model -> logits (E, B, n_out)."""
        E = self.E
        idx = flat_token_index(tokens, E, self.vocab)                        # (T, E*B)
        W_E, W_in = self.p("W_E"), self.p("W_in")                             # (E, V, d), (E, T, d, h)
        tables = torch.einsum("evd,etdh->tevh", W_E, W_in)                    # (T, E, V, h)
        pre = gather_positions(tables, idx).sum(0) + self.p("b_in").unsqueeze(1)   # (E, B, h)
        hook(cache, "mlp.hook_pre", pre)
        post = hook(cache, "mlp.hook_post", self.act(pre))
        return torch.baddbmm(self.p("b_out").unsqueeze(1), post, self.p("W_out"))  # (E, B, n_out)
