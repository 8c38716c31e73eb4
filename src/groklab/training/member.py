"""One cell's models inside a pack: its rows of the batched tensors, and what it alone owns.

A pack (groklab.training.loop.PackRun) trains the models of several cells as one ensemble.
Each cell is a Member: its rows of the pack (a contiguous slice, in pack order), its loss
composition (Objective), evaluation with observables and interventions (Evaluation), its
Parquet parts, and the final state of its models that have left the pack. The Member is
also the `run` its Evaluation reads: a view whose model is a copy of the cell's rows
(synced before each eval), whose optimizer maps the cell's models to the pack's rows, and
whose data is the cell's own split. Everything per model has `select(idx)`, so models
leave the pack (compaction) without a trace in the others' numbers.
"""

from __future__ import annotations

from pathlib import Path

import torch

from groklab.config.cells import CellConfig
from groklab.training.batches import is_minibatch
from groklab.training.callbacks import Evaluation
from groklab.training.data import Split
from groklab.training.models import build_model
from groklab.training.objective import Objective
from groklab.training.parts import Parts
from groklab.training.tensorboard import CellBoard

DATA_KEYS = ("train_x", "train_y", "train_op", "test_x", "test_y", "test_op")


class MemberOptimizer:
    """The pack's optimizer as one cell sees it: its models are the pack's rows `member.rows`."""

    def __init__(self, pack_opt, member: "Member"):
        self.pack_opt, self.member = pack_opt, member

    def _global(self, models: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(len(self.pack_opt.hp["lr"]), dtype=torch.bool)
        mask[self.member.rows] = models.cpu()
        return mask

    def set_hyperparameters(self, models: torch.Tensor, **settings) -> None:
        self.pack_opt.set_hyperparameters(self._global(models), **settings)

    def current_lr(self) -> torch.Tensor:
        return self.pack_opt.current_lr()[self.member.rows]

    def state_of(self, i: int) -> dict:
        rows = self.member.rows
        return {k: (v if k == "step" else v[rows]) for k, v in self.pack_opt.state_of(i).items()}


class Member:
    """One cell of a pack: spec (cell, name, id, output directory) and its per-model state."""

    def __init__(self, cell: CellConfig, seeds: list[int], split: Split, device: torch.device, parts_dir: Path,
                 name: str = "", cell_id: str = "", out: Path | None = None,
                 hmm_map: dict | None = None, map_path: str = "map", board_dir: Path | None = None):
        self.cell, self.name, self.id, self.out = cell, name, cell_id, out
        self.seeds = list(seeds)                    # the models still in the pack, in row order
        self.data = {k: getattr(split, k).to(device) for k in DATA_KEYS}
        self.model = build_model(cell, self.seeds).to(device)     # the view; at first, the models' init
        sizes = torch.bincount(split.train_op, minlength=len(cell.task.operations)).tolist()
        self.sizes, tr = sizes, cell.training
        self.minibatch = is_minibatch(tr.batch_size, sizes)
        self.objective = Objective(cell, len(self.seeds), sizes, self.minibatch, self.data["train_op"], device)
        self.parts = Parts(parts_dir)
        self.board = CellBoard(board_dir, cell, name)   # the live TensorBoard view of the parts' rows
        self.evaluation = Evaluation(cell, self.seeds, self.model, hmm_map, map_path)
        self.finals: list[dict] = []                # one record per model that left the pack
        self.rows = slice(0, len(self.seeds))       # set by the pack
        self.step = 0
        self.opt: MemberOptimizer | None = None     # set by the pack

    def record(self, kind: str, rows: list[dict]) -> None:
        """Rows of metrics or observables (one per model): to the Parquet parts and the live view."""
        self.parts.add(kind, rows)
        self.board.add(kind, rows)

    @property
    def n(self) -> int:
        return len(self.seeds)

    def select(self, idx: torch.Tensor) -> None:
        """Keep only this cell's models idx (int64, local), in that order."""
        self.seeds = [self.seeds[i] for i in idx.tolist()]
        self.model.select(idx)
        self.objective.select(idx)
        self.evaluation.select(idx)

    def state_dict(self) -> dict:
        ev = self.evaluation
        return {"seeds": self.seeds, "n_parts": self.parts.n_parts, "streak": ev.streak, "last_eval": ev.last_eval,
                "diverged": ev.diverged, "prev": ev.probes.prev, "prev_step": ev.probes.prev_step,
                "triggers": ev.triggers.state_dict(),
                "loss_weights": self.objective.weights.state_dict() if self.objective.weights is not None else None,
                "finals": self.finals, "board": self.board.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """After select() has brought this member to state["seeds"]."""
        ev = self.evaluation
        self.parts.n_parts, ev.streak, ev.last_eval, ev.diverged = (state["n_parts"], state["streak"],
                                                                    state["last_eval"], state["diverged"])
        ev.probes.prev, ev.probes.prev_step = state["prev"], state["prev_step"]
        ev.triggers.load_state_dict(state["triggers"])
        if self.objective.weights is not None:
            self.objective.weights.load_state_dict(state["loss_weights"])
        self.finals = state["finals"]
        self.board.load_state_dict(state.get("board"))
