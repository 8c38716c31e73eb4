"""Per-model minibatch order: each model walks its own seeded permutations of the training set."""

from __future__ import annotations

import torch

from groklab.seeding import generator


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
        self.per_group = [min(max(1, batch_size // len(self.sizes)), n) for n in self.sizes]
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
