"""Decoder-only transformer for [a, op, b, =] sequences, E models at once, computing only what the loss needs.

Exactly the maths of a standard pre-LN (or LN-free) transformer whose logits are read at
the last (=) position, but:
  * layer 0's inputs are functions of (position, token) alone, so its Q/K/V come from small
    per-token tables (T, E, V, F) gathered per example instead of an (E, B*T, d) matmul;
  * in the last layer only the = position reaches the output, so its query, attention
    output, MLP and unembedding run on that one position.
Shapes: E models, B examples, T positions (4 for [a, op, b, =]), V vocabulary, d = d_model, F = n_heads * d_head.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn

from groklab.config.cells import InitConfig, ModelConfig, TaskConfig
from groklab.training.models.ensemble import EnsembleModule, ParamSpec, flat_token_index, gather_positions, hook


def activation(name: str):
    return Fn.relu if name == "relu" else Fn.gelu


def key_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the keys of scores (T, E, B, H), as a (T, E, B, H) view.

    Taken over the last dim of an (E, B, H, T) copy: a softmax over dim 0 vectorises across
    the E*B*H inner entries, and how it splits them depends on E, so a model's attention
    pattern would change in its last bits with the number of models beside it (seen at E = 2
    vs 3). Over the last dim every row is computed alike.
    """
    return scores.permute(1, 2, 3, 0).softmax(-1).permute(3, 0, 1, 2)


class EnsembleTransformer(EnsembleModule):
    def __init__(self, model: ModelConfig, task: TaskConfig, seeds: list[int], init: InitConfig | None = None):
        self.cfg, self.vocab, self.n_out, self.seq_len = model, task.vocab_size, task.n_classes, task.seq_len
        self.F = model.n_heads * model.head_dim
        super().__init__(seeds, init)
        self.act = activation(model.act)

    def param_specs(self) -> dict[str, ParamSpec]:
        m, d, F = self.cfg, self.cfg.d_model, self.F
        s = {
            "W_E": ParamSpec((self.vocab, d), "weight", 1 / math.sqrt(d)),
            "W_pos": ParamSpec((self.seq_len, d), "weight", 1 / math.sqrt(d)),
        }
        for l in range(m.n_layers):
            b = f"blocks.{l}."
            if m.layernorm:
                s |= {b + "ln1.w": ParamSpec((d,), "ones"), b + "ln1.b": ParamSpec((d,), "zeros")}
            s |= {b + n: ParamSpec((d, F), "weight", 1 / math.sqrt(d)) for n in ("W_Q", "W_K", "W_V")}
            s[b + "W_O"] = ParamSpec((F, d), "weight", 1 / math.sqrt(F))
            if m.layernorm:
                s |= {b + "ln2.w": ParamSpec((d,), "ones"), b + "ln2.b": ParamSpec((d,), "zeros")}
            s |= {
                b + "W_in": ParamSpec((d, m.d_mlp), "weight", 1 / math.sqrt(d)),
                b + "b_in": ParamSpec((m.d_mlp,), "zeros"),
                b + "W_out": ParamSpec((m.d_mlp, d), "weight", 1 / math.sqrt(m.d_mlp)),
                b + "b_out": ParamSpec((d,), "zeros"),
            }
        if m.layernorm:
            s |= {"ln_final.w": ParamSpec((d,), "ones"), "ln_final.b": ParamSpec((d,), "zeros")}
        s["W_U"] = ParamSpec((d, self.n_out), "weight", 1 / math.sqrt(d))
        return s

    def _ln(self, name: str, x: torch.Tensor, batch_dim: int) -> torch.Tensor:
        """LayerNorm with per-model gain/bias; x has E at `batch_dim` and d last."""
        if not self.cfg.layernorm:
            return x
        w, b = self.p(name + ".w"), self.p(name + ".b")  # (E, d)
        shape = [1] * x.dim()
        shape[batch_dim], shape[-1] = self.E, -1
        return Fn.layer_norm(x, x.shape[-1:]) * w.view(shape) + b.view(shape)

    def forward(self, tokens: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """tokens (B, T) shared or (E, B, T) per model -> logits (E, B, n_out) at the = position.

        Activations are position-major, (Tq, E, B, ·): gathers land contiguous and the last
        layer works on Tq = 1 without any transpose copies.
        """
        L = self.cfg.n_layers
        resid = idx = resid_tab = None
        if L > 1:
            idx = flat_token_index(tokens, self.E, self.vocab)             # (T, E*B)
            resid_tab = self.p("W_E").unsqueeze(0) + self.p("W_pos").transpose(0, 1).unsqueeze(2)  # (T, E, V, d)
        for l in range(L):
            last_only = l == L - 1
            if L == 1:
                attn, resid = self._single_layer_attention(tokens, cache)
            else:
                q, k, v, resid = self._layer0_qkv(resid_tab, idx, last_only, cache) if l == 0 else self._qkv(l, resid, last_only)
                attn = self._attend(l, q, k, v, cache)
            resid = hook(cache, f"blocks.{l}.hook_resid_mid", resid + attn)
            resid = hook(cache, f"blocks.{l}.hook_resid_post", resid + self._mlp(l, resid, cache))
        resid = self._ln("ln_final", resid[-1], 0)                         # (E, B, d)
        return torch.bmm(resid, self.p("W_U"))                             # (E, B, n_out)

    def _single_layer_attention(self, tokens, cache):
        """Attention of the = query in a 1-layer model -> (attn_out, resid), each (1, E, B, d).

        Both the = query and each key depend on one token only, so every score is an entry of
        a per-model table S[e, v_query, (t, v_key), h] (E*V*T*V*H floats, one small bmm)
        gathered per example, instead of a q . k product over (E, B, T, H, dh). Every product
        is a per-model bmm and every reduction runs within one model's block, so a model's
        numbers do not depend on how many models share the ensemble (tests/test_packs.py):
        a matmul broadcast over positions would sum its gradient over them across all models.
        """
        E, V, T = self.E, self.vocab, self.seq_len
        H, dh, F = self.cfg.n_heads, self.cfg.head_dim, self.F
        resid_tab = self.p("W_E").unsqueeze(1) + self.p("W_pos").unsqueeze(2)   # (E, T, V, d)
        x_tab = self._ln("blocks.0.ln1", resid_tab, 0).reshape(E, T * V, -1)  # (E, T*V, d)
        tok = tokens.expand(E, *tokens.shape) if tokens.dim() == 2 else tokens  # (E, B, T)
        B = tok.shape[1]
        # row (e, t, token) of an (E*T*V, .) table, for every example and position: (E, B, T)
        rows = (torch.arange(E, device=tok.device).view(E, 1, 1) * T
                + torch.arange(T, device=tok.device).view(1, 1, T)) * V + tok
        # the = position's rows, contiguous: a strided batch would take another gemm path than at E = 1
        q_tab = torch.bmm(x_tab[:, (T - 1) * V :].contiguous(), self.p("blocks.0.W_Q"))   # (E, V, F)
        k_tab = torch.bmm(x_tab, self.p("blocks.0.W_K"))                     # (E, T*V, F)
        v_tab = torch.bmm(x_tab, self.p("blocks.0.W_V"))
        # per (model, head): .contiguous() before merging E and H, which would be a view at E = 1
        # only (a strided batch takes another gemm path: the model's last bits would change)
        S = torch.bmm(q_tab.view(E, V, H, dh).transpose(1, 2).contiguous().view(E * H, V, dh),
                      k_tab.view(E, T * V, H, dh).permute(0, 2, 3, 1).contiguous().view(E * H, dh, T * V)) / math.sqrt(dh)
        # S (E*H, V, T*V), gathered entry by entry straight into (E, B, H, T): no permute, so its
        # gradient reaches the bmm contiguous at every E (a view at E = 1 but a copy at E > 1
        # would send the backward gemm down different paths)
        ar = lambda n, *shape: torch.arange(n, device=tok.device).view(*shape)  # noqa: E731
        key = ar(T, 1, 1, T, 1) * V + tok.unsqueeze(3)                        # (E, B, T, 1): t*V + key token
        s_idx = ((ar(E, E, 1, 1, 1) * H + ar(H, 1, 1, 1, H)) * V + tok[:, :, -1:].unsqueeze(3)) * (T * V) + key
        # (E, B, T, H), softmax over the keys T: within each (model, example) block, H inner
        pattern = S.reshape(-1).index_select(0, s_idx.reshape(-1)).view(E, B, T, H).softmax(2)
        hook(cache, "blocks.0.attn.hook_pattern", pattern.permute(0, 1, 3, 2).unsqueeze(3))   # (E, B, H, 1, T)
        v = v_tab.reshape(E * T * V, F).index_select(0, rows.reshape(-1)).view(E, B, T, H, dh)
        z = (pattern.unsqueeze(-1) * v).sum(2).reshape(E, B, F)              # (E, B, F)
        flat_resid = resid_tab.reshape(E * T * V, -1)
        if cache is not None:
            full = flat_resid.index_select(0, rows.reshape(-1)).view(E, B, T, -1)
            hook(cache, "blocks.0.hook_resid_pre", full.permute(2, 0, 1, 3))      # (T, E, B, d)
        resid = flat_resid.index_select(0, rows[:, :, -1].reshape(-1)).view(1, E, B, -1)   # (1, E, B, d)
        return torch.bmm(z, self.p("blocks.0.W_O")).unsqueeze(0), resid

    def _layer0_qkv(self, resid_tab, idx, last_only, cache):
        """Layer 0's q (Tq,E,B,F), k, v (T,E,B,F) and resid (Tq,E,B,d) from per-(position, token) tables.

        K and V are gathered from separate tables (not sliced out of one QKV tensor): a
        slice's backward would zero-fill and copy a full gradient every step.
        """
        x_tab = self._ln("blocks.0.ln1", resid_tab, 1)                     # (T, E, V, d)
        k = gather_positions(torch.matmul(x_tab, self.p("blocks.0.W_K")), idx)    # (T, E, B, F)
        v = gather_positions(torch.matmul(x_tab, self.p("blocks.0.W_V")), idx)
        if cache is not None:
            hook(cache, "blocks.0.hook_resid_pre", gather_positions(resid_tab, idx))  # (T, E, B, d)
        if last_only:   # only the = position's query and residual reach the output
            x_tab, resid_tab, idx = x_tab[-1:], resid_tab[-1:], idx[-1:]
        q = gather_positions(torch.matmul(x_tab, self.p("blocks.0.W_Q")), idx)     # (Tq, E, B, F)
        return q, k, v, gather_positions(resid_tab, idx)

    def _qkv(self, l, resid, last_only):
        """Q/K/V of a later layer from the full residual stream resid (T, E, B, d)."""
        b = f"blocks.{l}."
        x = self._ln(b + "ln1", resid, 1)
        q_in = x[-1:] if last_only else x
        q = torch.matmul(q_in, self.p(b + "W_Q"))                          # (Tq, E, B, F)
        k, v = torch.matmul(x, self.p(b + "W_K")), torch.matmul(x, self.p(b + "W_V"))   # (T, E, B, F)
        return q, k, v, resid[-1:] if last_only else resid

    def _attend(self, l, q, k, v, cache):
        """q (Tq,E,B,F), k/v (T,E,B,F) -> attention output (Tq,E,B,d). Causal: query i sees keys <= i."""
        Tq, E, B, _ = q.shape
        T, H, dh = k.shape[0], self.cfg.n_heads, self.cfg.head_dim
        q, k, v = q.view(Tq, E, B, H, dh), k.view(T, E, B, H, dh), v.view(T, E, B, H, dh)
        if Tq == 1:
            # The = query sees every key: elementwise products over (T, E, B, H, dh) avoid the
            # permute copies and (E*B*H)-batched 1 x dh matmuls an einsum would lower to.
            scores = (k * q).sum(-1) / math.sqrt(dh)                        # (T, E, B, H)
            pattern = key_softmax(scores)
            hook(cache, f"blocks.{l}.attn.hook_pattern", pattern.permute(1, 2, 3, 0).unsqueeze(3))  # (E,B,H,1,T)
            z = (pattern.unsqueeze(-1) * v).sum(0).view(1, E, B, H * dh)     # (1, E, B, F)
        else:
            scores = torch.einsum("qebhk,tebhk->ebhqt", q, k) / math.sqrt(dh)   # (E, B, H, Tq, T)
            mask = torch.ones(Tq, T, dtype=torch.bool, device=q.device).triu(1)
            pattern = hook(cache, f"blocks.{l}.attn.hook_pattern", scores.masked_fill(mask, float("-inf")).softmax(-1))
            z = torch.einsum("ebhqt,tebhk->qebhk", pattern, v).reshape(Tq, E, B, H * dh)
        return torch.matmul(z, self.p(f"blocks.{l}.W_O"))                  # (Tq, E, B, d)

    def _mlp(self, l, resid, cache):
        """resid (Tq, E, B, d) -> MLP output (Tq, E, B, d)."""
        b = f"blocks.{l}."
        Tq, E, B, d = resid.shape
        x = self._ln(b + "ln2", resid, 1).reshape(Tq * E, B, d) if Tq == 1 else self._ln(b + "ln2", resid, 1)
        W_in, b_in = self.p(b + "W_in"), self.p(b + "b_in").unsqueeze(1)     # (E, d, d_mlp), (E, 1, d_mlp)
        pre = torch.baddbmm(b_in, x, W_in) if Tq == 1 else torch.matmul(x, W_in) + b_in
        if cache is None and self.cfg.act == "relu":
            # relu's backward needs only its output and baddbmm's none of its own: in place
            # saves one (E, B, d_mlp) buffer per step.
            post = pre.relu_()
        else:
            hook(cache, b + "mlp.hook_pre", pre.view(Tq, E, B, -1))
            post = self.act(pre)
        post = hook(cache, b + "mlp.hook_post", post.view(Tq, E, B, -1))   # (Tq, E, B, d_mlp)
        if Tq == 1:
            # a view, not post[0]: select's backward would zero-fill and copy a full gradient
            return torch.baddbmm(self.p(b + "b_out").unsqueeze(1), post.view(E, B, -1), self.p(b + "W_out")).unsqueeze(0)
        return torch.matmul(post, self.p(b + "W_out")) + self.p(b + "b_out").unsqueeze(1)
