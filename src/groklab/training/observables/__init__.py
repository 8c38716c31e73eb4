"""Observables: named training signals computed per model from an ensemble snapshot.

Importing this package registers every observable (see registry.REGISTRY);
`observe(probe, expensive)` computes them as {column: (E,) tensor}.
"""

from __future__ import annotations

import torch

from groklab.training.observables import (  # noqa: F401  (register)
    activations, fourier, fourier_circuit, geometry, gradients, optimizer_stats, weights,
)
from groklab.training.observables.probe import Probe, make_probe
from groklab.training.observables.registry import REGISTRY, Observable, column, definition_of, distinct_count


def observe(probe: Probe, expensive: bool) -> dict[str, torch.Tensor]:
    """Every cheap observable, plus the expensive ones when `expensive`: column -> (E,) float tensor."""
    out = {}
    for obs in REGISTRY.values():
        if obs.cost == "expensive" and not expensive:
            continue
        for site, value in obs.fn(probe).items():
            out[column(obs.name, site)] = value.detach().float().cpu()
    return out


def check_registered(name: str, key: str) -> None:
    """`name` is a registered observable (a definition, or one of its sites `name[site]`);
    otherwise ConfigError naming the config key, with the closest registered name."""
    import difflib

    from groklab.config.cells import ConfigError

    if definition_of(name) not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1, cutoff=0.7)
        hint = f" (did you mean '{close[0]}'?)" if close else " (docs/observables.md lists them)"
        raise ConfigError(f"{key}: {name!r} is not a registered observable{hint}")


def check_signals(cell, prefix: str = "cell") -> None:
    """Every intervention trigger that is neither a metric nor hmm_state names a registered
    observable; ConfigError naming the key otherwise. (Config checks the rest of a rule; the
    registry belongs to training, so this half lives here.)"""
    from groklab.config.cells import ConfigError
    from groklab.vocabulary import HMM_STATE, METRIC_SIGNALS

    for i, rule in enumerate(cell.training.interventions):
        signal = rule["when"]
        if signal == HMM_STATE or signal.partition("/")[0] in METRIC_SIGNALS:
            continue
        if definition_of(signal) not in REGISTRY:
            raise ConfigError(f"{prefix}.training.interventions[{i}].when: '{signal}' is neither a metric "
                              f"({', '.join(METRIC_SIGNALS)}, or one of them /<operation>), hmm_state, nor an "
                              "observable (docs/observables.md)")


__all__ = ["check_registered", "check_signals", "observe", "make_probe", "Probe", "REGISTRY", "Observable", "column", "definition_of",
           "distinct_count"]
