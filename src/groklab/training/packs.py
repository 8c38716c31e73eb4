"""Packs: which cells of a config train together as one ensemble (groklab.training.loop.PackRun).

Cells whose tensors have the same shapes share a pack; everything per model (seed, init,
lr, weight decay, betas, momentum, eps, schedule and budget, filter strengths, noise,
interventions, loss and its weights, the data split itself) may differ. The *shape
signature* holds the rest, what one batched program needs to share:
    model            architecture and sizes, vocabulary, answers, sequence length
    data             training examples per operation, minibatch size and blocks
    optimizer        family (adamw, adam, sgd), nesterov, the filter chain's kinds
    device           cpu or cuda (a pack never mixes devices), compiled or eager
    training map     cells that decode the matrix map wait for it: never with its inputs
Packs are formed deterministically: group by signature, sort by cell id, fill packs of at most
`pack_capacity` models in that order. A cell's numbers do not depend on its pack (tested), so
packing is not part of a cell's identity (its config hash).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from groklab.config.cells import CellConfig
from groklab.config.matrix import copy_label
from groklab.training.batches import examples_per_step, is_minibatch
from groklab.training.data import example_count
from groklab.training.observables import check_signals
from groklab.training.optim import filter_kinds
from groklab.training.resources import CPU_ACTIVATION_BUDGET_FLOATS, activation_floats_per_model
from groklab.training.tensorboard import check_board

# Models per pack when training.pack_models is unset, per device (benchmarks/pack_throughput.py:
# on the 2-core CPU a p = 23 pack reaches its best model-steps/s from E = 32 on; a GPU fills later).
DEFAULT_PACK_MODELS = {"cpu": 64, "cuda": 256}


@dataclass(frozen=True)
class Pack:
    id: str                       # "pack-<first 8 hex of hash>"
    hash: str                     # SHA-256 of the member ids and their seeds
    cells: tuple[str, ...]        # member cell ids, sorted
    models: int                   # seeds over all members
    device: str                   # cpu or cuda

    def record(self) -> dict:
        return dataclasses.asdict(self) | {"cells": list(self.cells)}


def device_of(cell: CellConfig, auto_device: str) -> str:
    """cpu or cuda: training.device, with auto resolved to `auto_device`."""
    return auto_device if cell.training.device == "auto" else cell.training.device


def train_sizes(cell: CellConfig) -> tuple[int, ...]:
    """Training examples of each operation, as groklab.training.data.make_split draws them."""
    t = cell.task
    return tuple(int(round(t.train_fraction * example_count(t, op))) for op in t.operations)


def task_examples_per_step(cell: CellConfig) -> dict[str, float]:
    """Operation -> training examples of it per step (groklab.training.batches.examples_per_step)."""
    sizes = list(train_sizes(cell))
    per_op = examples_per_step(sizes, cell.training.batch_size, cell.task.balanced)
    return dict(zip(cell.task.operations, per_op))


def signature(cell: CellConfig, auto_device: str = "cpu") -> str:
    """What cells of one pack share (module docstring), as a short hash."""
    t, tr, o = cell.task, cell.training, cell.optimizer
    sizes = train_sizes(cell)
    minibatch = is_minibatch(tr.batch_size, list(sizes))
    fields = {
        "model": dataclasses.asdict(cell.model), "vocab": t.vocab_size, "classes": t.n_classes, "seq_len": t.seq_len,
        "train_sizes": sizes, "batch": tr.batch_size if minibatch else None,
        "blocks": (t.balanced and len(sizes) > 1) if minibatch else None,
        "optimizer": [o.name, o.nesterov if o.name == "sgd" else None], "filters": filter_kinds(o),
        "device": device_of(cell, auto_device), "compile": tr.compile, "reads_map": cell.reads_training_map,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def pack_capacity(cells: list[CellConfig], device: str) -> int:
    """The most models one pack of these cells holds: training.pack_models (the smallest set), else
    the device's default; on the CPU no more than fit the activation budget; training.ensemble_size
    (where set) caps it too."""
    cap = min((c.training.pack_models for c in cells if c.training.pack_models), default=DEFAULT_PACK_MODELS[device])
    for c in cells:
        if c.training.ensemble_size:
            cap = min(cap, c.training.ensemble_size)
        if device == "cpu":
            batch = min(c.training.batch_size or sum(train_sizes(c)), sum(train_sizes(c)))
            cap = min(cap, max(1, CPU_ACTIVATION_BUDGET_FLOATS // max(1, activation_floats_per_model(c, batch))))
    return max(1, cap)


def form_packs(cells: dict[str, CellConfig], auto_device: str = "cpu") -> list[Pack]:
    """The packs of `cells` (cell id -> config), in order of their first cell id."""
    # A ladder rung's or the replicate's copies pack apart from the matrix as written (and from each
    # other), so adding a rung or the replicate to a config changes no existing pack: Snakemake then
    # trains only the copies instead of retraining every pack they would have joined.
    by_signature: dict[tuple[str, str], list[str]] = {}
    for cell_id in sorted(cells):
        group = (signature(cells[cell_id], auto_device), copy_label(cell_id.rsplit("-", 1)[0]))
        by_signature.setdefault(group, []).append(cell_id)
    packs = []
    for ids in by_signature.values():
        device = device_of(cells[ids[0]], auto_device)
        cap = pack_capacity([cells[i] for i in ids], device)
        current: list[str] = []
        for cell_id in ids:
            n = len(cells[cell_id].training.seeds)
            if current and sum(len(cells[i].training.seeds) for i in current) + n > cap:
                packs.append(_pack(current, cells, device))
                current = []
            current.append(cell_id)
        packs.append(_pack(current, cells, device))
    return sorted(packs, key=lambda p: p.cells[0])


def _pack(ids: list[str], cells: dict[str, CellConfig], device: str) -> Pack:
    key = json.dumps([[i, cells[i].hash, list(cells[i].training.seeds)] for i in ids])
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Pack(f"pack-{digest[:8]}", digest, tuple(ids), sum(len(cells[i].training.seeds) for i in ids), device)


def retrained_with(cell_id: str, packs: list[Pack], fitted: set[str], readers: set[str]) -> list[Pack]:
    """The packs Snakemake retrains once `cell_id`'s run directory is deleted: its own pack and, when
    that pack holds a cell the matrix map is fitted on (`fitted`), every pack with a cell that reads
    the map (`readers`: hmm_state rules), since the map is refitted first."""
    own = next(p for p in packs if cell_id in p.cells)
    if not set(own.cells) & fitted:
        return [own]
    return [own, *(p for p in packs if p is not own and set(p.cells) & readers)]


def describe_rerun(packs: list[Pack]) -> str:
    """What a rerun redoes, in words for a one-line message."""
    def one(p: Pack) -> str:
        return f"{p.id} (cells {', '.join(p.cells)})"
    text = f"Snakemake then retrains {one(packs[0])}"
    if packs[1:]:
        text += f" and, as the matrix map is refitted, {'; '.join(one(p) for p in packs[1:])}"
    return text + ", and rebuilds what reads their runs"


def check_step_scaling(cell: CellConfig) -> None:
    """task.scale_steps_by_tasks means "each task sees as many examples as a single-task cell":
    true for a minibatch shared by the tasks, false for full batch, where every step already shows
    every task its whole training set and N times the steps would give each task N times the
    examples (and shrink its % of budget N-fold with no real speedup). Refused there."""
    from groklab.config.cells import ConfigError

    n_ops = len(cell.task.operations)
    if cell.task.scale_steps_by_tasks and n_ops > 1 and not is_minibatch(cell.training.batch_size, list(train_sizes(cell))):
        raise ConfigError(
            f"cell.task.scale_steps_by_tasks: true with full batch gives each of the {n_ops} operations {n_ops}x "
            "the examples of a single-task cell (every step shows every example); set training.batch_size "
            "below the training set (a minibatch shared by the operations) or set it false")


def check_trainable(cell: CellConfig, prefix: str = "cell") -> None:
    """The checks of one cell that need training's knowledge (the observables registry, the
    training set sizes), run by the workflow before any job and by a job before its first step."""
    check_signals(cell, prefix)
    check_step_scaling(cell)
    check_board(cell, f"{prefix}.training.tensorboard")
