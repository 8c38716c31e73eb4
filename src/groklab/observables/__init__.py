"""Observables: named training signals computed per model from an ensemble snapshot.

Importing this package registers every observable (see registry.REGISTRY);
`observe(probe, expensive)` computes them as {column: (E,) tensor}.
"""

from __future__ import annotations

import torch

from . import activations, fourier, geometry, gradients, optimizer_stats, weights  # noqa: F401  (register)
from .probe import Probe, make_probe
from .registry import REGISTRY, Observable, column, distinct_count


def observe(probe: Probe, expensive: bool) -> dict[str, torch.Tensor]:
    """Every cheap observable, plus the expensive ones when `expensive`: column -> (E,) float tensor."""
    out = {}
    for obs in REGISTRY.values():
        if obs.cost == "expensive" and not expensive:
            continue
        for site, value in obs.fn(probe).items():
            out[column(obs.name, site)] = value.detach().float().cpu()
    return out


__all__ = ["observe", "make_probe", "Probe", "REGISTRY", "Observable", "column", "distinct_count"]
