"""Per-model minibatch order: each model walks its own seeded permutations of the training set."""

from __future__ import annotations

import torch

from groklab.seeding import generator


def is_minibatch(batch_size: int | None, sizes: list[int]) -> bool:
    """A cell trains on minibatches when training.batch_size is below its training set (else full batch)."""
    return batch_size is not None and batch_size < sum(sizes)


def block_takes(sizes: list[int], batch_size: int) -> list[int]:
    """Examples each block gives one minibatch: B / n_blocks, at least 1, at most the block."""
    return [min(max(1, batch_size // len(sizes)), n) for n in sizes]


def examples_per_step(sizes: list[int], batch_size: int | None, blocks: bool) -> list[float]:
    """Training examples of each operation that one step trains on: the unit in which groklab's
    speedups compare cells (examples of a task seen; groklab.analysis.speedup).

    Full batch: the operation's whole training set (so a full-batch cell's unit is its steps, up to
    a constant). Minibatch in blocks (a balanced multi-task cell): its block's take. One block:
    B times the operation's share of the training set (its expected count per batch)."""
    if not is_minibatch(batch_size, sizes):
        return [float(n) for n in sizes]
    if blocks and len(sizes) > 1:
        return [float(b) for b in block_takes(sizes, batch_size)]
    return [batch_size * n / sum(sizes) for n in sizes]


class Batches:
    """Yields (E, B) example indices; model e's order comes from seeds[e] alone.

    `groups` are the sizes of consecutive blocks of the training set (one per operation of
    a balanced multi-task cell; a single block otherwise). Every step takes B / n_groups
    examples from each block, so every operation gets the same number of examples per
    step. Each block is walked in a fresh permutation per epoch per model; a final partial
    batch of a block is dropped. State (generators, permutations, positions) is
    checkpointed, so a resumed run draws the same batches as an uninterrupted one.
    """

    def __init__(self, seeds: list[int], groups: list[int], batch_size: int):
        self.sizes = list(groups)
        self.starts = [sum(self.sizes[:k]) for k in range(len(self.sizes))]
        self.per_group = block_takes(self.sizes, batch_size)
        # A single block keeps the stream name of plain minibatching ("batches").
        names = [("batches",)] if len(self.sizes) == 1 else [("batches", k) for k in range(len(self.sizes))]
        self.gens = [[generator(s, *name) for s in seeds] for name in names]   # [group][model]
        self.perms = [self._new_perms(k) for k in range(len(self.sizes))]      # each (E, n_k)
        self.pos = [0] * len(self.sizes)

    def _new_perms(self, k: int) -> torch.Tensor:
        return torch.stack([torch.randperm(self.sizes[k], generator=g) for g in self.gens[k]])

    def next(self) -> torch.Tensor:
        parts = []
        for k, b in enumerate(self.per_group):
            if self.pos[k] + b > self.sizes[k]:
                self.perms[k], self.pos[k] = self._new_perms(k), 0
            parts.append(self.perms[k][:, self.pos[k] : self.pos[k] + b] + self.starts[k])
            self.pos[k] += b
        return torch.cat(parts, dim=1)

    def select(self, idx: torch.Tensor) -> None:
        """Keep only models idx (int64, (E',)): their generators, permutations and positions."""
        keep = idx.tolist()
        self.gens = [[group[i] for i in keep] for group in self.gens]
        self.perms = [p[idx.cpu()] for p in self.perms]

    def state_dict(self) -> dict:
        gens = [[g.get_state() for g in group] for group in self.gens]
        return {"gens": gens, "perms": self.perms, "pos": list(self.pos)}

    def load_state_dict(self, state: dict) -> None:
        for group, states in zip(self.gens, state["gens"]):
            for g, s in zip(group, states):
                g.set_state(s)
        self.perms, self.pos = list(state["perms"]), list(state["pos"])
