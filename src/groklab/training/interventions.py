"""Interventions on training signals (training.interventions; liu-108-tricks.txt's "intervene").

A rule says *when signal X crosses T (or the training map's decoded state becomes k), set H*.
At each eval every rule is checked per model; it fires once per model, for exactly the models
where the condition holds (a diverged model never fires), and its settings apply to those
models from the next step on:

    lr, weight_decay   -> EnsembleOptimizer.set_hyperparameters (per-model lr scale, decay offset)
    filter_lamb        -> the Grokfast filters' amplification of those models
    data_mix           -> those models' per-operation loss weights (LossWeights)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from groklab.training.evaluation import EvalResult
from groklab.maps.decode import ForwardFilter
from groklab.maps.features import feature_matrix
from groklab.vocabulary import HMM_STATE



def metric_signals(train: EvalResult, test: EvalResult, ops: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The metric signals a rule can read, each (E,): overall and, per operation, `train_acc/<op>` etc."""
    out = {"train_acc": train.acc, "train_loss": train.loss, "test_acc": test.acc, "test_loss": test.loss}
    for k, op in enumerate(ops):
        out |= {f"train_acc/{op}": train.op_acc[:, k], f"train_loss/{op}": train.op_loss[:, k],
                f"test_acc/{op}": test.op_acc[:, k], f"test_loss/{op}": test.op_loss[:, k]}
    return {k: v.detach().float().cpu() for k, v in out.items()}


class Triggers:
    """The rules of one ensemble: which have fired for which model, and the online HMM decoder."""

    def __init__(self, rules: tuple[dict, ...], n_models: int, hmm_map: dict | None = None, map_path: str = "map"):
        self.rules = rules
        self.fired = torch.zeros(len(rules), n_models, dtype=torch.bool)     # (n_rules, E)
        uses_map = any(r["when"] == HMM_STATE for r in rules)
        if uses_map and hmm_map is None:
            raise ValueError("training.interventions: a rule reads hmm_state, but no training map was given "
                             "(the workflow passes the matrix map; by hand: groklab train --hmm-map FILE)")
        self.decoder = ForwardFilter(hmm_map, n_models, map_path) if uses_map else None
        self.state = np.full(n_models, -1)                                   # decoded map state, (E,)
        # `state: detour` is the map's detour state; a map without one never fires the rule (-2)
        self.targets = [(hmm_map.get("detour_state") if hmm_map else None) if r.get("state") == "detour"
                        else r.get("state") for r in rules]

    def observe(self, signals: dict[str, torch.Tensor], observables: dict[str, torch.Tensor],
                diverged: torch.Tensor) -> list[tuple[dict, torch.Tensor]]:
        """One eval: update the decoder, then (rule settings, newly fired (E,) bool) per rule that fired."""
        if self.decoder is not None:
            self.state = self.decoder.update(self._map_features(observables))
        out = []
        for k, rule in enumerate(self.rules):
            crossed = self._condition(k, signals)
            if crossed is None:                     # an expensive observable not computed at this eval
                continue
            new = crossed & ~self.fired[k] & ~diverged.cpu()
            if new.any():
                self.fired[k] |= new
                out.append((rule["set"], new))
        return out

    def _condition(self, k: int, signals: dict[str, torch.Tensor]) -> torch.Tensor | None:
        rule = self.rules[k]
        if rule["when"] == HMM_STATE:
            target = self.targets[k]
            return torch.from_numpy(self.state == (-2 if target is None else target))
        value = signals.get(rule["when"])
        if value is None:
            return None
        return value >= rule["above"] if rule["above"] is not None else value <= rule["below"]

    def _map_features(self, observables: dict[str, torch.Tensor]) -> np.ndarray:
        """The map's features of every model at this eval (E, F); NaN where one is not computed now."""
        frame = pd.DataFrame({k: v.numpy() for k, v in observables.items()})
        F = self.decoder.features
        try:
            return feature_matrix(frame, F).to_numpy(float)
        except KeyError:                           # an expensive feature, not computed at this eval
            return np.full((len(self.state), len(F)), np.nan)

    def row_columns(self, e: int) -> dict:
        """Metrics columns of model e: intervention/<i> (fired yet) and the decoded hmm_state."""
        cols = {f"intervention/{k}": bool(self.fired[k, e]) for k in range(len(self.rules))}
        return cols | ({HMM_STATE: int(self.state[e])} if self.decoder is not None else {})

    def select(self, idx: torch.Tensor) -> None:
        """Keep only models idx (int64, (E',)): which rules fired for them, their decoded states."""
        self.fired = self.fired[:, idx.cpu()]
        self.state = self.state[idx.cpu().numpy()]
        if self.decoder is not None:
            self.decoder.select(idx.cpu().numpy())

    def state_dict(self) -> dict:
        return {"fired": self.fired, "state": self.state.copy(),
                "decoder": self.decoder.state_dict() if self.decoder is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.fired = state["fired"]
        self.state = np.asarray(state["state"]).copy()
        if self.decoder is not None:
            self.decoder.load_state_dict(state["decoder"])


class LossWeights:
    """Per-model weights of each operation in the loss, (E, n_ops), all 1 until a data_mix rule
    fires. Example i of model e weighs w[e, op_i] * base_i, and a model's loss is the weighted mean
    of its examples' losses; base_i = 1 / n_op for a balanced full batch (every operation counts
    the same, as in the unweighted loss), 1 otherwise (a minibatch already has equal counts)."""

    def __init__(self, ops: tuple[str, ...], n_models: int, device: torch.device):
        self.ops = ops
        self.w = torch.ones(n_models, len(ops), device=device)

    def set(self, models: torch.Tensor, mix: dict[str, float]) -> None:
        for op, weight in mix.items():
            self.w[models.to(self.w.device), self.ops.index(op)] = weight

    def loss(self, example_loss: torch.Tensor, ops: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor:
        """example_loss (E, B), ops (B,) shared or (E, B) per model, base (B,) or None -> loss (E,)."""
        a = self.w[:, ops] if ops.dim() == 1 else self.w.gather(1, ops)             # (E, B)
        if base is not None:
            a = a * base
        return (a * example_loss).sum(1) / a.sum(1)

    def select(self, idx: torch.Tensor) -> None:
        self.w = self.w[idx.to(self.w.device)]

    def state_dict(self) -> dict:
        return {"w": self.w}

    def load_state_dict(self, state: dict) -> None:
        self.w = state["w"].to(self.w.device)
