"""Datasets as token sequences with seeded train/test splits.

Binary operations are [a, op, b, =] (modular arithmetic mod p, or composition in S5);
sparse parity is [bit_1, ..., bit_n, =]. Several operations can share one model: each has
its own operation token and its own train/test split.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import torch

from groklab.config.cells import ConfigError, TaskConfig, check_division
from groklab.seeding import generator

MODULAR = ("add", "sub", "mul", "div", "x2_plus_y2", "x2_plus_xy_plus_y2", "x3_plus_xy")
OPERATIONS = MODULAR + ("s5", "parity")


def _modular(op: str, a: torch.Tensor, b: torch.Tensor, p: int) -> torch.Tensor:
    if op == "add":
        return (a + b) % p
    if op == "sub":
        return (a - b) % p
    if op == "mul":
        return (a * b) % p
    if op == "x2_plus_y2":
        return (a * a + b * b) % p
    if op == "x2_plus_xy_plus_y2":
        return (a * a + a * b + b * b) % p
    if op == "x3_plus_xy":
        return (a * a % p * a + a * b) % p
    # div: multiplication by b's inverse; Fermat: b^(p-2) (p prime); int64 is safe while p < 3e9
    inv = torch.tensor([pow(int(x), p - 2, p) for x in range(p)])
    return (a * inv[b]) % p


def operation_table(op: str, p: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All examples of `a op b`: (a, b, c) as three int64 vectors of equal length.

    Modular operations run over a, b in [0, p) (div: b in [1, p)); s5 over all pairs of the
    120 permutations of 5 elements, numbered in lexicographic order, with c = a o b.
    """
    if op == "s5":
        return s5_table()
    if op not in MODULAR:
        raise ConfigError(f"task.operations: unknown operation {op!r}; allowed: {', '.join(OPERATIONS)}")
    check_division(p, (op,))
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    if op == "div":
        a, b = a[b != 0], b[b != 0]
    return a, b, _modular(op, a, b, p)


@lru_cache(maxsize=1)
def s5_table() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(a, b, c) over all 120 x 120 pairs with c = a o b, i.e. (a o b)(i) = a(b(i))."""
    perms = list(itertools.permutations(range(5)))
    index = {perm: k for k, perm in enumerate(perms)}
    a, b, c = zip(*((i, j, index[tuple(pa[x] for x in pb)]) for i, pa in enumerate(perms) for j, pb in enumerate(perms)))
    return torch.tensor(a), torch.tensor(b), torch.tensor(c)


def parity_table(n_bits: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All 2^n bit vectors (2^n, n) and their labels: the parity of the first k bits."""
    codes = torch.arange(2**n_bits)
    bits = (codes.unsqueeze(1) >> torch.arange(n_bits - 1, -1, -1)) & 1
    return bits, bits[:, :k].sum(1) % 2


def example_count(task: TaskConfig, op: str) -> int:
    """How many examples operation `op` has (the length of task_examples), without building them."""
    if op == "parity":
        return 2**task.parity_bits
    if op == "s5":
        return 120 * 120
    return task.p * (task.p - 1) if op == "div" else task.p * task.p


def task_examples(task: TaskConfig, k: int, op: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences (n, seq_len) and answers (n,) of operation number k of the cell."""
    eq = task.vocab_size - 1
    if op == "parity":
        bits, y = parity_table(task.parity_bits, task.parity_k)
        return torch.cat([bits, torch.full((len(y), 1), eq)], dim=1), y
    a, b, c = operation_table(op, task.p)
    op_token = task.n_numbers + k
    return torch.stack([a, torch.full_like(a, op_token), b, torch.full_like(a, eq)], dim=1), c


@dataclass(frozen=True)
class Split:
    """Token sequences (N, T), targets (N,) and operation index (N,) for train and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    train_op: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    test_op: torch.Tensor


def make_split(task: TaskConfig) -> Split:
    """Per-operation train/test split drawn from task.split_seed alone."""
    parts = {"train": [], "test": []}
    for k, op in enumerate(task.operations):
        x, y = task_examples(task, k, op)
        # one generator per (split_seed, op): an operation's split does not depend on the
        # other operations of the cell
        perm = torch.randperm(len(y), generator=generator(task.split_seed, "split", op))
        n_train = int(round(task.train_fraction * len(y)))
        if not 0 < n_train < len(y):
            raise ConfigError(
                f"task.train_fraction: {task.train_fraction} leaves an empty train or test set for "
                f"{op} ({len(y)} examples)"
            )
        op_idx = torch.full_like(y, k)
        for side, idx in (("train", perm[:n_train]), ("test", perm[n_train:])):
            parts[side].append((x[idx], y[idx], op_idx[idx]))
    cat = {s: [torch.cat(t) for t in zip(*parts[s])] for s in parts}
    return Split(*cat["train"], *cat["test"])
