"""Train the models of a pack of cells as one batched ensemble; models leave it as they finish.

A pack (groklab.training.packs) is a list of cells whose tensors have the same shapes. Its
models, every seed of every cell, are stacked along E and trained by one program; each model
keeps its own hyperparameters, init, data split, loss weights and budget (Member). After
each eval, the models that finished (budget spent, diverged, or stably generalised with early
stop) are written out and removed from the live tensors, so the step cost falls as they go.

Layout:
    <cell out>/metrics.parquet, observables.parquet, config.json, final.pt     [final, per cell]
    <cell out>/.partial/<pack>-<g>/   metric/observable parts of group g while training
    <pack dir>/<pack>-<g>/checkpoint.pt   the pack's live state (all members), for resume
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from groklab.training import checkpoint, compiled
from groklab.training.batches import Batches
from groklab.training.member import Member, MemberOptimizer
from groklab.training.models.ensemble import join
from groklab.training.optimizer import EnsembleOptimizer


class PackRun:
    """The live models of `members` as one ensemble: step them all, evaluate each cell when due,
    let finished models leave, checkpoint the whole pack. state_dict() is the checkpoint."""

    def __init__(self, members: list[Member], device: torch.device, workdir: Path, key: str):
        self.members, self.device, self.dir, self.key = members, device, workdir, key
        self.model = join([copy.deepcopy(m.model) for m in members])
        seeds = [s for m in members for s in m.seeds]
        self.opt = EnsembleOptimizer(list(self.model.parameters()), [m.cell.optimizer for m in members for _ in m.seeds],
                                     seeds, [m.cell.total_steps for m in members for _ in m.seeds])
        first = members[0]
        if any(not torch.equal(m.data["train_op"], first.data["train_op"]) for m in members):
            raise ValueError("a pack's cells need the same number of training examples per operation")
        # shared data (N, T), (N,) when every cell has the same split; else one copy per model (E, N, T), (E, N)
        self.shared = all(torch.equal(m.data[k], first.data[k]) for m in members for k in ("train_x", "train_y"))
        self.x, self.y = ((first.data["train_x"], first.data["train_y"]) if self.shared else
                          (torch.cat([m.data["train_x"].expand(m.n, -1, -1) for m in members]),
                           torch.cat([m.data["train_y"].expand(m.n, -1) for m in members])))
        self.ops = first.data["train_op"]                                   # (N,)
        blocks = first.sizes if first.cell.task.balanced else [sum(first.sizes)]
        self.batches = Batches(seeds, blocks, first.cell.training.batch_size) if first.minibatch else None
        self.checkpoint_every = min(m.cell.training.checkpoint_every for m in members)
        for m in members:
            m.opt = MemberOptimizer(self.opt, m)
        self._set_rows()
        self.step = 0
        # compiled: the model's forward (and backward) and the optimizer update through inductor
        self.compiled = compiled.use_compiled(first.cell.training.compile, device)
        self._forward = self.model
        if self.compiled:
            self._forward = compiled.compile_forward(self.model, cuda_graphs=device.type == "cuda")
            self.opt.use_update(compiled.compiled_update())

    @property
    def E(self) -> int:
        return self.model.E

    @property
    def ckpt_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def _set_rows(self) -> None:
        start = 0
        for m in self.members:
            m.rows, start = slice(start, start + m.n), start + m.n

    # ---- one step ---------------------------------------------------------------------------

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """This step's examples: x (B, T) or (E, B, T), y and ops (B,) or (E, B)."""
        if self.batches is None:
            return self.x, self.y, self.ops
        idx = self.batches.next().to(self.device)                          # (E, B)
        if self.shared:
            return self.x[idx], self.y[idx], self.ops[idx]
        model = torch.arange(self.E, device=self.device).unsqueeze(1)       # (E, 1)
        return self.x[model, idx], self.y[model, idx], self.ops[idx]

    def train_step(self) -> None:
        x, y, ops = self._batch()
        logits = self._forward(x)                                          # (E, B, C)
        # Sum of per-model losses, each cell's composed its own way: each model's gradient is
        # that of its own loss.
        loss = sum(m.objective(logits[m.rows], y if y.dim() == 1 else y[m.rows], ops if ops.dim() == 1 else ops[m.rows]).sum()
                   for m in self.members if m.n)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1

    # ---- evaluation and models leaving ------------------------------------------------------

    def evaluate(self, force: bool = False) -> dict:
        """Evaluate every cell that is due (all with `force`); the models that finished leave."""
        notes, leaving = {}, []
        for m in self.members:
            if not m.n or not (force or m.evaluation.due(self.step)):
                leaving.append(None)
                continue
            m.step = self.step
            m.model.load_rows(self.model, m.rows)
            notes |= m.evaluation(m)
            leaving.append(m.evaluation.finished(self.step) if self.step else None)
        if any(d is not None and bool(d.any()) for d in leaving):
            self._compact(leaving)
        return notes

    def _compact(self, leaving: list[torch.Tensor | None]) -> None:
        """Write out the finished models (their final state) and remove them from every tensor."""
        for m, done in zip(self.members, leaving):
            for i in ([] if done is None else done.nonzero().flatten().tolist()):
                m.finals.append(self._final(m.rows.start + i, m.seeds[i]))
        self._remove(leaving)

    def _remove(self, leaving: list[torch.Tensor | None]) -> None:
        """Remove the models marked in `leaving` (per cell, (n,) bool or None) from every tensor."""
        keep = []
        for m, done in zip(self.members, leaving):
            local = torch.arange(m.n) if done is None else (~done).nonzero().flatten()
            if done is not None:
                m.select(local)
            keep += (m.rows.start + local).tolist()
        idx = torch.tensor(keep, dtype=torch.long)
        self.model.select(idx)
        self.opt.select(idx, list(self.model.parameters()))
        if self.batches is not None:
            self.batches.select(idx)
        if not self.shared:
            self.x, self.y = self.x[idx.to(self.device)], self.y[idx.to(self.device)]
        self._set_rows()

    def _final(self, row: int, seed: int) -> dict:
        params = {n: w[row].detach().cpu().clone() for n, w in self.model.named_weights()}
        return {"seed": seed, "step": self.step, "model": params, "optimizer": self.opt.model_state(row)}

    # ---- checkpoint and resume --------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"step": self.step, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "batches": self.batches.state_dict() if self.batches is not None else None,
                "members": [m.state_dict() for m in self.members]}

    def save(self) -> None:
        """Flush every cell's parts, then the checkpoint (whose n_parts count them)."""
        for m in self.members:
            m.parts.flush()
            m.board.flush()
        checkpoint.save(self.ckpt_path, self.key, self.state_dict())

    def resume(self) -> bool:
        """Load the last checkpoint if one exists; drop parts written after it. True if past step 0."""
        if self.ckpt_path.exists():
            state = checkpoint.load(self.ckpt_path, self.key, self.device)
            leaving = []
            for m, ms in zip(self.members, state["members"]):
                live = set(ms["seeds"])
                leaving.append(torch.tensor([s not in live for s in m.seeds]))
            self._remove(leaving)           # those left before the checkpoint: finals in it
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            if self.batches is not None:
                self.batches.load_state_dict(state["batches"])
            for m, ms in zip(self.members, state["members"]):
                m.load_state_dict(ms)
            self.step = state["step"]
        for m in self.members:
            m.parts.drop_unrecorded()
            m.board.start(m.seeds, self.step if self.step > 0 else None)
        return self.step > 0

    # ---- the loop ---------------------------------------------------------------------------

    def run(self, progress: bool = True) -> None:
        if not self.resume():
            self.evaluate(force=True)            # step 0: the initial models
        budget = max(m.cell.total_steps for m in self.members)
        bar = tqdm(total=budget, initial=self.step, file=sys.stderr, disable=not progress,
                   desc=f"{self.E} models", unit="step", mininterval=1.0)
        while self.E:
            self.train_step()
            bar.update(1)
            if note := self.evaluate():
                bar.set_postfix(note | {"live": self.E}, refresh=False)
            if self.step % self.checkpoint_every == 0 or not self.E:
                self.save()
        bar.close()
        for m in self.members:
            m.board.close()
