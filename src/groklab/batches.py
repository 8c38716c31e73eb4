"""Per-model minibatch order: each model walks its own seeded permutation of the training set."""

from __future__ import annotations

import torch

from .seeding import generator


class Batches:
    """Yields (E, B) example indices; model e's order comes from seeds[e] alone.

    Each epoch is a fresh permutation per model; a final partial batch is dropped so every
    step sees exactly B examples per model. State (generators, permutations, position) is
    checkpointed, so a resumed run draws the same batches as an uninterrupted one.
    """

    def __init__(self, seeds: list[int], n_examples: int, batch_size: int):
        self.n, self.B = n_examples, min(batch_size, n_examples)
        self.gens = [generator(s, "batches") for s in seeds]
        self.perms = self._new_perms()    # (E, N)
        self.pos = 0

    def _new_perms(self) -> torch.Tensor:
        return torch.stack([torch.randperm(self.n, generator=g) for g in self.gens])

    def next(self) -> torch.Tensor:
        if self.pos + self.B > self.n:
            self.perms, self.pos = self._new_perms(), 0
        idx = self.perms[:, self.pos : self.pos + self.B]
        self.pos += self.B
        return idx

    def state_dict(self) -> dict:
        return {"gens": [g.get_state() for g in self.gens], "perms": self.perms, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        for g, s in zip(self.gens, state["gens"]):
            g.set_state(s)
        self.perms, self.pos = state["perms"], state["pos"]
