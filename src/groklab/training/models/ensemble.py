"""Shared machinery of ensemble models: stacked parameters with a leading dimension E, seeded per model.

Every parameter has shape (E, *shape). Model e is drawn from its own seed alone, so
the same seed gives the same model whether it is trained in an ensemble of 1 or 64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from groklab.config.cells import InitConfig
from groklab.seeding import generator


@dataclass(frozen=True)
class ParamSpec:
    shape: tuple[int, ...]   # per model, without E
    kind: str                # "weight" (normal(0, std)), "zeros", "ones"
    std: float = 0.0


def gather_positions(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """table (T, E, V, F), idx (T, E*B) from flat_token_index -> (T, E, B, F) as one index_select.

    One gather (and one index_add in backward) for all positions instead of one per position.
    """
    T, E, V, F = table.shape
    offsets = torch.arange(T, device=idx.device).view(T, 1) * (E * V)
    rows = table.reshape(T * E * V, F).index_select(0, (idx + offsets).reshape(-1))   # (T*E*B, F)
    return rows.view(T, E, -1, F)


def flat_token_index(tokens: torch.Tensor, E: int, vocab: int) -> torch.Tensor:
    """tokens (B, T) shared by all models or (E, B, T) per model -> (T, E*B) rows of an (E*V) table."""
    if tokens.dim() == 2:
        tokens = tokens.unsqueeze(0).expand(E, -1, -1)
    offsets = torch.arange(E, device=tokens.device).view(E, 1, 1) * vocab
    return (tokens + offsets).permute(2, 0, 1).reshape(tokens.shape[-1], -1)


def hook(cache: dict | None, name: str, tensor: torch.Tensor) -> torch.Tensor:
    """A named hook point: record the activation when a cache is given (see run_with_cache)."""
    if cache is not None:
        cache[name] = tensor
    return tensor


class EnsembleModule(nn.Module):
    """Base class: subclasses define `param_specs()` and `forward(tokens, cache=None)`."""

    def __init__(self, seeds: list[int], init: InitConfig | None = None):
        super().__init__()
        self.seeds = list(seeds)
        self.E = len(self.seeds)
        for name, tensor in self._draw(init).items():
            self.register_parameter(name.replace(".", "__"), nn.Parameter(tensor))

    def param_specs(self) -> dict[str, ParamSpec]:
        raise NotImplementedError

    def _draw(self, init: InitConfig | None) -> dict[str, torch.Tensor]:
        specs = self.param_specs()
        per_model = []
        for seed in self.seeds:
            g = generator(seed, "init")
            per_model.append({n: _draw_one(s, g, init) for n, s in specs.items()})
        return {n: torch.stack([m[n] for m in per_model]) for n in specs}

    def p(self, name: str) -> nn.Parameter:
        return getattr(self, name.replace(".", "__"))

    def named_weights(self):
        """(dotted name, (E, ...) tensor) for every parameter, in definition order."""
        for name, param in self.named_parameters():
            yield name.replace("__", "."), param

    def select(self, idx: torch.Tensor) -> None:
        """Keep only models idx (int64, (E',)), in that order: new (E', ...) parameters."""
        for name, param in list(self.named_parameters()):
            setattr(self, name, nn.Parameter(param.detach()[idx.to(param.device)].clone()))
        self.seeds = [self.seeds[i] for i in idx.tolist()]
        self.E = len(self.seeds)

    def load_rows(self, other: "EnsembleModule", rows: slice) -> None:
        """Copy models `rows` of `other` (same architecture) into this module's E models."""
        with torch.no_grad():
            for (_, mine), (_, theirs) in zip(self.named_parameters(), other.named_parameters(), strict=True):
                mine.copy_(theirs[rows])

    def run_with_cache(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cache: dict[str, torch.Tensor] = {}
        return self.forward(tokens, cache=cache), cache


def join(models: list[EnsembleModule]) -> EnsembleModule:
    """One module holding the models of `models` (same architecture and shapes) stacked in order:
    models[0]'s object with every parameter the concatenation along E."""
    first = models[0]
    if len(models) > 1:
        for name, param in list(first.named_parameters()):
            parts = [dict(m.named_parameters())[name].detach() for m in models]
            setattr(first, name, nn.Parameter(torch.cat(parts)))
        first.seeds = [s for m in models for s in m.seeds]
        first.E = len(first.seeds)
    return first


def _draw_one(spec: ParamSpec, g: torch.Generator, init: InitConfig | None) -> torch.Tensor:
    if spec.kind == "zeros":
        return torch.zeros(spec.shape)
    if spec.kind == "ones":
        return torch.ones(spec.shape)
    if init is not None and init.scheme == "low_rank":
        return _low_rank(spec, g, init.rank)
    w = torch.randn(spec.shape, generator=g) * spec.std
    if init is None or init.scheme == "default":
        return w
    if init.scheme == "scale":
        return w * init.alpha
    if init.scheme == "sparse":
        # Zero a fraction s, rescale survivors by 1/sqrt(1-s): each matrix keeps its variance.
        keep = torch.rand(spec.shape, generator=g) >= init.sparsity
        return w * keep / math.sqrt(1.0 - init.sparsity)
    raise ValueError(f"init.scheme: unknown scheme {init.scheme!r}")


def _low_rank(spec: ParamSpec, g: torch.Generator, rank: int) -> torch.Tensor:
    """A (..., a, b) weight as U @ V with U (..., a, r), V (..., r, b), entries std (std^2 / r)^(1/4).

    Each entry of U @ V is a sum of r products, so its variance is r * s^4 = std^2: the
    same scale as the default init, with rank at most r.
    """
    *lead, a, b = spec.shape
    r = min(rank, a, b)
    s = (spec.std**2 / r) ** 0.25
    U = torch.randn(*lead, a, r, generator=g) * s
    V = torch.randn(*lead, r, b, generator=g) * s
    return U @ V
