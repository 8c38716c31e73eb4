"""Evaluation of an ensemble on a whole example set: loss and accuracy per model, overall and per operation."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from groklab.training.losses import per_example_loss


@dataclass
class EvalResult:
    loss: torch.Tensor          # (E,) mean over all examples
    acc: torch.Tensor           # (E,)
    op_loss: torch.Tensor       # (E, n_ops) mean over each operation's examples
    op_acc: torch.Tensor        # (E, n_ops)


@torch.no_grad()
def evaluate(model, x: torch.Tensor, y: torch.Tensor, op: torch.Tensor, n_ops: int,
             loss_kind: str = "cross_entropy", rows: int = 16384, logits: torch.Tensor | None = None) -> EvalResult:
    """x (N, T), y (N,), op (N,) operation index. Chunks of about rows / E examples bound the
    (E, chunk, d_mlp) activations whatever the ensemble size. A model whose logits are not
    finite (diverged) scores no hits. logits (E, N, C), when given, are the model's logits on x
    computed already (the observables' probe runs this forward): they are scored, chunk by chunk
    in the same order, instead of a second forward."""
    E, dev = model.E, x.device
    chunk = max(64, rows // E)
    loss_sum = torch.zeros(E, n_ops, dtype=torch.float64, device=dev)
    hits = torch.zeros(E, n_ops, dtype=torch.float64, device=dev)
    for i in range(0, len(y), chunk):
        part = model(x[i : i + chunk]) if logits is None else logits[:, i : i + chunk]   # (E, b, C)
        yb, ob = y[i : i + chunk], op[i : i + chunk]
        loss_sum.index_add_(1, ob, per_example_loss(part, yb, loss_kind).double())
        hit = (part.argmax(-1) == yb) & torch.isfinite(part).all(-1)       # (E, b)
        hits.index_add_(1, ob, hit.double())
    count = torch.bincount(op, minlength=n_ops).double()                   # (n_ops,)
    return EvalResult(loss_sum.sum(1) / len(y), hits.sum(1) / len(y), loss_sum / count, hits / count)


def metric_rows(seeds, step: int, train: EvalResult, test: EvalResult, ops: tuple[str, ...], diverged) -> list[dict]:
    """One metrics row per model; per-operation columns `train_acc/<op>` etc. when the cell has several."""
    rows = []
    for e, seed in enumerate(seeds):
        row = {"seed": seed, "step": step, "train_loss": train.loss[e].item(), "train_acc": train.acc[e].item(),
               "test_loss": test.loss[e].item(), "test_acc": test.acc[e].item(), "diverged": bool(diverged[e])}
        if len(ops) > 1:
            for k, op in enumerate(ops):
                row |= {f"train_loss/{op}": train.op_loss[e, k].item(), f"train_acc/{op}": train.op_acc[e, k].item(),
                        f"test_loss/{op}": test.op_loss[e, k].item(), f"test_acc/{op}": test.op_acc[e, k].item()}
        rows.append(row)
    return rows
