"""Ensemble models: every parameter has a leading dimension E (one module holds E independent models)."""

from __future__ import annotations

from groklab.config.cells import CellConfig
from groklab.training.models.ensemble import EnsembleModule
from groklab.training.models.mlp import EnsembleMLP
from groklab.training.models.transformer import EnsembleTransformer


def build_model(cell: CellConfig, seeds: list[int]) -> EnsembleModule:
    """E = len(seeds) models of the cell's architecture, model e drawn from seeds[e] alone."""
    cls = {"transformer": EnsembleTransformer, "mlp": EnsembleMLP}[cell.model.arch]
    return cls(cell.model, cell.task, seeds, cell.init)


__all__ = ["build_model", "EnsembleModule", "EnsembleTransformer", "EnsembleMLP"]
