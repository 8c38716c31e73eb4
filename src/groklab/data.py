"""Modular-arithmetic datasets: token sequences [a, op, b, =] and seeded train/test splits."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import ConfigError, TaskConfig, is_prime
from .seeding import generator

OPERATIONS = ("add", "sub", "mul", "div")
SEQ_LEN = 4  # [a, op, b, =]; logits are read at the last position


def operation_table(op: str, p: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All examples of `a op b mod p`: (a, b, c) as three int64 vectors of equal length.

    div is multiplication by the modular inverse of b, so b runs over 1..p-1 only.
    """
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    if op == "add":
        c = (a + b) % p
    elif op == "sub":
        c = (a - b) % p
    elif op == "mul":
        c = (a * b) % p
    elif op == "div":
        if not is_prime(p):
            raise ConfigError(f"task.p: {p} is not prime; 'div' needs a modular inverse for every b != 0")
        keep = b != 0
        a, b = a[keep], b[keep]
        # Fermat: b^(p-2) is b's inverse mod p (p prime); int64 is safe while p < 3e9.
        inv = torch.tensor([pow(int(x), p - 2, p) for x in range(p)])
        c = (a * inv[b]) % p
    else:
        raise ConfigError(f"task.operations: unknown operation {op!r}; allowed: {', '.join(OPERATIONS)}")
    return a, b, c


@dataclass(frozen=True)
class Split:
    """Token sequences (N, 4), targets (N,) and operation index (N,) for train and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    train_op: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    test_op: torch.Tensor


def make_split(task: TaskConfig) -> Split:
    """Per-operation train/test split drawn from task.split_seed alone."""
    p, eq = task.p, task.vocab_size - 1
    parts = {"train": [], "test": []}
    for k, op in enumerate(task.operations):
        a, b, c = operation_table(op, p)
        x = torch.stack([a, torch.full_like(a, p + k), b, torch.full_like(a, eq)], dim=1)  # (n, 4)
        perm = torch.randperm(len(c), generator=generator(task.split_seed, "split", op))
        # one generator per (split_seed, op): an operation's split does not depend on the
        # other operations of the cell
        n_train = int(round(task.train_fraction * len(c)))
        if not 0 < n_train < len(c):
            raise ConfigError(
                f"task.train_fraction: {task.train_fraction} leaves an empty train or test set for "
                f"{op} mod {p} ({len(c)} examples)"
            )
        op_idx = torch.full_like(c, k)
        for side, idx in (("train", perm[:n_train]), ("test", perm[n_train:])):
            parts[side].append((x[idx], c[idx], op_idx[idx]))
    cat = {s: [torch.cat(t) for t in zip(*parts[s])] for s in parts}
    return Split(*cat["train"], *cat["test"])
