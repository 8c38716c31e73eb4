"""A cell's training loss per model: how per-example losses combine into each model's scalar.

Three compositions, chosen once per ensemble (the plain ones are the loss bit for bit as
before data-mix rules existed):
    plain mean         the mean over the batch's examples
    balanced           full batch of several operations: the mean over operations of each
                       operation's mean loss (every operation counts the same)
    weighted           a data_mix rule exists: per model and operation weights (LossWeights)
"""

from __future__ import annotations

import torch

from groklab.config.cells import CellConfig
from groklab.training.interventions import LossWeights
from groklab.training.losses import per_example_loss, per_model_loss


class Objective:
    """loss(logits (E, B, C), y (B,) or (E, B), ops (B,) or (E, B)) -> each model's loss (E,)."""

    def __init__(self, cell: CellConfig, n_models: int, sizes: list[int], minibatch: bool,
                 train_op: torch.Tensor, device: torch.device):
        """`sizes`: training examples per operation, stored as one contiguous block per operation
        (make_split); `train_op` (N,) the operation of each training example."""
        self.kind = cell.training.loss
        starts = [sum(sizes[:k]) for k in range(len(sizes))]
        balanced = cell.task.balanced and len(sizes) > 1 and not minibatch
        self.op_slices = [slice(a, a + n) for a, n in zip(starts, sizes)] if balanced else None
        mix = any("data_mix" in r["set"] for r in cell.training.interventions)
        self.weights = LossWeights(cell.task.operations, n_models, device) if mix else None   # w (E, n_ops)
        # balanced full batch: each example weighs 1 / (its operation's count) in a weighted loss
        per_op = 1.0 / torch.tensor(sizes, dtype=torch.float32, device=device)          # (n_ops,)
        self.example_base = per_op[train_op] if balanced else None                       # (N,)

    def __call__(self, logits: torch.Tensor, y: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        if self.weights is not None:
            return self.weights.loss(per_example_loss(logits, y, self.kind), ops, self.example_base)
        if self.op_slices is None:
            return per_model_loss(logits, y, self.kind)
        return torch.stack([per_model_loss(logits[:, s], y[..., s], self.kind) for s in self.op_slices]).mean(0)

    def select(self, idx: torch.Tensor) -> None:
        """Keep only models idx (int64, (E',)): their loss weights."""
        if self.weights is not None:
            self.weights.select(idx)

    def set_mix(self, models: torch.Tensor, mix: dict[str, float]) -> None:
        """From the next step on, models[e] (bool, (E,)) weigh operation op by mix[op]."""
        self.weights.set(models, mix)
